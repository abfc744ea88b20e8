//! `GENERATE_DEPLOY`: the signed DSSE in-toto attestation that an image conformed to a GKE
//! platform policy, signed with the project's policy-verification KMS key (created on first
//! use).

use admit_policy::ImageRef;
use base64::Engine as _;
use serde_json::json;

use crate::{Service, ServiceError};

impl Service {
    /// A DSSE envelope over an in-toto statement that `image` conformed to `policy`, signed by
    /// the project's policy-verification key (created in the KMS on first use).
    pub(crate) async fn policy_verification_attestation(
        &self,
        project: &str,
        policy: &str,
        image: &ImageRef,
    ) -> Result<String, ServiceError> {
        let ring =
            format!("projects/{project}/locations/global/keyRings/binauthz-policy-verification");
        let key = format!("{ring}/cryptoKeys/gke-policy");
        let version = format!("{key}/cryptoKeyVersions/1");
        if self
            .store
            .get(admit_store::Kind::KeyRing, &ring)
            .await?
            .is_none()
        {
            let _ = self
                .create_key_ring(project, "global", "binauthz-policy-verification")
                .await;
        }
        if self
            .store
            .get(admit_store::Kind::CryptoKey, &key)
            .await?
            .is_none()
        {
            let _ = self
                .create_crypto_key(&ring, "gke-policy", json!({"purpose": "ASYMMETRIC_SIGN", "versionTemplate": {"algorithm": "EC_SIGN_P256_SHA256"}}), false)
                .await;
        }
        let digest_hex = image
            .digest()
            .and_then(|d| d.strip_prefix("sha256:"))
            .unwrap_or_default();
        let statement = json!({
            "_type": "https://in-toto.io/Statement/v0.1",
            "subject": [{"name": image.repository(), "digest": {"sha256": digest_hex}}],
            "predicateType": "https://binaryauthorization.googleapis.com/policy_verification/v0.1",
            "predicate": {"verificationTime": self.now(), "policyName": policy},
        });
        let payload = statement.to_string();
        let payload_type = "application/vnd.in-toto+json";
        let pae = admit_crypto::pae(payload_type, payload.as_bytes());
        let d = admit_crypto::sha256(&pae);
        let req: crate::SignRequest = serde_json::from_value(
            json!({"digest": {"sha256": base64::engine::general_purpose::STANDARD.encode(d)}}),
        )
        .map_err(|e| ServiceError::new(crate::Code::Internal, e.to_string()))?;
        let sig = self.asymmetric_sign(&version, req).await?;
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let envelope = json!({"payloadType": payload_type, "payload": b64(payload.as_bytes()), "signatures": [{"keyid": version, "sig": b64(&sig.signature.0)}]});
        Ok(base64::engine::general_purpose::URL_SAFE.encode(envelope.to_string()))
    }
}
