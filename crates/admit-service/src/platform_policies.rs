//! Platform policies (`v1 projects/{p}/platforms/{gke|cloudRun}/policies/{id}`): stored with
//! the validation the service applies, and the platforms list.

use admit_crypto::PkixKey;
use admit_model::SignatureAlgorithm;
use admit_policy::ExemptPattern;
use admit_store::{Doc, Kind, Listed, Page, Precondition};
use serde_json::{Value, json};

use crate::{Service, ServiceError, check_id, check_project};

pub(crate) const PLATFORMS: [&str; 2] = ["gke", "cloudRun"];
const SEVERITIES: [&str; 8] = [
    "MAXIMUM_ALLOWED_SEVERITY_UNSPECIFIED",
    "BLOCK_ALL",
    "MINIMAL",
    "LOW",
    "MEDIUM",
    "HIGH",
    "CRITICAL",
    "ALLOW_ALL",
];
const CHECK_KINDS: [&str; 7] = [
    "alwaysDeny",
    "imageFreshnessCheck",
    "trustedDirectoryCheck",
    "vulnerabilityCheck",
    "simpleSigningAttestationCheck",
    "sigstoreSignatureCheck",
    "slsaCheck",
];

fn bad(field: &str, msg: impl std::fmt::Display) -> ServiceError {
    ServiceError::invalid(format!("{field}: {msg}"))
}

fn check_allowlist(field: &str, v: &Value) -> Result<(), ServiceError> {
    if v.is_null() {
        return Ok(());
    }
    let patterns = v["allowPattern"]
        .as_array()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| bad(&format!("{field}.allowPattern"), "required and non-empty"))?;
    for (i, p) in patterns.iter().enumerate() {
        ExemptPattern::parse(p.as_str().unwrap_or_default())
            .map_err(|e| bad(&format!("{field}.allowPattern[{i}]"), e))?;
    }
    Ok(())
}

fn check_projects(field: &str, v: &Value) -> Result<(), ServiceError> {
    let list = v.as_array().cloned().unwrap_or_default();
    if list.len() > 10 {
        return Err(bad(field, "at most 10 projects"));
    }
    for (i, p) in list.iter().enumerate() {
        let ok = p
            .as_str()
            .and_then(|s| s.strip_prefix("projects/"))
            .is_some_and(|id| admit_model::ProjectId::parse(id).is_ok());
        if !ok {
            return Err(bad(
                &format!("{field}[{i}]"),
                "must be `projects/PROJECT_ID`",
            ));
        }
    }
    Ok(())
}

/// `registry/path` with the wildcards the API allows: a leading `*` on the host's first label,
/// a trailing `*` after `registry/`, a trailing `**`.
fn check_trusted_dir(field: &str, p: &str) -> Result<(), ServiceError> {
    let (host, rest) = p.split_once('/').unwrap_or((p, ""));
    let host_ok = {
        let h = host.strip_prefix('*').unwrap_or(host);
        !h.contains('*')
            && h.split('.').filter(|l| !l.is_empty()).count() >= 2
            && (host == h || h.starts_with('.') || h.starts_with('-'))
    };
    let body = rest
        .strip_suffix("**")
        .or_else(|| rest.strip_suffix('*'))
        .unwrap_or(rest);
    if !host_ok || body.contains('*') {
        return Err(bad(
            field,
            format!(
                "`{p}` is not a trusted-directory pattern (registry/path with a leading `*` on the host or a trailing `*`/`**`)"
            ),
        ));
    }
    Ok(())
}

/// admit extension: `admitKeyless {identities: [{issuer | issuerRegExp, subject |
/// subjectRegExp}]}`, keyless signers an authority trusts.
fn check_keyless(field: &str, k: &Value) -> Result<(), ServiceError> {
    let ids = k["identities"]
        .as_array()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            bad(
                &format!("{field}.identities"),
                "must have at least one entry",
            )
        })?;
    for (j, id) in ids.iter().enumerate() {
        admit_policy::IdentityRule::from_json(&format!("{field}.identities[{j}]"), id)
            .map_err(|(f, e)| bad(&f, e))?;
    }
    Ok(())
}

