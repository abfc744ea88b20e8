//! Exempt-image patterns (`admissionWhitelistPatterns[].namePattern`) with Binary
//! Authorization's semantics:
//!
//! * `registry/path/image` — that image, any tag or digest;
//! * `registry/path/image:tag` — that tag, only when the image is *not* pinned by digest
//!   (with `name:tag@digest` the digest decides what runs, so a tag exemption cannot be
//!   borrowed by an arbitrary digest);
//! * `registry/path/image@sha256:…` — that digest;
//! * a trailing `*` matches within one path segment (`gcr.io/nginx*` matches
//!   `gcr.io/nginx:latest` and `gcr.io/nginx-ui`, not `gcr.io/nginx/image`);
//! * a trailing `**` also crosses `/`.
//!
//! Wildcards are allowed only at the end, and only after `registry/`, so a pattern is always
//! anchored to one registry host. Patterns are normalised like images (`nginx` →
//! `docker.io/library/nginx`, `index.docker.io` → `docker.io`) so the two spellings match.

use std::fmt;

use crate::PolicyError;
use crate::image::{ImageRef, looks_like_domain};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Repository(String),
    Tagged(String),
    Digest(String),
    Prefix { prefix: String, deep: bool },
}

/// A compiled exempt-image pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExemptPattern {
    raw: String,
    kind: Kind,
}

fn err(pattern: &str, reason: impl Into<String>) -> PolicyError {
    PolicyError::Pattern {
        pattern: pattern.to_owned(),
        reason: reason.into(),
    }
}

