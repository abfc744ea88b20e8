//! Attestors: create/get/list/update/delete with server-assigned public-key ids.

use admit_crypto::{PgpKey, PkixKey};
use admit_model::{Attestor, AttestorName, NoteName};
use admit_store::{Listed, Page, Precondition, Repo, Versioned, repo};

use crate::{Service, ServiceError, check_id, check_project};

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

/// The attestor's project's Binary Authorization service agent (contract §1): the identity
/// admission uses to read the attestor's note, so the one a user must grant access to it.
fn delegation_email(project: &str) -> String {
    crate::service_agent(project)
        .trim_start_matches("serviceAccount:")
        .to_owned()
}

/// The attestor as the API shows it: with its etag and update time, and the service agent
/// admission reads its note as (also for attestors stored before that was the email shown).
fn shown(name: &AttestorName, v: Versioned<Attestor>) -> Attestor {
    let mut a = v.value;
    if let Some(n) = a.user_owned_grafeas_note.as_mut() {
        n.delegation_service_account_email = Some(delegation_email(name.project.as_str()));
    }
    a.etag = Some(v.version);
    a.update_time = Some(v.update_time);
    a
}

fn parse_name(name: &str) -> Result<AttestorName, ServiceError> {
    AttestorName::parse(name).map_err(|e| ServiceError::invalid(e.to_string()))
}

impl Service {
    fn attestors(&self) -> Repo<'_, Attestor> {
        repo(self.store.as_ref())
    }

    pub async fn create_attestor(
        &self,
        project: &str,
        id: &str,
        mut attestor: Attestor,
    ) -> Result<Attestor, ServiceError> {
        check_project(project)?;
        check_id("attestorId", id)?;
        let name = parse_name(&format!("projects/{project}/attestors/{id}"))?;
        if !attestor.name.is_empty() && attestor.name != name.to_string() {
            return Err(ServiceError::invalid(format!(
                "name `{}` does not match {name}",
                attestor.name
            )));
        }
        attestor.name = name.to_string();
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
        let stored = self
            .attestors()
            .write(&name, attestor, Precondition::MustNotExist, &self.now())
            .await?;
        Ok(shown(&name, stored))
    }

    pub async fn get_attestor(&self, name: &str) -> Result<Attestor, ServiceError> {
        let name = parse_name(name)?;
        Ok(shown(&name, self.stored_attestor(&name).await?))
    }

    async fn stored_attestor(
        &self,
        name: &AttestorName,
    ) -> Result<Versioned<Attestor>, ServiceError> {
        self.attestors()
            .get(name)
            .await?
            .ok_or_else(|| ServiceError::not_found(format!("attestor {name} not found")))
    }

    pub async fn list_attestors(
        &self,
        project: &str,
        page: &Page,
    ) -> Result<Listed<Attestor>, ServiceError> {
        check_project(project)?;
        let l = self
            .attestors()
            .list(&format!("projects/{project}"), page)
            .await?;
        Ok(Listed {
            items: l
                .items
                .into_iter()
                .map(|(n, v)| Ok(shown(&parse_name(&n)?, v)))
                .collect::<Result<_, ServiceError>>()?,
            next_page_token: l.next_page_token,
        })
    }

    /// PUT: replaces description and keys; name and note reference are immutable. Without
    /// an etag the write is conditional on the version the key history was merged from, and
    /// redone on a concurrent update, so no key's trust history is lost to a race.
    pub async fn update_attestor(
        &self,
        name: &str,
        mut attestor: Attestor,
    ) -> Result<Attestor, ServiceError> {
        let parsed = parse_name(name)?;
        if !attestor.name.is_empty() && attestor.name != name {
            return Err(ServiceError::invalid("name is immutable"));
        }
        attestor.name = name.to_owned();
        let given = attestor.etag.take().filter(|e| !e.is_empty());
        // What depends on the request alone is checked once, not on every attempt.
        let new_note = attestor
            .user_owned_grafeas_note
            .as_mut()
            .ok_or_else(|| ServiceError::invalid("userOwnedGrafeasNote is required"))?;
        new_note.delegation_service_account_email = Some(delegation_email(parsed.project.as_str()));
        normalise_keys(&mut attestor)?;
        let (parsed, attestor, given) = (&parsed, &attestor, &given);
        crate::raced::redo_when_raced(given.is_none(), move || async move {
            let current = self.stored_attestor(parsed).await?;
            let old_note = current
                .value
                .user_owned_grafeas_note
                .as_ref()
                .map(|n| n.note_reference.as_str());
            let new_note = attestor
                .user_owned_grafeas_note
                .as_ref()
                .map(|n| n.note_reference.as_str());
            if new_note != old_note {
                return Err(ServiceError::invalid(
                    "userOwnedGrafeasNote.noteReference is immutable",
                ));
            }
            let mut next = attestor.clone();
            crate::key_trust::merge(&mut next, Some(&current.value), &self.now())?;
            let pre = Precondition::Unchanged {
                etag: Some(given.clone().unwrap_or(current.version)),
            };
            let stored = self
                .attestors()
                .write(parsed, next, pre, &self.now())
                .await?;
            Ok(shown(parsed, stored))
        })
        .await
    }

    pub async fn delete_attestor(&self, name: &str) -> Result<(), ServiceError> {
        self.attestors().delete(&parse_name(name)?, None).await?;
        Ok(())
    }
}
