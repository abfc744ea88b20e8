//! The Cloud KMS subset: key rings, asymmetric-signing keys and versions, public keys and
//! signing. Private keys are generated here, wrapped under the master key, stored beside the
//! version and never returned.

use admit_crypto::{SignInput, crc32c, kms_algorithm_supported};
use admit_model::{
    Bytes, CryptoKeyPurpose, CryptoKeyVersionAlgorithm, CryptoKeyVersionState, ProtectionLevel,
};
use admit_store::{Doc, Kind, Listed, Page, Precondition};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::grafeas_body::with_times;
use crate::{Service, ServiceError, check_id, check_project};

/// Internal fields kept in a version's body and stripped from every response.
const PUBLIC_PEM: &str = "admitPublicKeyPem";

fn check_location(l: &str) -> Result<(), ServiceError> {
    if !l.is_empty()
        && l.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        Ok(())
    } else {
        Err(ServiceError::invalid(format!("invalid location `{l}`")))
    }
}

fn int64_opt(v: &Value) -> Result<Option<u32>, ServiceError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => s
            .parse::<u64>()
            .map(|n| Some(n as u32))
            .map_err(|_| ServiceError::invalid(format!("invalid int64 `{s}`"))),
        Value::Number(n) => n
            .as_u64()
            .map(|n| Some(n as u32))
            .ok_or_else(|| ServiceError::invalid("invalid int64")),
        _ => Err(ServiceError::invalid("int64 fields are strings or numbers")),
    }
}

/// `AsymmetricSignRequest`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignRequest {
    #[serde(default)]
    pub digest: Option<DigestField>,
    #[serde(default)]
    pub data: Option<Bytes>,
    #[serde(default)]
    pub digest_crc32c: Value,
    #[serde(default)]
    pub data_crc32c: Value,
}

/// `Digest`: exactly one of the three.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigestField {
    #[serde(default)]
    pub sha256: Option<Bytes>,
    #[serde(default)]
    pub sha384: Option<Bytes>,
    #[serde(default)]
    pub sha512: Option<Bytes>,
}

/// `AsymmetricSignResponse`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignResponse {
    pub signature: Bytes,
    pub signature_crc32c: String,
    pub verified_digest_crc32c: bool,
    pub verified_data_crc32c: bool,
    pub name: String,
    pub protection_level: ProtectionLevel,
}

pub(crate) fn public_version(doc: Doc) -> Value {
    let mut v = with_times(doc);
    if let Some(o) = v.as_object_mut() {
        o.remove(PUBLIC_PEM);
        o.remove("updateTime");
    }
    v
}

impl Service {
    pub async fn create_key_ring(
        &self,
        project: &str,
        location: &str,
        id: &str,
    ) -> Result<Value, ServiceError> {
        check_project(project)?;
        check_location(location)?;
        check_id("keyRingId", id)?;
        let parent = format!("projects/{project}/locations/{location}");
        let name = format!("{parent}/keyRings/{id}");
        let doc = self
            .store
            .put(
                Kind::KeyRing,
                &name,
                &parent,
                &json!({"name": name}),
                None,
                Precondition::MustNotExist,
                &self.now(),
            )
            .await?;
        Ok(json!({"name": doc.name, "createTime": doc.create_time}))
    }

    pub async fn get_key_ring(&self, name: &str) -> Result<Value, ServiceError> {
        let doc = self
            .store
            .get(Kind::KeyRing, name)
            .await?
            .ok_or_else(|| ServiceError::not_found(format!("key ring {name} not found")))?;
        Ok(json!({"name": doc.name, "createTime": doc.create_time}))
    }

    pub async fn list_key_rings(
        &self,
        parent: &str,
        page: &Page,
    ) -> Result<Listed<Value>, ServiceError> {
        let l = self.store.list(Kind::KeyRing, parent, page).await?;
        Ok(Listed {
            items: l
                .items
                .into_iter()
                .map(|d| json!({"name": d.name, "createTime": d.create_time}))
                .collect(),
            next_page_token: l.next_page_token,
        })
    }

