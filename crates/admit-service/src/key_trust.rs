//! admit's key-trust extensions to the attestor (documented in the README): a validity window
//! per key (`publicKeys[].admitValidity {notBefore, notAfter}`), cosign keys
//! (`publicKeys[].admitCosign`) and revoked key ids (`admitRevokedKeys [{keyId, revokeTime,
//! reason}]`). gcloud does not know them; a gcloud
//! update of the attestor (GET, change, PUT) may send them back or not, so a PUT that omits
//! them keeps what is stored: a validity is cleared only by sending `admitValidity: {}`, and a
//! revocation is never undone (the server stamps its time; the key id stays revoked even if the
//! key is removed and added again).

use admit_model::{Attestor, KeyValidity};

use crate::ServiceError;

fn check_time(field: &str, v: Option<&String>) -> Result<Option<(u64, u32)>, ServiceError> {
    match v {
        None => Ok(None),
        Some(t) => admit_model::parse_rfc3339(t).map(Some).ok_or_else(|| {
            ServiceError::invalid(format!("{field}: `{t}` is not an RFC 3339 timestamp"))
        }),
    }
}

/// Checks the extensions of `incoming` (before `normalise_keys` assigned ids is fine: ids are
/// compared after) and merges what `current` has that `incoming` omits; `now` stamps new
/// revocations.
pub(crate) fn merge(
    incoming: &mut Attestor,
    current: Option<&Attestor>,
    now: &str,
) -> Result<(), ServiceError> {
    if let Some(note) = incoming.user_owned_grafeas_note.as_mut() {
        for (i, key) in note.public_keys.iter_mut().enumerate() {
            // admitCosign: sent `true` sets it, `false` clears it, omitted keeps the stored.
            key.admit_cosign = match key.admit_cosign {
                Some(true) => Some(true),
                Some(false) => None,
                None => current
                    .and_then(|c| c.user_owned_grafeas_note.as_ref())
                    .and_then(|n| n.public_keys.iter().find(|k| k.id == key.id))
                    .and_then(|k| k.admit_cosign),
            };
            let field = format!("userOwnedGrafeasNote.publicKeys[{i}].admitValidity");
            match key.admit_validity.take() {
                // Sent empty: cleared.
                Some(KeyValidity {
                    not_before: None,
                    not_after: None,
                }) => {}
                Some(v) => {
                    let a = check_time(&format!("{field}.notBefore"), v.not_before.as_ref())?;
                    let b = check_time(&format!("{field}.notAfter"), v.not_after.as_ref())?;
                    if let (Some(a), Some(b)) = (a, b)
                        && a > b
                    {
                        return Err(ServiceError::invalid(format!(
                            "{field}: notBefore is after notAfter"
                        )));
                    }
                    key.admit_validity = Some(v);
                }
                // Not sent: what the stored key of the same id has.
                None => {
                    key.admit_validity = current
                        .and_then(|c| c.user_owned_grafeas_note.as_ref())
                        .and_then(|n| n.public_keys.iter().find(|k| k.id == key.id))
                        .and_then(|k| k.admit_validity.clone());
                }
            }
        }
    }
    let mut revoked = current
        .map(|c| c.admit_revoked_keys.clone())
        .unwrap_or_default();
    for (i, r) in std::mem::take(&mut incoming.admit_revoked_keys)
        .into_iter()
        .enumerate()
    {
        if r.key_id.trim().is_empty() {
            return Err(ServiceError::invalid(format!(
                "admitRevokedKeys[{i}].keyId is required"
            )));
        }
        if revoked
            .iter()
            .any(|x| x.key_id.eq_ignore_ascii_case(&r.key_id))
        {
            continue; // already revoked: its time and reason stay as first recorded
        }
        revoked.push(admit_model::RevokedKey {
            key_id: r.key_id,
            revoke_time: now.to_owned(),
            reason: r.reason,
        });
    }
    incoming.admit_revoked_keys = revoked;
    Ok(())
}
