//! Kritis' namespace-scoped admission policies, compiled from manifests: ImageSecurityPolicy
//! (vulnerability thresholds), GenericAttestationPolicy (required AttestationAuthorities) and
//! AttestationAuthority (a note and OpenPGP keys, compiled into an attestor so attestations are
//! verified exactly as Binary Authorization's are).
//!
//! Safe defaults where Kritis was permissive: a namespace without any Kritis policy is denied
//! (Kritis admitted everything there), an unset severity threshold blocks every vulnerability,
//! an image without a finished scan is denied, every GenericAttestationPolicy of a namespace
//! must be satisfied (Kritis let the last one decide), and an image must be pinned by digest.

use std::collections::BTreeMap;
use std::sync::Arc;

use admit_model::{
    AttestationAuthority, Format, GenericAttestationPolicy, ImageSecurityPolicy, Resource,
};
use base64::Engine as _;
use serde_json::{Value, json};

use crate::{CompiledAttestor, ExemptPattern};

/// One namespace's policies.
#[derive(Debug, Default)]
pub struct NamespacePolicies {
    pub image_security: Vec<ImageSecurityPolicy>,
    /// Each policy with its compiled `admissionWhitelistPatterns`.
    pub attestation: Vec<(GenericAttestationPolicy, Vec<ExemptPattern>)>,
    /// AttestationAuthorities by name.
    pub authorities: BTreeMap<String, Arc<CompiledAttestor>>,
}

/// Every namespace's policies.
#[derive(Debug, Default)]
pub struct KritisPolicies {
    namespaces: BTreeMap<String, NamespacePolicies>,
}

fn parse_doc<S: serde::de::DeserializeOwned>(
    origin: &str,
    doc: &Value,
) -> Result<Resource<S>, String> {
    let text = doc.to_string();
    admit_model::decode::<Resource<S>>(&text, Format::Json).map_err(|e| format!("{origin}: {e}"))
}

/// `projects/P` + the AA's name, or `projects/P/notes/N`; an API version prefix is dropped.
fn note_of(origin: &str, aa: &AttestationAuthority) -> Result<String, String> {
    let r = aa.spec.note_reference.trim().trim_matches('/');
    let r = r
        .split_once("projects/")
        .map(|(_, rest)| format!("projects/{rest}"))
        .ok_or_else(|| {
            format!(
                "{origin}: spec.noteReference `{}` is not projects/P or projects/P/notes/N",
                aa.spec.note_reference
            )
        })?;
    let parts: Vec<&str> = r.split('/').collect();
    let note = match parts.as_slice() {
        ["projects", p] if !p.is_empty() => format!("projects/{p}/notes/{}", aa.metadata.name),
        ["projects", p, "notes", n] if !p.is_empty() && !n.is_empty() => r.clone(),
        _ => {
            return Err(format!(
                "{origin}: spec.noteReference `{}` is not projects/P or projects/P/notes/N",
                aa.spec.note_reference
            ));
        }
    };
    admit_model::NoteName::parse(&note)
        .map(|n| n.to_string())
        .map_err(|e| format!("{origin}: spec.noteReference: {e}"))
}

fn compile_authority(origin: &str, aa: &AttestationAuthority) -> Result<CompiledAttestor, String> {
    let note = note_of(origin, aa)?;
    let mut armored = Vec::new();
    for (field, data) in aa
        .spec
        .public_key_data
        .iter()
        .map(|d| ("spec.publicKeyData".to_owned(), d))
        .chain(
            aa.spec
                .public_key_list
                .iter()
                .enumerate()
                .map(|(i, d)| (format!("spec.publicKeyList[{i}]"), d)),
        )
    {
        let clean: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(clean)
            .map_err(|_| format!("{origin}: {field} is not base64 (of an armored OpenPGP key)"))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| format!("{origin}: {field} does not hold an armored OpenPGP key"))?;
        admit_crypto::PgpKey::from_armored(&text).map_err(|e| format!("{origin}: {field}: {e}"))?;
        armored.push(json!({"asciiArmoredPgpPublicKey": text}));
    }
    if armored.is_empty() {
        return Err(format!("{origin}: spec.publicKeyData is required"));
    }
    let project = note.split('/').nth(1).unwrap_or_default();
    let id: String = format!("kritis-{}", aa.metadata.name)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    let attestor = json!({
        "name": format!("projects/{project}/attestors/{id}"),
        "userOwnedGrafeasNote": {"noteReference": note, "publicKeys": armored},
    });
    let attestor: admit_model::Attestor =
        serde_json::from_value(attestor).map_err(|e| format!("{origin}: {e}"))?;
    CompiledAttestor::compile(&attestor).map_err(|e| format!("{origin}: {e}"))
}