    pub async fn create_crypto_key(
        &self,
        key_ring: &str,
        id: &str,
        body: Value,
        skip_initial_version: bool,
    ) -> Result<Value, ServiceError> {
        check_id("cryptoKeyId", id)?;
        self.get_key_ring(key_ring).await?;
        let name = format!("{key_ring}/cryptoKeys/{id}");
        let purpose: CryptoKeyPurpose =
            serde_json::from_value(body.get("purpose").cloned().unwrap_or(Value::Null))
                .map_err(|e| ServiceError::invalid(format!("purpose: {e}")))?;
        if purpose != CryptoKeyPurpose::AsymmetricSign {
            return Err(ServiceError::invalid(format!(
                "purpose {purpose} is not supported; admit's KMS serves ASYMMETRIC_SIGN keys"
            )));
        }
        let template = body.get("versionTemplate").cloned().unwrap_or(Value::Null);
        let alg: CryptoKeyVersionAlgorithm =
            serde_json::from_value(template.get("algorithm").cloned().unwrap_or(Value::Null))
                .map_err(|e| ServiceError::invalid(format!("versionTemplate.algorithm: {e}")))?;
        if !kms_algorithm_supported(alg) {
            return Err(ServiceError::invalid(format!(
                "versionTemplate.algorithm {alg} is not an asymmetric-signing algorithm admit supports"
            )));
        }
        let level: ProtectionLevel = match template.get("protectionLevel") {
            None | Some(Value::Null) => ProtectionLevel::Software,
            Some(v) => serde_json::from_value(v.clone()).map_err(|e| {
                ServiceError::invalid(format!("versionTemplate.protectionLevel: {e}"))
            })?,
        };
        if !matches!(
            level,
            ProtectionLevel::Software | ProtectionLevel::Unspecified
        ) {
            return Err(ServiceError::invalid(format!(
                "versionTemplate.protectionLevel {level} is not available: admit keeps keys in software, wrapped under its master key"
            )));
        }
        let mut stored = json!({
            "name": name,
            "purpose": purpose,
            "versionTemplate": {"algorithm": alg, "protectionLevel": ProtectionLevel::Software},
            "destroyScheduledDuration": crate::kms_lifecycle::destroy_schedule(body.get("destroyScheduledDuration"))?,
        });
        if let Some(l) = body.get("labels").filter(|l| l.is_object()) {
            stored["labels"] = l.clone();
        }
        let doc = self
            .store
            .put(
                Kind::CryptoKey,
                &name,
                key_ring,
                &stored,
                None,
                Precondition::MustNotExist,
                &self.now(),
            )
            .await?;
        if !skip_initial_version {
            self.create_crypto_key_version(&name).await?;
        }
        Ok(key_response(doc))
    }

    pub async fn get_crypto_key(&self, name: &str) -> Result<Value, ServiceError> {
        let doc = self
            .store
            .get(Kind::CryptoKey, name)
            .await?
            .ok_or_else(|| ServiceError::not_found(format!("crypto key {name} not found")))?;
        Ok(key_response(doc))
    }

    pub async fn list_crypto_keys(
        &self,
        key_ring: &str,
        page: &Page,
    ) -> Result<Listed<Value>, ServiceError> {
        let l = self.store.list(Kind::CryptoKey, key_ring, page).await?;
        Ok(Listed {
            items: l.items.into_iter().map(key_response).collect(),
            next_page_token: l.next_page_token,
        })
    }

    /// Generates the next version of `key`.
    pub async fn create_crypto_key_version(&self, key: &str) -> Result<Value, ServiceError> {
        let k = self.get_crypto_key(key).await?;
        let alg: CryptoKeyVersionAlgorithm =
            serde_json::from_value(k["versionTemplate"]["algorithm"].clone())
                .map_err(ServiceError::internal)?;
        // Versions are numbered from 1; the highest existing number plus one.
        let mut max = 0u64;
        let mut page = Page {
            size: Page::MAX_SIZE,
            token: None,
        };
        loop {
            let l = self.store.list(Kind::CryptoKeyVersion, key, &page).await?;
            for d in &l.items {
                if let Some(n) = d
                    .name
                    .rsplit('/')
                    .next()
                    .and_then(|n| n.parse::<u64>().ok())
                {
                    max = max.max(n);
                }
            }
            match l.next_page_token {
                Some(t) => page.token = Some(t),
                None => break,
            }
        }
        let name = format!("{key}/cryptoKeyVersions/{}", max + 1);
        // RSA-4096 generation takes a second or more: never on an async worker.
        let (keys, for_name) = (self.keys.clone(), name.clone());
        let generated =
            crate::verify::off_runtime(move || Ok(keys.generate(alg, &for_name)?)).await?;
        let now = self.now();
        let body = json!({
            "name": name,
            "state": CryptoKeyVersionState::Enabled,
            "protectionLevel": ProtectionLevel::Software,
            "algorithm": alg,
            "generateTime": now,
            PUBLIC_PEM: generated.public_key_pem,
        });
        let doc = self
            .store
            .put(
                Kind::CryptoKeyVersion,
                &name,
                key,
                &body,
                Some(&generated.wrapped_private_key),
                Precondition::MustNotExist,
                &now,
            )
            .await?;
        tracing::info!(version = %name, algorithm = %alg, "generated key version");
        Ok(public_version(doc))
    }

