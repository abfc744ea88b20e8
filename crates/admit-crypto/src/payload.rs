//! The simple-signing payload that attestations sign:
//! `{"critical":{"identity":{"docker-reference":…},"image":{"docker-manifest-digest":…},"type":…}}`.

use crate::CryptoError;

/// The type string Binary Authorization writes.
pub const BINAUTHZ_SIGNATURE_TYPE: &str = "Google cloud binauthz container signature";
/// The containers/image "atomic container signature" that Kritis and `gpg --sign` flows use.
pub const ATOMIC_SIGNATURE_TYPE: &str = "atomic container signature";
/// The type cosign writes into the same payload shape.
pub const COSIGN_SIGNATURE_TYPE: &str = "cosign container image signature";

/// A parsed simple-signing payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimpleSigning {
    pub docker_reference: String,
    pub manifest_digest: String,
    pub signature_type: String,
}

fn field<'a>(
    v: &'a serde_json::Value,
    path: &'static str,
) -> Result<&'a serde_json::Value, CryptoError> {
    path.split('.')
        .try_fold(v, |node, key| node.get(key))
        .ok_or_else(|| CryptoError::Payload {
            field: path,
            reason: "missing".into(),
        })
}

fn string_field(v: &serde_json::Value, path: &'static str) -> Result<String, CryptoError> {
    field(v, path)?
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| CryptoError::Payload {
            field: path,
            reason: "must be a string".into(),
        })
}

impl SimpleSigning {
    /// Parses and checks the payload's shape and type. Binding to an image is the engine's job.
    pub fn parse(bytes: &[u8]) -> Result<Self, CryptoError> {
        let v: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| CryptoError::Payload {
                field: "(document)",
                reason: format!("not JSON: {e}"),
            })?;
        let docker_reference = string_field(&v, "critical.identity.docker-reference")?;
        let manifest_digest = string_field(&v, "critical.image.docker-manifest-digest")?;
        let signature_type = string_field(&v, "critical.type")?;
        if ![
            BINAUTHZ_SIGNATURE_TYPE,
            ATOMIC_SIGNATURE_TYPE,
            COSIGN_SIGNATURE_TYPE,
        ]
        .contains(&signature_type.as_str())
        {
            return Err(CryptoError::Payload {
                field: "critical.type",
                reason: format!("unsupported signature type `{signature_type}`"),
            });
        }
        Ok(SimpleSigning {
            docker_reference,
            manifest_digest,
            signature_type,
        })
    }
}

/// Python's `json.dumps(s, ensure_ascii=True)` for one string.
fn py_json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn is_sha256_digest(d: &str) -> bool {
    d.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// What `gcloud container binauthz create-signature-payload --artifact-url URL` prints, byte
/// for byte: the scheme is stripped, the URL must be a digest reference, a `:tag` before the
/// `@` is dropped, and the JSON is `json.dumps(indent=2, sort_keys=True)` plus a newline.
pub fn create_signature_payload(artifact_url: &str) -> Result<String, CryptoError> {
    let err = |reason: &str| CryptoError::ArtifactUrl {
        url: artifact_url.to_owned(),
        reason: reason.to_owned(),
    };
    let without_scheme = match artifact_url.split_once("://") {
        Some((_, rest)) => rest,
        None => artifact_url,
    };
    let (name, digest) = without_scheme
        .rsplit_once('@')
        .ok_or_else(|| err("must be a digest reference: REGISTRY/REPOSITORY@sha256:<64 hex>"))?;
    if !is_sha256_digest(digest) {
        return Err(err(
            "the digest must be `sha256:` followed by 64 lower-case hex digits",
        ));
    }
    // A tag may only sit in the last path segment (a `:` earlier is a registry port).
    let repository = match name.rfind('/') {
        Some(slash) => match name[slash..].find(':') {
            Some(colon) => &name[..slash + colon],
            None => name,
        },
        None => name.split(':').next().unwrap_or(name),
    };
    if repository.is_empty()
        || repository.ends_with('/')
        || repository.contains(char::is_whitespace)
    {
        return Err(err("the repository name is empty or malformed"));
    }
    Ok(format!(
        "{{\n  \"critical\": {{\n    \"identity\": {{\n      \"docker-reference\": {}\n    }},\n    \"image\": {{\n      \"docker-manifest-digest\": {}\n    }},\n    \"type\": {}\n  }}\n}}\n",
        py_json_string(repository),
        py_json_string(digest),
        py_json_string(BINAUTHZ_SIGNATURE_TYPE),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const D: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    #[test]
    fn matches_the_contract_example_byte_for_byte() {
        let want = format!(
            "{{\n  \"critical\": {{\n    \"identity\": {{\n      \"docker-reference\": \"gcr.io/example-project/example-image\"\n    }},\n    \"image\": {{\n      \"docker-manifest-digest\": \"{D}\"\n    }},\n    \"type\": \"Google cloud binauthz container signature\"\n  }}\n}}\n"
        );
        let got = create_signature_payload(&format!(
            "https://gcr.io/example-project/example-image:v1@{D}"
        ));
        assert_eq!(got.ok(), Some(want));
    }

    #[rstest]
    #[case::short_digest("gcr.io/p/i@sha256:abcd")]
    #[case::tag_only("gcr.io/p/i:latest")]
    #[case::bare_digest("sha256:abcd")]
    #[case::upper_hex(
        "gcr.io/p/i@sha256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    )]
    fn non_digest_references_are_rejected(#[case] url: &str) {
        assert!(create_signature_payload(url).is_err(), "{url}");
    }

    #[test]
    fn registry_port_is_not_mistaken_for_a_tag() {
        let p =
            create_signature_payload(&format!("localhost:5000/team/app@{D}")).unwrap_or_default();
        assert!(p.contains("\"localhost:5000/team/app\""), "{p}");
    }

    #[test]
    fn payload_round_trips_through_the_parser() {
        let p = create_signature_payload(&format!("gcr.io/p/i@{D}")).unwrap_or_default();
        let s = SimpleSigning::parse(p.as_bytes()).ok();
        assert_eq!(
            s,
            Some(SimpleSigning {
                docker_reference: "gcr.io/p/i".into(),
                manifest_digest: D.into(),
                signature_type: BINAUTHZ_SIGNATURE_TYPE.into(),
            })
        );
    }

    #[test]
    fn atomic_signature_from_seed_001_parses() {
        let payload = format!(
            "{{\n  \"critical\": {{\n      \"type\": \"atomic container signature\",\n      \"image\": {{\n       \"docker-manifest-digest\": \"{D}\"\n  }},\n      \"identity\": {{\n          \"docker-reference\": \"eu.gcr.io/proj/alpine\"\n}}}}}}\n"
        );
        let s = SimpleSigning::parse(payload.as_bytes());
        assert_eq!(
            s.map(|s| s.signature_type).ok().as_deref(),
            Some(ATOMIC_SIGNATURE_TYPE)
        );
    }

    #[rstest]
    #[case::not_json(b"nope".as_slice(), "(document)")]
    #[case::missing_digest(br#"{"critical":{"identity":{"docker-reference":"a"},"type":"atomic container signature"}}"#.as_slice(), "critical.image.docker-manifest-digest")]
    #[case::wrong_type(br#"{"critical":{"identity":{"docker-reference":"a"},"image":{"docker-manifest-digest":"x"},"type":"something else"}}"#.as_slice(), "critical.type")]
    fn bad_payloads_name_the_field(#[case] payload: &[u8], #[case] field: &str) {
        let err = SimpleSigning::parse(payload)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains(field), "{err}");
    }
}
