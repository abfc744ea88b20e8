//! Who is calling, and may they: bearer tokens (static, from an operator-managed file) and
//! OIDC JWTs (a configured issuer and JWKS, so Kubernetes service-account tokens work) mapped
//! to IAM principals; IAM policies on resources, inherited from the project as in Google Cloud.
//!
//! Without an [`AccessConfig`] nothing is enforced: every caller holds every permission (the
//! loopback development mode; `admit serve` refuses other addresses in that mode unless told).

use std::collections::HashMap;
use std::sync::Arc;

use admit_crypto::{ClaimRules, Jwks, check_claims, sha256};
use admit_store::Kind;
use serde_json::Value;

use crate::roles::{SERVICE_AGENT_ROLE, grants};
use crate::{Code, Service, ServiceError};

/// An issuer's key set, replaceable while the server runs (issuers rotate their keys; the
/// binary reloads the file and swaps the set in, so no restart is needed).
#[derive(Debug, Clone)]
pub struct SharedJwks(Arc<std::sync::RwLock<Arc<Jwks>>>);

impl SharedJwks {
    pub fn new(jwks: Jwks) -> Self {
        SharedJwks(Arc::new(std::sync::RwLock::new(Arc::new(jwks))))
    }

    /// The current set.
    pub fn current(&self) -> Arc<Jwks> {
        // A writer cannot panic while holding the lock (it only assigns), so a poisoned lock
        // still holds a whole set.
        match self.0.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Replaces the set; requests verified from now on use `jwks`.
    pub fn replace(&self, jwks: Jwks) {
        let new = Arc::new(jwks);
        match self.0.write() {
            Ok(mut g) => *g = new,
            Err(p) => *p.into_inner() = new,
        }
    }
}

/// One trusted OIDC issuer.
#[derive(Debug, Clone)]
pub struct OidcIssuer {
    /// The exact `iss` claim.
    pub issuer: String,
    /// Accepted `aud` values.
    pub audiences: Vec<String>,
    pub jwks: SharedJwks,
    /// Kubernetes service accounts `system:serviceaccount:NS:NAME` become
    /// `serviceAccount:POOL[NS/NAME]` (GKE Workload Identity's member form).
    pub workload_pool: String,
}

/// Authentication and the organisation-level owners.
#[derive(Debug, Clone, Default)]
pub struct AccessConfig {
    /// sha256(token) → principal. Only digests are kept in memory.
    tokens: HashMap<[u8; 32], String>,
    pub oidc: Vec<OidcIssuer>,
    /// Principals holding `roles/owner` on every project (the bootstrap administrators).
    pub owners: Vec<String>,
}

/// The authenticated caller. `principal` is `None` only when access control is off.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    pub principal: Option<String>,
}

/// Checks a member string (`user:…`, `serviceAccount:…`, `group:…`, `domain:…`).
pub fn check_member(m: &str) -> Result<(), String> {
    if m == "allUsers" || m == "allAuthenticatedUsers" {
        return Ok(());
    }
    match m.split_once(':') {
        Some(("user" | "serviceAccount" | "group" | "domain" | "principal", v))
            if !v.is_empty() && !v.contains(char::is_whitespace) =>
        {
            Ok(())
        }
        _ => Err(format!(
            "`{m}` is not a member (user:EMAIL, serviceAccount:EMAIL, group:EMAIL, domain:DOMAIN, allUsers, allAuthenticatedUsers)"
        )),
    }
}

