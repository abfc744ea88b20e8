//! Attestors: create/get/list/update/delete with server-assigned public-key ids.

use admit_crypto::{PgpKey, PkixKey};
use admit_model::{Attestor, AttestorName, NoteName};
use admit_store::{Kind, Listed, Page, Precondition};

use crate::{Code, Service, ServiceError, check_id, check_project};

/// Assigns key ids and checks every key: PGP ids are fingerprints (whatever the caller sent);
/// PKIX ids are the caller's URI or `ni:///sha-256;…`, and the key must be what it claims.
pub(crate) fn normalise_keys(attestor: &mut Attestor) -> Result<(), ServiceError> {
    let Some(note) = attestor.user_owned_grafeas_note.as_mut() else {
        return Err(ServiceError::invalid("userOwnedGrafeasNote is required"));
    };
    let mut seen = std::collections::BTreeSet::new();
    for (i, key) in note.public_keys.iter_mut().enumerate() {
        let field = format!("userOwnedGrafeasNote.publicKeys[{i}]");
        match (&key.ascii_armored_pgp_public_key, &mut key.pkix_public_key) {
            (Some(armored), None) => {
                let k = PgpKey::from_armored(armored)
                    .map_err(|e| ServiceError::invalid(format!("{field}: {e}")))?;
                key.id = k.fingerprint().to_owned();
            }
            (None, Some(pkix)) => {
                let k = PkixKey::from_pem(&pkix.public_key_pem, pkix.signature_algorithm)
                    .map_err(|e| ServiceError::invalid(format!("{field}.pkixPublicKey: {e}")))?;
                if key.id.is_empty() {
                    key.id = k.key_id();
                } else if !key.id.contains(':') || key.id.contains(char::is_whitespace) {
                    return Err(ServiceError::invalid(format!(
                        "{field}.id: `{}` is not a valid URI",
                        key.id
                    )));
                }
                if let Some(kid) = pkix.key_id.as_deref().filter(|k| !k.is_empty())
                    && kid != key.id
                {
                    return Err(ServiceError::invalid(format!(
                        "{field}.pkixPublicKey.keyId must be blank or equal to id"
                    )));
                }
            }
            _ => {
                return Err(ServiceError::invalid(format!(
                    "{field}: exactly one of asciiArmoredPgpPublicKey or pkixPublicKey is required"
                )));
            }
        }
        if !seen.insert(key.id.clone()) {
            return Err(ServiceError::invalid(format!(
                "{field}.id: `{}` is used by another key",
                key.id
            )));
        }
    }
    Ok(())
}

fn to_body(a: &Attestor) -> Result<serde_json::Value, ServiceError> {
    let mut stored = a.clone();
    stored.etag = None;
    stored.update_time = None;
    serde_json::to_value(&stored).map_err(|e| ServiceError::new(Code::Internal, e.to_string()))
}

/// The attestor's project's Binary Authorization service agent (contract §1): the identity
/// admission uses to read the attestor's note, so the one a user must grant access to it.
fn delegation_email(project: &str) -> String {
    crate::service_agent(project)
        .trim_start_matches("serviceAccount:")
        .to_owned()
}

fn from_doc(doc: admit_store::Doc) -> Result<Attestor, ServiceError> {
    let mut a: Attestor = serde_json::from_value(doc.body).map_err(|e| {
        ServiceError::new(Code::Internal, format!("stored attestor unreadable: {e}"))
    })?;
    // Stored before the email was the service agent's: shown as what admission uses.
    if let Some(n) = a.user_owned_grafeas_note.as_mut() {
        n.delegation_service_account_email = Some(delegation_email(crate::project_of(&doc.name)));
    }
    a.etag = Some(doc.etag);
    a.update_time = Some(doc.update_time);
    Ok(a)
}

