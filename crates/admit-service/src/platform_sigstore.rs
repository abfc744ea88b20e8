//! `sigstoreSignatureCheck` of platform policies: cosign signatures and Sigstore bundles stored
//! with the image, verified by the check's keys or (admit extension `admitKeyless`) keyless
//! identities against the server's Sigstore trust root.

use admit_policy::ImageRef;
use serde_json::Value;

use crate::Service;
use crate::platform_eval::Outcome;

impl Service {
    /// `sigstoreSignatureCheck`: a cosign signature stored with the image (sigstore's
    /// tag-based layout, or a Sigstore bundle stored as a referrer) over this digest, verified
    /// by a key of one of the check's authorities, or (admit extension `admitKeyless`) signed
    /// keylessly by an identity one of them trusts, against the server's Sigstore trust root.
    pub(crate) async fn sigstore_signature(&self, check: &Value, image: &ImageRef) -> Outcome {
        let (keys, keyless) = match sigstore_authorities(check) {
            Ok(a) => a,
            Err(e) => return ("ERROR", e),
        };
        let Some(registry) = &self.registry else {
            return (
                "ERROR",
                "sigstoreSignatureCheck needs registry access, which this server is not configured with"
                    .into(),
            );
        };
        let Some(digest) = image.digest() else {
            return (
                "NON_CONFORMANT",
                "sigstoreSignatureCheck needs the image pinned by digest".into(),
            );
        };
        let pinned = format!("{}@{digest}", image.repository());
        let found = match registry
            .cosign_signatures(&pinned, std::time::Duration::from_secs(5))
            .await
        {
            Ok(f) => f,
            Err(e) => return ("ERROR", format!("sigstoreSignatureCheck: {e}")),
        };
        let signatures = crate::cosign_evidence::signatures_of(&found);
        let trust = admit_policy::CosignTrust {
            keys: &keys,
            keyless: &keyless,
            root: self.sigstore_root.as_deref(),
        };
        match admit_policy::verify_cosign(
            &signatures,
            &crate::cosign_evidence::bundles_of(&found),
            digest,
            &trust,
        ) {
            Ok(v) => (
                "CONFORMANT",
                format!(
                    "cosign {} at {} verified by {}",
                    v.evidence.strip_prefix("#bundle-").map_or_else(
                        || format!("signature {}", &v.evidence[1..]),
                        |n| format!("bundle {n}")
                    ),
                    found.location,
                    v.by
                ),
            ),
            Err(reasons) => (
                "NON_CONFORMANT",
                format!("{}: {}", found.location, reasons.join("; ")),
            ),
        }
    }
}

/// The keys and keyless identities of a `sigstoreSignatureCheck`'s authorities.
pub(crate) fn sigstore_authorities(
    check: &Value,
) -> Result<
    (
        Vec<admit_policy::CosignKey>,
        Vec<admit_policy::KeylessAuthority>,
    ),
    String,
> {
    let mut keys = Vec::new();
    let mut keyless = Vec::new();
    for (i, a) in check["sigstoreAuthorities"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let name = a["displayName"]
            .as_str()
            .filter(|n| !n.is_empty())
            .map_or_else(
                || format!("authority {i}"),
                |n| format!("authority {i} ({n})"),
            );
        for (j, k) in a["publicKeySet"]["publicKeys"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let key =
                admit_crypto::PkixKey::from_cosign_pem(k["publicKeyPem"].as_str().unwrap_or(""))
                    .map_err(|e| {
                        format!("sigstoreAuthorities[{i}].publicKeySet.publicKeys[{j}]: {e}")
                    })?;
            keys.push(admit_policy::CosignKey {
                label: format!("{name}, key {j}"),
                key,
            });
        }
        let ids = a["admitKeyless"]["identities"].as_array();
        if let Some(ids) = ids {
            let identities = ids
                .iter()
                .enumerate()
                .map(|(j, v)| {
                    admit_policy::IdentityRule::from_json(
                        &format!("sigstoreAuthorities[{i}].admitKeyless.identities[{j}]"),
                        v,
                    )
                    .map_err(|(f, e)| format!("{f}: {e}"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            keyless.push(admit_policy::KeylessAuthority {
                label: name,
                identities,
            });
        }
    }
    Ok((keys, keyless))
}
