//! `platforms/gke/policies/{id}:evaluate`: a GKE platform policy applied to a Kubernetes
//! resource, with per-pod, per-image, per-check results; with `GENERATE_DEPLOY` a conformant
//! result also yields one signed DSSE attestation per digest-pinned image.

use admit_model::{Attestor, AttestorPublicKey, Occurrence, PkixPublicKey, UserOwnedGrafeasNote};
use admit_policy::{CompiledAttestor, ExemptPattern, ImageRef};
use admit_store::OccurrenceScope;
use serde_json::{Value, json};

use crate::{Service, ServiceError};

/// One pod of the resource.
struct Pod {
    name: String,
    namespace: String,
    service_account: String,
    images: Vec<String>,
}

fn pods(resource: &Value) -> Result<Vec<Pod>, ServiceError> {
    let kind = resource["kind"].as_str().unwrap_or("");
    let meta = &resource["metadata"];
    let spec = match kind {
        "Pod" => &resource["spec"],
        "CronJob" => &resource["spec"]["jobTemplate"]["spec"]["template"]["spec"],
        _ => &resource["spec"]["template"]["spec"],
    };
    if !spec.is_object() {
        return Err(ServiceError::invalid(format!(
            "resource: no pod spec found in a `{kind}`"
        )));
    }
    let tmeta = if kind == "Pod" {
        meta
    } else {
        &resource["spec"]["template"]["metadata"]
    };
    let images: Vec<String> = admit_model::pod_spec_images(spec)
        .map_err(|e| ServiceError::invalid(format!("resource: spec.{e}")))?
        .into_iter()
        .map(|i| i.image)
        .collect();
    if images.is_empty() {
        return Err(ServiceError::invalid(
            "resource: the pod spec has no containers",
        ));
    }
    Ok(vec![Pod {
        name: meta["name"]
            .as_str()
            .or(tmeta["name"].as_str())
            .unwrap_or("")
            .to_owned(),
        namespace: meta["namespace"].as_str().unwrap_or("default").to_owned(),
        service_account: spec["serviceAccountName"]
            .as_str()
            .unwrap_or("default")
            .to_owned(),
        images,
    }])
}

fn allowlisted(list: &Value, image: &ImageRef) -> Option<String> {
    list["allowPattern"]
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .find(|p| ExemptPattern::parse(p).is_ok_and(|pat| pat.matches(image)))
        .map(str::to_owned)
}

fn scope_matches(scope: &Value, pod: &Pod) -> bool {
    if let Some(ns) = scope["kubernetesNamespace"]
        .as_str()
        .filter(|s| !s.is_empty())
    {
        return ns == pod.namespace;
    }
    if let Some(sa) = scope["kubernetesServiceAccount"]
        .as_str()
        .filter(|s| !s.is_empty())
    {
        return sa == format!("{}:{}", pod.namespace, pod.service_account);
    }
    true
}

fn severity_rank(s: &str) -> u8 {
    match s {
        "MINIMAL" => 1,
        "LOW" => 2,
        "MEDIUM" => 3,
        "HIGH" => 4,
        // Unknown or unspecified severities count as the worst: fail closed.
        _ => 5,
    }
}

fn allowed_rank(s: &str) -> u8 {
    match s {
        "MINIMAL" => 1,
        "LOW" => 2,
        "MEDIUM" => 3,
        "HIGH" => 4,
        "CRITICAL" => 5,
        "ALLOW_ALL" => 6,
        // BLOCK_ALL, and anything unknown, allows nothing.
        _ => 0,
    }
}