impl Service {
    pub async fn create_attestor(
        &self,
        project: &str,
        id: &str,
        mut attestor: Attestor,
    ) -> Result<Attestor, ServiceError> {
        check_project(project)?;
        check_id("attestorId", id)?;
        let name = format!("projects/{project}/attestors/{id}");
        if !attestor.name.is_empty() && attestor.name != name {
            return Err(ServiceError::invalid(format!(
                "name `{}` does not match {name}",
                attestor.name
            )));
        }
        attestor.name = name.clone();
        let note = attestor
            .user_owned_grafeas_note
            .as_mut()
            .ok_or_else(|| ServiceError::invalid("userOwnedGrafeasNote is required"))?;
        NoteName::parse(&note.note_reference).map_err(|e| {
            ServiceError::invalid(format!("userOwnedGrafeasNote.noteReference: {e}"))
        })?;
        note.delegation_service_account_email = Some(delegation_email(project));
        normalise_keys(&mut attestor)?;
        crate::key_trust::merge(&mut attestor, None, &self.now())?;
        let doc = self
            .store
            .put(
                Kind::Attestor,
                &name,
                &format!("projects/{project}"),
                &to_body(&attestor)?,
                None,
                Precondition::MustNotExist,
                &self.now(),
            )
            .await?;
        from_doc(doc)
    }

    pub async fn get_attestor(&self, name: &str) -> Result<Attestor, ServiceError> {
        AttestorName::parse(name).map_err(|e| ServiceError::invalid(e.to_string()))?;
        let doc = self
            .store
            .get(Kind::Attestor, name)
            .await?
            .ok_or_else(|| ServiceError::not_found(format!("attestor {name} not found")))?;
        from_doc(doc)
    }

    pub async fn list_attestors(
        &self,
        project: &str,
        page: &Page,
    ) -> Result<Listed<Attestor>, ServiceError> {
        check_project(project)?;
        let l = self
            .store
            .list(Kind::Attestor, &format!("projects/{project}"), page)
            .await?;
        Ok(Listed {
            items: l
                .items
                .into_iter()
                .map(from_doc)
                .collect::<Result<_, _>>()?,
            next_page_token: l.next_page_token,
        })
    }

    /// PUT: replaces description and keys; name and note reference are immutable.
    pub async fn update_attestor(
        &self,
        name: &str,
        mut attestor: Attestor,
    ) -> Result<Attestor, ServiceError> {
        let parsed = AttestorName::parse(name).map_err(|e| ServiceError::invalid(e.to_string()))?;
        let current = self.get_attestor(name).await?;
        if !attestor.name.is_empty() && attestor.name != name {
            return Err(ServiceError::invalid("name is immutable"));
        }
        attestor.name = name.to_owned();
        let old_note = current
            .user_owned_grafeas_note
            .as_ref()
            .map(|n| n.note_reference.as_str());
        let new_note = attestor
            .user_owned_grafeas_note
            .as_mut()
            .ok_or_else(|| ServiceError::invalid("userOwnedGrafeasNote is required"))?;
        if Some(new_note.note_reference.as_str()) != old_note {
            return Err(ServiceError::invalid(
                "userOwnedGrafeasNote.noteReference is immutable",
            ));
        }
        new_note.delegation_service_account_email =
            Some(delegation_email(&parsed.project.to_string()));
        normalise_keys(&mut attestor)?;
        crate::key_trust::merge(&mut attestor, Some(&current), &self.now())?;
        let etag = attestor.etag.take().filter(|e| !e.is_empty());
        let doc = self
            .store
            .put(
                Kind::Attestor,
                name,
                &format!("projects/{}", parsed.project),
                &to_body(&attestor)?,
                None,
                Precondition::MustExist { etag },
                &self.now(),
            )
            .await?;
        from_doc(doc)
    }

    pub async fn delete_attestor(&self, name: &str) -> Result<(), ServiceError> {
        AttestorName::parse(name).map_err(|e| ServiceError::invalid(e.to_string()))?;
        self.store.delete(Kind::Attestor, name).await?;
        Ok(())
    }
}