    pub(crate) async fn version_doc(&self, name: &str) -> Result<Doc, ServiceError> {
        let doc = self
            .store
            .get(Kind::CryptoKeyVersion, name)
            .await?
            .ok_or_else(|| {
                ServiceError::not_found(format!("crypto key version {name} not found"))
            })?;
        self.destroy_if_due(doc).await
    }

    pub async fn get_crypto_key_version(&self, name: &str) -> Result<Value, ServiceError> {
        Ok(public_version(self.version_doc(name).await?))
    }

    pub async fn list_crypto_key_versions(
        &self,
        key: &str,
        page: &Page,
    ) -> Result<Listed<Value>, ServiceError> {
        self.get_crypto_key(key).await?;
        let l = self.store.list(Kind::CryptoKeyVersion, key, page).await?;
        let mut items = Vec::with_capacity(l.items.len());
        for d in l.items {
            items.push(public_version(self.destroy_if_due(d).await?));
        }
        Ok(Listed {
            items,
            next_page_token: l.next_page_token,
        })
    }

    async fn enabled_version(
        &self,
        name: &str,
    ) -> Result<(Doc, CryptoKeyVersionAlgorithm), ServiceError> {
        let doc = self.version_doc(name).await?;
        let state: CryptoKeyVersionState =
            serde_json::from_value(doc.body["state"].clone()).map_err(ServiceError::internal)?;
        if state != CryptoKeyVersionState::Enabled {
            return Err(ServiceError::precondition(format!(
                "{name} is not enabled (state {state})"
            )));
        }
        let alg = serde_json::from_value(doc.body["algorithm"].clone())
            .map_err(ServiceError::internal)?;
        Ok((doc, alg))
    }

    pub async fn get_public_key(&self, name: &str) -> Result<Value, ServiceError> {
        let (doc, alg) = self.enabled_version(name).await?;
        let pem = doc.body[PUBLIC_PEM].as_str().unwrap_or_default().to_owned();
        Ok(json!({
            "pem": pem,
            "algorithm": alg,
            "pemCrc32c": crc32c(pem.as_bytes()).to_string(),
            "name": name,
            "protectionLevel": ProtectionLevel::Software,
        }))
    }

    pub async fn asymmetric_sign(
        &self,
        name: &str,
        req: SignRequest,
    ) -> Result<SignResponse, ServiceError> {
        let (_, alg) = self.enabled_version(name).await?;
        let digest_crc = int64_opt(&req.digest_crc32c)?;
        let data_crc = int64_opt(&req.data_crc32c)?;
        let (input, crc_of, want_crc) = match (&req.digest, &req.data) {
            (Some(d), None) => {
                let (input, bytes) = match (&d.sha256, &d.sha384, &d.sha512) {
                    (Some(b), None, None) => (SignInput::Sha256(&b.0), &b.0),
                    (None, Some(b), None) => (SignInput::Sha384(&b.0), &b.0),
                    (None, None, Some(b)) => (SignInput::Sha512(&b.0), &b.0),
                    _ => {
                        return Err(ServiceError::invalid(
                            "digest must have exactly one of sha256, sha384, sha512",
                        ));
                    }
                };
                (input, bytes, digest_crc)
            }
            (None, Some(data)) => (SignInput::Data(&data.0), &data.0, data_crc),
            _ => {
                return Err(ServiceError::invalid(
                    "exactly one of digest or data is required",
                ));
            }
        };
        if let Some(want) = want_crc
            && crc32c(crc_of) != want
        {
            return Err(ServiceError::invalid(
                "the request's CRC32C checksum does not match its content; it was corrupted in transit",
            ));
        }
        let wrapped = self
            .store
            .secret(Kind::CryptoKeyVersion, name)
            .await?
            .ok_or_else(|| ServiceError::internal(format!("{name}: key material missing")))?;
        let signature = self.keys.sign(alg, &wrapped, name, input)?;
        Ok(SignResponse {
            signature_crc32c: crc32c(&signature).to_string(),
            signature: Bytes(signature),
            verified_digest_crc32c: req.digest.is_some() && digest_crc.is_some(),
            verified_data_crc32c: req.data.is_some() && data_crc.is_some(),
            name: name.to_owned(),
            protection_level: ProtectionLevel::Software,
        })
    }
}

pub(crate) fn key_response(doc: Doc) -> Value {
    let mut v = with_times(doc);
    if let Some(o) = v.as_object_mut() {
        o.remove("updateTime");
    }
    v
}
