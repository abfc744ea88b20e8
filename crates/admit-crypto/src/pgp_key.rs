//! OpenPGP: ascii-armored public keys (ids are V4 fingerprints, upper-case hex) and the three
//! signature shapes attestations carry — a signed message with the payload inside
//! (`gpg --sign`, armored or binary, compressed or not), a clear-signed message
//! (`gpg --clearsign`) and a detached signature (`gpg --detach-sign`).
//! Signatures by a signing subkey verify only when the subkey's binding to the primary is valid.

use std::fmt;
use std::io::BufReader;

use pgp::composed::{
    CleartextSignedMessage, Deserializable, DetachedSignature, Message, SignedPublicKey,
};
use pgp::crypto::hash::HashAlgorithm;
use pgp::crypto::public_key::PublicKeyAlgorithm;
use pgp::types::{
    Fingerprint, KeyDetails, KeyId, KeyVersion, PublicParams, SignatureBytes, Timestamp,
    VerifyingKey,
};

use crate::CryptoError;

fn pgp_err(step: &'static str) -> impl Fn(pgp::errors::Error) -> CryptoError {
    move |e| CryptoError::Pgp {
        step,
        reason: e.to_string(),
    }
}

/// A sized handle on either the primary key or a subkey, as rpgp's `verify` wants `impl`.
struct AnyKey<'a>(&'a dyn VerifyingKey);

impl fmt::Debug for AnyKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AnyKey({:X})", self.0.fingerprint())
    }
}

impl KeyDetails for AnyKey<'_> {
    fn version(&self) -> KeyVersion {
        self.0.version()
    }
    fn fingerprint(&self) -> Fingerprint {
        self.0.fingerprint()
    }
    fn legacy_key_id(&self) -> KeyId {
        self.0.legacy_key_id()
    }
    fn algorithm(&self) -> PublicKeyAlgorithm {
        self.0.algorithm()
    }
    fn created_at(&self) -> Timestamp {
        self.0.created_at()
    }
    fn legacy_v3_expiration_days(&self) -> Option<u16> {
        self.0.legacy_v3_expiration_days()
    }
    fn public_params(&self) -> &PublicParams {
        self.0.public_params()
    }
}

impl VerifyingKey for AnyKey<'_> {
    fn verify(
        &self,
        hash: HashAlgorithm,
        data: &[u8],
        sig: &SignatureBytes,
    ) -> pgp::errors::Result<()> {
        self.0.verify(hash, data, sig)
    }
}

/// A parsed OpenPGP certificate.
#[derive(Clone)]
pub struct PgpKey {
    key: SignedPublicKey,
    fingerprint: String,
    /// Subkeys whose binding signatures verified; only these may sign.
    valid_subkeys: Vec<usize>,
    /// When the primary key expires (Unix seconds), from its newest self-signature.
    expires_at: Option<u64>,
    /// When a verified key revocation signature on the primary key was made (Unix seconds).
    revoked_at: Option<u64>,
}

impl fmt::Debug for PgpKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgpKey")
            .field("fingerprint", &self.fingerprint)
            .finish()
    }
}

/// What a verified PGP signature vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgpVerified {
    /// The bytes that were signed (the literal data for a signed message, the normalised text
    /// for a clear-signed one, the caller's payload for a detached signature).
    pub signed_content: Vec<u8>,
    /// Clear-signed text is normalised by OpenPGP (trailing whitespace and the final newline
    /// are not signed), so it is compared with a payload after the same normalisation.
    pub cleartext: bool,
}

fn normalise_text(b: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(b).replace("\r\n", "\n");
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    lines.join("\n").trim_end().as_bytes().to_vec()
}

impl PgpVerified {
    /// Whether the signed content is `payload` (exactly, or modulo clear-sign normalisation).
    pub fn matches_payload(&self, payload: &[u8]) -> bool {
        if self.cleartext {
            normalise_text(&self.signed_content) == normalise_text(payload)
        } else {
            self.signed_content == payload
        }
    }
}

