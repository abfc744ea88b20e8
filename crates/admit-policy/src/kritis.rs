//! Kritis' namespace-scoped admission policies, compiled from manifests: ImageSecurityPolicy
//! (vulnerability thresholds), GenericAttestationPolicy (required AttestationAuthorities) and
//! AttestationAuthority (a note and OpenPGP or PKIX keys, compiled into an attestor so
//! attestations are verified exactly as Binary Authorization's are; Kritis skipped PKIX keys).
//!
//! Safe defaults where Kritis was permissive: with policies from files, a namespace without any
//! Kritis policy is denied (Kritis admitted everything there; from the API server admit does
//! too, leaving it to the project policy); an object that does not compile denies its
//! namespace instead of being skipped; an unset severity threshold blocks every vulnerability,
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

/// The entries of a Kubernetes Secret Kritis reads (`public`, `private`, `passphrase`), decoded.
#[derive(Clone, Default)]
pub struct SecretKeys {
    /// An armored OpenPGP public key.
    pub public: Option<String>,
    /// An armored OpenPGP secret key.
    pub private: Option<zeroize::Zeroizing<String>>,
    pub passphrase: zeroize::Zeroizing<String>,
}

impl std::fmt::Debug for SecretKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretKeys")
            .field("public", &self.public.is_some())
            .field("private", &self.private.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// Secrets by (namespace, name), as read from the API server.
pub type Secrets = BTreeMap<(String, String), SecretKeys>;

/// An ImageSecurityPolicy with its AttestationAuthority (Kritis' auto-attestation).
#[derive(Debug)]
pub struct SecurityPolicy {
    pub policy: ImageSecurityPolicy,
    /// `spec.attestationAuthorityName`, compiled: an image it attested skips the check.
    pub authority: Option<(String, Arc<CompiledAttestor>)>,
    /// The key that attests images which pass, from `spec.privateKeySecretName`.
    pub signer: Option<SecretKeys>,
}

/// One namespace's policies.
#[derive(Debug, Default)]
pub struct NamespacePolicies {
    pub image_security: Vec<SecurityPolicy>,
    /// Each policy with its compiled `admissionAllowlistPatterns`.
    pub attestation: Vec<(GenericAttestationPolicy, Vec<ExemptPattern>)>,
    /// AttestationAuthorities by name.
    pub authorities: BTreeMap<String, Arc<CompiledAttestor>>,
    /// Why objects of this namespace could not be compiled (from the API server, where one bad
    /// object must not hide the others): every admission in the namespace is denied with these.
    pub broken: Vec<String>,
}

/// Every namespace's policies.
#[derive(Debug, Default)]
pub struct KritisPolicies {
    namespaces: BTreeMap<String, NamespacePolicies>,
    /// A namespace without any Kritis policy is denied (policies from files); from the API
    /// server such a namespace is left to the project policy, as in Kritis.
    deny_unlisted: bool,
}

/// A Kritis object that failed to compile: its namespace and why.
type Broken = (String, String);
fn parse_doc<S: serde::de::DeserializeOwned>(
    origin: &str,
    doc: &Value,
) -> Result<Resource<S>, String> {
    let text = doc.to_string();
    admit_model::decode::<Resource<S>>(&text, Format::Json).map_err(|e| format!("{origin}: {e}"))
}

/// `projects/P` + the AA's name, or `projects/P/notes/N`; an API version prefix is dropped.
pub fn note_of(origin: &str, aa: &AttestationAuthority) -> Result<String, String> {
    let bad = || {
        format!(
            "{origin}: spec.noteReference `{}` is not projects/P or projects/P/notes/N",
            aa.spec.note_reference
        )
    };
    let r = aa.spec.note_reference.trim().trim_matches('/');
    let r = r
        .split_once("projects/")
        .map(|(_, rest)| format!("projects/{rest}"))
        .ok_or_else(bad)?;
    let parts: Vec<&str> = r.split('/').collect();
    let note = match parts.as_slice() {
        ["projects", p] if !p.is_empty() => format!("projects/{p}/notes/{}", aa.metadata.name),
        ["projects", p, "notes", n] if !p.is_empty() && !n.is_empty() => r.clone(),
        _ => return Err(bad()),
    };
    admit_model::NoteName::parse(&note)
        .map(|n| n.to_string())
        .map_err(|e| format!("{origin}: spec.noteReference: {e}"))
}

/// An armored OpenPGP key given as base64 (Kritis' fields hold `base64 key.pub`).
fn armored_from_base64(origin: &str, field: &str, data: &str) -> Result<String, String> {
    let clean: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(clean)
        .map_err(|_| format!("{origin}: {field} is not base64 (of an armored OpenPGP key)"))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| format!("{origin}: {field} does not hold an armored OpenPGP key"))?;
    admit_crypto::PgpKey::from_armored(&text).map_err(|e| format!("{origin}: {field}: {e}"))?;
    Ok(text)
}

