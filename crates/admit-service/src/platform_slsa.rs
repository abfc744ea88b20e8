//! `slsaCheck` of platform policies: SLSA provenance (in-toto statements, provenance v0.2 or
//! v1) about the admitted digest, found as Grafeas BUILD occurrences (their DSSE `envelope`) in
//! the rule's `attestationSource` projects, or stored with the image as `cosign attest` does
//! (the `sha256-HEX.att` tag's DSSE layers, or Sigstore bundles as referrers with
//! `--new-bundle-format`), signed by the rule's builder and saying what the rule
//! asks: the trusted builder, a config-based build, trusted source repositories.
//!
//! Google's service fetches Cloud Build's provenance keys itself; admit runs offline, so the
//! roots of trust are given in the rule (admit extension `admitBuilder`: `id` for builders
//! other than `GOOGLE_CLOUD_BUILD`, `publicKeySet` and/or `admitKeyless` identities).

use admit_crypto::sigstore::{Bundle, Envelope};
use admit_policy::{
    CosignAttestation, CosignKey, CosignTrust, GOOGLE_CLOUD_BUILD_ID, ImageRef, KeylessAuthority,
    SlsaRequirements, check_provenance, read_provenance, verify_bundle_signer,
    verify_cosign_attestation,
};
use serde_json::Value;

use crate::platform_eval::{Outcome, projects_of};
use crate::{Service, ServiceError};

/// A rule's verdict: a pass (what matched), a miss (why not), or an error (it cannot be judged).
enum RuleResult {
    Pass(String),
    Miss(String),
    Error(String),
}

/// A DSSE envelope found for the image, and where.
struct Found {
    at: String,
    payload_type: String,
    payload: Vec<u8>,
    /// Who signed it, or why no trusted signer did.
    signer: Result<String, String>,
}