impl PgpKey {
    /// Parses an ascii-armored public key block.
    pub fn from_armored(text: &str) -> Result<Self, CryptoError> {
        let (key, _headers) =
            SignedPublicKey::from_string(text).map_err(pgp_err("asciiArmoredPgpPublicKey"))?;
        key.verify_bindings()
            .map_err(pgp_err("key self-signature"))?;
        let fingerprint = format!("{:X}", key.primary_key.fingerprint());
        let valid_subkeys = key
            .public_subkeys
            .iter()
            .enumerate()
            .filter(|(_, sk)| sk.verify_bindings(&key.primary_key).is_ok())
            .map(|(i, _)| i)
            .collect();
        let created = u64::from(key.primary_key.created_at().as_secs());
        // The newest self-signature (certification or direct-key) that verifies decides the
        // expiration, as OpenPGP says; zero or absent means none.
        let primary_id = key.primary_key.legacy_key_id();
        let newest = key
            .details
            .users
            .iter()
            .flat_map(|u| u.signatures.iter())
            .chain(key.details.direct_signatures.iter())
            .filter(|s| {
                s.issuer_key_id().iter().any(|i| **i == primary_id) || s.issuer_key_id().is_empty()
            })
            .max_by_key(|s| s.created().map(Timestamp::as_secs));
        let expires_at = newest
            .and_then(pgp::packet::Signature::key_expiration_time)
            .map(|d| u64::from(d.as_secs()))
            .filter(|d| *d != 0)
            .map(|d| created + d);
        let revoked_at = key
            .details
            .revocation_signatures
            .iter()
            .filter(|s| s.verify_key(&key.primary_key).is_ok())
            .filter_map(|s| s.created().map(|t| u64::from(t.as_secs())))
            .min();
        Ok(PgpKey {
            key,
            fingerprint,
            valid_subkeys,
            expires_at,
            revoked_at,
        })
    }

    /// When the key expires (Unix seconds), if it does.
    pub fn expires_at(&self) -> Option<u64> {
        self.expires_at
    }

    /// When the key was revoked by a revocation signature it carries (Unix seconds), if it was.
    pub fn revoked_at(&self) -> Option<u64> {
        self.revoked_at
    }

    /// The V4 fingerprint, 40 upper-case hex characters: the id Binary Authorization assigns.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    fn verifiers(&self) -> impl Iterator<Item = AnyKey<'_>> {
        std::iter::once(AnyKey(&self.key as &dyn VerifyingKey)).chain(
            self.valid_subkeys
                .iter()
                .filter_map(|&i| self.key.public_subkeys.get(i))
                .map(|sk| AnyKey(sk as &dyn VerifyingKey)),
        )
    }

    /// Verifies `signature` (armored or binary) made by this key. `payload` is what the
    /// occurrence claims was signed; it is required for a detached signature and otherwise
    /// ignored here (the caller compares it with `signed_content`).
    pub fn verify(&self, signature: &[u8], payload: &[u8]) -> Result<PgpVerified, CryptoError> {
        let text = std::str::from_utf8(signature).ok().map(str::trim_start);
        match text {
            Some(t) if t.starts_with("-----BEGIN PGP SIGNED MESSAGE-----") => {
                self.verify_cleartext(t)
            }
            Some(t) if t.starts_with("-----BEGIN PGP SIGNATURE-----") => {
                let (sig, _) =
                    DetachedSignature::from_string(t).map_err(pgp_err("detached signature"))?;
                self.verify_detached(&sig, payload)
            }
            Some(t) if t.starts_with("-----BEGIN PGP MESSAGE-----") => {
                let (msg, _) = Message::from_string(t).map_err(pgp_err("signed message"))?;
                self.verify_message(msg)
            }
            Some(t) if t.starts_with("-----BEGIN") => Err(CryptoError::Pgp {
                step: "signature",
                reason: "expected an armored PGP MESSAGE, SIGNED MESSAGE or SIGNATURE".into(),
            }),
            _ => {
                // Binary: a lone signature packet is detached, anything else a message.
                if let Ok(sig) = DetachedSignature::from_bytes(BufReader::new(signature))
                    && self.verify_detached(&sig, payload).is_ok()
                {
                    return Ok(PgpVerified {
                        signed_content: payload.to_vec(),
                        cleartext: false,
                    });
                }
                let msg = Message::from_bytes(BufReader::new(signature))
                    .map_err(pgp_err("signed message"))?;
                self.verify_message(msg)
            }
        }
    }

    fn bad(&self) -> CryptoError {
        CryptoError::BadSignature {
            key: format!("PGP key {}", self.fingerprint),
        }
    }

    fn verify_detached(
        &self,
        sig: &DetachedSignature,
        payload: &[u8],
    ) -> Result<PgpVerified, CryptoError> {
        if self
            .verifiers()
            .any(|k| sig.signature.verify(&k, payload).is_ok())
        {
            Ok(PgpVerified {
                signed_content: payload.to_vec(),
                cleartext: false,
            })
        } else {
            Err(self.bad())
        }
    }

    fn verify_cleartext(&self, text: &str) -> Result<PgpVerified, CryptoError> {
        let (msg, _) =
            CleartextSignedMessage::from_string(text).map_err(pgp_err("clear-signed message"))?;
        let signed = msg.signed_text();
        if self.verifiers().any(|k| {
            msg.signatures()
                .iter()
                .any(|s| s.verify(&k, signed.as_bytes()).is_ok())
        }) {
            Ok(PgpVerified {
                signed_content: signed.replace("\r\n", "\n").into_bytes(),
                cleartext: true,
            })
        } else {
            Err(self.bad())
        }
    }

    fn verify_message(&self, msg: Message<'_>) -> Result<PgpVerified, CryptoError> {
        let mut msg = if msg.is_compressed() {
            msg.decompress().map_err(pgp_err("decompress"))?
        } else {
            msg
        };
        if !msg.is_signed() {
            return Err(CryptoError::Pgp {
                step: "signed message",
                reason: "the message carries no signature".into(),
            });
        }
        let content = msg.as_data_vec().map_err(|e| CryptoError::Pgp {
            step: "signed message",
            reason: e.to_string(),
        })?;
        if self.verifiers().any(|k| msg.verify(&k).is_ok()) {
            Ok(PgpVerified {
                signed_content: content,
                cleartext: false,
            })
        } else {
            Err(self.bad())
        }
    }
}