/// Every key of an AttestationAuthority, as Binary Authorization attestor keys.
fn authority_keys(
    origin: &str,
    ns: &str,
    aa: &AttestationAuthority,
    secrets: Option<&Secrets>,
) -> Result<Vec<Value>, String> {
    let mut keys = Vec::new();
    let legacy = aa
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
        );
    for (field, data) in legacy {
        let text = armored_from_base64(origin, &field, data)?;
        keys.push(json!({"asciiArmoredPgpPublicKey": text}));
    }
    for (i, k) in aa.spec.public_keys.iter().enumerate() {
        let field = format!("spec.publicKeys[{i}]");
        let pkix = k.pkix_public_key.as_ref().filter(|p| !p.is_unset());
        let pgp = k
            .ascii_armored_pgp_public_key
            .as_deref()
            .filter(|p| !p.is_empty());
        match (k.key_type.as_str(), pgp, pkix) {
            ("PGP", Some(data), None) => {
                // Kritis uses the key's fingerprint whatever keyId says; so does admit.
                let text = armored_from_base64(
                    origin,
                    &format!("{field}.asciiArmoredPgpPublicKey"),
                    data,
                )?;
                keys.push(json!({"asciiArmoredPgpPublicKey": text}));
            }
            ("PKIX", None, Some(p)) => {
                if !k.key_id.contains(':') {
                    return Err(format!(
                        "{origin}: {field}.keyId `{}` must be a URI (RFC 3986) for a PKIX key",
                        k.key_id
                    ));
                }
                let algorithm: admit_model::SignatureAlgorithm =
                    serde_json::from_value(json!(p.signature_algorithm)).map_err(|e| {
                        format!("{origin}: {field}.pkixPublicKey.signatureAlgorithm: {e}")
                    })?;
                admit_crypto::PkixKey::from_pem(&p.public_key_pem, algorithm)
                    .map_err(|e| format!("{origin}: {field}.pkixPublicKey.publicKeyPem: {e}"))?;
                keys.push(json!({"id": k.key_id, "pkixPublicKey": {
                    "publicKeyPem": p.public_key_pem,
                    "signatureAlgorithm": p.signature_algorithm,
                }}));
            }
            ("PGP", _, _) => {
                return Err(format!(
                    "{origin}: {field}: a PGP key needs asciiArmoredPgpPublicKey and no pkixPublicKey"
                ));
            }
            ("PKIX", _, _) => {
                return Err(format!(
                    "{origin}: {field}: a PKIX key needs pkixPublicKey and no asciiArmoredPgpPublicKey"
                ));
            }
            (other, _, _) => {
                return Err(format!(
                    "{origin}: {field}.keyType `{other}` is not PGP or PKIX"
                ));
            }
        }
    }
    if let Some(secret) = &aa.spec.private_key_secret_name {
        let field = "spec.privateKeySecretName";
        let Some(secrets) = secrets else {
            return Err(format!(
                "{origin}: {field} names a Kubernetes Secret, which only `admit serve --watch-kubernetes` can read; give the key in spec.publicKeys instead"
            ));
        };
        let found = secrets
            .get(&(ns.to_owned(), secret.clone()))
            .ok_or_else(|| format!("{origin}: {field}: Secret {ns}/{secret} was not found"))?;
        let public = found.public.as_ref().ok_or_else(|| {
            format!("{origin}: {field}: Secret {ns}/{secret} has no `public` entry")
        })?;
        admit_crypto::PgpKey::from_armored(public)
            .map_err(|e| format!("{origin}: {field}: Secret {ns}/{secret} `public`: {e}"))?;
        keys.push(json!({"asciiArmoredPgpPublicKey": public}));
    }
    if keys.is_empty() {
        return Err(format!(
            "{origin}: the AttestationAuthority has no key: give spec.publicKeys (or publicKeyData, or privateKeySecretName)"
        ));
    }
    Ok(keys)
}

