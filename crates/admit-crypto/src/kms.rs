//! The software KMS backend: key generation, private keys wrapped at rest under an operator's
//! master key (AES-256-GCM, bound to the key version's name), and signing of digests or data
//! exactly as Cloud KMS does (ECDSA DER; RSA-PSS with salt = digest length, MGF1 same hash).

use std::fmt;

use admit_model::CryptoKeyVersionAlgorithm as Alg;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::digest::{self, Digest};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair, RsaEncoding,
};

use zeroize::{Zeroize as _, Zeroizing};

use crate::CryptoError;

fn kms_err(reason: impl Into<String>) -> CryptoError {
    CryptoError::Kms(reason.into())
}

/// A failure of the stored key material or of the machine (unwrap, corrupt key, no
/// randomness): an internal error, whose detail is for the log, never for the caller.
fn material_err(reason: impl Into<String>) -> CryptoError {
    CryptoError::KeyMaterial(reason.into())
}

/// A 256-bit key-encryption key. Zeroed on drop and never printed.
pub struct MasterKey([u8; 32]);

impl MasterKey {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        if bytes.len() != 32 {
            return Err(kms_err(format!(
                "master key must be 32 bytes, got {}",
                bytes.len()
            )));
        }
        let mut k = MasterKey([0u8; 32]);
        k.0.copy_from_slice(bytes);
        Ok(k)
    }

    /// A fresh random master key.
    pub fn generate() -> Result<Self, CryptoError> {
        let mut k = MasterKey([0u8; 32]);
        SystemRandom::new()
            .fill(&mut k.0)
            .map_err(|_| material_err("the system random source failed"))?;
        Ok(k)
    }

    pub fn expose_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl Drop for MasterKey {
    fn drop(&mut self) {
        // zeroize's writes are volatile: the compiler cannot elide them.
        self.0.zeroize();
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

/// What to sign: a digest computed by the caller, or the data itself.
#[derive(Debug, Clone, Copy)]
pub enum SignInput<'a> {
    Sha256(&'a [u8]),
    Sha384(&'a [u8]),
    Sha512(&'a [u8]),
    Data(&'a [u8]),
}

enum Family {
    Ec(&'static EcdsaSigningAlgorithm, &'static digest::Algorithm),
    Ed25519,
    Rsa(
        KeySize,
        &'static dyn RsaEncoding,
        &'static digest::Algorithm,
    ),
}

fn family(alg: Alg) -> Result<Family, CryptoError> {
    use signature as s;
    Ok(match alg {
        Alg::EcSignP256Sha256 => Family::Ec(&s::ECDSA_P256_SHA256_ASN1_SIGNING, &digest::SHA256),
        Alg::EcSignP384Sha384 => Family::Ec(&s::ECDSA_P384_SHA384_ASN1_SIGNING, &digest::SHA384),
        Alg::EcSignSecp256k1Sha256 => {
            Family::Ec(&s::ECDSA_P256K1_SHA256_ASN1_SIGNING, &digest::SHA256)
        }
        Alg::EcSignEd25519 => Family::Ed25519,
        Alg::RsaSignPss2048Sha256 => {
            Family::Rsa(KeySize::Rsa2048, &s::RSA_PSS_SHA256, &digest::SHA256)
        }
        Alg::RsaSignPss3072Sha256 => {
            Family::Rsa(KeySize::Rsa3072, &s::RSA_PSS_SHA256, &digest::SHA256)
        }
        Alg::RsaSignPss4096Sha256 => {
            Family::Rsa(KeySize::Rsa4096, &s::RSA_PSS_SHA256, &digest::SHA256)
        }
        Alg::RsaSignPss4096Sha512 => {
            Family::Rsa(KeySize::Rsa4096, &s::RSA_PSS_SHA512, &digest::SHA512)
        }
        Alg::RsaSignPkcs12048Sha256 => {
            Family::Rsa(KeySize::Rsa2048, &s::RSA_PKCS1_SHA256, &digest::SHA256)
        }
        Alg::RsaSignPkcs13072Sha256 => {
            Family::Rsa(KeySize::Rsa3072, &s::RSA_PKCS1_SHA256, &digest::SHA256)
        }
        Alg::RsaSignPkcs14096Sha256 => {
            Family::Rsa(KeySize::Rsa4096, &s::RSA_PKCS1_SHA256, &digest::SHA256)
        }
        Alg::RsaSignPkcs14096Sha512 => {
            Family::Rsa(KeySize::Rsa4096, &s::RSA_PKCS1_SHA512, &digest::SHA512)
        }
        other => {
            return Err(kms_err(format!(
                "algorithm {other} is not supported for asymmetric signing here"
            )));
        }
    })
}

/// Whether `alg` can be generated and used by the software backend.
pub fn kms_algorithm_supported(alg: Alg) -> bool {
    family(alg).is_ok()
}

fn pem(der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN PUBLIC KEY-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END PUBLIC KEY-----\n");
    out
}

/// A generated key: the wrapped PKCS#8 private key and the PEM public key.
#[derive(Debug)]
pub struct GeneratedKey {
    pub wrapped_private_key: Vec<u8>,
    pub public_key_pem: String,
}

/// The software key backend.
#[derive(Debug)]
pub struct SoftwareKeyBackend {
    master: MasterKey,
}

impl SoftwareKeyBackend {
    pub fn new(master: MasterKey) -> Self {
        SoftwareKeyBackend { master }
    }

    fn aead(&self) -> Result<LessSafeKey, CryptoError> {
        let k = UnboundKey::new(&AES_256_GCM, self.master.expose_bytes())
            .map_err(|_| material_err("bad master key"))?;
        Ok(LessSafeKey::new(k))
    }

    fn wrap(&self, plaintext: &[u8], bound_to: &str) -> Result<Vec<u8>, CryptoError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| material_err("the system random source failed"))?;
        // Capacity for the tag up front, so sealing never reallocates (and so never frees a
        // plaintext copy without zeroing it); the buffer is zeroed on drop either way.
        let mut body = Zeroizing::new(Vec::with_capacity(plaintext.len() + AES_256_GCM.tag_len()));
        body.extend_from_slice(plaintext);
        self.aead()?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(bound_to.as_bytes()),
                &mut *body,
            )
            .map_err(|_| material_err("wrapping failed"))?;
        let mut out = Vec::with_capacity(NONCE_LEN + body.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// The plaintext private key, zeroed when dropped.
    fn unwrap(&self, wrapped: &[u8], bound_to: &str) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if wrapped.len() < NONCE_LEN {
            return Err(material_err(
                "the wrapped key is truncated or was destroyed",
            ));
        }
        let (n, ct) = wrapped.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(n).map_err(|_| material_err("bad nonce"))?;
        let mut buf = Zeroizing::new(ct.to_vec());
        let len = self
            .aead()?
            .open_in_place(nonce, Aad::from(bound_to.as_bytes()), &mut buf)
            .map_err(|_| {
                material_err("cannot unwrap the private key: wrong master key or tampered data")
            })?
            .len();
        buf.truncate(len);
        Ok(buf)
    }

    /// Generates a key for `alg`, wrapped and bound to `name` (the key version's resource name).
    pub fn generate(&self, alg: Alg, name: &str) -> Result<GeneratedKey, CryptoError> {
        let fail = |_| material_err("key generation failed");
        let (pkcs8, spki): (Zeroizing<Vec<u8>>, Vec<u8>) = match family(alg)? {
            Family::Ec(a, _) => {
                let kp = EcdsaKeyPair::generate(a).map_err(fail)?;
                let p8 = Zeroizing::new(kp.to_pkcs8v1().map_err(fail)?.as_ref().to_vec());
                let spki = kp.public_key().as_der().map_err(fail)?.as_ref().to_vec();
                (p8, spki)
            }
            Family::Ed25519 => {
                let kp = Ed25519KeyPair::generate().map_err(fail)?;
                let p8 = Zeroizing::new(kp.to_pkcs8v1().map_err(fail)?.as_ref().to_vec());
                let spki = kp.public_key().as_der().map_err(fail)?.as_ref().to_vec();
                (p8, spki)
            }
            Family::Rsa(size, _, _) => {
                let kp = signature::RsaKeyPair::generate(size).map_err(fail)?;
                let p8 = Zeroizing::new(
                    AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&kp)
                        .map_err(fail)?
                        .as_ref()
                        .to_vec(),
                );
                let spki = kp.public_key().as_der().map_err(fail)?.as_ref().to_vec();
                (p8, spki)
            }
        };
        Ok(GeneratedKey {
            wrapped_private_key: self.wrap(&pkcs8, name)?,
            public_key_pem: pem(&spki),
        })
    }

    /// Signs `input` with the wrapped key of `name`.
    pub fn sign(
        &self,
        alg: Alg,
        wrapped: &[u8],
        name: &str,
        input: SignInput<'_>,
    ) -> Result<Vec<u8>, CryptoError> {
        let pkcs8 = self.unwrap(wrapped, name)?;
        let fam = family(alg)?;
        let digest_of = |want: &'static digest::Algorithm| -> Result<Digest, CryptoError> {
            match input {
                SignInput::Data(d) => Ok(digest::digest(want, d)),
                SignInput::Sha256(d) | SignInput::Sha384(d) | SignInput::Sha512(d) => {
                    let given = match input {
                        SignInput::Sha256(_) => &digest::SHA256,
                        SignInput::Sha384(_) => &digest::SHA384,
                        _ => &digest::SHA512,
                    };
                    if given != want {
                        return Err(kms_err(format!(
                            "digest type does not match algorithm {alg}"
                        )));
                    }
                    Digest::import_less_safe(d, want)
                        .map_err(|_| kms_err("digest has the wrong length"))
                }
            }
        };
        let fail = |_| kms_err("signing failed");
        match fam {
            Family::Ec(a, h) => {
                let kp = EcdsaKeyPair::from_pkcs8(a, &pkcs8)
                    .map_err(|_| material_err("stored key is corrupt"))?;
                Ok(kp
                    .sign_digest(&digest_of(h)?)
                    .map_err(fail)?
                    .as_ref()
                    .to_vec())
            }
            Family::Ed25519 => match input {
                SignInput::Data(d) => {
                    let kp = Ed25519KeyPair::from_pkcs8(&pkcs8)
                        .map_err(|_| material_err("stored key is corrupt"))?;
                    Ok(kp.sign(d).as_ref().to_vec())
                }
                _ => Err(kms_err("EC_SIGN_ED25519 signs data, not a digest")),
            },
            Family::Rsa(_, enc, h) => {
                let kp = signature::RsaKeyPair::from_pkcs8(&pkcs8)
                    .map_err(|_| material_err("stored key is corrupt"))?;
                let mut sig = vec![0u8; kp.public_modulus_len()];
                kp.sign_digest(enc, &digest_of(h)?, &mut sig)
                    .map_err(fail)?;
                Ok(sig)
            }
        }
    }
}

/// CRC32C (Castagnoli), as KMS uses for integrity fields.
pub fn crc32c(data: &[u8]) -> u32 {
    const POLY: u32 = 0x82F6_3B78;
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A random (version 4) UUID, for server-assigned occurrence ids. A failing random source is
/// an error: a predictable or repeated id is never handed out.
pub fn random_uuid() -> Result<String, CryptoError> {
    let mut b = [0u8; 16];
    SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| material_err("the system random source failed"))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PkixKey;
    use admit_model::SignatureAlgorithm as S;

    #[test]
    fn crc32c_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn generated_keys_sign_digests_that_the_verifier_accepts() {
        let backend =
            SoftwareKeyBackend::new(MasterKey::generate().unwrap_or_else(|e| panic!("{e}")));
        let msg = b"payload";
        for (kms, ba) in [
            (Alg::EcSignP256Sha256, S::EcdsaP256Sha256),
            (Alg::EcSignP384Sha384, S::EcdsaP384Sha384),
            (Alg::RsaSignPss2048Sha256, S::RsaPss2048Sha256),
            (Alg::RsaSignPkcs12048Sha256, S::RsaSignPkcs12048Sha256),
        ] {
            let name = "projects/p/locations/global/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1";
            let k = backend
                .generate(kms, name)
                .unwrap_or_else(|e| panic!("{e}"));
            let d = digest::digest(
                if kms == Alg::EcSignP384Sha384 {
                    &digest::SHA384
                } else {
                    &digest::SHA256
                },
                msg,
            );
            let input = if kms == Alg::EcSignP384Sha384 {
                SignInput::Sha384(d.as_ref())
            } else {
                SignInput::Sha256(d.as_ref())
            };
            let sig = backend
                .sign(kms, &k.wrapped_private_key, name, input)
                .unwrap_or_else(|e| panic!("{e}"));
            let v = PkixKey::from_pem(&k.public_key_pem, ba).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(v.verify(msg, &sig), Ok(()), "{kms}");
            // Bound to its name: another name cannot unwrap it.
            assert!(
                backend
                    .sign(kms, &k.wrapped_private_key, "other", input)
                    .is_err()
            );
        }
    }

    #[test]
    fn another_master_key_cannot_unwrap() {
        let a = SoftwareKeyBackend::new(MasterKey::generate().unwrap_or_else(|e| panic!("{e}")));
        let b = SoftwareKeyBackend::new(MasterKey::generate().unwrap_or_else(|e| panic!("{e}")));
        let k = a
            .generate(Alg::EcSignP256Sha256, "n")
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            b.sign(
                Alg::EcSignP256Sha256,
                &k.wrapped_private_key,
                "n",
                SignInput::Data(b"x")
            )
            .is_err()
        );
        assert_eq!(
            format!("{:?}", MasterKey::generate().ok()),
            "Some(MasterKey(<redacted>))"
        );
    }
}