/// Signs `payload` as `gpg --armor --sign` does (the payload inside an armored signed
/// message), with an ascii-armored secret key: its signing subkey when it has one, else the
/// primary. Returns the armored message and the certificate's fingerprint (the key id).
pub fn pgp_sign_message(
    armored_secret_key: &str,
    passphrase: &str,
    payload: &[u8],
) -> Result<(String, String), CryptoError> {
    use pgp::composed::{ArmorOptions, MessageBuilder, SignedSecretKey};
    use pgp::types::{KeyDetails as _, Password, SigningKey};

    let (key, _) =
        SignedSecretKey::from_string(armored_secret_key).map_err(pgp_err("secret key"))?;
    let fingerprint = format!("{:X}", key.primary_key.fingerprint());
    let signer: &dyn SigningKey = match key
        .secret_subkeys
        .iter()
        .find(|sk| sk.signatures.iter().any(|s| s.key_flags().sign()))
    {
        Some(sk) => &sk.key,
        None => &key.primary_key,
    };
    let mut builder = MessageBuilder::from_bytes("", payload.to_vec());
    builder.sign(signer, Password::from(passphrase), HashAlgorithm::Sha256);
    let armored = builder
        .to_armored_string(rand::rngs::OsRng, ArmorOptions::default())
        .map_err(pgp_err("sign"))?;
    Ok((armored, fingerprint))
}

/// The content an attached OpenPGP signature carries (`gpg --sign`, armored or binary,
/// compressed or not; or the text of a clear-signed message), read without verifying it.
/// `None` for a detached signature, which carries no content, and for anything unparsable.
/// For display and format conversion only: trust comes from [`PgpKey::verify`].
pub fn pgp_signed_content(signature: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(signature).ok().map(str::trim_start);
    let msg = match text {
        Some(t) if t.starts_with("-----BEGIN PGP SIGNED MESSAGE-----") => {
            let (msg, _) = CleartextSignedMessage::from_string(t).ok()?;
            return Some(msg.signed_text().replace("\r\n", "\n").into_bytes());
        }
        Some(t) if t.starts_with("-----BEGIN PGP MESSAGE-----") => Message::from_string(t).ok()?.0,
        Some(t) if t.starts_with("-----BEGIN") => return None,
        _ => Message::from_bytes(BufReader::new(signature)).ok()?,
    };
    let mut msg = if msg.is_compressed() {
        msg.decompress().ok()?
    } else {
        msg
    };
    msg.as_data_vec().ok()
}
