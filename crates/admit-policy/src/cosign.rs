//! cosign signatures, as a registry hands them over:
//! - sigstore's tag layout: a simple-signing payload (`critical.type` `cosign container image
//!   signature`) that must name the very digest being admitted, signed by a trusted key, or
//!   keyless: by a Fulcio certificate whose signer matches an identity rule, proven by the
//!   certificate chain, its SCT and Rekor's inclusion promise (`admit_crypto::sigstore`);
//! - Sigstore bundles (cosign's `--new-bundle-format`): a DSSE envelope over an in-toto
//!   statement of predicate type `https://sigstore.dev/cosign/sign/v1` whose subject is the
//!   digest, signed by a trusted key or keylessly as above.

use admit_crypto::sigstore::{
    Bundle, BundleVerified, KeylessVerified, TlogEntry, TrustRoot, verify_bundle, verify_keyless,
};
use admit_crypto::{COSIGN_SIGNATURE_TYPE, PkixKey, SimpleSigning, sha256};
use base64::Engine as _;
use regex::Regex;
use serde_json::Value;

/// The predicate type of cosign's image signatures in a bundle.
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";

/// One stored signature in the tag layout, as read from the registry.
#[derive(Debug, Clone, Copy, Default)]
pub struct CosignSignature<'a> {
    /// The signed payload's bytes.
    pub payload: &'a [u8],
    /// The base64 signature (`dev.cosignproject.cosign/signature`), if present.
    pub signature: Option<&'a str>,
    /// The signing certificate (`dev.sigstore.cosign/certificate`), for keyless signatures.
    pub certificate: Option<&'a str>,
    /// Further chain certificates (`dev.sigstore.cosign/chain`), PEM.
    pub chain: Option<&'a str>,
    /// The Rekor entry (`dev.sigstore.cosign/bundle`).
    pub rekor_bundle: Option<&'a str>,
}

/// A trusted key and what to call it in explanations.
#[derive(Debug)]
pub struct CosignKey {
    pub label: String,
    pub key: PkixKey,
}

/// Matches an issuer or subject exactly, or by a regular expression that must match whole.
#[derive(Debug, Clone)]
enum Matcher {
    Exact(String),
    Pattern(Regex),
}

impl Matcher {
    fn matches(&self, s: &str) -> bool {
        match self {
            Matcher::Exact(e) => e == s,
            Matcher::Pattern(r) => r.is_match(s),
        }
    }
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Matcher::Exact(e) => write!(f, "`{e}`"),
            Matcher::Pattern(r) => write!(f, "/{}/", r.as_str()),
        }
    }
}

/// Who may sign keylessly: an OIDC issuer and a subject (email, workflow URI…), as
/// policy-controller's `keyless.identities[]` and cosign's `--certificate-identity(-regexp)`
/// and `--certificate-oidc-issuer(-regexp)` name them. Regular expressions match the whole
/// value.
#[derive(Debug, Clone)]
pub struct IdentityRule {
    issuer: Matcher,
    subject: Matcher,
}

impl IdentityRule {
    /// Reads `{issuer | issuerRegExp, subject | subjectRegExp}`; an error names the field.
    pub fn from_json(field: &str, v: &Value) -> Result<Self, (String, String)> {
        let one = |exact: &str, pattern: &str| -> Result<Matcher, (String, String)> {
            let e = v[exact].as_str().filter(|s| !s.is_empty());
            let p = v[pattern].as_str().filter(|s| !s.is_empty());
            match (e, p) {
                (Some(e), None) => Ok(Matcher::Exact(e.to_owned())),
                (None, Some(p)) => Regex::new(&format!("^(?:{p})$"))
                    .map(Matcher::Pattern)
                    .map_err(|err| {
                        (
                            format!("{field}.{pattern}"),
                            format!("not a regular expression: {err}"),
                        )
                    }),
                _ => Err((
                    format!("{field}.{exact}"),
                    format!("exactly one of {exact} and {pattern} is required"),
                )),
            }
        };
        Ok(IdentityRule {
            issuer: one("issuer", "issuerRegExp")?,
            subject: one("subject", "subjectRegExp")?,
        })
    }

