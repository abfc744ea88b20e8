//! Resource names, parsed once at the edge.

use std::fmt;

use crate::ModelError;

/// A project id: lower-case letters, digits, `-`, optionally domain-scoped (`example.com:proj`).
/// Google requires 6–30 characters; self-hosted fleets use short names, so only the
/// character set and a 1–100 length are enforced.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProjectId(String);

impl ProjectId {
    pub fn parse(s: &str) -> Result<Self, ModelError> {
        let (domain, id) = match s.rsplit_once(':') {
            Some((d, id)) => (Some(d), id),
            None => (None, s),
        };
        let id_ok = !id.is_empty()
            && id.len() <= 100
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && id.as_bytes()[0].is_ascii_alphanumeric();
        let domain_ok = domain.is_none_or(|d| {
            !d.is_empty()
                && d.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        });
        if id_ok && domain_ok {
            Ok(ProjectId(s.to_owned()))
        } else {
            Err(ModelError::ResourceName {
                kind: "project",
                value: s.to_owned(),
                pattern: "[a-z0-9][a-z0-9-]* (optionally domain:)",
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn valid_leaf_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

macro_rules! project_child_name {
    ($(#[$meta:meta])* $name:ident, $kind:literal, $collection:literal, $field:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name {
            pub project: ProjectId,
            pub $field: String,
        }

        impl $name {
            pub const PATTERN: &'static str = concat!("projects/*/", $collection, "/*");

            pub fn parse(s: &str) -> Result<Self, ModelError> {
                let err = || ModelError::ResourceName {
                    kind: $kind,
                    value: s.to_owned(),
                    pattern: Self::PATTERN,
                };
                let mut parts = s.split('/');
                match (parts.next(), parts.next(), parts.next(), parts.next(), parts.next()) {
                    (Some("projects"), Some(p), Some($collection), Some(id), None) if valid_leaf_id(id) => {
                        Ok($name { project: ProjectId::parse(p).map_err(|_| err())?, $field: id.to_owned() })
                    }
                    _ => Err(err()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!("projects/{}/", $collection, "/{}"), self.project, self.$field)
            }
        }

        impl std::str::FromStr for $name {
            type Err = ModelError;
            fn from_str(s: &str) -> Result<Self, ModelError> {
                $name::parse(s)
            }
        }
    };
}

project_child_name!(
    /// `projects/{project}/attestors/{attestor}`.
    AttestorName, "attestor", "attestors", attestor
);
project_child_name!(
    /// `projects/{project}/notes/{note}`.
    NoteName, "note", "notes", note
);

/// `projects/{project}/policy`: a project's one policy.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PolicyName {
    pub project: ProjectId,
}

impl PolicyName {
    pub const PATTERN: &'static str = "projects/*/policy";

    pub fn parse(s: &str) -> Result<Self, ModelError> {
        let err = || ModelError::ResourceName {
            kind: "policy",
            value: s.to_owned(),
            pattern: Self::PATTERN,
        };
        match s
            .strip_prefix("projects/")
            .and_then(|r| r.strip_suffix("/policy"))
        {
            Some(p) => Ok(PolicyName {
                project: ProjectId::parse(p).map_err(|_| err())?,
            }),
            None => Err(err()),
        }
    }

    /// The policy of `project`.
    pub fn of(project: ProjectId) -> Self {
        PolicyName { project }
    }
}

impl fmt::Display for PolicyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "projects/{}/policy", self.project)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::plain("projects/my-proj/attestors/built-by-ci")]
    #[case::domain_scoped("projects/example.com:my-proj/attestors/qa")]
    fn attestor_names_round_trip(#[case] s: &str) {
        assert_eq!(
            AttestorName::parse(s)
                .map(|n| n.to_string())
                .ok()
                .as_deref(),
            Some(s)
        );
    }

    #[rstest]
    #[case::bare_id("built-by-ci")]
    #[case::wrong_collection("projects/p/notes/n")]
    #[case::trailing_segment("projects/p/attestors/a/keys")]
    #[case::empty_id("projects/p/attestors/")]
    #[case::upper_project("projects/Proj/attestors/a")]
    #[case::wildcard("projects/*/attestors/*")]
    fn bad_attestor_names_are_rejected(#[case] s: &str) {
        let err = AttestorName::parse(s)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("projects/*/attestors/*"), "{s}: {err}");
    }

    #[rstest]
    #[case::plain("projects/my-proj/policy")]
    #[case::domain_scoped("projects/example.com:my-proj/policy")]
    fn policy_names_round_trip(#[case] s: &str) {
        assert_eq!(
            PolicyName::parse(s).map(|n| n.to_string()).ok().as_deref(),
            Some(s)
        );
    }

    #[rstest]
    #[case::no_project("projects//policy")]
    #[case::attestor("projects/p/attestors/a")]
    #[case::trailing("projects/p/policy/x")]
    #[case::upper("projects/P/policy")]
    fn bad_policy_names_are_rejected(#[case] s: &str) {
        let err = PolicyName::parse(s)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("projects/*/policy"), "{s}: {err}");
    }
}
