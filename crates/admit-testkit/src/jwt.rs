//! JSON Web Keys and JWTs for the authentication tests, signed by `openssl` (so our verifier is
//! checked against an independent signer).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::{OpensslKey, SigMode, openssl};

fn b64(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

impl OpensslKey {
    /// The public key as a JWK with `kid`.
    pub fn jwk(&self, kid: &str) -> Value {
        let der = self.public_der();
        match self.kind {
            "p256" => ec_jwk(kid, "P-256", &der[der.len() - 64..]),
            "p384" => ec_jwk(kid, "P-384", &der[der.len() - 96..]),
            "ed25519" => {
                json!({"kty":"OKP","crv":"Ed25519","kid":kid,"x":b64(&der[der.len()-32..])})
            }
            k if k.starts_with("rsa") => {
                let pub_path = self.private_key_path().with_file_name("pub.pem");
                let out = String::from_utf8(openssl(&[
                    "rsa",
                    "-pubin",
                    "-in",
                    pub_path.to_str().expect("utf8"),
                    "-noout",
                    "-modulus",
                ]))
                .expect("utf8");
                let n = hex(out.trim().trim_start_matches("Modulus="));
                json!({"kty":"RSA","kid":kid,"n":b64(&n),"e":b64(&[1,0,1])})
            }
            other => panic!("no JWK for {other}"),
        }
    }

    /// A compact JWS over `claims` with header `{alg, kid, typ: JWT}`.
    pub fn jwt(&self, kid: &str, alg: &str, claims: &Value) -> String {
        let header = json!({"alg": alg, "kid": kid, "typ": "JWT"});
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let sig = match alg {
            "RS256" => self.sign(SigMode::Dgst("sha256"), input.as_bytes()),
            "PS256" => self.sign(SigMode::Pss("sha256"), input.as_bytes()),
            "ES256" => der_to_fixed(&self.sign(SigMode::Dgst("sha256"), input.as_bytes()), 32),
            "ES384" => der_to_fixed(&self.sign(SigMode::Dgst("sha384"), input.as_bytes()), 48),
            "EdDSA" => self.sign(SigMode::Raw, input.as_bytes()),
            other => panic!("no signer for {other}"),
        };
        format!("{input}.{}", b64(&sig))
    }
}

fn ec_jwk(kid: &str, crv: &str, xy: &[u8]) -> Value {
    let (x, y) = xy.split_at(xy.len() / 2);
    json!({"kty":"EC","crv":crv,"kid":kid,"x":b64(x),"y":b64(y)})
}

/// ECDSA `SEQUENCE { INTEGER r, INTEGER s }` → `r || s`, each `n` bytes.
fn der_to_fixed(der: &[u8], n: usize) -> Vec<u8> {
    let mut i = 2;
    if der[1] & 0x80 != 0 {
        i += usize::from(der[1] & 0x7f);
    }
    let mut out = Vec::with_capacity(2 * n);
    for _ in 0..2 {
        assert_eq!(der[i], 0x02, "INTEGER");
        let len = usize::from(der[i + 1]);
        let v = &der[i + 2..i + 2 + len];
        let v = &v[v.iter().take_while(|b| **b == 0).count()..];
        out.extend(std::iter::repeat_n(0u8, n - v.len()));
        out.extend_from_slice(v);
        i += 2 + len;
    }
    out
}
