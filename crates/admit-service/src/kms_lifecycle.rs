//! The Cloud KMS lifecycle gcloud drives: `cryptoKeys.patch` (labels, the default algorithm;
//! rotation, which Cloud KMS offers only for symmetric keys, is refused), `cryptoKeyVersions.patch`
//! (`state` ENABLED ↔ DISABLED), `:destroy` (DESTROY_SCHEDULED until `destroyTime` = now + the
//! key's `destroyScheduledDuration`, 30 days by default), `:restore` (back to DISABLED while
//! scheduled), and the destruction itself: once `destroyTime` has passed, the first read of the
//! version makes it DESTROYED and erases its wrapped private key in the same write. Only an
//! ENABLED version signs, shows its public key, or vouches for an attestation.

use admit_model::CryptoKeyVersionState;
use admit_store::{Doc, Kind, Precondition};
use serde_json::{Value, json};

use crate::kms::{key_response, public_version};
use crate::{Service, ServiceError};

/// Cloud KMS' bounds on `destroyScheduledDuration`.
const MIN_SCHEDULE: u64 = 86_400;
const MAX_SCHEDULE: u64 = 120 * 86_400;

/// `"2592000s"` (a protobuf Duration in JSON) → seconds.
fn duration_secs(v: &str) -> Option<u64> {
    let n = v.strip_suffix('s')?;
    let whole = n.split_once('.').map_or(n, |(w, _)| w);
    whole.parse().ok()
}

/// Checks a key's `destroyScheduledDuration` (default 30 days) and returns it normalised.
pub(crate) fn destroy_schedule(v: Option<&Value>) -> Result<Value, ServiceError> {
    let text = match v {
        None | Some(Value::Null) => return Ok(json!("2592000s")),
        Some(Value::String(s)) => s.as_str(),
        Some(_) => {
            return Err(ServiceError::invalid(
                "destroyScheduledDuration must be a duration string such as `86400s`",
            ));
        }
    };
    match duration_secs(text) {
        Some(s) if (MIN_SCHEDULE..=MAX_SCHEDULE).contains(&s) => Ok(json!(format!("{s}s"))),
        _ => Err(ServiceError::invalid(format!(
            "destroyScheduledDuration `{text}`: between {MIN_SCHEDULE}s (1 day) and {MAX_SCHEDULE}s (120 days)"
        ))),
    }
}

fn state_of(doc: &Doc) -> Result<CryptoKeyVersionState, ServiceError> {
    serde_json::from_value(doc.body["state"].clone()).map_err(ServiceError::internal)
}

fn key_of(version: &str) -> &str {
    version
        .rsplit_once("/cryptoKeyVersions/")
        .map_or("", |(k, _)| k)
}

impl Service {
    /// A scheduled destruction whose time has come: DESTROYED, material erased (one write).
    pub(crate) async fn destroy_if_due(&self, doc: Doc) -> Result<Doc, ServiceError> {
        if state_of(&doc)? != CryptoKeyVersionState::DestroyScheduled {
            return Ok(doc);
        }
        let due = doc.body["destroyTime"]
            .as_str()
            .and_then(admit_model::parse_rfc3339)
            .is_some_and(|(at, _)| at <= (self.clock)().0);
        if !due {
            return Ok(doc);
        }
        let mut body = doc.body.clone();
        body["state"] = json!(CryptoKeyVersionState::Destroyed);
        body["destroyEventTime"] = body["destroyTime"].clone();
        Ok(self
            .store
            .put(
                Kind::CryptoKeyVersion,
                &doc.name,
                key_of(&doc.name),
                &body,
                Some(&[]),
                Precondition::MustExist {
                    etag: Some(doc.etag.clone()),
                },
                &self.now(),
            )
            .await?)
    }

    async fn write_version(&self, doc: &Doc, body: &Value) -> Result<Value, ServiceError> {
        let written = self
            .store
            .put(
                Kind::CryptoKeyVersion,
                &doc.name,
                key_of(&doc.name),
                body,
                None,
                Precondition::MustExist {
                    etag: Some(doc.etag.clone()),
                },
                &self.now(),
            )
            .await?;
        Ok(public_version(written))
    }

