//! A private Sigstore for tests, made the way the public one works: a Fulcio-like CA (root and
//! code-signing intermediate, P-384) issuing short-lived certificates with Fulcio's OIDC-issuer
//! extension and an embedded SCT from a CT log key (signed over the precertificate TBS,
//! RFC 6962), and a Rekor key giving signed entry timestamps over the entries' canonical JSON.
//! Signatures come out in cosign's two layouts: tag-layout annotations and Sigstore bundles.

#![allow(dead_code, reason = "each test binary uses part of the support module")]

use std::path::PathBuf;

use admit_crypto::sha256;
use admit_crypto::sigstore::{Sct, encode_sct_list, precertificate_tbs};
use admit_model::SignatureAlgorithm;
use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, PublicKeyData as _, SanType,
    SerialNumber,
};
use serde_json::{Map, Value, json};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
/// When the test Fulcio issues (the time Rekor records is a few seconds later).
pub(crate) const ISSUED_AT: u64 = 1_780_000_000;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn der_len(n: usize) -> Vec<u8> {
    if n < 128 {
        vec![u8::try_from(n).unwrap()]
    } else if n < 256 {
        vec![0x81, u8::try_from(n).unwrap()]
    } else {
        vec![
            0x82,
            u8::try_from(n >> 8).unwrap(),
            u8::try_from(n & 0xff).unwrap(),
        ]
    }
}

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(der_len(content.len()));
    out.extend_from_slice(content);
    out
}

fn ecdsa(pem: &str, message: &[u8]) -> Vec<u8> {
    admit_crypto::sign_with_private_key_pem(pem, SignatureAlgorithm::EcdsaP256Sha256, message)
        .unwrap()
        .0
}

/// `secs` after the epoch, in rcgen's time type (the `time` crate's, not re-exported).
macro_rules! at {
    ($secs:expr) => {
        rcgen::date_time_ymd(1970, 1, 1) + std::time::Duration::from_secs($secs)
    };
}

/// How to issue a signing certificate.
#[derive(Clone)]
pub(crate) struct Identity {
    pub(crate) issuer: String,
    /// A URI (CI workflow) or, with an `@` and no scheme, an email address.
    pub(crate) subject: String,
    pub(crate) sct: bool,
}

impl Identity {
    pub(crate) fn new(issuer: &str, subject: &str) -> Self {
        Identity {
            issuer: issuer.into(),
            subject: subject.into(),
            sct: true,
        }
    }
}

/// A signature made keylessly, ready to be stored.
pub(crate) struct Signed {
    pub(crate) payload: Vec<u8>,
    pub(crate) annotations: Map<String, Value>,
}

pub(crate) struct TestSigstore {
    dir: tempfile::TempDir,
    root_params: CertificateParams,
    root_key: KeyPair,
    inter_params: CertificateParams,
    inter_key: KeyPair,
    inter_pem: String,
    root_pem: String,
    ct_key: KeyPair,
    rekor_key: KeyPair,
    next_index: std::cell::Cell<u64>,
}

fn ca(
    name: &str,
    key: &KeyPair,
    issuer: Option<&Issuer<'_, &KeyPair>>,
) -> (CertificateParams, String) {
    let mut p = CertificateParams::default();
    p.distinguished_name = DistinguishedName::new();
    p.distinguished_name
        .push(DnType::OrganizationName, "admit-test.dev");
    p.distinguished_name.push(DnType::CommonName, name);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    if issuer.is_some() {
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
    }
    p.not_before = at!(ISSUED_AT - 86_400 * 365);
    p.not_after = at!(ISSUED_AT + 86_400 * 365 * 5);
    let cert = match issuer {
        Some(i) => p.signed_by(key, i).unwrap(),
        None => p.self_signed(key).unwrap(),
    };
    (p, cert.pem())
}

