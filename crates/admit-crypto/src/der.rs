//! Just enough DER to read a SubjectPublicKeyInfo: the algorithm OID, the curve OID and the
//! RSA modulus. aws-lc-rs does the real key parsing; this only tells us what the key *is*, so it
//! can be checked against what the attestor declares.

use crate::CryptoError;

pub(crate) const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
pub(crate) const OID_RSA_PSS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
pub(crate) const OID_EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
pub(crate) const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
pub(crate) const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
pub(crate) const OID_P521: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x23];
pub(crate) const OID_SECP256K1: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x0a];
pub(crate) const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];

const SEQUENCE: u8 = 0x30;
const OID: u8 = 0x06;
const BIT_STRING: u8 = 0x03;
const INTEGER: u8 = 0x02;

fn bad(what: &str) -> CryptoError {
    CryptoError::Pem(format!("not a DER SubjectPublicKeyInfo ({what})"))
}

/// Reads one TLV; returns (tag, value, rest).
fn tlv(input: &[u8]) -> Result<(u8, &[u8], &[u8]), CryptoError> {
    let (&tag, rest) = input.split_first().ok_or_else(|| bad("truncated tag"))?;
    let (&first, rest) = rest.split_first().ok_or_else(|| bad("truncated length"))?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Err(bad("bad length"));
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err(bad("value runs past the end"));
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

fn expect<'a>(input: &'a [u8], want: u8, what: &str) -> Result<(&'a [u8], &'a [u8]), CryptoError> {
    let (tag, value, rest) = tlv(input)?;
    if tag == want {
        Ok((value, rest))
    } else {
        Err(bad(what))
    }
}

/// The parts of an SPKI we care about.
#[derive(Debug)]
pub(crate) struct Spki<'a> {
    pub(crate) algorithm: &'a [u8],
    /// The curve OID for EC keys.
    pub(crate) parameter_oid: Option<&'a [u8]>,
    /// The BIT STRING contents without the unused-bits byte.
    pub(crate) key: &'a [u8],
}

pub(crate) fn parse_spki(der: &[u8]) -> Result<Spki<'_>, CryptoError> {
    let (outer, trailing) = expect(der, SEQUENCE, "outer SEQUENCE")?;
    if !trailing.is_empty() {
        return Err(bad("trailing bytes"));
    }
    let (alg_id, rest) = expect(outer, SEQUENCE, "AlgorithmIdentifier")?;
    let (algorithm, params) = expect(alg_id, OID, "algorithm OID")?;
    let parameter_oid = match tlv(params) {
        Ok((OID, v, _)) => Some(v),
        _ => None,
    };
    let (bits, rest) = expect(rest, BIT_STRING, "subjectPublicKey BIT STRING")?;
    if !rest.is_empty() {
        return Err(bad("trailing fields"));
    }
    let (&unused, key) = bits.split_first().ok_or_else(|| bad("empty BIT STRING"))?;
    if unused != 0 {
        return Err(bad("BIT STRING with unused bits"));
    }
    Ok(Spki {
        algorithm,
        parameter_oid,
        key,
    })
}

/// Bit length of the modulus of a PKCS#1 RSAPublicKey.
pub(crate) fn rsa_modulus_bits(rsa_public_key: &[u8]) -> Result<usize, CryptoError> {
    let (seq, _) = expect(rsa_public_key, SEQUENCE, "RSAPublicKey")?;
    let (modulus, _) = expect(seq, INTEGER, "modulus")?;
    let significant: &[u8] = {
        let start = modulus
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(modulus.len());
        &modulus[start..]
    };
    let Some(&top) = significant.first() else {
        return Err(bad("zero modulus"));
    };
    Ok(significant.len() * 8 - top.leading_zeros() as usize)
}
