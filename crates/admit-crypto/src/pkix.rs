//! PKIX public keys: PEM SubjectPublicKeyInfo, checked against the declared
//! `signatureAlgorithm` (family, curve and RSA modulus size must all match), then parsed once
//! into an aws-lc-rs verifier.

use std::fmt;

use admit_model::SignatureAlgorithm;
use aws_lc_rs::digest;
use aws_lc_rs::signature::{self, ParsedPublicKey, VerificationAlgorithm};
use base64::Engine as _;

use crate::CryptoError;
use crate::der::{self, parse_spki, rsa_modulus_bits};

/// What a key really is, read from its SPKI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Rsa { bits: usize },
    EcP256,
    EcP384,
    EcP521,
    EcSecp256k1,
    Ed25519,
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyKind::Rsa { bits } => write!(f, "an RSA-{bits} key"),
            KeyKind::EcP256 => f.write_str("an EC P-256 key"),
            KeyKind::EcP384 => f.write_str("an EC P-384 key"),
            KeyKind::EcP521 => f.write_str("an EC P-521 key"),
            KeyKind::EcSecp256k1 => f.write_str("an EC secp256k1 key"),
            KeyKind::Ed25519 => f.write_str("an Ed25519 key"),
        }
    }
}

/// What a declared algorithm requires of the key, and how to verify with it.
struct Expectation {
    kind: KeyKind,
    /// DER (ASN.1) signature form; ECDSA also accepts the fixed r||s form as a fallback.
    primary: &'static dyn VerificationAlgorithm,
    fixed: Option<&'static dyn VerificationAlgorithm>,
}

fn expectation(alg: SignatureAlgorithm) -> Option<Expectation> {
    use SignatureAlgorithm as A;
    let rsa = |bits, primary: &'static dyn VerificationAlgorithm| Expectation {
        kind: KeyKind::Rsa { bits },
        primary,
        fixed: None,
    };
    let ec = |kind, primary: &'static dyn VerificationAlgorithm, fixed| Expectation {
        kind,
        primary,
        fixed: Some(fixed),
    };
    Some(match alg {
        A::Unspecified => return None,
        A::RsaPss2048Sha256 | A::RsaSignPss2048Sha256 => {
            rsa(2048, &signature::RSA_PSS_2048_8192_SHA256)
        }
        A::RsaPss3072Sha256 | A::RsaSignPss3072Sha256 => {
            rsa(3072, &signature::RSA_PSS_2048_8192_SHA256)
        }
        A::RsaPss4096Sha256 | A::RsaSignPss4096Sha256 => {
            rsa(4096, &signature::RSA_PSS_2048_8192_SHA256)
        }
        A::RsaPss4096Sha512 | A::RsaSignPss4096Sha512 => {
            rsa(4096, &signature::RSA_PSS_2048_8192_SHA512)
        }
        A::RsaSignPkcs12048Sha256 => rsa(2048, &signature::RSA_PKCS1_2048_8192_SHA256),
        A::RsaSignPkcs13072Sha256 => rsa(3072, &signature::RSA_PKCS1_2048_8192_SHA256),
        A::RsaSignPkcs14096Sha256 => rsa(4096, &signature::RSA_PKCS1_2048_8192_SHA256),
        A::RsaSignPkcs14096Sha512 => rsa(4096, &signature::RSA_PKCS1_2048_8192_SHA512),
        A::EcdsaP256Sha256 | A::EcSignP256Sha256 => ec(
            KeyKind::EcP256,
            &signature::ECDSA_P256_SHA256_ASN1,
            &signature::ECDSA_P256_SHA256_FIXED,
        ),
        A::EcdsaP384Sha384 | A::EcSignP384Sha384 => ec(
            KeyKind::EcP384,
            &signature::ECDSA_P384_SHA384_ASN1,
            &signature::ECDSA_P384_SHA384_FIXED,
        ),
        A::EcdsaP521Sha512 | A::EcSignP521Sha512 => ec(
            KeyKind::EcP521,
            &signature::ECDSA_P521_SHA512_ASN1,
            &signature::ECDSA_P521_SHA512_FIXED,
        ),
        A::EcSignEd25519 => Expectation {
            kind: KeyKind::Ed25519,
            primary: &signature::ED25519,
            fixed: None,
        },
    })
}