impl TestSigstore {
    pub(crate) fn new() -> Self {
        let root_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        let (root_params, root_pem) = ca("test-fulcio-root", &root_key, None);
        let inter_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        let (inter_params, inter_pem) = ca(
            "test-fulcio-intermediate",
            &inter_key,
            Some(&Issuer::from_params(&root_params, &root_key)),
        );
        let s = TestSigstore {
            dir: tempfile::tempdir().unwrap(),
            root_params,
            root_key,
            inter_params,
            inter_key,
            inter_pem,
            root_pem,
            ct_key: KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap(),
            rekor_key: KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap(),
            next_index: std::cell::Cell::new(100),
        };
        std::fs::write(
            s.path("fulcio.pem"),
            format!("{}{}", s.inter_pem, s.root_pem),
        )
        .unwrap();
        std::fs::write(s.path("rekor.pub"), s.rekor_key.public_key_pem()).unwrap();
        std::fs::write(s.path("ctlog.pub"), s.ct_key.public_key_pem()).unwrap();
        let raw = |k: &KeyPair| B64.encode(k.subject_public_key_info());
        let id = |k: &KeyPair| B64.encode(sha256(&k.subject_public_key_info()));
        let pem_der = |pem: &str| {
            B64.encode(
                admit_crypto::sigstore::pem_certificates(pem)
                    .unwrap()
                    .remove(0),
            )
        };
        let trusted_root = json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [{"baseUrl": "https://rekor.admit-test.dev", "hashAlgorithm": "SHA2_256",
                "publicKey": {"rawBytes": raw(&s.rekor_key), "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "validFor": {"start": "2025-01-01T00:00:00Z"}},
                "logId": {"keyId": id(&s.rekor_key)}}],
            "certificateAuthorities": [{"subject": {"organization": "admit-test.dev", "commonName": "test-fulcio-root"},
                "uri": "https://fulcio.admit-test.dev",
                "certChain": {"certificates": [{"rawBytes": pem_der(&s.inter_pem)}, {"rawBytes": pem_der(&s.root_pem)}]},
                "validFor": {"start": "2025-01-01T00:00:00Z"}}],
            "ctlogs": [{"baseUrl": "https://ctfe.admit-test.dev", "hashAlgorithm": "SHA2_256",
                "publicKey": {"rawBytes": raw(&s.ct_key), "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "validFor": {"start": "2025-01-01T00:00:00Z"}},
                "logId": {"keyId": id(&s.ct_key)}}],
        });
        std::fs::write(s.path("trusted_root.json"), trusted_root.to_string()).unwrap();
        s
    }