fn compile_authority(
    origin: &str,
    ns: &str,
    aa: &AttestationAuthority,
    secrets: Option<&Secrets>,
) -> Result<CompiledAttestor, String> {
    let note = note_of(origin, aa)?;
    let keys = authority_keys(origin, ns, aa, secrets)?;
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
        "userOwnedGrafeasNote": {"noteReference": note, "publicKeys": keys},
    });
    let attestor: admit_model::Attestor =
        serde_json::from_value(attestor).map_err(|e| format!("{origin}: {e}"))?;
    CompiledAttestor::compile(&attestor).map_err(|e| format!("{origin}: {e}"))
}

/// A parsed object waiting for the authorities of its namespace.
enum Parsed {
    Isp(ImageSecurityPolicy),
    Gap(GenericAttestationPolicy, Vec<ExemptPattern>),
    Aa(AttestationAuthority),
}

/// Parses one object; `Ok(None)` for an empty YAML document.
fn parse_object(origin: &str, doc: &Value) -> Result<Option<(String, Parsed)>, String> {
    if doc.is_null() {
        return Ok(None);
    }
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
    if doc
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(format!("{origin}: metadata.name is required"));
    }
    let parsed = match kind {
        "ImageSecurityPolicy" => {
            let isp: ImageSecurityPolicy = parse_doc(origin, doc)?;
            let req = &isp.spec.package_vulnerability_requirements;
            crate::check_allowlist_expiry(
                "spec.packageVulnerabilityRequirements",
                &req.allowlist_cves,
                &req.admit_allowlist_expiry,
            )
            .map_err(|e| format!("{origin}: {e}"))?;
            Parsed::Isp(isp)
        }
        "GenericAttestationPolicy" => {
            let gap: GenericAttestationPolicy = parse_doc(origin, doc)?;
            if gap.spec.attestation_authority_names.is_empty() {
                return Err(format!(
                    "{origin}: spec.attestationAuthorityNames must name at least one AttestationAuthority"
                ));
            }
            let mut patterns = Vec::new();
            for (j, p) in gap.spec.admission_allowlist_patterns.iter().enumerate() {
                patterns.push(ExemptPattern::parse(&p.name_pattern).map_err(|e| {
                    format!("{origin}: spec.admissionAllowlistPatterns[{j}].namePattern: {e}")
                })?);
            }
            Parsed::Gap(gap, patterns)
        }
        "AttestationAuthority" => Parsed::Aa(parse_doc(origin, doc)?),
        other => {
            return Err(format!(
                "{origin}: kind `{other}` is not ImageSecurityPolicy, GenericAttestationPolicy or AttestationAuthority"
            ));
        }
    };
    Ok(Some((ns, parsed)))
}

/// The namespace an object names (`default` when unset), for errors found before parsing.
fn namespace_of(doc: &Value) -> String {
    doc.pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("default")
        .to_owned()
}

impl KritisPolicies {
    /// Compiles manifests: `(origin, text)` pairs, each a YAML stream or JSON document. Any
    /// document that is not one of the three kinds, or is invalid, is an error naming it.
    /// A namespace without a policy is denied.
    pub fn from_manifests(files: &[(String, String)]) -> Result<KritisPolicies, String> {
        let mut objects = Vec::new();
        for (file, text) in files {
            let format = Format::sniff(text);
            let docs: Vec<Value> =
                admit_model::decode_many(text, format).map_err(|e| format!("{file}: {e}"))?;
            for (i, doc) in docs.into_iter().enumerate() {
                objects.push((format!("{file} (document {})", i + 1), doc));
            }
        }
        let (mut out, broken) = Self::compile(&objects, None);
        if let Some((_, e)) = broken.into_iter().next() {
            return Err(e);
        }
        out.deny_unlisted = true;
        Ok(out)
    }

    /// Compiles objects read from the API server, with the Secrets they name. An object that
    /// does not compile breaks its namespace only (every admission there is denied naming
    /// it); a namespace without a policy is left to the project policy.
    pub fn from_objects(objects: &[(String, Value)], secrets: &Secrets) -> KritisPolicies {
        let (mut out, broken) = Self::compile(objects, Some(secrets));
        for (ns, e) in broken {
            out.namespaces.entry(ns).or_default().broken.push(e);
        }
        out
    }

