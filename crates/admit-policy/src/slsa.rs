//! SLSA provenance, as platform policies' `slsaCheck` judges it: an in-toto statement (v0.1 or
//! v1) whose subject is the admitted digest and whose predicate is SLSA provenance v0.2 or v1;
//! the builder that produced it, the repository its top-level build configuration came from
//! and the source repositories it names, checked against a `VerificationRule`
//! (`trustedBuilder`, `trustedSourceRepoPatterns`, `configBasedBuildRequired`). Who signed the
//! provenance is the caller's check (the envelope's signature); this module reads the payload.

use serde_json::Value;

pub const SLSA_PROVENANCE_V02: &str = "https://slsa.dev/provenance/v0.2";
pub const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";
/// The builder id of Cloud Build's hosted workers (`GOOGLE_CLOUD_BUILD`), a prefix: versions
/// follow an `@`.
pub const GOOGLE_CLOUD_BUILD_ID: &str = "https://cloudbuild.googleapis.com/GoogleHostedWorker";

/// What a provenance statement says about a build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    pub predicate_type: String,
    pub builder_id: String,
    /// The repository (scheme-less) and path or entry point of the top-level build
    /// configuration, when the build was config-based.
    pub config_source: Option<(String, String)>,
    /// Every source repository the provenance names (scheme-less), the configuration's first.
    pub source_repos: Vec<String>,
}

/// `git+https://github.com/org/repo.git@refs/heads/main` → `github.com/org/repo`.
pub fn normalize_repo(uri: &str) -> String {
    let s = uri.trim().trim_start_matches("git+");
    let s = s.split_once("://").map_or(s, |(_, rest)| rest);
    let s = s.split_once('@').map_or(s, |(repo, _)| repo);
    let s = s.split_once('#').map_or(s, |(repo, _)| repo);
    s.trim_end_matches('/').trim_end_matches(".git").to_owned()
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(v, |v, k| v.get(*k))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Reads a DSSE payload as SLSA provenance about `digest` (`sha256:HEX`).
pub fn read_provenance(
    payload_type: &str,
    payload: &[u8],
    digest: &str,
) -> Result<Provenance, String> {
    if payload_type != "application/vnd.in-toto+json" {
        return Err(format!(
            "the payload is `{payload_type}`, not an in-toto statement"
        ));
    }
    let st: Value =
        serde_json::from_slice(payload).map_err(|e| format!("the statement is not JSON: {e}"))?;
    let kind = st["_type"].as_str().unwrap_or_default();
    if !matches!(
        kind,
        "https://in-toto.io/Statement/v0.1" | "https://in-toto.io/Statement/v1"
    ) {
        return Err(format!("`_type` `{kind}` is not an in-toto statement"));
    }
    let (alg, hex) = digest.split_once(':').unwrap_or(("sha256", digest));
    let about = st["subject"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|s| s["digest"][alg].as_str() == Some(hex));
    if !about {
        return Err(format!("the statement's subject is not {digest}"));
    }
    let predicate_type = st["predicateType"].as_str().unwrap_or_default().to_owned();
    let p = &st["predicate"];
    let (builder_id, config_source, mut repos) = match predicate_type.as_str() {
        SLSA_PROVENANCE_V02 => {
            let config = str_at(p, &["invocation", "configSource", "uri"]).map(|uri| {
                (
                    normalize_repo(uri),
                    str_at(p, &["invocation", "configSource", "entryPoint"])
                        .unwrap_or_default()
                        .to_owned(),
                )
            });
            let materials: Vec<String> = p["materials"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| m["uri"].as_str())
                .map(normalize_repo)
                .collect();
            (str_at(p, &["builder", "id"]), config, materials)
        }
        SLSA_PROVENANCE_V1 => {
            let ext = &p["buildDefinition"]["externalParameters"];
            // Cloud Build (`buildConfigSource`), GitHub Actions (`workflow`), GitLab CI
            // (`source` + `entryPoint`).
            let config = [
                ("buildConfigSource", "repository", "path"),
                ("workflow", "repository", "path"),
            ]
            .iter()
            .find_map(|(obj, repo, path)| {
                Some((
                    normalize_repo(str_at(ext, &[obj, repo])?),
                    str_at(ext, &[obj, path]).unwrap_or_default().to_owned(),
                ))
            })
            .or_else(|| {
                Some((
                    normalize_repo(str_at(ext, &["source"])?),
                    str_at(ext, &["entryPoint"])?.to_owned(),
                ))
            });
            let mut repos: Vec<String> = str_at(ext, &["sourceToBuild", "repository"])
                .map(normalize_repo)
                .into_iter()
                .collect();
            repos.extend(
                p["buildDefinition"]["resolvedDependencies"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|d| d["uri"].as_str())
                    .map(normalize_repo),
            );
            (str_at(p, &["runDetails", "builder", "id"]), config, repos)
        }
        other => {
            return Err(format!(
                "predicateType `{other}` is not SLSA provenance ({SLSA_PROVENANCE_V02} or {SLSA_PROVENANCE_V1})"
            ));
        }
    };
    let Some(builder_id) = builder_id else {
        return Err("the provenance names no builder".into());
    };
    if let Some((repo, _)) = &config_source {
        repos.insert(0, repo.clone());
    }
    repos.dedup();
    Ok(Provenance {
        predicate_type,
        builder_id: builder_id.to_owned(),
        config_source,
        source_repos: repos,
    })
}

/// Checks a `trustedSourceRepoPatterns` entry: no scheme, `*` only as a trailing `/*` or `/**`.
pub fn check_repo_pattern(p: &str) -> Result<(), String> {
    if p.is_empty() {
        return Err("must not be empty".into());
    }
    if p.contains("://") {
        return Err(format!("`{p}` must not include a scheme"));
    }
    let stem = p
        .strip_suffix("/**")
        .or_else(|| p.strip_suffix("/*"))
        .unwrap_or(p);
    if stem.contains('*') {
        return Err(format!(
            "`{p}`: `*` may only end the pattern, as `/*` or `/**`"
        ));
    }
    Ok(())
}

/// Whether scheme-less `repo` matches `pattern`: exactly, `/*` one more path segment, `/**`
/// any number.
pub fn repo_matches(pattern: &str, repo: &str) -> bool {
    if let Some(stem) = pattern.strip_suffix("/**") {
        return repo
            .strip_prefix(stem)
            .is_some_and(|rest| rest.starts_with('/') && rest.len() > 1);
    }
    if let Some(stem) = pattern.strip_suffix("/*") {
        return repo.strip_prefix(stem).is_some_and(|rest| {
            rest.strip_prefix('/')
                .is_some_and(|seg| !seg.is_empty() && !seg.contains('/'))
        });
    }
    pattern == repo
}

/// What a rule asks of the provenance itself.
#[derive(Debug, Clone)]
pub struct SlsaRequirements<'a> {
    /// The builder id, or a prefix of it ending the string before `@VERSION`.
    pub builder_id: &'a str,
    pub source_patterns: &'a [String],
    pub config_based: bool,
}

