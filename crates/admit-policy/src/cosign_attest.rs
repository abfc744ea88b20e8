//! Attestations as `cosign attest` stores them in the tag layout (`sha256-HEX.att`): one DSSE
//! envelope per layer, signed by a key or keylessly (certificate, chain and Rekor `intoto`
//! entry in the layer's annotations). This module says who signed one; what the statement
//! says is the caller's to judge.

use admit_crypto::sigstore::{Envelope, TlogEntry, pem_certificates, verify_keyless};
use admit_crypto::{pae, sha256};
use serde_json::Value;

use crate::cosign::{CosignTrust, keyless_by};

/// One stored attestation layer.
#[derive(Debug, Clone, Copy, Default)]
pub struct CosignAttestation<'a> {
    /// The DSSE envelope JSON (the layer's blob).
    pub envelope: &'a [u8],
    pub certificate: Option<&'a str>,
    pub chain: Option<&'a str>,
    pub rekor_bundle: Option<&'a str>,
}

/// A verified attestation: the envelope's payload type and payload, and who signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestationSigned {
    pub payload_type: String,
    pub payload: Vec<u8>,
    pub by: String,
}

/// Who signed the attestation `a`, if `trust` trusts them.
pub fn verify_cosign_attestation(
    a: &CosignAttestation<'_>,
    trust: &CosignTrust<'_>,
) -> Result<AttestationSigned, String> {
    let env: Value = serde_json::from_slice(a.envelope)
        .map_err(|e| format!("its DSSE envelope is not JSON: {e}"))?;
    let Envelope {
        payload_type,
        payload,
        signatures: sigs,
    } = Envelope::from_json("its envelope", &env).map_err(|e| e.to_string())?;
    let message = pae(&payload_type, &payload);
    let signed = |by: String| AttestationSigned {
        payload_type: payload_type.clone(),
        payload: payload.clone(),
        by,
    };
    if let Some(k) = trust
        .keys
        .iter()
        .find(|k| sigs.iter().any(|s| k.key.verify(&message, s).is_ok()))
    {
        return Ok(signed(k.label.clone()));
    }
    let Some(cert) = a.certificate else {
        return Err("is not signed by any trusted key".into());
    };
    if trust.keyless.is_empty() {
        return Err("is keyless (signed with a certificate) and only keys are trusted".into());
    }
    let Some(root) = trust.root else {
        return Err("is keyless, and this server has no Sigstore trust root to check it against (admit serve --sigstore-trusted-root)".into());
    };
    let Some(rekor) = a.rekor_bundle else {
        return Err("is keyless but carries no Rekor entry (dev.sigstore.cosign/bundle)".into());
    };
    let entry = TlogEntry::from_cosign_bundle(rekor).map_err(|e| e.to_string())?;
    let chain = match a.chain {
        Some(pem) => pem_certificates(pem).map_err(|e| e.to_string())?,
        None => Vec::new(),
    };
    let digest = sha256(&payload);
    let mut last = String::new();
    for sig in &sigs {
        match verify_keyless(
            root,
            &message,
            &digest,
            sig,
            cert.as_bytes(),
            &chain,
            std::slice::from_ref(&entry),
        ) {
            Ok(v) => return keyless_by(trust, &v).map(signed),
            Err(e) => last = format!("keyless: {e}"),
        }
    }
    Err(last)
}