    /// `:destroy`: DESTROY_SCHEDULED for the key's `destroyScheduledDuration`; it stops signing
    /// at once and can be restored until then.
    pub async fn destroy_crypto_key_version(&self, name: &str) -> Result<Value, ServiceError> {
        let doc = self.version_doc(name).await?;
        let state = state_of(&doc)?;
        if !matches!(
            state,
            CryptoKeyVersionState::Enabled | CryptoKeyVersionState::Disabled
        ) {
            return Err(ServiceError::precondition(format!(
                "{name} is {state}: only an ENABLED or DISABLED version can be destroyed"
            )));
        }
        let key = self.get_crypto_key(key_of(name)).await?;
        let schedule = key["destroyScheduledDuration"]
            .as_str()
            .and_then(duration_secs)
            .unwrap_or(30 * 86_400);
        let (now, nanos) = (self.clock)();
        let mut body = doc.body.clone();
        body["state"] = json!(CryptoKeyVersionState::DestroyScheduled);
        body["destroyTime"] = json!(admit_model::rfc3339(now + schedule, nanos));
        self.write_version(&doc, &body).await
    }

    /// `:restore`: a version scheduled for destruction comes back DISABLED.
    pub async fn restore_crypto_key_version(&self, name: &str) -> Result<Value, ServiceError> {
        let doc = self.version_doc(name).await?;
        let state = state_of(&doc)?;
        if state != CryptoKeyVersionState::DestroyScheduled {
            return Err(ServiceError::precondition(format!(
                "{name} is {state}: only a version scheduled for destruction can be restored"
            )));
        }
        let mut body = doc.body.clone();
        body["state"] = json!(CryptoKeyVersionState::Disabled);
        if let Some(o) = body.as_object_mut() {
            o.remove("destroyTime");
        }
        self.write_version(&doc, &body).await
    }

    /// `cryptoKeyVersions.patch`: only `state`, between ENABLED and DISABLED.
    pub async fn patch_crypto_key_version(
        &self,
        name: &str,
        patch: &Value,
        mask: &[String],
    ) -> Result<Value, ServiceError> {
        if mask.iter().any(|m| m != "state") || mask.is_empty() {
            return Err(ServiceError::invalid(
                "updateMask: only `state` of a crypto key version can be updated",
            ));
        }
        let want: CryptoKeyVersionState = serde_json::from_value(patch["state"].clone())
            .map_err(|e| ServiceError::invalid(format!("state: {e}")))?;
        let doc = self.version_doc(name).await?;
        let state = state_of(&doc)?;
        let allowed = matches!(
            (state, want),
            (
                CryptoKeyVersionState::Enabled | CryptoKeyVersionState::Disabled,
                CryptoKeyVersionState::Enabled | CryptoKeyVersionState::Disabled
            )
        );
        if !allowed {
            return Err(ServiceError::precondition(format!(
                "{name} is {state}: it cannot be set to {want} (ENABLED and DISABLED only, between each other)"
            )));
        }
        let mut body = doc.body.clone();
        body["state"] = json!(want);
        self.write_version(&doc, &body).await
    }