    fn matches(&self, v: &KeylessVerified) -> bool {
        v.identity
            .issuer
            .as_deref()
            .is_some_and(|i| self.issuer.matches(i))
            && v.identity.subjects.iter().any(|s| self.subject.matches(s))
    }
}

impl std::fmt::Display for IdentityRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "subject {} from issuer {}", self.subject, self.issuer)
    }
}

/// Keyless signers one authority trusts.
#[derive(Debug, Clone)]
pub struct KeylessAuthority {
    pub label: String,
    pub identities: Vec<IdentityRule>,
}

/// What a signature must be verified with.
#[derive(Debug, Clone, Copy)]
pub struct CosignTrust<'a> {
    pub keys: &'a [CosignKey],
    pub keyless: &'a [KeylessAuthority],
    /// Fulcio CAs, Rekor and CT log keys; keyless signatures fail without one.
    pub root: Option<&'a TrustRoot>,
}

/// Which stored signature verified, and by what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosignVerified {
    /// `#N` for the Nth tag-layout signature, `#bundle-N` for the Nth bundle.
    pub evidence: String,
    /// The key's label, or the keyless authority with the signer and Rekor entry.
    pub by: String,
}

pub(crate) fn keyless_by(trust: &CosignTrust<'_>, v: &KeylessVerified) -> Result<String, String> {
    for a in trust.keyless {
        if let Some(rule) = a.identities.iter().find(|r| r.matches(v)) {
            return Ok(format!(
                "{} (keyless: {}, matching {rule}; certificate from {}, Rekor log index {} at {})",
                a.label,
                v.identity,
                v.authority,
                v.logged.log_index,
                admit_model::rfc3339(v.logged.integrated_time, 0)
            ));
        }
    }
    Err(format!(
        "is signed keylessly by {}, which no trusted identity matches",
        v.identity
    ))
}

pub(crate) fn empty_root() -> &'static TrustRoot {
    static EMPTY: std::sync::OnceLock<TrustRoot> = std::sync::OnceLock::new();
    EMPTY.get_or_init(TrustRoot::default)
}

fn tag_layout(
    s: &CosignSignature<'_>,
    digest: &str,
    trust: &CosignTrust<'_>,
) -> Result<String, String> {
    let payload = match SimpleSigning::parse(s.payload) {
        Ok(p) if p.signature_type == COSIGN_SIGNATURE_TYPE => p,
        Ok(p) => {
            return Err(format!(
                ": critical.type is `{}`, not `{COSIGN_SIGNATURE_TYPE}`",
                p.signature_type
            ));
        }
        Err(e) => return Err(format!(": {e}")),
    };
    if payload.manifest_digest != digest {
        return Err(format!("signs {}, not {digest}", payload.manifest_digest));
    }
    let Some(b64) = s.signature else {
        return Err("has no dev.cosignproject.cosign/signature".into());
    };
    let Ok(sig) = base64::engine::general_purpose::STANDARD.decode(b64.trim()) else {
        return Err("the signature is not base64".into());
    };
    if let Some(k) = trust
        .keys
        .iter()
        .find(|k| k.key.verify(s.payload, &sig).is_ok())
    {
        return Ok(k.label.clone());
    }
    let Some(cert) = s.certificate else {
        return Err("is not verified by any trusted key".into());
    };
    if trust.keyless.is_empty() {
        return Err("is keyless (signed with a certificate) and no trusted key verifies it".into());
    }
    let Some(root) = trust.root else {
        return Err("is keyless, and this server has no Sigstore trust root to check it against (admit serve --sigstore-trusted-root)".into());
    };
    let Some(rekor) = s.rekor_bundle else {
        return Err("is keyless but carries no Rekor entry (dev.sigstore.cosign/bundle)".into());
    };
    let entry = TlogEntry::from_cosign_bundle(rekor).map_err(|e| e.to_string())?;
    let chain = match s.chain {
        Some(pem) => admit_crypto::sigstore::pem_certificates(pem).map_err(|e| e.to_string())?,
        None => Vec::new(),
    };
    let v = verify_keyless(
        root,
        s.payload,
        &sha256(s.payload),
        &sig,
        cert.as_bytes(),
        &chain,
        std::slice::from_ref(&entry),
    )
    .map_err(|e| format!("keyless: {e}"))?;
    keyless_by(trust, &v)
}

