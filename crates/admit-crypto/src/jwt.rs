//! JSON Web Tokens (RFC 7519) in compact JWS form, verified against a JSON Web Key Set
//! (RFC 7517): what an OIDC issuer, or the Kubernetes API server for service-account tokens,
//! hands out.
//!
//! Only asymmetric algorithms are accepted (RS256/384/512, PS256/384/512, ES256, ES384, EdDSA):
//! `none` and the HMAC family are refused, so a public key can never be used as a MAC secret.
//! The algorithm comes from the key when the key names one; a token cannot pick a weaker one.

use aws_lc_rs::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::CryptoError;

fn err(reason: impl Into<String>) -> CryptoError {
    CryptoError::Jwt(reason.into())
}

fn b64(field: &str, s: &str) -> Result<Vec<u8>, CryptoError> {
    URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|_| err(format!("{field} is not base64url")))
}

#[derive(Debug, Clone)]
enum KeyMaterial {
    Rsa { n: Vec<u8>, e: Vec<u8> },
    Ec { crv: &'static str, point: Vec<u8> },
    Ed25519(Vec<u8>),
}

#[derive(Debug, Clone)]
struct Jwk {
    kid: Option<String>,
    alg: Option<String>,
    key: KeyMaterial,
}

/// A parsed key set.
#[derive(Debug, Clone)]
pub struct Jwks {
    keys: Vec<Jwk>,
}

fn str_field<'a>(v: &'a Value, field: &str) -> Option<&'a str> {
    v.get(field).and_then(Value::as_str)
}

fn parse_jwk(i: usize, v: &Value) -> Result<Option<Jwk>, CryptoError> {
    let field = |f: &str| format!("keys[{i}].{f}");
    let need = |f: &str| str_field(v, f).ok_or_else(|| err(format!("{} is required", field(f))));
    if str_field(v, "use").is_some_and(|u| u != "sig") {
        return Ok(None); // an encryption key: not for us
    }
    let key = match need("kty")? {
        "RSA" => KeyMaterial::Rsa {
            n: b64(&field("n"), need("n")?)?,
            e: b64(&field("e"), need("e")?)?,
        },
        "EC" => {
            let (crv, len) = match need("crv")? {
                "P-256" => ("P-256", 32),
                "P-384" => ("P-384", 48),
                other => {
                    return Err(err(format!(
                        "{}: curve `{other}` is not supported (P-256, P-384)",
                        field("crv")
                    )));
                }
            };
            let x = b64(&field("x"), need("x")?)?;
            let y = b64(&field("y"), need("y")?)?;
            if x.len() != len || y.len() != len {
                return Err(err(format!("{}: x and y must be {len} bytes", field("x"))));
            }
            let mut point = vec![4u8];
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            KeyMaterial::Ec { crv, point }
        }
        "OKP" => match need("crv")? {
            "Ed25519" => {
                let x = b64(&field("x"), need("x")?)?;
                if x.len() != 32 {
                    return Err(err(format!("{}: must be 32 bytes", field("x"))));
                }
                KeyMaterial::Ed25519(x)
            }
            other => {
                return Err(err(format!(
                    "{}: curve `{other}` is not supported (Ed25519)",
                    field("crv")
                )));
            }
        },
        "oct" => {
            return Err(err(format!(
                "{}: symmetric keys are refused (tokens must be signed with a private key)",
                field("kty")
            )));
        }
        other => {
            return Err(err(format!(
                "{}: key type `{other}` is not supported (RSA, EC, OKP)",
                field("kty")
            )));
        }
    };
    Ok(Some(Jwk {
        kid: str_field(v, "kid").map(str::to_owned),
        alg: str_field(v, "alg").map(str::to_owned),
        key,
    }))
}