/// Decodes a PEM `PUBLIC KEY` block to SPKI DER.
fn pem_to_der(pem: &str) -> Result<Vec<u8>, CryptoError> {
    const BEGIN: &str = "-----BEGIN ";
    let start = pem
        .find(BEGIN)
        .ok_or_else(|| CryptoError::Pem("no `-----BEGIN PUBLIC KEY-----` line".into()))?;
    let after = &pem[start + BEGIN.len()..];
    let label_end = after
        .find("-----")
        .ok_or_else(|| CryptoError::Pem("unterminated BEGIN line".into()))?;
    let label = &after[..label_end];
    if label != "PUBLIC KEY" {
        return Err(CryptoError::Pem(format!(
            "expected a `PUBLIC KEY` (SubjectPublicKeyInfo) block, found `{label}`"
        )));
    }
    let body_and_rest = &after[label_end + 5..];
    let end_marker = "-----END PUBLIC KEY-----";
    let end = body_and_rest
        .find(end_marker)
        .ok_or_else(|| CryptoError::Pem("no `-----END PUBLIC KEY-----` line".into()))?;
    let body: String = body_and_rest[..end]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|e| CryptoError::Pem(format!("body is not base64: {e}")))
}

fn classify(der_bytes: &[u8]) -> Result<KeyKind, CryptoError> {
    let spki = parse_spki(der_bytes)?;
    match spki.algorithm {
        der::OID_RSA | der::OID_RSA_PSS => Ok(KeyKind::Rsa {
            bits: rsa_modulus_bits(spki.key)?,
        }),
        der::OID_EC => match spki.parameter_oid {
            Some(der::OID_P256) => Ok(KeyKind::EcP256),
            Some(der::OID_P384) => Ok(KeyKind::EcP384),
            Some(der::OID_P521) => Ok(KeyKind::EcP521),
            Some(der::OID_SECP256K1) => Ok(KeyKind::EcSecp256k1),
            _ => Err(CryptoError::UnsupportedKey(
                "EC key on an unsupported or unnamed curve".into(),
            )),
        },
        der::OID_ED25519 => Ok(KeyKind::Ed25519),
        _ => Err(CryptoError::UnsupportedKey(
            "unsupported key algorithm (want RSA, EC P-256/384/521 or Ed25519)".into(),
        )),
    }
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// The RFC 6920 id Binary Authorization assigns a PKIX key:
/// `ni:///sha-256;<base64url-nopad(sha256(DER SPKI))>`.
pub fn pkix_key_id(spki_der: &[u8]) -> String {
    format!(
        "ni:///sha-256;{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha256(spki_der))
    )
}

/// A PKIX key ready to verify, known to match its declared algorithm.
#[derive(Clone)]
pub struct PkixKey {
    algorithm: SignatureAlgorithm,
    kind: KeyKind,
    der: Vec<u8>,
    primary: ParsedPublicKey,
    fixed: Option<ParsedPublicKey>,
}

impl fmt::Debug for PkixKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PkixKey")
            .field("algorithm", &self.algorithm)
            .field("kind", &self.kind)
            .field("id", &self.key_id())
            .finish()
    }
}

impl PkixKey {
    /// Parses `pem` and checks it really is the key `declared` says it is.
    pub fn from_pem(pem: &str, declared: SignatureAlgorithm) -> Result<Self, CryptoError> {
        Self::from_der(pem_to_der(pem)?, declared)
    }

