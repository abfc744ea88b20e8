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

/// Seconds and nanoseconds since the Unix epoch.
type Instant = (u64, u32);

/// One key, with the window (admit extension) in which its attestations count.
#[derive(Debug, Clone)]
struct CompiledKey {
    id: String,
    material: KeyMaterial,
    not_before: Option<(Instant, String)>,
    not_after: Option<(Instant, String)>,
    /// admit extension: a cosign key (its registry signatures also count).
    cosign: bool,
}

/// An attestor with its keys parsed and their ids assigned, ready to verify.
#[derive(Debug, Clone)]
pub struct CompiledAttestor {
    pub name: AttestorName,
    pub note: NoteName,
    /// `name` and `note` as text, written once (admission needs them for every check).
    name_text: String,
    note_text: String,
    keys: Vec<CompiledKey>,
    /// Key ids whose attestations no longer count (admit extension), with why.
    revoked: Vec<admit_model::RevokedKey>,
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
            let instant = |which: &str, v: Option<&String>| -> Result<_, PolicyError> {
                v.map(|t| {
                    admit_model::parse_rfc3339(t)
                        .map(|at| (at, t.clone()))
                        .ok_or_else(|| {
                            bad(
                                format!("{field}.admitValidity.{which}"),
                                format!("`{t}` is not an RFC 3339 timestamp"),
                            )
                        })
                })
                .transpose()
            };
            let validity = k.admit_validity.clone().unwrap_or_default();
            let not_before = instant("notBefore", validity.not_before.as_ref())?;
            let not_after = instant("notAfter", validity.not_after.as_ref())?;
            let (id, material) = match (&k.ascii_armored_pgp_public_key, &k.pkix_public_key) {
                (Some(armored), None) => {
                    let key = PgpKey::from_armored(armored)
                        .map_err(|e| bad(field.clone(), e.to_string()))?;
                    (
                        key.fingerprint().to_owned(),
                        KeyMaterial::Pgp(Box::new(key)),
                    )
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
                    (id, KeyMaterial::Pkix(key))
                }
                _ => {
                    return Err(bad(
                        field,
                        "exactly one of asciiArmoredPgpPublicKey or pkixPublicKey is required"
                            .into(),
                    ));
                }
            };
            let cosign = k.admit_cosign == Some(true);
            if cosign && !matches!(material, KeyMaterial::Pkix(_)) {
                return Err(bad(
                    format!("{field}.admitCosign"),
                    "only a pkixPublicKey can be a cosign key".into(),
                ));
            }
            keys.push(CompiledKey {
                id,
                material,
                not_before,
                not_after,
                cosign,
            });
        }
        Ok(CompiledAttestor {
            name_text: name.to_string(),
            note_text: note.to_string(),
            name,
            note,
            keys,
            revoked: attestor.admit_revoked_keys.clone(),
        })
    }

    /// The attestor's name as text (`projects/P/attestors/A`).
    pub fn name_str(&self) -> &str {
        &self.name_text
    }

    /// Its note's name as text (`projects/P/notes/N`).
    pub fn note_str(&self) -> &str {
        &self.note_text
    }

    fn key(&self, id: &str) -> Option<&CompiledKey> {
        self.keys.iter().find(|k| match k.material {
            KeyMaterial::Pgp(_) => k.id.eq_ignore_ascii_case(id),
            KeyMaterial::Pkix(_) => k.id == id,
        })
    }

    /// The cosign keys (admit extension) that may vouch now: PKIX keys marked `admitCosign`,
    /// not revoked. A key with a validity window is left out: a registry signature carries no
    /// time the server recorded.
    pub fn cosign_keys(&self) -> Vec<crate::CosignKey> {
        self.keys
            .iter()
            .filter(|k| k.cosign && self.trusted_at(k, None).is_ok())
            .filter_map(|k| match &k.material {
                KeyMaterial::Pkix(key) => Some(crate::CosignKey {
                    label: k.id.clone(),
                    key: key.clone(),
                }),
                KeyMaterial::Pgp(_) => None,
            })
            .collect()
    }

    /// Whether any key is a cosign key (so registry signatures are worth fetching).
    pub fn has_cosign_keys(&self) -> bool {
        self.keys.iter().any(|k| k.cosign)
    }

    /// Whether the key `id` may vouch for an attestation the server recorded at `created`:
    /// not revoked (admit's list, or a revocation signature on a PGP key), inside its admit
    /// validity window, and not past a PGP key's expiration.
    fn trusted_at(&self, key: &CompiledKey, created: Option<&str>) -> Result<(), String> {
        let id = &key.id;
        if let Some(r) = self
            .revoked
            .iter()
            .find(|r| r.key_id.eq_ignore_ascii_case(id))
        {
            if r.revoke_time.is_empty() {
                // Unusable for a reason of state (a KMS version not ENABLED), not revoked.
                return Err(format!(
                    "key {id} of {} is not usable: {}; its attestations do not count",
                    self.name, r.reason
                ));
            }
            let why = if r.reason.is_empty() {
                String::new()
            } else {
                format!(" ({})", r.reason)
            };
            return Err(format!(
                "key {id} of {} was revoked at {}{why}: its attestations no longer count",
                self.name, r.revoke_time
            ));
        }
        let (expires, revoked) = match &key.material {
            KeyMaterial::Pgp(k) => (k.expires_at(), k.revoked_at()),
            KeyMaterial::Pkix(_) => (None, None),
        };
        if let Some(at) = revoked {
            return Err(format!(
                "PGP key {id} carries a revocation signature (made {}): its attestations no longer count",
                admit_model::rfc3339(at, 0)
            ));
        }
        if key.not_before.is_none() && key.not_after.is_none() && expires.is_none() {
            return Ok(());
        }
        let Some(text) = created else {
            return Err(format!(
                "the occurrence has no createTime, so key {id}'s validity cannot be checked"
            ));
        };
        let Some(at) = admit_model::parse_rfc3339(text) else {
            return Err(format!(
                "the occurrence's createTime `{text}` is not RFC 3339"
            ));
        };
        if let Some((nb, nb_text)) = &key.not_before
            && at < *nb
        {
            return Err(format!(
                "attestation recorded at {text}, before key {id} became valid ({nb_text})"
            ));
        }
        if let Some((na, na_text)) = &key.not_after
            && at > *na
        {
            return Err(format!(
                "attestation recorded at {text}, after key {id}'s validity ended ({na_text})"
            ));
        }
        if let Some(e) = expires
            && at.0 >= e
        {
            return Err(format!(
                "attestation recorded at {text}, after PGP key {id} expired ({})",
                admit_model::rfc3339(e, 0)
            ));
        }
        Ok(())
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
        let note = self.note_str();
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
                    occ.create_time.as_deref(),
                ) {
                    Ok(()) => {
                        return Ok(Satisfied {
                            attestor: self.name_text.clone(),
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
        created: Option<&str>,
    ) -> Result<(), String> {
        let key = self.key(key_id).ok_or_else(|| {
            format!(
                "signature by key `{key_id}`, which is not one of {}'s keys",
                self.name
            )
        })?;
        self.trusted_at(key, created)?;
        let signed: Vec<u8> = match &key.material {
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