impl AccessConfig {
    /// Parses a token file: one `TOKEN PRINCIPAL` per line; `#` starts a comment.
    pub fn with_token_file(mut self, origin: &str, text: &str) -> Result<Self, String> {
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or_default().trim();
            if line.is_empty() {
                continue;
            }
            let at = format!("{origin}:{}", i + 1);
            let mut parts = line.split_whitespace();
            let (Some(token), Some(principal), None) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(format!("{at}: expected `TOKEN PRINCIPAL`"));
            };
            if token.len() < 16 {
                return Err(format!("{at}: the token is shorter than 16 characters"));
            }
            if !(principal.starts_with("user:") || principal.starts_with("serviceAccount:")) {
                return Err(format!(
                    "{at}: principal `{principal}` must be user:EMAIL or serviceAccount:EMAIL"
                ));
            }
            check_member(principal).map_err(|e| format!("{at}: {e}"))?;
            if self
                .tokens
                .insert(sha256(token.as_bytes()), principal.to_owned())
                .is_some()
            {
                return Err(format!("{at}: the token is listed twice"));
            }
        }
        Ok(self)
    }

    /// How many static tokens are configured.
    pub fn token_count(&self) -> usize {
        self.tokens.len()
    }

    /// Whether anything can authenticate a caller.
    pub fn is_configured(&self) -> bool {
        !self.tokens.is_empty() || !self.oidc.is_empty()
    }

    fn principal_from_jwt(&self, token: &str, now: u64) -> Result<String, ServiceError> {
        let unauth = |m: String| ServiceError::new(Code::Unauthenticated, m);
        let mut last = "no OIDC issuer is configured".to_owned();
        for iss in &self.oidc {
            let claims = match iss.jwks.current().verify(token) {
                Ok(c) => c,
                Err(e) => {
                    last = e.to_string();
                    continue;
                }
            };
            check_claims(
                &claims,
                &ClaimRules {
                    issuer: &iss.issuer,
                    audiences: &iss.audiences,
                    now,
                    leeway: 60,
                },
            )
            .map_err(|e| unauth(format!("the bearer token was refused: {e}")))?;
            let s = |k: &str| claims.get(k).and_then(Value::as_str);
            if let Some(email) = s("email")
                && claims.get("email_verified").and_then(Value::as_bool) == Some(true)
            {
                let kind = if email.ends_with(".gserviceaccount.com") {
                    "serviceAccount"
                } else {
                    "user"
                };
                return Ok(format!("{kind}:{email}"));
            }
            if let Some(rest) = s("sub").and_then(|v| v.strip_prefix("system:serviceaccount:"))
                && let Some((ns, name)) = rest.split_once(':')
                && !ns.is_empty()
                && !name.is_empty()
            {
                return Ok(format!("serviceAccount:{}[{ns}/{name}]", iss.workload_pool));
            }
            return Err(unauth(
                "the bearer token names no principal (no verified email and no Kubernetes service-account subject)"
                    .into(),
            ));
        }
        Err(unauth(format!("the bearer token was refused: {last}")))
    }
}

/// A project's stable number (Google projects have one; Binary Authorization names its service
/// agent after it). Derived from the id so every replica agrees without storing anything.
pub fn project_number(project: &str) -> u64 {
    let d = sha256(project.as_bytes());
    let mut n = 0u64;
    for b in &d[..8] {
        n = (n << 8) | u64::from(*b);
    }
    100_000_000_000 + n % 900_000_000_000
}

/// `serviceAccount:service-NUMBER@gcp-sa-binaryauthorization.iam.gserviceaccount.com`: the
/// identity under which a project's policy reads attestors and attestations.
pub fn service_agent(project: &str) -> String {
    format!(
        "serviceAccount:service-{}@gcp-sa-binaryauthorization.iam.gserviceaccount.com",
        project_number(project)
    )
}

/// The resource and every ancestor IAM is inherited from, nearest first:
/// `projects/p/locations/l/keyRings/r/cryptoKeys/k` → itself, `…/keyRings/r`, `projects/p`.
pub fn ancestry(resource: &str) -> Vec<String> {
    let segs: Vec<&str> = resource.split('/').collect();
    let mut out = vec![resource.to_owned()];
    let mut n = segs.len();
    while n > 2 {
        n -= if n.is_multiple_of(2) { 2 } else { 1 };
        let prefix = segs[..n].join("/");
        // Locations carry no IAM policy of their own.
        if segs[n - 2] != "locations" {
            out.push(prefix);
        }
    }
    out
}

/// The project a resource name lives in.
pub fn project_of(resource: &str) -> &str {
    resource
        .strip_prefix("projects/")
        .and_then(|r| r.split('/').next())
        .unwrap_or_default()
}

fn member_matches(member: &str, principal: &str) -> bool {
    if member == principal || member == "allUsers" || member == "allAuthenticatedUsers" {
        return true;
    }
    if let Some(domain) = member.strip_prefix("domain:") {
        let email = principal
            .split_once(':')
            .map(|(_, e)| e)
            .unwrap_or_default();
        return email
            .rsplit_once('@')
            .is_some_and(|(_, d)| d.eq_ignore_ascii_case(domain));
    }
    false
}