    /// The Secrets (namespace, name) that `objects` name, for the caller to read.
    pub fn secret_refs(objects: &[(String, Value)]) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = objects
            .iter()
            .filter_map(|(_, doc)| {
                let name = doc.pointer("/spec/privateKeySecretName")?.as_str()?;
                (!name.is_empty()).then(|| (namespace_of(doc), name.to_owned()))
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }

    fn compile(objects: &[(String, Value)], secrets: Option<&Secrets>) -> (Self, Vec<Broken>) {
        let mut out = KritisPolicies::default();
        let mut broken: Vec<Broken> = Vec::new();
        let mut parsed = Vec::new();
        for (origin, doc) in objects {
            match parse_object(origin, doc) {
                Ok(Some(p)) => parsed.push((origin.clone(), p)),
                Ok(None) => {}
                Err(e) => broken.push((namespace_of(doc), e)),
            }
        }
        // Authorities first: the policies of their namespace refer to them by name.
        for (origin, (ns, p)) in &parsed {
            let Parsed::Aa(aa) = p else { continue };
            match compile_authority(origin, ns, aa, secrets) {
                Ok(compiled) => {
                    let entry = out.namespaces.entry(ns.clone()).or_default();
                    if entry
                        .authorities
                        .insert(aa.metadata.name.clone(), Arc::new(compiled))
                        .is_some()
                    {
                        broken.push((
                            ns.clone(),
                            format!(
                                "{origin}: AttestationAuthority {} is defined twice",
                                aa.metadata.name
                            ),
                        ));
                    }
                }
                Err(e) => broken.push((ns.clone(), e)),
            }
        }
        for (origin, (ns, p)) in parsed {
            let entry = out.namespaces.entry(ns.clone()).or_default();
            let missing = |field: &str, a: &str| {
                (
                    ns.clone(),
                    format!(
                        "{origin}: {field}: AttestationAuthority `{a}` is not defined in namespace {ns}"
                    ),
                )
            };
            match p {
                Parsed::Aa(_) => {}
                Parsed::Gap(gap, patterns) => {
                    let absent: Vec<_> = gap
                        .spec
                        .attestation_authority_names
                        .iter()
                        .filter(|a| !entry.authorities.contains_key(*a))
                        .map(|a| missing("spec.attestationAuthorityNames", a))
                        .collect();
                    if absent.is_empty() {
                        entry.attestation.push((gap, patterns));
                    } else {
                        broken.extend(absent);
                    }
                }
                Parsed::Isp(isp) => {
                    let authority = match isp.spec.attestation_authority_name.as_deref() {
                        None | Some("") => None,
                        Some(a) => match entry.authorities.get(a) {
                            Some(c) => Some((a.to_owned(), c.clone())),
                            None => {
                                broken.push(missing("spec.attestationAuthorityName", a));
                                continue;
                            }
                        },
                    };
                    let signer = match (&authority, isp.spec.private_key_secret_name.as_deref()) {
                        (Some(_), Some(name)) if !name.is_empty() => {
                            match secrets.and_then(|s| s.get(&(ns.clone(), name.to_owned()))) {
                                Some(k) if k.private.is_some() => Some(k.clone()),
                                // No key, no auto-attestation: the check itself still applies
                                // (Kritis logged the error and went on).
                                _ => None,
                            }
                        }
                        _ => None,
                    };
                    entry.image_security.push(SecurityPolicy {
                        policy: isp,
                        authority,
                        signer,
                    });
                }
            }
        }
        (out, broken)
    }

    /// The policies of `namespace`, if it has any (or has objects that failed to compile).
    pub fn namespace(&self, namespace: &str) -> Option<&NamespacePolicies> {
        self.namespaces.get(namespace).filter(|p| {
            !p.image_security.is_empty() || !p.attestation.is_empty() || !p.broken.is_empty()
        })
    }

    /// Whether a namespace without any policy is denied (policies from files) rather than
    /// left to the project policy (policies from the API server).
    pub fn denies_unlisted(&self) -> bool {
        self.deny_unlisted
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

    /// Every error of objects that did not compile, with their namespace.
    pub fn broken(&self) -> impl Iterator<Item = (&str, &str)> {
        self.namespaces
            .iter()
            .flat_map(|(ns, p)| p.broken.iter().map(move |e| (ns.as_str(), e.as_str())))
    }
}
