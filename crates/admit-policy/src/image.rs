//! Container image references, parsed and normalised as container runtimes do
//! (the distribution/reference grammar plus Docker's normalisation):
//! `nginx` → `docker.io/library/nginx:latest`, `index.docker.io` → `docker.io`,
//! `host:port/path`, `:tag`, `@sha256:…`. In `name:tag@digest` the digest decides what runs,
//! so the tag is kept only for display. Anything a runtime would refuse is refused here.

use std::fmt;

use crate::PolicyError;

/// Docker Hub's canonical registry name.
pub const DOCKER_HUB: &str = "docker.io";
const MAX_NAME_LEN: usize = 255;

/// A parsed, normalised image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

fn err(input: &str, reason: impl Into<String>) -> PolicyError {
    PolicyError::ImageReference {
        image: input.to_owned(),
        reason: reason.into(),
    }
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !is_alnum_lower(b[0]) || !is_alnum_lower(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum_lower(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: ".", "_", "__" or one or more "-".
        let start = i;
        while i < b.len() && !is_alnum_lower(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_alnum_lower(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// A registry host: DNS labels (letters allowed in any case), an IPv4 address, or `[ipv6]`,
/// with an optional numeric port.
fn valid_domain(d: &str) -> bool {
    let valid_port =
        |p: &str| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit());
    if let Some(rest) = d.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return false;
        };
        let v6_ok = !v6.is_empty() && v6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':');
        return v6_ok && (after.is_empty() || after.strip_prefix(':').is_some_and(valid_port));
    }
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (d, None),
    };
    port.is_none_or(valid_port)
        && !host.is_empty()
        && host.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|&x| x.is_ascii_alphanumeric() || x == b'-')
        })
}

/// `[\w][\w.-]{0,127}`
fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|&x| x.is_ascii_alphanumeric() || matches!(x, b'_' | b'.' | b'-'))
}

/// `sha256:<64 hex>`, `sha384:<96 hex>` or `sha512:<128 hex>`, lower-case.
fn valid_digest(d: &str) -> Result<(), String> {
    let Some((alg, hex)) = d.split_once(':') else {
        return Err("digest must be ALGORITHM:HEX".into());
    };
    let want = match alg {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return Err(format!("unsupported digest algorithm `{alg}`")),
    };
    if hex.len() != want
        || !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(format!(
            "{alg} digest must be {want} lower-case hex characters"
        ));
    }
    Ok(())
}

/// Whether the first path component of a reference names a registry (Docker's rule).
pub(crate) fn looks_like_domain(first: &str) -> bool {
    first.contains(['.', ':'])
        || first == "localhost"
        || first.bytes().any(|b| b.is_ascii_uppercase())
}

/// Splits `name` into (domain, path) with Docker Hub normalisation applied.
pub(crate) fn split_domain(name: &str) -> (String, String) {
    match name.split_once('/') {
        Some((first, rest)) if looks_like_domain(first) => {
            let domain = if first == "index.docker.io" {
                DOCKER_HUB
            } else {
                first
            };
            let path = if domain == DOCKER_HUB && !rest.contains('/') {
                format!("library/{rest}")
            } else {
                rest.to_owned()
            };
            (domain.to_owned(), path)
        }
        Some(_) => (DOCKER_HUB.to_owned(), name.to_owned()),
        None => (DOCKER_HUB.to_owned(), format!("library/{name}")),
    }
}

impl ImageRef {
    /// Parses a reference as written in a pod spec.
    pub fn parse(input: &str) -> Result<Self, PolicyError> {
        if input.is_empty() {
            return Err(err(input, "empty image reference"));
        }
        if input
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err(err(input, "contains whitespace or control characters"));
        }
        if input.contains("://") {
            return Err(err(input, "an image reference has no URL scheme"));
        }
        let (name_tag, digest) = match input.split_once('@') {
            Some((n, d)) => {
                valid_digest(d).map_err(|r| err(input, r))?;
                (n, Some(d.to_owned()))
            }
            None => (input, None),
        };
        let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name_tag[last_slash..].find(':') {
            Some(i) => {
                let t = &name_tag[last_slash + i + 1..];
                if !valid_tag(t) {
                    return Err(err(input, format!("invalid tag `{t}`")));
                }
                (&name_tag[..last_slash + i], Some(t.to_owned()))
            }
            None => (name_tag, None),
        };
        if name.is_empty() {
            return Err(err(input, "missing repository name"));
        }
        let (domain, path) = split_domain(name);
        if !valid_domain(&domain) {
            return Err(err(input, format!("invalid registry host `{domain}`")));
        }
        if let Some(bad) = path.split('/').find(|c| !valid_path_component(c)) {
            let reason = if bad.bytes().any(|b| b.is_ascii_uppercase()) {
                format!("repository name component `{bad}` must be lower-case")
            } else {
                format!("invalid repository name component `{bad}`")
            };
            return Err(err(input, reason));
        }
        if domain.len() + 1 + path.len() > MAX_NAME_LEN {
            return Err(err(input, "repository name longer than 255 characters"));
        }
        Ok(ImageRef {
            domain,
            path,
            tag,
            digest,
        })
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// `domain/path`, without tag or digest.
    pub fn repository(&self) -> String {
        self.repository_with(0)
    }