impl Service {
    /// Turns on access control.
    pub fn with_access(mut self, access: AccessConfig) -> Self {
        self.access = Some(Arc::new(access));
        self
    }

    /// Whether IAM is enforced.
    pub fn access_enforced(&self) -> bool {
        self.access.is_some()
    }

    /// Authenticates an `Authorization` header value.
    pub fn authenticate(&self, authorization: Option<&str>) -> Result<Caller, ServiceError> {
        let Some(access) = &self.access else {
            return Ok(Caller::default());
        };
        let unauth = |m: &str| ServiceError::new(Code::Unauthenticated, m);
        let Some(h) = authorization else {
            return Err(unauth(
                "the request has no credentials: send `Authorization: Bearer TOKEN`",
            ));
        };
        let token = h
            .strip_prefix("Bearer ")
            .or_else(|| h.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| unauth("the Authorization header is not `Bearer TOKEN`"))?;
        if let Some(p) = access.tokens.get(&sha256(token.as_bytes())) {
            return Ok(Caller {
                principal: Some(p.clone()),
            });
        }
        if token.matches('.').count() == 2 && !access.oidc.is_empty() {
            let (now, _) = (self.clock)();
            return access
                .principal_from_jwt(token, now)
                .map(|p| Caller { principal: Some(p) });
        }
        Err(unauth("the bearer token is not known"))
    }

