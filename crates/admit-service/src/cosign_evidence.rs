//! admit extension: cosign signatures as attestations. An attestor key marked `admitCosign`
//! is a cosign key; a signature it made over the image's digest, stored in the registry as
//! cosign stores it, satisfies the attestor like a Grafeas attestation would. So one policy can
//! require Grafeas attestations by one attestor and cosign signatures by another.

use std::time::Duration;

use admit_policy::{
    CompiledAttestor, CosignSignature, CosignTrust, ImageRef, Satisfied, verify_cosign,
};

use crate::Service;

/// How long a registry may take to hand over an image's signatures during admission (the
/// webhook's own deadline bounds the whole decision as well).
const REGISTRY_DEADLINE: Duration = Duration::from_secs(3);

/// The signatures a registry lookup found, as the verifier reads them.
pub(crate) fn signatures_of(found: &admit_registry::CosignSignatures) -> Vec<CosignSignature<'_>> {
    found
        .layers
        .iter()
        .map(|l| CosignSignature {
            payload: &l.payload,
            signature: l
                .annotations
                .get(admit_registry::cosign::SIGNATURE_ANNOTATION)
                .map(String::as_str),
            certificate: l
                .annotations
                .get(admit_registry::cosign::CERTIFICATE_ANNOTATION)
                .map(String::as_str),
            chain: l
                .annotations
                .get(admit_registry::cosign::CHAIN_ANNOTATION)
                .map(String::as_str),
            rekor_bundle: l
                .annotations
                .get(admit_registry::cosign::REKOR_BUNDLE_ANNOTATION)
                .map(String::as_str),
        })
        .collect()
}

/// The Sigstore bundles a registry lookup found.
pub(crate) fn bundles_of(found: &admit_registry::CosignSignatures) -> Vec<&[u8]> {
    found.bundles.iter().map(Vec::as_slice).collect()
}

impl Service {
    /// When `attestor` has cosign keys and no Grafeas attestation satisfied it (`reasons`),
    /// looks for a cosign signature in the registry. Any failure only adds a reason: the
    /// attestor stays unsatisfied (fail closed).
    pub(crate) async fn with_cosign_evidence(
        &self,
        attestor: &CompiledAttestor,
        image: &ImageRef,
        mut reasons: Vec<String>,
    ) -> Result<Satisfied, Vec<String>> {
        let (Some(registry), Some(digest)) = (&self.registry, image.digest()) else {
            return Err(reasons);
        };
        let keys = attestor.cosign_keys();
        if keys.is_empty() {
            reasons.push(format!(
                "{}'s cosign keys are revoked or limited to a validity window",
                attestor.name
            ));
            return Err(reasons);
        }
        let pinned = format!("{}@{digest}", image.repository());
        let found = match registry.cosign_signatures(&pinned, REGISTRY_DEADLINE).await {
            Ok(f) => f,
            Err(e) => {
                self.metrics.cache("cosign_signatures", false);
                reasons.push(format!("cosign signatures of {pinned}: {e}"));
                return Err(reasons);
            }
        };
        self.metrics.cache("cosign_signatures", found.cached);
        let signatures = signatures_of(&found);
        let trust = CosignTrust {
            keys: &keys,
            keyless: &[],
            root: self.sigstore_root.as_deref(),
        };
        match verify_cosign(&signatures, &bundles_of(&found), digest, &trust) {
            Ok(v) => Ok(Satisfied {
                attestor: attestor.name.to_string(),
                occurrence: format!("{}{}", found.location, v.evidence),
                key_id: v.by,
            }),
            Err(why) => {
                reasons.extend(
                    why.into_iter()
                        .map(|w| format!("cosign ({}): {w}", found.location)),
                );
                Err(reasons)
            }
        }
    }
}