    /// `cryptoKeys.patch`: `labels` and `versionTemplate.algorithm`; rotation is refused, as
    /// Cloud KMS refuses it for asymmetric keys.
    pub async fn patch_crypto_key(
        &self,
        name: &str,
        patch: &Value,
        mask: &[String],
    ) -> Result<Value, ServiceError> {
        let doc = self
            .store
            .get(Kind::CryptoKey, name)
            .await?
            .ok_or_else(|| ServiceError::not_found(format!("crypto key {name} not found")))?;
        let mut body = doc.body.clone();
        if mask.is_empty() {
            return Err(ServiceError::invalid("updateMask is required"));
        }
        for m in mask {
            match m.as_str() {
                "labels" => match patch.get("labels") {
                    Some(l @ Value::Object(_)) => body["labels"] = l.clone(),
                    None | Some(Value::Null) => {
                        if let Some(o) = body.as_object_mut() {
                            o.remove("labels");
                        }
                    }
                    Some(_) => return Err(ServiceError::invalid("labels must be a map")),
                },
                "versionTemplate.algorithm" | "version_template.algorithm" => {
                    let alg: admit_model::CryptoKeyVersionAlgorithm =
                        serde_json::from_value(patch["versionTemplate"]["algorithm"].clone())
                            .map_err(|e| {
                                ServiceError::invalid(format!("versionTemplate.algorithm: {e}"))
                            })?;
                    if !admit_crypto::kms_algorithm_supported(alg) {
                        return Err(ServiceError::invalid(format!(
                            "versionTemplate.algorithm {alg} is not an asymmetric-signing algorithm admit supports"
                        )));
                    }
                    body["versionTemplate"]["algorithm"] = json!(alg);
                }
                "rotationPeriod" | "nextRotationTime" | "rotation_period"
                | "next_rotation_time" => {
                    return Err(ServiceError::invalid(format!(
                        "{m}: keys with purpose ASYMMETRIC_SIGN do not support automatic rotation"
                    )));
                }
                other => {
                    return Err(ServiceError::invalid(format!(
                        "updateMask: `{other}` cannot be updated (labels, versionTemplate.algorithm)"
                    )));
                }
            }
        }
        let written = self
            .store
            .put(
                Kind::CryptoKey,
                name,
                name.rsplit_once("/cryptoKeys/").map_or("", |(r, _)| r),
                &body,
                None,
                Precondition::MustExist {
                    etag: Some(doc.etag),
                },
                &self.now(),
            )
            .await?;
        Ok(key_response(written))
    }

    /// Of the KMS-backed keys `(key id, version name)` (see [`kms_backed_keys`]), those whose
    /// version on this server is not ENABLED: they vouch for nothing (as `admitRevokedKeys`,
    /// with the state as the reason). Also a fingerprint of the versions' states, for caches.
    pub(crate) async fn kms_unusable_keys(
        &self,
        keys: &[(String, String)],
    ) -> Result<(Vec<admit_model::RevokedKey>, String), ServiceError> {
        let mut out = Vec::new();
        let mut fingerprint = String::new();
        for (id, version) in keys {
            let Some(doc) = self.store.get(Kind::CryptoKeyVersion, version).await? else {
                continue;
            };
            let doc = self.destroy_if_due(doc).await?;
            let state = state_of(&doc)?;
            fingerprint.push_str(&doc.etag);
            if state != CryptoKeyVersionState::Enabled {
                out.push(admit_model::RevokedKey {
                    key_id: id.clone(),
                    revoke_time: String::new(),
                    reason: format!("KMS key version {version} is {state}"),
                });
            }
        }
        Ok((out, fingerprint))
    }
}

/// The attestor's keys whose id names a KMS key version (`//cloudkms.googleapis.com/v1/projects/
/// …/cryptoKeyVersions/N`, or the same with this server's host, as gcloud writes it), with that
/// version's name.
pub(crate) fn kms_backed_keys(attestor: &admit_model::Attestor) -> Vec<(String, String)> {
    attestor
        .user_owned_grafeas_note
        .as_ref()
        .map(|n| n.public_keys.as_slice())
        .unwrap_or_default()
        .iter()
        .filter_map(|k| {
            k.id.split_once("/v1/")
                .map(|(_, v)| v)
                .filter(|v| v.starts_with("projects/") && v.contains("/cryptoKeyVersions/"))
                .map(|v| (k.id.clone(), v.to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_are_checked_against_cloud_kms_bounds() {
        assert_eq!(destroy_schedule(None).ok(), Some(json!("2592000s")));
        assert_eq!(
            destroy_schedule(Some(&json!("86400s"))).ok(),
            Some(json!("86400s"))
        );
        for bad in [
            json!("3600s"),
            json!("forever"),
            json!(86400),
            json!("20000000s"),
        ] {
            assert!(destroy_schedule(Some(&bad)).is_err(), "{bad}");
        }
    }
}