    /// The roles `principal` holds on `resource`: bindings on it and its ancestors, `roles/owner`
    /// for the configured owners, and the service agent's role on its own project. Read once
    /// per check, however many permissions are asked about.
    async fn roles_of(&self, principal: &str, resource: &str) -> Result<Vec<String>, ServiceError> {
        let Some(access) = &self.access else {
            return Ok(vec![]);
        };
        if access.owners.iter().any(|o| o == principal) {
            return Ok(vec!["roles/owner".into()]);
        }
        let mut roles = Vec::new();
        let project = project_of(resource);
        if !project.is_empty() && principal == service_agent(project) {
            roles.push(SERVICE_AGENT_ROLE.to_owned());
        }
        for name in ancestry(resource) {
            let Some(doc) = self.store.get(Kind::IamPolicy, &name).await? else {
                continue;
            };
            for b in doc
                .body
                .get("bindings")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                // Conditions are not evaluated, so a conditional binding grants nothing.
                if b.get("condition").is_some_and(|c| !c.is_null()) {
                    continue;
                }
                let member = b
                    .get("members")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .any(|m| member_matches(m, principal));
                if let Some(role) = b.get("role").and_then(Value::as_str)
                    && member
                {
                    roles.push(role.to_owned());
                }
            }
        }
        Ok(roles)
    }

    /// Whether `principal` holds `permission` on `resource` (always, with access control off):
    /// itself, or as a Google service account it acts as through Workload Identity.
    pub(crate) async fn holds(
        &self,
        principal: &str,
        permission: &str,
        resource: &str,
    ) -> Result<bool, ServiceError> {
        if self.access.is_none() {
            return Ok(true);
        }
        if self.holds_directly(principal, permission, resource).await? {
            return Ok(true);
        }
        for account in self.impersonated(principal).await? {
            if self.holds_directly(&account, permission, resource).await? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Whether `principal` holds `permission` on `resource` (always, with access control off):
    /// for checks on principals other than the caller (the breakglass user of a review).
    pub async fn principal_holds(
        &self,
        principal: &str,
        permission: &str,
        resource: &str,
    ) -> Result<bool, ServiceError> {
        self.holds(principal, permission, resource).await
    }

    /// Whether `principal` itself holds `permission` on `resource`, through a predefined or a
    /// custom role.
    pub(crate) async fn holds_directly(
        &self,
        principal: &str,
        permission: &str,
        resource: &str,
    ) -> Result<bool, ServiceError> {
        for role in self.roles_of(principal, resource).await? {
            let granted = if role.starts_with("projects/") {
                self.custom_role_permissions(&role)
                    .await?
                    .iter()
                    .any(|p| p == permission)
            } else {
                grants(&role, permission) == Some(true)
            };
            if granted {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// PERMISSION_DENIED unless the caller holds `permission` on `resource`.
    pub async fn authorize(
        &self,
        caller: &Caller,
        permission: &str,
        resource: &str,
    ) -> Result<(), ServiceError> {
        let Some(principal) = caller.principal.as_deref() else {
            return if self.access.is_some() {
                Err(ServiceError::new(Code::Unauthenticated, "no caller"))
            } else {
                Ok(())
            };
        };
        if self.holds(principal, permission, resource).await? {
            Ok(())
        } else {
            Err(ServiceError::new(
                Code::PermissionDenied,
                format!(
                    "Permission '{permission}' denied on resource '{resource}' (or it may not exist) for {principal}"
                ),
            ))
        }
    }

    /// `testIamPermissions`: the asked permissions the caller holds on `resource`.
    pub async fn test_iam_permissions(
        &self,
        caller: &Caller,
        resource: &str,
        request: &Value,
    ) -> Result<Value, ServiceError> {
        let mut held = Vec::new();
        for (i, p) in request
            .get("permissions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let p = p.as_str().ok_or_else(|| {
                ServiceError::invalid(format!("permissions[{i}] must be a string"))
            })?;
            let ok = match caller.principal.as_deref() {
                _ if self.access.is_none() => true,
                None => false,
                Some(principal) => self.holds(principal, p, resource).await?,
            };
            if ok {
                held.push(Value::String(p.to_owned()));
            }
        }
        Ok(serde_json::json!({"permissions": held}))
    }

    /// Appends an administrative change to the audit log of the resource's project.
    pub async fn record_admin_change(
        &self,
        caller: &Caller,
        permission: &str,
        resource: &str,
    ) -> Result<(), ServiceError> {
        let record = serde_json::json!({
            "time": self.now(),
            "project": project_of(resource),
            "cluster": "",
            "namespace": "",
            "kind": "AdminChange",
            "name": resource,
            "user": caller.principal.as_deref().unwrap_or("anonymous (access control off)"),
            "verdict": "ADMIN_CHANGE",
            "permission": permission,
        });
        self.record_audit(&record).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestry_walks_up_to_the_project() {
        assert_eq!(
            ancestry("projects/p/locations/global/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1"),
            vec![
                "projects/p/locations/global/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1",
                "projects/p/locations/global/keyRings/r/cryptoKeys/k",
                "projects/p/locations/global/keyRings/r",
                "projects/p",
            ]
        );
        assert_eq!(
            ancestry("projects/p/policy"),
            vec!["projects/p/policy", "projects/p"]
        );
        assert_eq!(
            ancestry("projects/p/attestors/a"),
            vec!["projects/p/attestors/a", "projects/p"]
        );
        assert_eq!(ancestry("projects/p"), vec!["projects/p"]);
    }

    #[test]
    fn domain_members_match_the_email_domain_only() {
        assert!(member_matches("domain:example.com", "user:a@example.com"));
        assert!(!member_matches(
            "domain:example.com",
            "user:a@evil-example.com"
        ));
        assert!(!member_matches("user:b@example.com", "user:a@example.com"));
    }

    #[test]
    fn token_files_are_checked_line_by_line() {
        let c = AccessConfig::default()
            .with_token_file("t", "# ops\n0123456789abcdef0 user:alice@example.com\n")
            .unwrap_or_default();
        assert_eq!(c.token_count(), 1);
        let e = AccessConfig::default()
            .with_token_file("t", "short user:a@b\n")
            .err();
        assert_eq!(
            e.as_deref(),
            Some("t:1: the token is shorter than 16 characters")
        );
        let e = AccessConfig::default()
            .with_token_file("t", "0123456789abcdef0 alice\n")
            .err();
        assert!(e.is_some_and(|e| e.starts_with("t:1: principal `alice`")));
    }

    #[test]
    fn project_numbers_are_stable_twelve_digit_numbers() {
        let n = project_number("attestor-project");
        assert_eq!(n, project_number("attestor-project"));
        assert_eq!(n.to_string().len(), 12);
        assert_ne!(n, project_number("deployer-project"));
    }
}