    /// Another Fulcio (its own root and intermediate) whose certificates are logged by this
    /// one's CT log and Rekor.
    pub(crate) fn another_fulcio(&self) -> TestSigstore {
        let other = TestSigstore::new();
        TestSigstore {
            ct_key: KeyPair::from_pem(&self.ct_key.serialize_pem()).unwrap(),
            rekor_key: KeyPair::from_pem(&self.rekor_key.serialize_pem()).unwrap(),
            ..other
        }
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `admit serve` flags naming this trust root as PEM files.
    pub(crate) fn pem_flags(&self) -> Vec<String> {
        let p = |n: &str| self.path(n).to_string_lossy().into_owned();
        vec![
            "--sigstore-fulcio-roots".into(),
            p("fulcio.pem"),
            "--sigstore-rekor-keys".into(),
            p("rekor.pub"),
            "--sigstore-ctlog-keys".into(),
            p("ctlog.pub"),
        ]
    }

    /// `admit serve` flags naming this trust root as a `trusted_root.json`.
    pub(crate) fn json_flags(&self) -> Vec<String> {
        vec![
            "--sigstore-trusted-root".into(),
            self.path("trusted_root.json")
                .to_string_lossy()
                .into_owned(),
        ]
    }

    /// A ten-minute certificate for `who` (as Fulcio issues them) and its key's PKCS#8 PEM.
    pub(crate) fn issue(&self, who: &Identity) -> (String, String) {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut p = CertificateParams::default();
        p.distinguished_name = DistinguishedName::new();
        p.serial_number = Some(SerialNumber::from(
            sha256(who.subject.as_bytes())[..16].to_vec(),
        ));
        p.subject_alt_names = vec![if who.subject.contains("://") {
            SanType::URI(who.subject.as_str().try_into().unwrap())
        } else {
            SanType::Rfc822Name(who.subject.as_str().try_into().unwrap())
        }];
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
        p.not_before = at!(ISSUED_AT);
        p.not_after = at!(ISSUED_AT + 600);
        p.custom_extensions = vec![CustomExtension::from_oid_content(
            &[1, 3, 6, 1, 4, 1, 57264, 1, 8],
            der(0x0c, who.issuer.as_bytes()),
        )];
        let issuer = Issuer::from_params(&self.inter_params, &self.inter_key);
        let mut cert = p.signed_by(&key, &issuer).unwrap();
        if who.sct {
            // As a CT-logging CA does: the log signs the precertificate's TBS, and the SCT goes
            // into the final certificate (the only difference between the two TBSs).
            let tbs = precertificate_tbs(cert.der()).unwrap();
            let mut sct = Sct {
                log_id: sha256(&self.ct_key.subject_public_key_info()),
                timestamp_ms: ISSUED_AT * 1000,
                extensions: Vec::new(),
                signature: Vec::new(),
            };
            let signed = sct.signed_data(&sha256(&self.inter_key.subject_public_key_info()), &tbs);
            sct.signature = ecdsa(&self.ct_key.serialize_pem(), &signed);
            p.custom_extensions.push(CustomExtension::from_oid_content(
                &[1, 3, 6, 1, 4, 1, 11129, 2, 4, 2],
                der(0x04, &encode_sct_list(&[sct])),
            ));
            cert = p.signed_by(&key, &issuer).unwrap();
        }
        (cert.pem(), key.serialize_pem())
    }

    /// A Rekor v1 entry for `body`, logged at `integrated_time`, promised by the Rekor key
    /// (or by `forger` instead).
    fn log(
        &self,
        body: &Value,
        integrated_time: u64,
        forger: Option<&KeyPair>,
    ) -> (String, u64, String, String) {
        let body = B64.encode(body.to_string());
        let index = self.next_index.get();
        self.next_index.set(index + 1);
        let log_id = hex(&sha256(&self.rekor_key.subject_public_key_info()));
        let canonical = format!(
            r#"{{"body":"{body}","integratedTime":{integrated_time},"logID":"{log_id}","logIndex":{index}}}"#
        );
        let set = ecdsa(
            &forger.unwrap_or(&self.rekor_key).serialize_pem(),
            canonical.as_bytes(),
        );
        (body, index, log_id, B64.encode(set))
    }

    /// The layer annotations of a keyless signature in cosign's tag layout: the certificate,
    /// the chain, and the Rekor entry of `body` logged at `integrated_time`.
    fn keyless_annotations(
        &self,
        cert: &str,
        body: &Value,
        integrated_time: u64,
        forger: Option<&KeyPair>,
    ) -> Map<String, Value> {
        let (body, index, log_id, set) = self.log(body, integrated_time, forger);
        let rekor = json!({"SignedEntryTimestamp": set, "Payload": {
            "body": body, "integratedTime": integrated_time, "logIndex": index, "logID": log_id}});
        let mut annotations = Map::new();
        annotations.insert("dev.sigstore.cosign/certificate".into(), json!(cert));
        annotations.insert(
            "dev.sigstore.cosign/chain".into(),
            json!(format!("{}{}", self.inter_pem, self.root_pem)),
        );
        annotations.insert(
            "dev.sigstore.cosign/bundle".into(),
            json!(rekor.to_string()),
        );
        annotations
    }

    /// A keyless cosign signature over `payload` in the tag layout, logged `logged_after`
    /// seconds after the certificate was issued.
    pub(crate) fn sign_cosign(
        &self,
        payload: Vec<u8>,
        who: &Identity,
        logged_after: u64,
    ) -> Signed {
        self.sign_cosign_with(payload, who, logged_after, None)
    }

    pub(crate) fn sign_cosign_with(
        &self,
        payload: Vec<u8>,
        who: &Identity,
        logged_after: u64,
        forger: Option<&KeyPair>,
    ) -> Signed {
        let (cert, key) = self.issue(who);
        let sig = ecdsa(&key, &payload);
        let body = json!({"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": hex(&sha256(&payload))}},
            "signature": {"content": B64.encode(&sig), "publicKey": {"content": B64.encode(&cert)}}}});
        let mut annotations =
            self.keyless_annotations(&cert, &body, ISSUED_AT + logged_after, forger);
        annotations.insert(
            "dev.cosignproject.cosign/signature".into(),
            json!(B64.encode(&sig)),
        );
        Signed {
            payload,
            annotations,
        }
    }

    /// An attestation as `cosign attest` stores it in the `.att` tag layout: a DSSE envelope
    /// over `statement`, signed keylessly, logged as an `intoto` v0.0.2 entry (whose envelope
    /// signature is base64 twice over, as Rekor stores it); returns the layer and annotations.
    pub(crate) fn attest(&self, statement: &[u8], predicate: &str, who: &Identity) -> Signed {
        let (cert, key) = self.issue(who);
        let sig = ecdsa(
            &key,
            &admit_crypto::pae("application/vnd.in-toto+json", statement),
        );
        let envelope = json!({"payloadType": "application/vnd.in-toto+json",
            "payload": B64.encode(statement), "signatures": [{"keyid": "", "sig": B64.encode(&sig)}]})
        .to_string();
        let body = json!({"apiVersion": "0.0.2", "kind": "intoto", "spec": {"content": {
            "envelope": {"payloadType": "application/vnd.in-toto+json",
                "signatures": [{"sig": B64.encode(B64.encode(&sig)), "publicKey": B64.encode(&cert)}]},
            "hash": {"algorithm": "sha256", "value": hex(&sha256(envelope.as_bytes()))},
            "payloadHash": {"algorithm": "sha256", "value": hex(&sha256(statement))}}}});
        let mut annotations = self.keyless_annotations(&cert, &body, ISSUED_AT + 5, None);
        annotations.insert("predicateType".into(), json!(predicate));
        Signed {
            payload: envelope.into_bytes(),
            annotations,
        }
    }

    /// A Sigstore bundle (v0.3) as `cosign sign --new-bundle-format` makes one for `digest`:
    /// a DSSE envelope over an in-toto statement of predicate type
    /// `https://sigstore.dev/cosign/sign/v1`, signed keylessly and logged as a `dsse` entry.
    pub(crate) fn bundle(&self, digest: &str, who: &Identity) -> Vec<u8> {
        self.bundle_of(&statement(digest), who)
    }

    /// A keyless bundle over any in-toto statement (`cosign attest --new-bundle-format`).
    pub(crate) fn bundle_of(&self, payload: &[u8], who: &Identity) -> Vec<u8> {
        let (cert, key) = self.issue(who);
        let sig = ecdsa(
            &key,
            &admit_crypto::pae("application/vnd.in-toto+json", payload),
        );
        let body = json!({"apiVersion": "0.0.1", "kind": "dsse", "spec": {
            "payloadHash": {"algorithm": "sha256", "value": hex(&sha256(payload))},
            "signatures": [{"signature": B64.encode(&sig), "verifier": B64.encode(&cert)}]}});
        let (body, index, _, set) = self.log(&body, ISSUED_AT + 5, None);
        let cert_der = admit_crypto::sigstore::pem_certificates(&cert)
            .unwrap()
            .remove(0);
        json!({"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {
                "certificate": {"rawBytes": B64.encode(cert_der)},
                "tlogEntries": [{"logIndex": index.to_string(),
                    "logId": {"keyId": B64.encode(sha256(&self.rekor_key.subject_public_key_info()))},
                    "kindVersion": {"kind": "dsse", "version": "0.0.1"},
                    "integratedTime": (ISSUED_AT + 5).to_string(),
                    "inclusionPromise": {"signedEntryTimestamp": set},
                    "canonicalizedBody": body}]},
            "dsseEnvelope": {"payload": B64.encode(payload), "payloadType": "application/vnd.in-toto+json",
                "signatures": [{"sig": B64.encode(&sig), "keyid": ""}]}})
        .to_string()
        .into_bytes()
    }
}

/// cosign's signature statement for `digest`.
pub(crate) fn statement(digest: &str) -> Vec<u8> {
    json!({"_type": "https://in-toto.io/Statement/v1",
        "subject": [{"digest": {"sha256": digest.trim_start_matches("sha256:")}}],
        "predicateType": "https://sigstore.dev/cosign/sign/v1", "predicate": {}})
    .to_string()
    .into_bytes()
}

/// A key-signed bundle (`cosign sign --key … --new-bundle-format`, no transparency log).
pub(crate) fn key_bundle(digest: &str, key: &admit_testkit::OpensslKey) -> Vec<u8> {
    let payload = statement(digest);
    let sig = key.sign(
        admit_testkit::SigMode::Dgst("sha256"),
        &admit_crypto::pae("application/vnd.in-toto+json", &payload),
    );
    json!({"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"publicKey": {"hint": "release-key"}},
        "dsseEnvelope": {"payload": B64.encode(&payload), "payloadType": "application/vnd.in-toto+json",
            "signatures": [{"sig": B64.encode(sig), "keyid": ""}]}})
    .to_string()
    .into_bytes()
}