/// Checks that a bundle's statement is cosign's signature over `digest`.
fn statement_names(payload_type: &str, payload: &[u8], digest: &str) -> Result<(), String> {
    if payload_type != "application/vnd.in-toto+json" {
        return Err(format!(
            "its payload is `{payload_type}`, not an in-toto statement"
        ));
    }
    let st: Value =
        serde_json::from_slice(payload).map_err(|e| format!("its statement is not JSON: {e}"))?;
    let predicate = st["predicateType"].as_str().unwrap_or_default();
    if predicate != COSIGN_SIGN_PREDICATE {
        return Err(format!(
            "its statement's predicateType is `{predicate}`, not `{COSIGN_SIGN_PREDICATE}`"
        ));
    }
    let (alg, hex) = digest.split_once(':').unwrap_or(("sha256", digest));
    let names = st["subject"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|s| s["digest"][alg].as_str() == Some(hex));
    if !names {
        return Err(format!("its statement's subject is not {digest}"));
    }
    Ok(())
}

fn bundle(raw: &[u8], digest: &str, trust: &CosignTrust<'_>) -> Result<String, String> {
    let b = Bundle::parse(raw).map_err(|e| e.to_string())?;
    statement_names(&b.envelope.payload_type, &b.envelope.payload, digest)?;
    verify_bundle_signer(&b, trust)
}

/// Who signed `b`, if `trust` trusts them: a key's label, or the keyless authority with the
/// signer and its Rekor entry. Says nothing of what the envelope holds.
pub fn verify_bundle_signer(b: &Bundle, trust: &CosignTrust<'_>) -> Result<String, String> {
    let keys: Vec<(&str, &PkixKey)> = trust
        .keys
        .iter()
        .map(|k| (k.label.as_str(), &k.key))
        .collect();
    let keyless = matches!(
        b.signer,
        admit_crypto::sigstore::BundleSigner::Certificate { .. }
    );
    if keyless && trust.keyless.is_empty() {
        return Err("is keyless (signed with a certificate) and only keys are trusted".into());
    }
    let root = match (keyless, trust.root) {
        (true, None) => {
            return Err("is keyless, and this server has no Sigstore trust root to check it against (admit serve --sigstore-trusted-root)".into());
        }
        (_, Some(r)) => r,
        (false, None) => empty_root(),
    };
    match verify_bundle(root, b, &keys).map_err(|e| e.to_string())? {
        BundleVerified::Key(label) => Ok(label),
        BundleVerified::Keyless(v) => keyless_by(trust, &v),
    }
}

/// Which signature verified for `digest`, and by what; else why each failed.
pub fn verify_cosign(
    signatures: &[CosignSignature<'_>],
    bundles: &[&[u8]],
    digest: &str,
    trust: &CosignTrust<'_>,
) -> Result<CosignVerified, Vec<String>> {
    let mut reasons = Vec::new();
    for (i, s) in signatures.iter().enumerate() {
        match tag_layout(s, digest, trust) {
            Ok(by) => {
                return Ok(CosignVerified {
                    evidence: format!("#{i}"),
                    by,
                });
            }
            Err(why) if why.starts_with(':') => reasons.push(format!("signature {i}{why}")),
            Err(why) => reasons.push(format!("signature {i} {why}")),
        }
    }
    for (i, raw) in bundles.iter().enumerate() {
        match bundle(raw, digest, trust) {
            Ok(by) => {
                return Ok(CosignVerified {
                    evidence: format!("#bundle-{i}"),
                    by,
                });
            }
            Err(why) => reasons.push(format!("bundle {i} {why}")),
        }
    }
    if signatures.is_empty() && bundles.is_empty() {
        reasons.push("no cosign signatures are stored for the image (neither in the tag layout nor as Sigstore bundles)".into());
    }
    Err(reasons)
}