/// The rule's roots of trust: keys and keyless identities from `admitBuilder`.
fn roots(field: &str, builder: &Value) -> Result<(Vec<CosignKey>, Vec<KeylessAuthority>), String> {
    let mut keys = Vec::new();
    for (j, k) in builder["publicKeySet"]["publicKeys"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let key = admit_crypto::PkixKey::from_cosign_pem(k["publicKeyPem"].as_str().unwrap_or(""))
            .map_err(|e| format!("{field}.admitBuilder.publicKeySet.publicKeys[{j}]: {e}"))?;
        keys.push(CosignKey {
            label: format!("{field}'s builder key {j}"),
            key,
        });
    }
    let mut keyless = Vec::new();
    if let Some(ids) = builder["admitKeyless"]["identities"].as_array() {
        let identities = ids
            .iter()
            .enumerate()
            .map(|(j, v)| {
                admit_policy::IdentityRule::from_json(
                    &format!("{field}.admitBuilder.admitKeyless.identities[{j}]"),
                    v,
                )
                .map_err(|(f, e)| format!("{f}: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        keyless.push(KeylessAuthority {
            label: format!("{field}'s builder"),
            identities,
        });
    }
    Ok((keys, keyless))
}

/// The first provenance in `found` signed by the builder and saying what `req` asks; else the
/// reasons each failed are added to `reasons`.
fn judge(
    req: &SlsaRequirements<'_>,
    found: &[Found],
    digest: &str,
    reasons: &mut Vec<String>,
) -> Option<String> {
    for f in found {
        let by = match &f.signer {
            Ok(by) => by,
            Err(why) => {
                reasons.push(format!("{}: {why}", f.at));
                continue;
            }
        };
        match read_provenance(&f.payload_type, &f.payload, digest)
            .and_then(|p| check_provenance(req, &p))
        {
            Ok(said) => return Some(format!("provenance {} signed by {by}: {said}", f.at)),
            Err(why) => reasons.push(format!("{}: {why}", f.at)),
        }
    }
    None
}

impl Service {
    /// Evaluates a `slsaCheck`: any rule passing is enough.
    pub(crate) async fn slsa(
        &self,
        check: &Value,
        image: &ImageRef,
        digest: &str,
        default_project: &str,
    ) -> Result<Outcome, ServiceError> {
        let mut misses = Vec::new();
        let mut errors = Vec::new();
        for (i, rule) in check["rules"].as_array().into_iter().flatten().enumerate() {
            let field = format!("rules[{i}]");
            match self
                .slsa_rule(&field, rule, image, digest, default_project)
                .await?
            {
                RuleResult::Pass(said) => return Ok(("CONFORMANT", format!("{field}: {said}"))),
                RuleResult::Miss(why) => misses.push(format!("{field}: {why}")),
                RuleResult::Error(why) => errors.push(format!("{field}: {why}")),
            }
        }
        Ok(if misses.is_empty() {
            ("ERROR", errors.join("; "))
        } else {
            misses.extend(errors);
            ("NON_CONFORMANT", misses.join("; "))
        })
    }

    async fn slsa_rule(
        &self,
        field: &str,
        rule: &Value,
        image: &ImageRef,
        digest: &str,
        default_project: &str,
    ) -> Result<RuleResult, ServiceError> {
        let builder = &rule["admitBuilder"];
        let builder_id = match rule["trustedBuilder"].as_str() {
            Some("GOOGLE_CLOUD_BUILD") => GOOGLE_CLOUD_BUILD_ID,
            _ => match builder["id"].as_str().filter(|s| !s.is_empty()) {
                Some(id) => id,
                None => {
                    return Ok(RuleResult::Error(
                        "names no trusted builder (trustedBuilder, or admitBuilder.id)".into(),
                    ));
                }
            },
        };
        if rule["customConstraints"]
            .as_str()
            .is_some_and(|c| !c.trim().is_empty())
        {
            return Ok(RuleResult::Error(
                "has customConstraints, a CEL expression admit does not evaluate; the rule cannot pass"
                    .into(),
            ));
        }
        let (keys, keyless) = match roots(field, builder) {
            Ok(r) => r,
            Err(e) => return Ok(RuleResult::Error(e)),
        };
        if keys.is_empty() && keyless.is_empty() {
            return Ok(RuleResult::Error(format!(
                "no roots of trust for the builder `{builder_id}`: admit verifies provenance offline and cannot fetch them; give its keys in admitBuilder.publicKeySet or its keyless identities in admitBuilder.admitKeyless"
            )));
        }
        let trust = CosignTrust {
            keys: &keys,
            keyless: &keyless,
            root: self.sigstore_root.as_deref(),
        };
        let projects = projects_of(
            &rule["attestationSource"],
            "containerAnalysisAttestationProjects",
            default_project,
        );
        if let Some((_, why)) = self.cross_project_error(default_project, &projects).await? {
            return Ok(RuleResult::Error(why));
        }
        let req = SlsaRequirements {
            builder_id,
            source_patterns: &rule["trustedSourceRepoPatterns"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p.as_str().map(str::to_owned))
                .collect::<Vec<_>>(),
            config_based: rule["configBasedBuildRequired"].as_bool() == Some(true),
        };
        // Grafeas first; the registry is asked only when that is not enough.
        let mut reasons = Vec::new();
        let grafeas = self.grafeas_provenance(&projects, digest, &trust).await?;
        if let Some(pass) = judge(&req, &grafeas, digest, &mut reasons) {
            return Ok(RuleResult::Pass(pass));
        }
        let registry = match self.registry_provenance(image, digest, &trust).await {
            Ok(found) => found,
            Err(e) => {
                reasons.push(e);
                return Ok(RuleResult::Error(reasons.join("; ")));
            }
        };
        if let Some(pass) = judge(&req, &registry, digest, &mut reasons) {
            return Ok(RuleResult::Pass(pass));
        }
        if grafeas.is_empty() && registry.is_empty() {
            return Ok(RuleResult::Miss(format!(
                "no SLSA provenance for {}@{digest} (Grafeas BUILD occurrences in {}, or Sigstore bundles in the registry)",
                image.repository(),
                projects.join(", ")
            )));
        }
        Ok(RuleResult::Miss(reasons.join("; ")))
    }

    /// BUILD occurrences about `digest` carrying a DSSE `envelope`, with their signers.
    async fn grafeas_provenance(
        &self,
        projects: &[String],
        digest: &str,
        trust: &CosignTrust<'_>,
    ) -> Result<Vec<Found>, ServiceError> {
        let occs = self.occurrences_for(projects, digest, "BUILD").await?;
        Ok(occs
            .iter()
            .filter_map(|o| {
                let env = Envelope::from_json("envelope", o.other.get("envelope")?).ok()?;
                let pae = env.pae();
                let sigs = &env.signatures;
                let signer = trust
                    .keys
                    .iter()
                    .find(|k| sigs.iter().any(|s| k.key.verify(&pae, s).is_ok()))
                    .map(|k| k.label.clone())
                    .ok_or_else(|| {
                        format!(
                            "its envelope's {} signature(s) verify with none of the builder's keys",
                            sigs.len()
                        )
                    });
                let (payload_type, payload) = (env.payload_type, env.payload);
                Some(Found {
                    at: o.name.clone(),
                    payload_type,
                    payload,
                    signer,
                })
            })
            .collect())
    }

    /// Provenance bundles stored with the image, with their signers.
    async fn registry_provenance(
        &self,
        image: &ImageRef,
        digest: &str,
        trust: &CosignTrust<'_>,
    ) -> Result<Vec<Found>, String> {
        let Some(registry) = &self.registry else {
            return Ok(Vec::new());
        };
        let pinned = format!("{}@{digest}", image.repository());
        let deadline = std::time::Duration::from_secs(5);
        let layers = registry
            .cosign_attestations(&pinned, deadline)
            .await
            .map_err(|e| format!("attestations in the registry: {e}"))?;
        let mut found: Vec<Found> = layers
            .iter()
            .enumerate()
            .filter(|(_, l)| {
                l.annotations
                    .get(admit_registry::cosign::PREDICATE_TYPE_ANNOTATION)
                    .is_none_or(|p| p.starts_with("https://slsa.dev/provenance/"))
            })
            .map(|(i, l)| {
                let get = |k: &str| l.annotations.get(k).map(String::as_str);
                let a = CosignAttestation {
                    envelope: &l.payload,
                    certificate: get(admit_registry::cosign::CERTIFICATE_ANNOTATION),
                    chain: get(admit_registry::cosign::CHAIN_ANNOTATION),
                    rekor_bundle: get(admit_registry::cosign::REKOR_BUNDLE_ANNOTATION),
                };
                let at = format!("{pinned} attestation {i} (.att)");
                match verify_cosign_attestation(&a, trust) {
                    Ok(v) => Found {
                        at,
                        payload_type: v.payload_type,
                        payload: v.payload,
                        signer: Ok(v.by),
                    },
                    Err(e) => Found {
                        at,
                        payload_type: String::new(),
                        payload: Vec::new(),
                        signer: Err(format!("it {e}")),
                    },
                }
            })
            .collect();
        let bundles = registry
            .provenance_bundles(&pinned, deadline)
            .await
            .map_err(|e| format!("provenance in the registry: {e}"))?;
        found.extend(bundles.iter().enumerate().map(|(i, raw)| {
            let at = format!("{pinned} bundle {i}");
            match Bundle::parse(raw) {
                Ok(b) => Found {
                    at,
                    signer: verify_bundle_signer(&b, trust).map_err(|e| format!("its signer {e}")),
                    payload_type: b.envelope.payload_type,
                    payload: b.envelope.payload,
                },
                Err(e) => Found {
                    at,
                    payload_type: String::new(),
                    payload: Vec::new(),
                    signer: Err(e.to_string()),
                },
            }
        }));
        Ok(found)
    }
}