    /// Like [`PkixKey::from_pem`], from a DER SubjectPublicKeyInfo.
    pub fn from_der(der: Vec<u8>, declared: SignatureAlgorithm) -> Result<Self, CryptoError> {
        let kind = classify(&der)?;
        let Some(expect) = expectation(declared) else {
            return Err(CryptoError::AlgorithmUnspecified {
                actual: kind.to_string(),
            });
        };
        if expect.kind != kind {
            return Err(CryptoError::AlgorithmMismatch {
                declared,
                actual: kind.to_string(),
            });
        }
        let parse = |alg: &'static dyn VerificationAlgorithm| {
            ParsedPublicKey::new(alg, &der)
                .map_err(|e| CryptoError::UnsupportedKey(format!("rejected by the verifier: {e}")))
        };
        let primary = parse(expect.primary)?;
        let fixed = expect.fixed.map(parse).transpose()?;
        Ok(PkixKey {
            algorithm: declared,
            kind,
            der,
            primary,
            fixed,
        })
    }

    /// Parses a cosign public key (`cosign.pub`), whose PEM names no algorithm: the one
    /// cosign signs with for that kind of key (ECDSA with SHA-256/384/512 by curve,
    /// RSA PKCS#1 v1.5 with SHA-256, Ed25519).
    pub fn from_cosign_pem(pem: &str) -> Result<Self, CryptoError> {
        Self::from_cosign_der(pem_to_der(pem)?)
    }

    /// Like [`PkixKey::from_cosign_pem`], from a DER SubjectPublicKeyInfo (a certificate's key,
    /// a transparency log's key in a trusted root).
    pub fn from_cosign_der(der: Vec<u8>) -> Result<Self, CryptoError> {
        use admit_model::SignatureAlgorithm as A;
        let algorithm = match classify(&der)? {
            KeyKind::EcP256 => A::EcdsaP256Sha256,
            KeyKind::EcP384 => A::EcdsaP384Sha384,
            KeyKind::EcP521 => A::EcdsaP521Sha512,
            KeyKind::Rsa { bits: 2048 } => A::RsaSignPkcs12048Sha256,
            KeyKind::Rsa { bits: 3072 } => A::RsaSignPkcs13072Sha256,
            KeyKind::Rsa { bits: 4096 } => A::RsaSignPkcs14096Sha256,
            KeyKind::Ed25519 => A::EcSignEd25519,
            other => {
                return Err(CryptoError::UnsupportedKey(format!(
                    "{other} is not a key cosign signs with"
                )));
            }
        };
        Self::from_der(der, algorithm)
    }

    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    pub fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    /// DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> &[u8] {
        &self.der
    }

    /// The server-assigned id (`ni:///sha-256;…`).
    pub fn key_id(&self) -> String {
        pkix_key_id(&self.der)
    }

    /// Verifies `sig` over `message`. ECDSA signatures are DER as KMS and openssl produce them;
    /// the fixed-width r||s form is accepted too.
    pub fn verify(&self, message: &[u8], sig: &[u8]) -> Result<(), CryptoError> {
        if self.primary.verify_sig(message, sig).is_ok() {
            return Ok(());
        }
        if let Some(fixed) = &self.fixed
            && fixed.verify_sig(message, sig).is_ok()
        {
            return Ok(());
        }
        Err(CryptoError::BadSignature {
            key: format!("{} ({})", self.key_id(), self.algorithm),
        })
    }
}