/// `slsaCheck {rules: [VerificationRule]}`, with admit's `admitBuilder` extension (the roots of
/// trust admit cannot fetch offline, and the id of a builder other than Cloud Build).
fn check_slsa(field: &str, v: &Value) -> Result<(), ServiceError> {
    let rules = v["rules"]
        .as_array()
        .filter(|r| !r.is_empty())
        .ok_or_else(|| bad(&format!("{field}.rules"), "at least one rule is required"))?;
    for (i, r) in rules.iter().enumerate() {
        let f = format!("{field}.rules[{i}]");
        let builder = &r["admitBuilder"];
        let id = builder["id"].as_str().filter(|s| !s.is_empty());
        match (
            r["trustedBuilder"]
                .as_str()
                .unwrap_or("BUILDER_UNSPECIFIED"),
            id,
        ) {
            ("GOOGLE_CLOUD_BUILD", Some(_)) => {
                return Err(bad(
                    &format!("{f}.admitBuilder.id"),
                    "must be empty with trustedBuilder GOOGLE_CLOUD_BUILD, whose id is implied",
                ));
            }
            ("GOOGLE_CLOUD_BUILD", None) | ("BUILDER_UNSPECIFIED", Some(_)) => {}
            ("BUILDER_UNSPECIFIED", None) => {
                return Err(bad(
                    &format!("{f}.trustedBuilder"),
                    "required: GOOGLE_CLOUD_BUILD, or admitBuilder.id naming another builder",
                ));
            }
            (other, _) => {
                return Err(bad(
                    &format!("{f}.trustedBuilder"),
                    format!("`{other}` is not BUILDER_UNSPECIFIED or GOOGLE_CLOUD_BUILD"),
                ));
            }
        }
        for (j, p) in r["trustedSourceRepoPatterns"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            admit_policy::check_repo_pattern(p.as_str().unwrap_or_default())
                .map_err(|e| bad(&format!("{f}.trustedSourceRepoPatterns[{j}]"), e))?;
        }
        check_projects(
            &format!("{f}.attestationSource.containerAnalysisAttestationProjects"),
            &r["attestationSource"]["containerAnalysisAttestationProjects"],
        )?;
        for (j, k) in builder["publicKeySet"]["publicKeys"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            admit_crypto::PkixKey::from_cosign_pem(k["publicKeyPem"].as_str().unwrap_or_default())
                .map_err(|e| {
                    bad(
                        &format!("{f}.admitBuilder.publicKeySet.publicKeys[{j}].publicKeyPem"),
                        e.to_string(),
                    )
                })?;
        }
        if let Some(k) = builder.get("admitKeyless").filter(|k| !k.is_null()) {
            check_keyless(&format!("{f}.admitBuilder.admitKeyless"), k)?;
        }
    }
    Ok(())
}