/// Checks `prov` against `req`; on success, says what matched.
pub fn check_provenance(req: &SlsaRequirements<'_>, prov: &Provenance) -> Result<String, String> {
    let id = &prov.builder_id;
    let builder_ok = id == req.builder_id
        || id
            .strip_prefix(req.builder_id)
            .is_some_and(|rest| rest.starts_with('@'));
    if !builder_ok {
        return Err(format!(
            "built by `{id}`, not the trusted builder `{}`",
            req.builder_id
        ));
    }
    if req.config_based && prov.config_source.is_none() {
        return Err(
            "configBasedBuildRequired: the provenance records no top-level build configuration source"
                .into(),
        );
    }
    let mut said = format!("built by `{id}`");
    if let Some((repo, path)) = &prov.config_source {
        said.push_str(&format!(" from configuration `{path}` in {repo}"));
    }
    if req.source_patterns.is_empty() {
        return Ok(said);
    }
    // With a config-based build, the patterns name the repositories holding the configuration.
    let candidates: Vec<&String> = match (&prov.config_source, req.config_based) {
        (Some((repo, _)), true) => vec![repo],
        _ => prov.source_repos.iter().collect(),
    };
    for repo in &candidates {
        if let Some(p) = req.source_patterns.iter().find(|p| repo_matches(p, repo)) {
            said.push_str(&format!("; source {repo} matches `{p}`"));
            return Ok(said);
        }
    }
    Err(format!(
        "its source {} matches none of trustedSourceRepoPatterns ({})",
        if candidates.is_empty() {
            "(none recorded)".to_owned()
        } else {
            candidates
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        },
        req.source_patterns.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_patterns_match_as_google_documents_them() {
        assert!(repo_matches("github.com/acme/app", "github.com/acme/app"));
        assert!(repo_matches("github.com/acme/*", "github.com/acme/app"));
        assert!(!repo_matches(
            "github.com/acme/*",
            "github.com/acme/app/sub"
        ));
        assert!(!repo_matches("github.com/acme/*", "github.com/acme"));
        assert!(repo_matches(
            "github.com/acme/**",
            "github.com/acme/app/sub"
        ));
        assert!(!repo_matches(
            "github.com/acme/**",
            "github.com/acmecorp/app"
        ));
        assert!(!repo_matches("github.com/acme/app", "github.com/acme/app2"));
        assert_eq!(
            normalize_repo("git+https://github.com/acme/app.git@refs/heads/main"),
            "github.com/acme/app"
        );
        assert!(check_repo_pattern("https://github.com/acme").is_err());
        assert!(check_repo_pattern("github.com/*/app").is_err());
        assert!(check_repo_pattern("github.com/acme/**").is_ok());
    }
}
