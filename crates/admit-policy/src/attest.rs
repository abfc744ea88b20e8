//! Attestation checks for one attestor: which of its notes' occurrences are for this image,
//! whose signatures verify with one of its keys, and whose signed payload names this image's
//! repository and digest.

use admit_crypto::{DEFAULT_DSSE_TYPE, PgpKey, PkixKey, SimpleSigning, pae};
use admit_model::{Attestor, AttestorName, NoteKind, NoteName, Occurrence};
use serde::Serialize;

use crate::PolicyError;
use crate::image::ImageRef;

#[derive(Debug, Clone)]
enum KeyMaterial {
    Pkix(PkixKey),
    Pgp(Box<PgpKey>),
}

/// An attestor with its keys parsed and their ids assigned, ready to verify.
#[derive(Debug, Clone)]
pub struct CompiledAttestor {
    pub name: AttestorName,
    pub note: NoteName,
    keys: Vec<(String, KeyMaterial)>,
}

/// Which occurrence and key satisfied an attestor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Satisfied {
    pub attestor: String,
    pub occurrence: String,
    pub key_id: String,
}

fn strip_scheme(uri: &str) -> &str {
    uri.split_once("://").map_or(uri, |(_, rest)| rest)
}

impl CompiledAttestor {
    /// Parses every key; assigns ids as the service does (PGP: fingerprint; PKIX: the given
    /// URI or `ni:///sha-256;…`).
    pub fn compile(attestor: &Attestor) -> Result<Self, PolicyError> {
        let bad = |field: String, reason: String| PolicyError::InvalidAttestor {
            attestor: attestor.name.clone(),
            field,
            reason,
        };
        let name =
            AttestorName::parse(&attestor.name).map_err(|e| bad("name".into(), e.to_string()))?;
        let note_field = attestor
            .user_owned_grafeas_note
            .as_ref()
            .ok_or_else(|| bad("userOwnedGrafeasNote".into(), "required".into()))?;
        let note = NoteName::parse(&note_field.note_reference)
            .map_err(|e| bad("userOwnedGrafeasNote.noteReference".into(), e.to_string()))?;
        let mut keys = Vec::with_capacity(note_field.public_keys.len());
        for (i, k) in note_field.public_keys.iter().enumerate() {
            let field = format!("userOwnedGrafeasNote.publicKeys[{i}]");
            match (&k.ascii_armored_pgp_public_key, &k.pkix_public_key) {
                (Some(armored), None) => {
                    let key = PgpKey::from_armored(armored)
                        .map_err(|e| bad(field.clone(), e.to_string()))?;
                    keys.push((
                        key.fingerprint().to_owned(),
                        KeyMaterial::Pgp(Box::new(key)),
                    ));
                }
                (None, Some(pkix)) => {
                    let key = PkixKey::from_pem(&pkix.public_key_pem, pkix.signature_algorithm)
                        .map_err(|e| bad(format!("{field}.pkixPublicKey"), e.to_string()))?;
                    let id = if k.id.is_empty() {
                        key.key_id()
                    } else {
                        k.id.clone()
                    };
                    if !id.contains(':') {
                        return Err(bad(format!("{field}.id"), format!("`{id}` is not a URI")));
                    }
                    if let Some(kid) = pkix.key_id.as_deref().filter(|s| !s.is_empty())
                        && kid != id
                    {
                        return Err(bad(
                            format!("{field}.pkixPublicKey.keyId"),
                            "must be blank or equal to id".into(),
                        ));
                    }
                    keys.push((id, KeyMaterial::Pkix(key)));
                }
                _ => {
                    return Err(bad(
                        field,
                        "exactly one of asciiArmoredPgpPublicKey or pkixPublicKey is required"
                            .into(),
                    ));
                }
            }
        }
        Ok(CompiledAttestor { name, note, keys })
    }