impl ExemptPattern {
    pub fn parse(raw: &str) -> Result<Self, PolicyError> {
        if raw.is_empty() {
            return Err(err(raw, "empty pattern"));
        }
        if raw.contains("://") {
            return Err(err(
                raw,
                "a pattern has no URL scheme; write registry/path/image",
            ));
        }
        if raw
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err(err(raw, "contains whitespace"));
        }
        let (body, wildcard) = if let Some(b) = raw.strip_suffix("**") {
            (b, Some(true))
        } else if let Some(b) = raw.strip_suffix('*') {
            (b, Some(false))
        } else {
            (raw, None)
        };
        if body.contains('*') {
            return Err(err(
                raw,
                "wildcards (`*`, `**`) are allowed only at the end of a pattern",
            ));
        }
        match wildcard {
            None => Self::exact(raw),
            Some(deep) => {
                let Some((first, _)) = body.split_once('/') else {
                    return Err(err(raw, "a wildcard is allowed only after `registry/`"));
                };
                if !body.bytes().all(|b| {
                    b.is_ascii_alphanumeric()
                        || matches!(b, b'.' | b'_' | b'-' | b'/' | b':' | b'@' | b'[' | b']')
                }) {
                    return Err(err(
                        raw,
                        "contains characters that cannot appear in an image reference",
                    ));
                }
                if body.contains("//") {
                    return Err(err(raw, "empty path segment"));
                }
                let prefix = if looks_like_domain(first) {
                    let (domain, rest) = body.split_once('/').unwrap_or((body, ""));
                    let domain = if domain == "index.docker.io" {
                        "docker.io"
                    } else {
                        domain
                    };
                    format!("{domain}/{rest}")
                } else {
                    // `team/*` means Docker Hub, as `team/app` would.
                    format!("docker.io/{body}")
                };
                Ok(ExemptPattern {
                    raw: raw.to_owned(),
                    kind: Kind::Prefix { prefix, deep },
                })
            }
        }
    }

    fn exact(raw: &str) -> Result<Self, PolicyError> {
        let image = ImageRef::parse(raw).map_err(|e| match e {
            PolicyError::ImageReference { reason, .. } => err(raw, reason),
            other => other,
        })?;
        let kind = match (image.digest(), image.tag()) {
            (Some(_), _) => Kind::Digest(image.canonical()),
            (None, Some(_)) => Kind::Tagged(image.canonical()),
            (None, None) => Kind::Repository(image.repository()),
        };
        Ok(ExemptPattern {
            raw: raw.to_owned(),
            kind,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    pub fn matches(&self, image: &ImageRef) -> bool {
        self.matches_keys(&MatchKeys::of(image))
    }

    /// Matching against keys computed once per image, so a long pattern list allocates nothing.
    pub(crate) fn matches_keys(&self, k: &MatchKeys) -> bool {
        match &self.kind {
            Kind::Repository(repo) => k.repository == *repo,
            Kind::Tagged(canonical) => !k.has_digest && k.canonical == *canonical,
            Kind::Digest(canonical) => k.has_digest && k.canonical == *canonical,
            Kind::Prefix { prefix, deep } => match k.canonical.strip_prefix(prefix.as_str()) {
                Some(rest) => *deep || !rest.contains('/'),
                None => false,
            },
        }
    }
}

/// The strings a pattern is matched against.
#[derive(Debug)]
pub(crate) struct MatchKeys {
    repository: String,
    canonical: String,
    has_digest: bool,
}

impl MatchKeys {
    pub(crate) fn of(image: &ImageRef) -> Self {
        MatchKeys {
            repository: image.repository(),
            canonical: image.canonical(),
            has_digest: image.digest().is_some(),
        }
    }
}

impl fmt::Display for ExemptPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const D: &str = "sha256:77b0b75136b9bd0fd36fb50f4c92ae0dbdbbe164ab67885e736fa4374e0cbb8c";
    const E: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    fn m(pattern: &str, image: &str) -> bool {
        let p = ExemptPattern::parse(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
        let i = ImageRef::parse(image).unwrap_or_else(|e| panic!("{image}: {e}"));
        p.matches(&i)
    }

    // Seed 004's allowlist examples, and the API reference's `*`/`**` examples.
    #[rstest]
    #[case::dir_star_direct_child(
        "gcr.io/example-project/*",
        "gcr.io/example-project/helloworld",
        true
    )]
    #[case::dir_star_with_tag(
        "gcr.io/example-project/*",
        "gcr.io/example-project/helloworld:v2",
        true
    )]
    #[case::dir_star_not_deeper(
        "gcr.io/example-project/*",
        "gcr.io/example-project/team/helloworld",
        false
    )]
    #[case::specific_image_any_tag(
        "gcr.io/example-project/helloworld",
        "gcr.io/example-project/helloworld:anything",
        true
    )]
    #[case::specific_image_digest("gcr.io/example-project/helloworld", &format!("gcr.io/example-project/helloworld@{D}"), true)]
    #[case::specific_image_not_prefix(
        "gcr.io/example-project/helloworld",
        "gcr.io/example-project/helloworld2",
        false
    )]
    #[case::tag_latest(
        "gcr.io/example-project/helloworld:latest",
        "gcr.io/example-project/helloworld:latest",
        true
    )]
    #[case::tag_implicit_latest(
        "gcr.io/example-project/helloworld:latest",
        "gcr.io/example-project/helloworld",
        true
    )]
    #[case::tag_my_tag(
        "gcr.io/example-project/helloworld:my-tag",
        "gcr.io/example-project/helloworld:my-tag",
        true
    )]
    #[case::tag_other_tag(
        "gcr.io/example-project/helloworld:my-tag",
        "gcr.io/example-project/helloworld:latest",
        false
    )]
    #[case::tag_cannot_be_borrowed_by_digest("gcr.io/example-project/helloworld:latest", &format!("gcr.io/example-project/helloworld:latest@{E}"), false)]
    #[case::digest_exact(&format!("gcr.io/example-project/helloworld@{D}"), &format!("gcr.io/example-project/helloworld@{D}"), true)]
    #[case::digest_with_decorative_tag(&format!("gcr.io/example-project/helloworld@{D}"), &format!("gcr.io/example-project/helloworld:v1@{D}"), true)]
    #[case::digest_other(&format!("gcr.io/example-project/helloworld@{D}"), &format!("gcr.io/example-project/helloworld@{E}"), false)]
    #[case::digest_needs_digest(&format!("gcr.io/example-project/helloworld@{D}"), "gcr.io/example-project/helloworld:latest", false)]
    #[case::api_star_matches_tag("gcr.io/nginx*", "gcr.io/nginx:latest", true)]
    #[case::api_star_prefix_segment("gcr.io/nginx*", "gcr.io/nginx-ui", true)]
    #[case::api_star_not_subdir("gcr.io/nginx*", "gcr.io/nginx/image", false)]
    #[case::api_double_star_subdir("gcr.io/nginx**", "gcr.io/nginx/image", true)]
    #[case::double_star_deep("gcr.io/example-project/**", "gcr.io/example-project/a/b/c:v1", true)]
    #[case::star_tag_prefix("gcr.io/p/app:v1*", "gcr.io/p/app:v1.2.3", true)]
    #[case::star_tag_prefix_not_digest("gcr.io/p/app:v1*", &format!("gcr.io/p/app:v1@{E}"), false)]
    #[case::hub_short_pattern_long_image("nginx", "docker.io/library/nginx:1.25", true)]
    #[case::hub_long_pattern_short_image("docker.io/library/nginx", "nginx", true)]
    #[case::hub_index_alias("index.docker.io/library/nginx", "nginx:1", true)]
    #[case::hub_user_star("bitnami/*", "bitnami/redis:7", true)]
    fn documented_examples(#[case] pattern: &str, #[case] image: &str, #[case] want: bool) {
        assert_eq!(m(pattern, image), want, "{pattern} vs {image}");
    }

    // A pattern must never match another registry host or a deeper path than it allows.
    #[rstest]
    #[case::host_suffix("gcr.io/p/*", "gcr.io.evil.com/p/app")]
    #[case::host_prefix("gcr.io/p/*", "evilgcr.io/p/app")]
    #[case::other_port("localhost:5000/*", "localhost:5001/app")]
    #[case::port_added("gcr.io/p/*", "gcr.io:443/p/app")]
    #[case::hub_vs_other("nginx", "gcr.io/library/nginx")]
    #[case::regional("gcr.io/p/**", "us.gcr.io/p/app")]
    #[case::deeper("gcr.io/p/*", "gcr.io/p/a/b")]
    #[case::star_suffix_of_project("gcr.io/p*", "gcr.io/p/app")]
    fn anchored_to_host_and_depth(#[case] pattern: &str, #[case] image: &str) {
        assert!(!m(pattern, image), "{pattern} must not match {image}");
    }

    #[rstest]
    #[case::wildcard_middle("gcr.io/my-project/n*x", "only at the end")]
    #[case::wildcard_in_host("gcr.i*", "after `registry/`")]
    #[case::wildcard_whole("*", "after `registry/`")]
    #[case::wildcard_host_star("*.gcr.io/p", "only at the end")]
    #[case::triple_star("gcr.io/***", "only at the end")]
    #[case::scheme("https://gcr.io/p/*", "scheme")]
    #[case::upper("gcr.io/p/App", "lower-case")]
    #[case::empty("", "empty")]
    fn invalid_patterns_say_why(#[case] pattern: &str, #[case] reason: &str) {
        let e = ExemptPattern::parse(pattern)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains(reason), "{pattern}: {e}");
    }
}