fn check_check(field: &str, c: &Value) -> Result<(), ServiceError> {
    let kinds: Vec<&str> = CHECK_KINDS
        .iter()
        .copied()
        .filter(|k| c.get(*k).is_some_and(|v| !v.is_null()))
        .collect();
    if kinds.len() != 1 {
        return Err(bad(
            field,
            format!("exactly one of {} is required", CHECK_KINDS.join(", ")),
        ));
    }
    check_allowlist(&format!("{field}.imageAllowlist"), &c["imageAllowlist"])?;
    let k = kinds[0];
    let v = &c[k];
    let f = format!("{field}.{k}");
    match k {
        "imageFreshnessCheck" if v["maxUploadAgeDays"].as_i64().unwrap_or(0) <= 0 => {
            return Err(bad(&format!("{f}.maxUploadAgeDays"), "must be > 0"));
        }
        "sigstoreSignatureCheck" => {
            let authorities = v["sigstoreAuthorities"]
                .as_array()
                .filter(|a| !a.is_empty())
                .ok_or_else(|| bad(&format!("{f}.sigstoreAuthorities"), "required"))?;
            for (i, a) in authorities.iter().enumerate() {
                let field = format!("{f}.sigstoreAuthorities[{i}]");
                let keyless = a.get("admitKeyless").filter(|k| !k.is_null());
                let key_set = a.get("publicKeySet").filter(|k| !k.is_null());
                match (key_set, keyless) {
                    (Some(_), Some(_)) => {
                        return Err(bad(
                            &field,
                            "has both publicKeySet and admitKeyless; an authority is one or the other",
                        ));
                    }
                    (None, Some(k)) => check_keyless(&format!("{field}.admitKeyless"), k)?,
                    _ => {
                        let at = format!("{field}.publicKeySet.publicKeys");
                        let keys = a["publicKeySet"]["publicKeys"]
                            .as_array()
                            .filter(|k| !k.is_empty())
                            .ok_or_else(|| bad(&at, "must have at least one entry"))?;
                        for (j, k) in keys.iter().enumerate() {
                            let pem = k["publicKeyPem"].as_str().unwrap_or_default();
                            admit_crypto::PkixKey::from_cosign_pem(pem).map_err(|e| {
                                bad(&format!("{at}[{j}].publicKeyPem"), e.to_string())
                            })?;
                        }
                    }
                }
            }
        }
        "slsaCheck" => check_slsa(&f, v)?,
        "trustedDirectoryCheck" => {
            let pats = v["trustedDirPatterns"]
                .as_array()
                .filter(|a| !a.is_empty())
                .ok_or_else(|| bad(&format!("{f}.trustedDirPatterns"), "required"))?;
            for (i, p) in pats.iter().enumerate() {
                check_trusted_dir(
                    &format!("{f}.trustedDirPatterns[{i}]"),
                    p.as_str().unwrap_or_default(),
                )?;
            }
        }
        "vulnerabilityCheck" => {
            for s in ["maximumFixableSeverity", "maximumUnfixableSeverity"] {
                let val = v[s].as_str().unwrap_or("");
                if !SEVERITIES[1..].contains(&val) {
                    return Err(bad(
                        &format!("{f}.{s}"),
                        format!("required, one of {}", SEVERITIES[1..].join(", ")),
                    ));
                }
            }
            if let Some(exp) = v.get("admitAllowedCveExpiry").filter(|e| !e.is_null()) {
                let map = exp
                    .as_object()
                    .ok_or_else(|| bad(&format!("{f}.admitAllowedCveExpiry"), "must be a map"))?;
                for (cve, e) in map {
                    let at = e["expireTime"].as_str().unwrap_or_default();
                    if admit_model::parse_rfc3339(at).is_none() {
                        return Err(bad(
                            &format!("{f}.admitAllowedCveExpiry.{cve}.expireTime"),
                            format!("`{at}` is not an RFC 3339 timestamp"),
                        ));
                    }
                    let listed = v["allowedCves"]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(cve.as_str())));
                    if !listed {
                        return Err(bad(
                            &format!("{f}.admitAllowedCveExpiry.{cve}"),
                            "not an entry of allowedCves",
                        ));
                    }
                }
            }
            check_projects(
                &format!("{f}.containerAnalysisVulnerabilityProjects"),
                &v["containerAnalysisVulnerabilityProjects"],
            )?;
        }
        "simpleSigningAttestationCheck" => {
            let auths = v["attestationAuthenticators"]
                .as_array()
                .filter(|a| !a.is_empty())
                .ok_or_else(|| {
                    bad(
                        &format!("{f}.attestationAuthenticators"),
                        "at least one is required",
                    )
                })?;
            for (i, a) in auths.iter().enumerate() {
                let keys = a["pkixPublicKeySet"]["pkixPublicKeys"]
                    .as_array()
                    .filter(|k| !k.is_empty())
                    .ok_or_else(|| {
                        bad(
                            &format!(
                                "{f}.attestationAuthenticators[{i}].pkixPublicKeySet.pkixPublicKeys"
                            ),
                            "at least one key is required",
                        )
                    })?;
                for (j, k) in keys.iter().enumerate() {
                    let alg: SignatureAlgorithm = serde_json::from_value(k["signatureAlgorithm"].clone()).map_err(|e| bad(&format!("{f}.attestationAuthenticators[{i}].pkixPublicKeySet.pkixPublicKeys[{j}].signatureAlgorithm"), e))?;
                    PkixKey::from_pem(k["publicKeyPem"].as_str().unwrap_or_default(), alg).map_err(|e| bad(&format!("{f}.attestationAuthenticators[{i}].pkixPublicKeySet.pkixPublicKeys[{j}]"), e))?;
                }
            }
            check_projects(
                &format!("{f}.containerAnalysisAttestationProjects"),
                &v["containerAnalysisAttestationProjects"],
            )?;
        }
        _ => {}
    }
    Ok(())
}