    fn key(&self, id: &str) -> Option<&KeyMaterial> {
        self.keys.iter().find_map(|(kid, k)| {
            let same = match k {
                KeyMaterial::Pgp(_) => kid.eq_ignore_ascii_case(id),
                KeyMaterial::Pkix(_) => kid == id,
            };
            same.then_some(k)
        })
    }

    /// Checks `occurrences` for an attestation of `image` by this attestor. On failure returns
    /// every distinct reason an occurrence was not accepted.
    pub fn check(
        &self,
        image: &ImageRef,
        occurrences: &[Occurrence],
    ) -> Result<Satisfied, Vec<String>> {
        let Some(digest) = image.digest() else {
            return Err(vec![format!(
                "image is referenced by tag; attestations bind a digest, so deploy {} by digest (REPOSITORY@sha256:…)",
                image.repository()
            )]);
        };
        let note = self.note.to_string();
        let mut reasons: Vec<String> = Vec::new();
        let mut push = |r: String| {
            if !reasons.contains(&r) {
                reasons.push(r);
            }
        };
        let repo = image.repository();
        for occ in occurrences {
            if occ.note_name != note
                || !matches!(occ.kind, NoteKind::Attestation | NoteKind::Unspecified)
            {
                continue;
            }
            let Some(att) = &occ.attestation else {
                continue;
            };
            let Ok(resource) = ImageRef::parse(strip_scheme(&occ.resource_uri)) else {
                continue;
            };
            if resource.digest() != Some(digest) || resource.repository() != repo {
                continue;
            }
            if att.signatures.is_empty() {
                push(format!("occurrence {} has no signatures", occ.name));
            }
            for sig in &att.signatures {
                match self.verify_one(
                    image,
                    &att.serialized_payload.0,
                    &sig.signature.0,
                    &sig.public_key_id,
                ) {
                    Ok(()) => {
                        return Ok(Satisfied {
                            attestor: self.name.to_string(),
                            occurrence: occ.name.clone(),
                            key_id: sig.public_key_id.clone(),
                        });
                    }
                    Err(r) => push(r),
                }
            }
        }
        if reasons.is_empty() {
            reasons.push(format!(
                "no attestation by {} for {}@{digest}",
                self.name, repo
            ));
        }
        Err(reasons)
    }

    fn verify_one(
        &self,
        image: &ImageRef,
        payload: &[u8],
        signature: &[u8],
        key_id: &str,
    ) -> Result<(), String> {
        let key = self.key(key_id).ok_or_else(|| {
            format!(
                "signature by key `{key_id}`, which is not one of {}'s keys",
                self.name
            )
        })?;
        let signed: Vec<u8> = match key {
            KeyMaterial::Pkix(k) => {
                if k.verify(payload, signature).is_err() {
                    k.verify(&pae(DEFAULT_DSSE_TYPE, payload), signature)
                        .map_err(|e| e.to_string())?;
                }
                payload.to_vec()
            }
            KeyMaterial::Pgp(k) => {
                let v = k.verify(signature, payload).map_err(|e| e.to_string())?;
                if !payload.is_empty() && !v.matches_payload(payload) {
                    return Err(
                        "serializedPayload differs from the content the PGP signature covers"
                            .into(),
                    );
                }
                v.signed_content
            }
        };
        let ss = SimpleSigning::parse(&signed).map_err(|e| e.to_string())?;
        if Some(ss.manifest_digest.as_str()) != image.digest() {
            return Err(format!(
                "attestation payload is for digest {}, not {}",
                ss.manifest_digest,
                image.digest().unwrap_or("")
            ));
        }
        let named = ImageRef::parse(&ss.docker_reference)
            .map_err(|e| format!("payload critical.identity.docker-reference: {e}"))?;
        if named.repository() != image.repository() {
            return Err(format!(
                "attestation payload names image {}, not {}",
                named.repository(),
                image.repository()
            ));
        }
        if let Some(d) = named.digest()
            && Some(d) != image.digest()
        {
            return Err(format!(
                "attestation payload names digest {d} in docker-reference"
            ));
        }
        Ok(())
    }
}