/// (verdict, explanation)
pub(crate) type Outcome = (&'static str, String);

/// Trusted-directory pattern: `*` on the host's first label, trailing `*` / `**`.
fn trusted(pattern: &str, image: &ImageRef) -> bool {
    let repo = image.repository();
    let (phost, prest) = pattern.split_once('/').unwrap_or((pattern, ""));
    let (ihost, irest) = repo.split_once('/').unwrap_or((&repo, ""));
    let host_ok = match phost.strip_prefix('*') {
        Some(suffix) => {
            ihost.ends_with(suffix) && !ihost[..ihost.len() - suffix.len()].contains('.')
        }
        None => phost == ihost,
    };
    let path_ok = if let Some(p) = prest.strip_suffix("**") {
        irest.starts_with(p)
    } else if let Some(p) = prest.strip_suffix('*') {
        irest.strip_prefix(p).is_some_and(|r| !r.contains('/'))
    } else {
        irest == prest
            || irest.starts_with(&format!("{prest}/")) && !irest[prest.len() + 1..].contains('/')
    };
    host_ok && path_ok
}

impl Service {
    /// The projects among `projects` whose occurrences the policy's project may not read: as at
    /// admission (seed 000), evaluation reads other projects' Container Analysis data as
    /// `policy_project`'s service agent, which needs `containeranalysis.occurrences.list`
    /// there (roles/containeranalysis.occurrences.viewer). Within its own project it may.
    pub(crate) async fn unreadable_projects(
        &self,
        policy_project: &str,
        projects: &[String],
    ) -> Result<Vec<String>, ServiceError> {
        let mut out = Vec::new();
        if !self.access_enforced() {
            return Ok(out);
        }
        let agent = crate::service_agent(policy_project);
        for p in projects.iter().filter(|p| *p != policy_project) {
            if !self
                .holds(
                    &agent,
                    "containeranalysis.occurrences.list",
                    &format!("projects/{p}"),
                )
                .await?
            {
                out.push(p.clone());
            }
        }
        Ok(out)
    }

    /// The check's verdict when it names projects it may not read, naming the grant.
    pub(crate) async fn cross_project_error(
        &self,
        policy_project: &str,
        projects: &[String],
    ) -> Result<Option<Outcome>, ServiceError> {
        let denied = self.unreadable_projects(policy_project, projects).await?;
        if denied.is_empty() {
            return Ok(None);
        }
        let agent = crate::service_agent(policy_project);
        Ok(Some((
            "ERROR",
            format!(
                "project {policy_project}'s service agent ({}) may not read the occurrences of project(s) {}: grant it roles/containeranalysis.occurrences.viewer there",
                agent.trim_start_matches("serviceAccount:"),
                denied.join(", ")
            ),
        )))
    }

    pub(crate) async fn occurrences_for(
        &self,
        projects: &[String],
        digest: &str,
        kind: &str,
    ) -> Result<Vec<Occurrence>, ServiceError> {
        let filter = format!("has_suffix(resourceUrl, \"{digest}\") AND kind = \"{kind}\"");
        let mut out = Vec::new();
        for p in projects {
            let all = self
                .bounded_occurrences(&OccurrenceScope::Project(p.clone()), &filter)
                .await?;
            out.extend(
                all.into_iter()
                    .filter_map(|v| serde_json::from_value::<Occurrence>(v).ok()),
            );
        }
        Ok(out)
    }

    async fn run_check(
        &self,
        check: &Value,
        image: &ImageRef,
        default_project: &str,
    ) -> Result<Outcome, ServiceError> {
        if check
            .get("alwaysDeny")
            .is_some_and(|v| v.as_bool() == Some(true))
        {
            return Ok(("NON_CONFORMANT", "the check denies every image".into()));
        }
        if let Some(t) = check.get("trustedDirectoryCheck") {
            let pats: Vec<&str> = t["trustedDirPatterns"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            return Ok(match pats.iter().find(|p| trusted(p, image)) {
                Some(p) => ("CONFORMANT", format!("image is in trusted directory `{p}`")),
                None => (
                    "NON_CONFORMANT",
                    format!("image {} is not in a trusted directory", image.repository()),
                ),
            });
        }
        let Some(digest) = image.digest() else {
            return Ok((
                "NON_CONFORMANT",
                "the image is referenced by tag; this check needs a digest".into(),
            ));
        };
        if let Some(v) = check.get("vulnerabilityCheck") {
            let vuln = v.clone();
            let check_projects = projects_of(
                &vuln,
                "containerAnalysisVulnerabilityProjects",
                default_project,
            );
            if let Some(e) = self
                .cross_project_error(default_project, &check_projects)
                .await?
            {
                return Ok(e);
            }
            let occs = self
                .occurrences_for(&check_projects, digest, "VULNERABILITY")
                .await?;
            let list = |f: &str| -> Vec<String> {
                vuln[f]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|s| s.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let (allowed, blocked) = (list("allowedCves"), list("blockedCves"));
            let max_fix = allowed_rank(vuln["maximumFixableSeverity"].as_str().unwrap_or(""));
            let max_unfix = allowed_rank(vuln["maximumUnfixableSeverity"].as_str().unwrap_or(""));
            let mut violations = Vec::new();
            for o in occs.iter().filter(|o| {
                o.resource_uri
                    .split_once("://")
                    .map_or(o.resource_uri.as_str(), |(_, r)| r)
                    .starts_with(&image.repository())
            }) {
                let cve = o
                    .note_name
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                let v = o.other.get("vulnerability").cloned().unwrap_or(Value::Null);
                let sev = v["effectiveSeverity"]
                    .as_str()
                    .or(v["severity"].as_str())
                    .unwrap_or("SEVERITY_UNSPECIFIED");
                let fixable = v["fixAvailable"].as_bool().unwrap_or(false);
                // admit extension: an allowedCves entry may expire.
                let expired = allowed
                    .contains(&cve)
                    .then(|| &vuln["admitAllowedCveExpiry"][&cve])
                    .filter(|e| e.is_object())
                    .and_then(|e| {
                        let at = e["expireTime"].as_str().unwrap_or_default();
                        let live = admit_model::parse_rfc3339(at)
                            .is_some_and(|(t, _)| (self.clock)().0 < t);
                        (!live).then(|| {
                            let why = e["reason"].as_str().filter(|r| !r.is_empty());
                            format!(
                                "; its allowedCves entry expired at {at}{}",
                                why.map(|r| format!(" (granted for: {r})"))
                                    .unwrap_or_default()
                            )
                        })
                    });
                if blocked.contains(&cve) {
                    violations.push(format!("{cve} is blocked"));
                } else if (!allowed.contains(&cve) || expired.is_some())
                    && severity_rank(sev) > if fixable { max_fix } else { max_unfix }
                {
                    violations.push(format!(
                        "{cve} ({sev}, {}){}",
                        if fixable { "fixable" } else { "unfixable" },
                        expired.unwrap_or_default()
                    ));
                }
            }
            return Ok(if violations.is_empty() {
                (
                    "CONFORMANT",
                    format!(
                        "{} vulnerabilities within the allowed severities",
                        occs.len()
                    ),
                )
            } else {
                (
                    "NON_CONFORMANT",
                    format!(
                        "vulnerabilities over the allowed severities: {}",
                        violations.join(", ")
                    ),
                )
            });
        }
        if let Some(s) = check.get("simpleSigningAttestationCheck") {
            let check_projects =
                projects_of(s, "containerAnalysisAttestationProjects", default_project);
            if let Some(e) = self
                .cross_project_error(default_project, &check_projects)
                .await?
            {
                return Ok(e);
            }
            let occs = self
                .occurrences_for(&check_projects, digest, "ATTESTATION")
                .await?;
            let mut reasons = Vec::new();
            for (i, a) in s["attestationAuthenticators"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .enumerate()
            {
                let keys: Vec<AttestorPublicKey> = a["pkixPublicKeySet"]["pkixPublicKeys"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|k| {
                        let pk: PkixPublicKey = serde_json::from_value(k.clone()).ok()?;
                        let id = pk.key_id.clone().unwrap_or_default();
                        Some(AttestorPublicKey {
                            id,
                            pkix_public_key: Some(pk),
                            ..Default::default()
                        })
                    })
                    .collect();
                for o in &occs {
                    let synthetic = Attestor {
                        name: format!("projects/{default_project}/attestors/authenticator-{i}"),
                        user_owned_grafeas_note: Some(UserOwnedGrafeasNote {
                            note_reference: o.note_name.clone(),
                            public_keys: keys.clone(),
                            delegation_service_account_email: None,
                        }),
                        ..Default::default()
                    };
                    match CompiledAttestor::compile(&synthetic) {
                        Ok(c) => match c.check(image, std::slice::from_ref(o)) {
                            Ok(_) => {
                                return Ok((
                                    "CONFORMANT",
                                    format!("attested by authenticator {i} ({})", o.name),
                                ));
                            }
                            Err(r) => reasons.extend(r),
                        },
                        Err(e) => reasons.push(e.to_string()),
                    }
                }
            }
            if reasons.is_empty() {
                reasons.push(format!(
                    "no attestation for {}@{digest}",
                    image.repository()
                ));
            }
            return Ok(("NON_CONFORMANT", reasons.join("; ")));
        }
        if let Some(f) = check.get("imageFreshnessCheck") {
            return Ok(self.image_freshness(f, image).await);
        }
        if let Some(c) = check.get("sigstoreSignatureCheck") {
            return Ok(self.sigstore_signature(c, image).await);
        }
        if let Some(c) = check.get("slsaCheck") {
            return self.slsa(c, image, digest, default_project).await;
        }
        Ok(("ERROR", "the check has no kind".into()))
    }

    /// `imageFreshnessCheck`: the image may be at most `maxUploadAgeDays` old. OCI registries
    /// report no upload time, so the age is judged from the `created` time the image's config
    /// declares (fetched by digest, cached), and the explanation says so.
    async fn image_freshness(&self, check: &Value, image: &ImageRef) -> Outcome {
        let max_days = check["maxUploadAgeDays"].as_u64().unwrap_or(0);
        let Some(registry) = &self.registry else {
            return (
                "ERROR",
                "imageFreshnessCheck needs registry access, which this server is not configured with"
                    .into(),
            );
        };
        let Some(digest) = image.digest() else {
            return (
                "NON_CONFORMANT",
                "imageFreshnessCheck needs the image pinned by digest".into(),
            );
        };
        let pinned = format!("{}@{digest}", image.repository());
        let meta = match registry
            .metadata(&pinned, std::time::Duration::from_secs(5))
            .await
        {
            Ok(m) => m,
            Err(e) => return ("ERROR", format!("imageFreshnessCheck: {e}")),
        };
        let Some((created, _)) = meta.created.as_deref().and_then(admit_model::parse_rfc3339)
        else {
            return (
                "NON_CONFORMANT",
                format!(
                    "the age of {pinned} cannot be established: its image config has no valid `created` time"
                ),
            );
        };
        let (now, _) = (self.clock)();
        let age_days = now.saturating_sub(created) / 86_400;
        let when = meta.created.unwrap_or_default();
        if now.saturating_sub(created) <= max_days * 86_400 {
            (
                "CONFORMANT",
                format!(
                    "built {when} ({age_days} days ago, by the image config's `created` time; the registry reports no upload time), within {max_days} days"
                ),
            )
        } else {
            (
                "NON_CONFORMANT",
                format!(
                    "built {when} ({age_days} days ago, by the image config's `created` time; the registry reports no upload time), older than maxUploadAgeDays {max_days}"
                ),
            )
        }
    }

    async fn evaluate_image(
        &self,
        policy: &Value,
        pod: &Pod,
        raw: &str,
        project: &str,
    ) -> Result<Value, ServiceError> {
        let gke = &policy["gkePolicy"];
        let image = match ImageRef::parse(raw) {
            Ok(i) => i,
            Err(e) => {
                return Ok(
                    json!({"imageUri": raw, "verdict": "NON_CONFORMANT", "explanation": e.to_string()}),
                );
            }
        };
        if let Some(p) = allowlisted(&gke["imageAllowlist"], &image) {
            return Ok(
                json!({"imageUri": raw, "verdict": "CONFORMANT", "allowlistResult": {"matchedPattern": p}}),
            );
        }
        let sets = gke["checkSets"].as_array().cloned().unwrap_or_default();
        let Some((index, set)) = sets
            .iter()
            .enumerate()
            .find(|(_, s)| scope_matches(&s["scope"], pod))
        else {
            return Ok(
                json!({"imageUri": raw, "verdict": "CONFORMANT", "explanation": "the policy has no check sets; everything is allowed"}),
            );
        };
        let mut set_result = json!({"index": index.to_string(), "displayName": set["displayName"], "scope": set["scope"]});
        if let Some(p) = allowlisted(&set["imageAllowlist"], &image) {
            set_result["allowlistResult"] = json!({"matchedPattern": p});
            return Ok(
                json!({"imageUri": raw, "verdict": "CONFORMANT", "checkSetResult": set_result}),
            );
        }
        let checks = set["checks"].as_array().cloned().unwrap_or_default();
        if checks.is_empty() {
            set_result["explanation"] = json!("the check set has no checks; the image is allowed");
            return Ok(
                json!({"imageUri": raw, "verdict": "CONFORMANT", "checkSetResult": set_result}),
            );
        }
        let mut results = Vec::new();
        let mut verdicts = Vec::new();
        for (i, c) in checks.iter().enumerate() {
            let kind = [
                "alwaysDeny",
                "imageFreshnessCheck",
                "trustedDirectoryCheck",
                "vulnerabilityCheck",
                "simpleSigningAttestationCheck",
                "sigstoreSignatureCheck",
                "slsaCheck",
            ]
            .into_iter()
            .find(|k| c.get(*k).is_some())
            .unwrap_or("Check");
            let mut r = json!({"index": i.to_string(), "displayName": c["displayName"], "type": upper_first(kind)});
            if let Some(p) = allowlisted(&c["imageAllowlist"], &image) {
                r["allowlistResult"] = json!({"matchedPattern": p});
                r["evaluationResult"] = json!({"verdict": "CONFORMANT"});
                verdicts.push("CONFORMANT");
            } else {
                let (v, why) = self.run_check(c, &image, project).await?;
                r["evaluationResult"] = json!({"verdict": v});
                r["explanation"] = json!(why);
                verdicts.push(v);
            }
            results.push(r);
        }
        set_result["checkResults"] = json!({"results": results});
        Ok(json!({"imageUri": raw, "verdict": combine(&verdicts), "checkSetResult": set_result}))
    }

    pub async fn evaluate_gke_policy(
        &self,
        name: &str,
        request: &Value,
    ) -> Result<Value, ServiceError> {
        let policy = self.get_platform_policy(name).await?;
        if !name.contains("/platforms/gke/") {
            return Err(ServiceError::invalid(
                "only gke platform policies can be evaluated",
            ));
        }
        let project = name.split('/').nth(1).unwrap_or_default().to_owned();
        let generate = match request["attestationMode"]
            .as_str()
            .unwrap_or("ATTESTATION_MODE_UNSPECIFIED")
        {
            "GENERATE_DEPLOY" => true,
            "ATTESTATION_MODE_UNSPECIFIED" => false,
            other => {
                return Err(ServiceError::invalid(format!(
                    "attestationMode: unknown value `{other}`"
                )));
            }
        };
        let mut pod_results = Vec::new();
        let mut pod_verdicts = Vec::new();
        let mut attestable = Vec::new();
        for pod in pods(&request["resource"])? {
            let mut images = Vec::new();
            let mut verdicts = Vec::new();
            for raw in &pod.images {
                let r = self.evaluate_image(&policy, &pod, raw, &project).await?;
                verdicts.push(match r["verdict"].as_str() {
                    Some("CONFORMANT") => "CONFORMANT",
                    Some("NON_CONFORMANT") => "NON_CONFORMANT",
                    _ => "ERROR",
                });
                if let Ok(i) = ImageRef::parse(raw)
                    && i.digest().is_some()
                {
                    attestable.push(i);
                }
                images.push(r);
            }
            let v = combine(&verdicts);
            pod_verdicts.push(v);
            pod_results.push(json!({"podName": pod.name, "kubernetesNamespace": pod.namespace, "kubernetesServiceAccount": pod.service_account, "verdict": v, "imageResults": images}));
        }
        let verdict = combine(&pod_verdicts);
        let mut out = json!({"verdict": verdict, "results": pod_results});
        if generate && verdict == "CONFORMANT" {
            let mut atts = Vec::new();
            for i in &attestable {
                atts.push(
                    self.policy_verification_attestation(&project, name, i)
                        .await?,
                );
            }
            out["attestations"] = json!(atts);
        }
        Ok(out)
    }
}

pub(crate) fn projects_of(check: &Value, field: &str, default_project: &str) -> Vec<String> {
    let l: Vec<String> = check[field]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p.as_str()?.strip_prefix("projects/").map(str::to_owned))
        .collect();
    if l.is_empty() {
        vec![default_project.to_owned()]
    } else {
        l
    }
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// NON_CONFORMANT wins over ERROR, which wins over CONFORMANT.
fn combine(v: &[&'static str]) -> &'static str {
    if v.contains(&"NON_CONFORMANT") {
        "NON_CONFORMANT"
    } else if v.contains(&"ERROR") {
        "ERROR"
    } else {
        "CONFORMANT"
    }
}