impl KritisPolicies {
    /// Compiles manifests: `(origin, text)` pairs, each a YAML stream or JSON document. Any
    /// document that is not one of the three kinds, or is invalid, is an error naming it.
    pub fn from_manifests(files: &[(String, String)]) -> Result<KritisPolicies, String> {
        let mut out = KritisPolicies::default();
        let mut authorities = Vec::new();
        let mut required = Vec::new();
        for (file, text) in files {
            let format = Format::sniff(text);
            let docs: Vec<Value> =
                admit_model::decode_many(text, format).map_err(|e| format!("{file}: {e}"))?;
            for (i, doc) in docs.iter().enumerate() {
                if doc.is_null() {
                    continue;
                }
                let origin = format!("{file} (document {})", i + 1);
                let api = doc
                    .get("apiVersion")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if !api.starts_with("kritis.grafeas.io/") {
                    return Err(format!(
                        "{origin}: apiVersion `{api}` is not kritis.grafeas.io/v1beta1"
                    ));
                }
                let kind = doc.get("kind").and_then(Value::as_str).unwrap_or_default();
                let ns = doc
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or("default")
                    .to_owned();
                let name = doc
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if name.is_empty() {
                    return Err(format!("{origin}: metadata.name is required"));
                }
                let entry = out.namespaces.entry(ns.clone()).or_default();
                match kind {
                    "ImageSecurityPolicy" => {
                        let isp: ImageSecurityPolicy = parse_doc(&origin, doc)?;
                        let req = &isp.spec.package_vulnerability_requirements;
                        crate::check_allowlist_expiry(
                            "spec.packageVulnerabilityRequirements",
                            &req.allowlist_cves,
                            &req.admit_allowlist_expiry,
                        )
                        .map_err(|e| format!("{origin}: {e}"))?;
                        entry.image_security.push(isp);
                    }
                    "GenericAttestationPolicy" => {
                        let gap: GenericAttestationPolicy = parse_doc(&origin, doc)?;
                        if gap.spec.attestation_authority_names.is_empty() {
                            return Err(format!(
                                "{origin}: spec.attestationAuthorityNames must name at least one AttestationAuthority"
                            ));
                        }
                        let mut patterns = Vec::new();
                        for (j, p) in gap.spec.admission_whitelist_patterns.iter().enumerate() {
                            patterns.push(ExemptPattern::parse(&p.name_pattern).map_err(|e| {
                                format!("{origin}: spec.admissionWhitelistPatterns[{j}].namePattern: {e}")
                            })?);
                        }
                        for a in &gap.spec.attestation_authority_names {
                            required.push((origin.clone(), ns.clone(), a.clone()));
                        }
                        entry.attestation.push((gap, patterns));
                    }
                    "AttestationAuthority" => {
                        let aa: AttestationAuthority = parse_doc(&origin, doc)?;
                        authorities.push((origin.clone(), ns, aa));
                    }
                    other => {
                        return Err(format!(
                            "{origin}: kind `{other}` is not ImageSecurityPolicy, GenericAttestationPolicy or AttestationAuthority"
                        ));
                    }
                }
            }
        }
        for (origin, ns, aa) in authorities {
            let compiled = compile_authority(&origin, &aa)?;
            let entry = out.namespaces.entry(ns).or_default();
            if entry
                .authorities
                .insert(aa.metadata.name.clone(), Arc::new(compiled))
                .is_some()
            {
                return Err(format!(
                    "{origin}: AttestationAuthority {} is defined twice",
                    aa.metadata.name
                ));
            }
        }
        // Every name a policy lists must exist in its namespace.
        for (origin, ns, a) in required {
            if !out
                .namespaces
                .get(&ns)
                .is_some_and(|p| p.authorities.contains_key(&a))
            {
                return Err(format!(
                    "{origin}: spec.attestationAuthorityNames: AttestationAuthority `{a}` is not defined in namespace {ns}"
                ));
            }
        }
        Ok(out)
    }

    /// The policies of `namespace`, if it has any.
    pub fn namespace(&self, namespace: &str) -> Option<&NamespacePolicies> {
        self.namespaces
            .get(namespace)
            .filter(|p| !p.image_security.is_empty() || !p.attestation.is_empty())
    }

    /// How many policies of each kind are loaded: (ISPs, GAPs, AAs).
    pub fn counts(&self) -> (usize, usize, usize) {
        self.namespaces.values().fold((0, 0, 0), |(a, b, c), p| {
            (
                a + p.image_security.len(),
                b + p.attestation.len(),
                c + p.authorities.len(),
            )
        })
    }
}