    /// `domain/path` in a String with room for `extra` more bytes (no formatting machinery:
    /// admission builds these for every check).
    fn repository_with(&self, extra: usize) -> String {
        let mut s = String::with_capacity(self.domain.len() + 1 + self.path.len() + extra);
        s.push_str(&self.domain);
        s.push('/');
        s.push_str(&self.path);
        s
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// What a runtime pulls: `repo@digest` when a digest is present (the tag is ignored),
    /// otherwise `repo:tag` with the implicit `latest`.
    pub fn canonical(&self) -> String {
        let (sep, rest) = match (&self.digest, &self.tag) {
            (Some(d), _) => ('@', d.as_str()),
            (None, Some(t)) => (':', t.as_str()),
            (None, None) => (':', "latest"),
        };
        let mut s = self.repository_with(1 + rest.len());
        s.push(sep);
        s.push_str(rest);
        s
    }
}

impl fmt::Display for ImageRef {
    /// The fully-qualified reference, tag and digest both kept.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.repository())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[rstest]
    #[case::official_short("nginx", "docker.io/library/nginx:latest")]
    #[case::official_tag("nginx:1.25", "docker.io/library/nginx:1.25")]
    #[case::official_explicit("docker.io/library/nginx", "docker.io/library/nginx:latest")]
    #[case::index_alias("index.docker.io/library/nginx", "docker.io/library/nginx:latest")]
    #[case::hub_single_under_domain("docker.io/nginx", "docker.io/library/nginx:latest")]
    #[case::hub_user("bitnami/redis:7", "docker.io/bitnami/redis:7")]
    #[case::gcr("gcr.io/my-proj/app:v1", "gcr.io/my-proj/app:v1")]
    #[case::port("localhost:5000/team/app", "localhost:5000/team/app:latest")]
    #[case::port_tag("registry.local:5000/app:2.0", "registry.local:5000/app:2.0")]
    #[case::localhost_no_port("localhost/app", "localhost/app:latest")]
    #[case::digest(&format!("gcr.io/p/app@{D}"), &format!("gcr.io/p/app@{D}"))]
    #[case::tag_and_digest_digest_decides(&format!("gcr.io/p/app:v1@{D}"), &format!("gcr.io/p/app@{D}"))]
    #[case::separators("quay.io/a.b/c__d/e-f--g/h_i", "quay.io/a.b/c__d/e-f--g/h_i:latest")]
    #[case::ipv6("[::1]:5000/app", "[::1]:5000/app:latest")]
    #[case::upper_domain("Registry.Example.com/app", "Registry.Example.com/app:latest")]
    fn normalises_as_runtimes_do(#[case] input: &str, #[case] canonical: &str) {
        assert_eq!(
            ImageRef::parse(input)
                .map(|r| r.canonical())
                .ok()
                .as_deref(),
            Some(canonical)
        );
    }

    #[rstest]
    #[case::empty("")]
    #[case::upper_repo("gcr.io/p/MyApp")]
    #[case::upper_hub("Nginx")]
    #[case::scheme("https://gcr.io/p/app")]
    #[case::space("gcr.io/p/app ")]
    #[case::short_digest("gcr.io/p/app@sha256:abc")]
    #[case::upper_digest(
        "gcr.io/p/app@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"
    )]
    #[case::unknown_digest_alg("gcr.io/p/app@md5:0123456789abcdef0123456789abcdef")]
    #[case::bad_tag("gcr.io/p/app:-bad")]
    #[case::long_tag(&format!("gcr.io/p/app:{}", "a".repeat(129)))]
    #[case::double_slash("gcr.io//app")]
    #[case::trailing_slash("gcr.io/p/")]
    #[case::bad_separator("gcr.io/p/a..b")]
    #[case::leading_dash("gcr.io/p/-a")]
    #[case::bad_port("gcr.io:port/app")]
    #[case::only_tag(":latest")]
    fn rejects_what_a_runtime_rejects(#[case] input: &str) {
        assert!(
            ImageRef::parse(input).is_err(),
            "{input} should be rejected"
        );
    }

    #[test]
    fn too_long_name_is_rejected() {
        let name = format!("gcr.io/{}", "a".repeat(250));
        assert!(ImageRef::parse(&name).is_err());
    }
}