/// Signs `message` with a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`, as
/// `openssl genpkey` writes it) for the declared algorithm; returns the signature and the DER
/// SubjectPublicKeyInfo of the matching public key. ECDSA signatures are DER, RSA-PSS uses salt
/// = digest length, as KMS and gcloud's verifier expect.
pub fn sign_with_private_key_pem(
    pem: &str,
    declared: SignatureAlgorithm,
    message: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
    use SignatureAlgorithm as A;
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
    let bad = |m: &str| CryptoError::Pem(m.to_owned());
    if pem.contains("-----BEGIN EC PRIVATE KEY-----")
        || pem.contains("-----BEGIN RSA PRIVATE KEY-----")
    {
        return Err(bad(
            "expected a PKCS#8 `PRIVATE KEY` block; convert it with `openssl pkcs8 -topk8 -nocrypt`",
        ));
    }
    let body = pem
        .split("-----BEGIN PRIVATE KEY-----")
        .nth(1)
        .and_then(|r| r.split("-----END PRIVATE KEY-----").next())
        .ok_or_else(|| {
            bad("no `-----BEGIN PRIVATE KEY-----` block (an unencrypted PKCS#8 key is needed)")
        })?;
    let der = base64::engine::general_purpose::STANDARD
        .decode(
            body.chars()
                .filter(|c| !c.is_ascii_whitespace())
                .collect::<String>(),
        )
        .map_err(|e| bad(&format!("private key body is not base64: {e}")))?;
    let rng = SystemRandom::new();
    let reject = |e: aws_lc_rs::error::KeyRejected| {
        CryptoError::UnsupportedKey(format!("the private key does not fit {declared}: {e}"))
    };
    let fail = |_| CryptoError::UnsupportedKey("signing failed".into());
    let ec = |alg: &'static aws_lc_rs::signature::EcdsaSigningAlgorithm| -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
        let kp = EcdsaKeyPair::from_pkcs8(alg, &der).map_err(reject)?;
        let sig = kp.sign(&rng, message).map_err(fail)?.as_ref().to_vec();
        Ok((sig, kp.public_key().as_der().map_err(fail)?.as_ref().to_vec()))
    };
    let rsa = |pad: &'static dyn aws_lc_rs::signature::RsaEncoding| -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
        let kp = RsaKeyPair::from_pkcs8(&der).map_err(reject)?;
        let mut sig = vec![0u8; kp.public_modulus_len()];
        kp.sign(pad, &rng, message, &mut sig).map_err(fail)?;
        Ok((sig, kp.public_key().as_der().map_err(fail)?.as_ref().to_vec()))
    };
    let (sig, spki) = match declared {
        A::EcdsaP256Sha256 | A::EcSignP256Sha256 => ec(&signature::ECDSA_P256_SHA256_ASN1_SIGNING)?,
        A::EcdsaP384Sha384 | A::EcSignP384Sha384 => ec(&signature::ECDSA_P384_SHA384_ASN1_SIGNING)?,
        A::EcdsaP521Sha512 | A::EcSignP521Sha512 => ec(&signature::ECDSA_P521_SHA512_ASN1_SIGNING)?,
        A::EcSignEd25519 => {
            let kp = Ed25519KeyPair::from_pkcs8(&der).map_err(reject)?;
            (
                kp.sign(message).as_ref().to_vec(),
                kp.public_key().as_der().map_err(fail)?.as_ref().to_vec(),
            )
        }
        A::RsaPss2048Sha256
        | A::RsaSignPss2048Sha256
        | A::RsaPss3072Sha256
        | A::RsaSignPss3072Sha256
        | A::RsaPss4096Sha256
        | A::RsaSignPss4096Sha256 => rsa(&signature::RSA_PSS_SHA256)?,
        A::RsaPss4096Sha512 | A::RsaSignPss4096Sha512 => rsa(&signature::RSA_PSS_SHA512)?,
        A::RsaSignPkcs12048Sha256 | A::RsaSignPkcs13072Sha256 | A::RsaSignPkcs14096Sha256 => {
            rsa(&signature::RSA_PKCS1_SHA256)?
        }
        A::RsaSignPkcs14096Sha512 => rsa(&signature::RSA_PKCS1_SHA512)?,
        A::Unspecified => {
            return Err(CryptoError::AlgorithmUnspecified {
                actual: "a private key".into(),
            });
        }
    };
    // The key must really be what was declared (size included), exactly as verification checks.
    let pub_pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(&spki)
    );
    PkixKey::from_pem(&pub_pem, declared)?;
    Ok((sig, spki))
}

/// SHA-384 of `data`.
pub fn sha384(data: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA384, data).as_ref().to_vec()
}

/// SHA-512 of `data`.
pub fn sha512(data: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA512, data).as_ref().to_vec()
}