impl Jwks {
    /// Parses `{"keys":[...]}`. Every signing key must be usable; encryption keys are skipped.
    pub fn from_json(text: &str) -> Result<Jwks, CryptoError> {
        let v: Value =
            serde_json::from_str(text).map_err(|e| err(format!("JWKS is not JSON: {e}")))?;
        let keys = v
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| err("JWKS: `keys` must be an array"))?;
        let mut out = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            if let Some(j) = parse_jwk(i, k)? {
                out.push(j);
            }
        }
        if out.is_empty() {
            return Err(err("JWKS: no signing keys"));
        }
        Ok(Jwks { keys: out })
    }

    /// Verifies the token's signature and returns its claims. Claims are not checked here
    /// (see [`check_claims`]).
    pub fn verify(&self, token: &str) -> Result<Map<String, Value>, CryptoError> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(err("token is not a compact JWS (header.payload.signature)"));
        };
        let header: Value =
            serde_json::from_slice(&b64("header", h)?).map_err(|_| err("header is not JSON"))?;
        let alg = str_field(&header, "alg").ok_or_else(|| err("header.alg is required"))?;
        if header.get("crit").is_some() {
            return Err(err("header.crit: no critical extensions are understood"));
        }
        let kid = str_field(&header, "kid");
        let sig = b64("signature", s)?;
        let signed = &token.as_bytes()[..h.len() + 1 + p.len()];
        let candidates: Vec<&Jwk> = self
            .keys
            .iter()
            .filter(|k| kid.is_none() || k.kid.as_deref() == kid)
            .collect();
        if candidates.is_empty() {
            return Err(err(format!(
                "no key in the JWKS has kid `{}`",
                kid.unwrap_or_default()
            )));
        }
        let mut last = err(format!("no key in the JWKS can verify alg `{alg}`"));
        for k in candidates {
            if k.alg.as_deref().is_some_and(|a| a != alg) {
                last = err(format!(
                    "header.alg `{alg}` differs from the key's `{}`",
                    k.alg.as_deref().unwrap_or_default()
                ));
                continue;
            }
            match verify_with(k, alg, signed, &sig) {
                Ok(()) => {
                    let claims: Value = serde_json::from_slice(&b64("payload", p)?)
                        .map_err(|_| err("payload is not JSON"))?;
                    return match claims {
                        Value::Object(m) => Ok(m),
                        _ => Err(err("payload is not a JSON object")),
                    };
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

fn verify_with(k: &Jwk, alg: &str, msg: &[u8], sig: &[u8]) -> Result<(), CryptoError> {
    let bad = || err("signature does not verify");
    let wrong = || err(format!("alg `{alg}` does not fit the key"));
    match &k.key {
        KeyMaterial::Rsa { n, e } => {
            let params: &signature::RsaParameters = match alg {
                "RS256" => &signature::RSA_PKCS1_2048_8192_SHA256,
                "RS384" => &signature::RSA_PKCS1_2048_8192_SHA384,
                "RS512" => &signature::RSA_PKCS1_2048_8192_SHA512,
                "PS256" => &signature::RSA_PSS_2048_8192_SHA256,
                "PS384" => &signature::RSA_PSS_2048_8192_SHA384,
                "PS512" => &signature::RSA_PSS_2048_8192_SHA512,
                _ => return Err(wrong()),
            };
            RsaPublicKeyComponents {
                n: n.as_slice(),
                e: e.as_slice(),
            }
            .verify(params, msg, sig)
            .map_err(|_| bad())
        }
        KeyMaterial::Ec { crv, point } => {
            let a: &signature::EcdsaVerificationAlgorithm = match (alg, *crv) {
                ("ES256", "P-256") => &signature::ECDSA_P256_SHA256_FIXED,
                ("ES384", "P-384") => &signature::ECDSA_P384_SHA384_FIXED,
                _ => return Err(wrong()),
            };
            UnparsedPublicKey::new(a, point)
                .verify(msg, sig)
                .map_err(|_| bad())
        }
        KeyMaterial::Ed25519(x) => {
            if alg != "EdDSA" {
                return Err(wrong());
            }
            UnparsedPublicKey::new(&signature::ED25519, x)
                .verify(msg, sig)
                .map_err(|_| bad())
        }
    }
}

/// What a token's claims must satisfy.
#[derive(Debug, Clone, Copy)]
pub struct ClaimRules<'a> {
    pub issuer: &'a str,
    /// The token's `aud` must contain one of these.
    pub audiences: &'a [String],
    /// Seconds since the Unix epoch.
    pub now: u64,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`.
    pub leeway: u64,
}

/// Checks `iss`, `aud`, `exp` (required), `nbf` and `iat`.
pub fn check_claims(
    claims: &Map<String, Value>,
    rules: &ClaimRules<'_>,
) -> Result<(), CryptoError> {
    let iss = claims.get("iss").and_then(Value::as_str).unwrap_or("");
    if iss != rules.issuer {
        return Err(err(format!(
            "iss `{iss}` is not the configured issuer `{}`",
            rules.issuer
        )));
    }
    let auds: Vec<&str> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if !auds.iter().any(|a| rules.audiences.iter().any(|x| x == a)) {
        return Err(err(format!(
            "aud {auds:?} names none of the accepted audiences {:?}",
            rules.audiences
        )));
    }
    let num = |k: &str| claims.get(k).and_then(Value::as_f64).map(|f| f as u64);
    let Some(exp) = num("exp") else {
        return Err(err("exp is required"));
    };
    if rules.now >= exp.saturating_add(rules.leeway) {
        return Err(err(format!(
            "the token expired at {exp} (now {})",
            rules.now
        )));
    }
    if let Some(nbf) = num("nbf")
        && rules.now.saturating_add(rules.leeway) < nbf
    {
        return Err(err(format!("the token is not valid before {nbf}")));
    }
    if let Some(iat) = num("iat")
        && rules.now.saturating_add(rules.leeway) < iat
    {
        return Err(err(format!("the token was issued in the future ({iat})")));
    }
    Ok(())
}