fn check_scope(field: &str, s: &Value) -> Result<bool, ServiceError> {
    let ns = s["kubernetesNamespace"].as_str().filter(|x| !x.is_empty());
    let sa = s["kubernetesServiceAccount"]
        .as_str()
        .filter(|x| !x.is_empty());
    match (ns, sa) {
        (None, None) => Ok(false),
        (Some(_), Some(_)) => Err(bad(
            field,
            "only one of kubernetesNamespace or kubernetesServiceAccount",
        )),
        (Some(_), None) => Ok(true),
        (None, Some(sa))
            if sa
                .split_once(':')
                .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty()) =>
        {
            Ok(true)
        }
        (None, Some(_)) => Err(bad(
            &format!("{field}.kubernetesServiceAccount"),
            "must be `namespace:serviceaccount`",
        )),
    }
}

fn validate(project: &str, platform: &str, p: &Value) -> Result<(), ServiceError> {
    match platform {
        "gke" => {
            if p.get("cloudRunPolicy").is_some_and(|v| !v.is_null()) {
                return Err(bad("cloudRunPolicy", "not allowed on the gke platform"));
            }
            let g = p
                .get("gkePolicy")
                .filter(|v| v.is_object())
                .ok_or_else(|| bad("gkePolicy", "required for the gke platform"))?;
            check_allowlist("gkePolicy.imageAllowlist", &g["imageAllowlist"])?;
            let sets = g["checkSets"].as_array().cloned().unwrap_or_default();
            for (i, cs) in sets.iter().enumerate() {
                let f = format!("gkePolicy.checkSets[{i}]");
                let scoped = check_scope(&format!("{f}.scope"), &cs["scope"])?;
                if i + 1 == sets.len() && scoped {
                    return Err(bad(
                        &format!("{f}.scope"),
                        "the last check set must have no scope (it is the catch-all)",
                    ));
                }
                check_allowlist(&format!("{f}.imageAllowlist"), &cs["imageAllowlist"])?;
                for (j, c) in cs["checks"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .iter()
                    .enumerate()
                {
                    check_check(&format!("{f}.checks[{j}]"), c)?;
                }
            }
        }
        _ => {
            if p.get("gkePolicy").is_some_and(|v| !v.is_null()) {
                return Err(bad("gkePolicy", "not allowed on the cloudRun platform"));
            }
            let Some(inline) = p.get("cloudRunPolicy").filter(|v| v.is_object()) else {
                return Err(bad("cloudRunPolicy", "required for the cloudRun platform"));
            };
            crate::cloud_run::compile(project, inline).map_err(ServiceError::invalid)?;
        }
    }
    Ok(())
}

pub(crate) fn with_meta(doc: Doc) -> Value {
    let mut v = doc.body;
    v["etag"] = Value::String(doc.etag);
    v["updateTime"] = Value::String(doc.update_time);
    v
}

fn check_platform(platform: &str) -> Result<(), ServiceError> {
    if PLATFORMS.contains(&platform) {
        Ok(())
    } else {
        Err(ServiceError::not_found(format!(
            "platform `{platform}` does not exist (gke, cloudRun)"
        )))
    }
}

impl Service {
    pub fn list_platforms(&self, project: &str) -> Result<Value, ServiceError> {
        check_project(project)?;
        Ok(
            json!({"platforms": PLATFORMS.iter().map(|p| json!({"name": format!("projects/{project}/platforms/{p}")})).collect::<Vec<_>>()}),
        )
    }

    pub async fn create_platform_policy(
        &self,
        project: &str,
        platform: &str,
        id: &str,
        mut body: Value,
    ) -> Result<Value, ServiceError> {
        check_project(project)?;
        check_platform(platform)?;
        check_id("policyId", id)?;
        let parent = format!("projects/{project}/platforms/{platform}");
        let name = format!("{parent}/policies/{id}");
        for f in ["etag", "updateTime"] {
            if let Some(o) = body.as_object_mut() {
                o.remove(f);
            }
        }
        body["name"] = Value::String(name.clone());
        validate(project, platform, &body)?;
        let doc = self
            .store
            .put(
                Kind::PlatformPolicy,
                &name,
                &parent,
                &body,
                None,
                Precondition::MustNotExist,
                &self.now(),
            )
            .await?;
        Ok(with_meta(doc))
    }

    pub async fn get_platform_policy(&self, name: &str) -> Result<Value, ServiceError> {
        let doc = self
            .store
            .get(Kind::PlatformPolicy, name)
            .await?
            .ok_or_else(|| ServiceError::not_found(format!("policy {name} not found")))?;
        Ok(with_meta(doc))
    }

    pub async fn list_platform_policies(
        &self,
        project: &str,
        platform: &str,
        page: &Page,
    ) -> Result<Listed<Value>, ServiceError> {
        check_project(project)?;
        check_platform(platform)?;
        let l = self
            .store
            .list(
                Kind::PlatformPolicy,
                &format!("projects/{project}/platforms/{platform}"),
                page,
            )
            .await?;
        Ok(Listed {
            items: l.items.into_iter().map(with_meta).collect(),
            next_page_token: l.next_page_token,
        })
    }

    pub async fn replace_platform_policy(
        &self,
        project: &str,
        platform: &str,
        id: &str,
        mut body: Value,
    ) -> Result<Value, ServiceError> {
        check_platform(platform)?;
        let parent = format!("projects/{project}/platforms/{platform}");
        let name = format!("{parent}/policies/{id}");
        let etag = body
            .get("etag")
            .and_then(Value::as_str)
            .filter(|e| !e.is_empty())
            .map(str::to_owned);
        if let Some(o) = body.as_object_mut() {
            o.remove("etag");
            o.remove("updateTime");
        }
        body["name"] = Value::String(name.clone());
        validate(project, platform, &body)?;
        let doc = self
            .store
            .put(
                Kind::PlatformPolicy,
                &name,
                &parent,
                &body,
                None,
                Precondition::MustExist { etag },
                &self.now(),
            )
            .await?;
        Ok(with_meta(doc))
    }

    pub async fn delete_platform_policy(
        &self,
        name: &str,
        etag: Option<&str>,
    ) -> Result<(), ServiceError> {
        if let Some(e) = etag.filter(|e| !e.is_empty()) {
            let current = self.get_platform_policy(name).await?;
            if current["etag"] != e {
                return Err(ServiceError::new(
                    crate::Code::Aborted,
                    format!("{name} was changed since it was read (etag mismatch)"),
                ));
            }
        }
        self.store.delete(Kind::PlatformPolicy, name, None).await?;
        Ok(())
    }
}
