//! Access control on every route: authenticate the bearer token, work out the permission the
//! method needs and on which resource (the tables Google publishes per method), check it, and
//! record administrative changes in the audit log with the principal.
//!
//! This runs as a route layer, so it sees only requests that matched a route; a matched route
//! without an entry here is refused when access control is on (fail closed), which the
//! authorization-matrix test would catch.

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::{ApiError, AppState};

/// What a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Need {
    /// Any authenticated caller (`testIamPermissions`, the system policy).
    Authenticated,
    /// `permission` on `resource`; `admin` changes are audited.
    Permission {
        permission: &'static str,
        resource: String,
        admin: bool,
    },
}

fn perm(permission: &'static str, resource: String) -> Option<Need> {
    Some(Need::Permission {
        permission,
        resource,
        admin: false,
    })
}

fn admin(permission: &'static str, resource: String) -> Option<Need> {
    Some(Need::Permission {
        permission,
        resource,
        admin: true,
    })
}

/// `projects/P` of a path under it.
fn parent_project(names: &[&str]) -> String {
    names[..2].join("/")
}

/// A service account's resource name with `-` replaced by the project its email names.
fn service_account(names: &[&str]) -> String {
    let email = names.get(3).copied().unwrap_or_default();
    let project = match names.get(1).copied() {
        Some("-") => email
            .split_once('@')
            .and_then(|(_, d)| d.strip_suffix(".iam.gserviceaccount.com"))
            .unwrap_or("-"),
        Some(p) => p,
        None => "-",
    };
    format!("projects/{project}/serviceAccounts/{email}")
}

/// The permission `method path` needs, or `None` when no method of this server has that shape.
pub(crate) fn need(method: &Method, path: &str) -> Option<Need> {
    let mut segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    // `/admit/v1/...` is admit's own API; the rest start with an API version.
    if segs.first() == Some(&"admit") {
        segs.remove(0);
    }
    let version = segs.first().copied()?;
    // Cloud Logging's entries.list names its projects in the body: the handler checks
    // `logging.logEntries.list` on each.
    if segs == ["v2", "entries:list"] && method == Method::POST {
        return Some(Need::Authenticated);
    }
    if !matches!(version, "v1" | "v1beta1" | "v1alpha2") {
        return None;
    }
    let mut names: Vec<&str> = segs[1..].to_vec();
    let last = names.pop()?;
    let (last, custom) = match last.split_once(':') {
        Some((id, m)) => (id, Some(m)),
        None => (last, None),
    };
    names.push(last);
    let shape: Vec<&str> = names
        .iter()
        .enumerate()
        .map(|(i, s)| if i % 2 == 1 { "*" } else { *s })
        .collect();
    let shape = shape.join("/");
    let resource = names.join("/");
    // The resource a collection (or a singleton under a resource) belongs to.
    let parent = names[..names.len().saturating_sub(1)].join("/");
    let m = method.as_str();
    if custom == Some("testIamPermissions") && m == "POST" {
        return Some(Need::Authenticated);
    }
    let iam = |get: &'static str, set: &'static str| match (m, custom) {
        ("GET" | "POST", Some("getIamPolicy")) => perm(get, resource.clone()),
        ("POST", Some("setIamPolicy")) => admin(set, resource.clone()),
        _ => None,
    };
    match shape.as_str() {
        // Cloud Resource Manager: projects and their IAM.
        "projects/*" => match (m, custom) {
            ("GET", None) => perm("resourcemanager.projects.get", resource),
            _ => iam(
                "resourcemanager.projects.getIamPolicy",
                "resourcemanager.projects.setIamPolicy",
            ),
        },
        // Binary Authorization.
        "projects/*/policy" => match (m, custom) {
            // `POST :simulate` and `:describeImage` (admit extensions) read the policy and judge
            // workloads or an image with it.
            ("GET", None) | ("POST", Some("simulate" | "describeImage")) => {
                perm("binaryauthorization.policy.get", resource)
            }
            ("PUT", None) => admin("binaryauthorization.policy.update", resource),
            _ => iam(
                "binaryauthorization.policy.getIamPolicy",
                "binaryauthorization.policy.setIamPolicy",
            ),
        },
        // The system policy and finished operations: any authenticated caller.
        "locations/*/policy" | "operations/*" if m == "GET" && custom.is_none() => {
            Some(Need::Authenticated)
        }
        "projects/*/attestors" => match (m, custom) {
            ("GET", None) => perm("binaryauthorization.attestors.list", parent),
            ("POST", None) => admin("binaryauthorization.attestors.create", parent),
            _ => None,
        },
        "projects/*/attestors/*" => match (m, custom) {
            ("GET", None) => perm("binaryauthorization.attestors.get", resource),
            ("PUT", None) => admin("binaryauthorization.attestors.update", resource),
            ("DELETE", None) => admin("binaryauthorization.attestors.delete", resource),
            ("POST", Some("validateAttestationOccurrence")) => perm(
                "binaryauthorization.attestors.verifyImageAttested",
                resource,
            ),
            _ => iam(
                "binaryauthorization.attestors.getIamPolicy",
                "binaryauthorization.attestors.setIamPolicy",
            ),
        },
        "projects/*/continuousValidationConfig" => match (m, custom) {
            ("GET", None) => perm(
                "binaryauthorization.continuousValidationConfig.get",
                resource,
            ),
            ("PUT", None) => admin(
                "binaryauthorization.continuousValidationConfig.update",
                resource,
            ),
            _ => iam(
                "binaryauthorization.continuousValidationConfig.getIamPolicy",
                "binaryauthorization.continuousValidationConfig.setIamPolicy",
            ),
        },
        "projects/*/platforms" if m == "GET" => {
            perm("binaryauthorization.platformPolicies.list", parent)
        }
        "projects/*/platforms/*/policies" => {
            let project = names[..2].join("/");
            match (m, custom) {
                ("GET", None) => perm("binaryauthorization.platformPolicies.list", project),
                ("POST", None) => admin("binaryauthorization.platformPolicies.create", project),
                _ => None,
            }
        }
        "projects/*/platforms/*/policies/*" => match (m, custom) {
            ("GET", None) => perm("binaryauthorization.platformPolicies.get", resource),
            ("PUT", None) => admin("binaryauthorization.platformPolicies.replace", resource),
            ("DELETE", None) => admin("binaryauthorization.platformPolicies.delete", resource),
            ("POST", Some("evaluate")) => perm(
                "binaryauthorization.platformPolicies.evaluatePolicy",
                resource,
            ),
            _ => None,
        },
        // Container Analysis.
        "projects/*/notes" => match (m, custom) {
            ("GET", None) => perm("containeranalysis.notes.list", parent),
            ("POST", None | Some("batchCreate")) => admin("containeranalysis.notes.create", parent),
            _ => None,
        },
        "projects/*/notes/*" => match (m, custom) {
            ("GET", None) => perm("containeranalysis.notes.get", resource),
            ("PATCH", None) => admin("containeranalysis.notes.update", resource),
            ("DELETE", None) => admin("containeranalysis.notes.delete", resource),
            _ => iam(
                "containeranalysis.notes.getIamPolicy",
                "containeranalysis.notes.setIamPolicy",
            ),
        },
        "projects/*/notes/*/occurrences" if m == "GET" && custom.is_none() => {
            perm("containeranalysis.notes.listOccurrences", parent)
        }
        "projects/*/occurrences" => match (m, custom) {
            ("GET", None | Some("vulnerabilitySummary")) => {
                perm("containeranalysis.occurrences.list", parent)
            }
            // The note's `attachOccurrence` is checked by the handler, which reads the body.
            ("POST", None | Some("batchCreate")) => {
                perm("containeranalysis.occurrences.create", parent)
            }
            _ => None,
        },
        "projects/*/occurrences/*" => match (m, custom) {
            ("GET", None) => perm("containeranalysis.occurrences.get", resource),
            ("PATCH", None) => perm("containeranalysis.occurrences.update", resource),
            ("DELETE", None) => perm("containeranalysis.occurrences.delete", resource),
            _ => iam(
                "containeranalysis.occurrences.getIamPolicy",
                "containeranalysis.occurrences.setIamPolicy",
            ),
        },
        "projects/*/occurrences/*/notes" if m == "GET" && custom.is_none() => {
            perm("containeranalysis.occurrences.get", parent)
        }
        // admit's audit log.
        "projects/*/auditRecords" if m == "GET" => perm("logging.logEntries.list", parent),
        // Service Usage.
        "projects/*/services" => match (m, custom) {
            ("GET", None) => perm("serviceusage.services.list", parent),
            ("POST", Some("batchEnable")) => admin("serviceusage.services.enable", parent),
            _ => None,
        },
        "projects/*/services/*" => match (m, custom) {
            ("GET", None) => perm("serviceusage.services.get", parent_project(&names)),
            ("POST", Some("enable")) => {
                admin("serviceusage.services.enable", parent_project(&names))
            }
            ("POST", Some("disable")) => {
                admin("serviceusage.services.disable", parent_project(&names))
            }
            _ => None,
        },
        // IAM: service accounts, custom roles.
        "projects/*/serviceAccounts" => match (m, custom) {
            ("GET", None) => perm("iam.serviceAccounts.list", parent),
            ("POST", None) => admin("iam.serviceAccounts.create", parent),
            _ => None,
        },
        "projects/*/serviceAccounts/*" => {
            let account = service_account(&names);
            match (m, custom) {
                ("GET", None) => perm("iam.serviceAccounts.get", account),
                ("PATCH", None) => admin("iam.serviceAccounts.update", account),
                ("DELETE", None) => admin("iam.serviceAccounts.delete", account),
                ("POST" | "GET", Some("getIamPolicy")) => {
                    perm("iam.serviceAccounts.getIamPolicy", account)
                }
                ("POST", Some("setIamPolicy")) => {
                    admin("iam.serviceAccounts.setIamPolicy", account)
                }
                _ => None,
            }
        }
        "projects/*/roles" => match (m, custom) {
            ("GET", None) => perm("iam.roles.list", parent),
            ("POST", None) => admin("iam.roles.create", parent),
            _ => None,
        },
        "projects/*/roles/*" => match (m, custom) {
            ("GET", None) => perm("iam.roles.get", parent_project(&names)),
            ("PATCH", None) => admin("iam.roles.update", parent_project(&names)),
            ("DELETE", None) => admin("iam.roles.delete", parent_project(&names)),
            ("POST", Some("undelete")) => admin("iam.roles.undelete", parent_project(&names)),
            _ => None,
        },
        "permissions" if m == "POST" && custom == Some("queryTestablePermissions") => {
            Some(Need::Authenticated)
        }
        // Cloud KMS.
        "projects/*/locations/*/keyRings" => match (m, custom) {
            ("GET", None) => perm("cloudkms.keyRings.list", parent),
            ("POST", None) => admin("cloudkms.keyRings.create", parent),
            _ => None,
        },
        "projects/*/locations/*/keyRings/*" => match (m, custom) {
            ("GET", None) => perm("cloudkms.keyRings.get", resource),
            _ => iam(
                "cloudkms.keyRings.getIamPolicy",
                "cloudkms.keyRings.setIamPolicy",
            ),
        },
        "projects/*/locations/*/keyRings/*/cryptoKeys" => match (m, custom) {
            ("GET", None) => perm("cloudkms.cryptoKeys.list", parent),
            ("POST", None) => admin("cloudkms.cryptoKeys.create", parent),
            _ => None,
        },
        "projects/*/locations/*/keyRings/*/cryptoKeys/*" => match (m, custom) {
            ("GET", None) => perm("cloudkms.cryptoKeys.get", resource),
            ("PATCH", None) => admin("cloudkms.cryptoKeys.update", resource),
            _ => iam(
                "cloudkms.cryptoKeys.getIamPolicy",
                "cloudkms.cryptoKeys.setIamPolicy",
            ),
        },
        "projects/*/locations/*/keyRings/*/cryptoKeys/*/cryptoKeyVersions" => match (m, custom) {
            ("GET", None) => perm("cloudkms.cryptoKeyVersions.list", parent),
            ("POST", None) => admin("cloudkms.cryptoKeyVersions.create", parent),
            _ => None,
        },
        "projects/*/locations/*/keyRings/*/cryptoKeys/*/cryptoKeyVersions/*" => match (m, custom) {
            ("GET", None) => perm("cloudkms.cryptoKeyVersions.get", resource),
            ("PATCH", None) => admin("cloudkms.cryptoKeyVersions.update", resource),
            ("POST", Some("asymmetricSign")) => {
                perm("cloudkms.cryptoKeyVersions.useToSign", resource)
            }
            ("POST", Some("destroy")) => admin("cloudkms.cryptoKeyVersions.destroy", resource),
            ("POST", Some("restore")) => admin("cloudkms.cryptoKeyVersions.restore", resource),
            _ => None,
        },
        "projects/*/locations/*/keyRings/*/cryptoKeys/*/cryptoKeyVersions/*/publicKey"
            if m == "GET" && custom.is_none() =>
        {
            perm("cloudkms.cryptoKeyVersions.viewPublicKey", parent)
        }
        _ => None,
    }
}

fn header(req: &Request, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The route layer.
pub(crate) async fn enforce(State(s): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let caller = match s.authenticate(header(&req, "authorization").as_deref()) {
        Ok(c) => c,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let need = need(req.method(), &path);
    let mut audit = None;
    match need {
        None if s.access_enforced() => {
            return ApiError::from(admit_service::ServiceError::new(
                admit_service::Code::PermissionDenied,
                format!("no permission is defined for {} {path}", req.method()),
            ))
            .into_response();
        }
        // Any authenticated caller; or, with access control off, a route left unmapped.
        Some(Need::Authenticated) | None => {}
        Some(Need::Permission {
            permission,
            resource,
            admin,
        }) => {
            if let Err(e) = s.authorize(&caller, permission, &resource).await {
                return ApiError::from(e).into_response();
            }
            if admin {
                audit = Some((permission, resource));
            }
        }
    }
    req.extensions_mut().insert(caller.clone());
    let resp = next.run(req).await;
    if let Some((permission, resource)) = audit
        && resp.status().is_success()
        && let Err(e) = s.record_admin_change(&caller, permission, &resource).await
    {
        // The change is made; losing its record is an operational alarm, not a rollback.
        tracing::error!(%permission, %resource, error = %e, "could not record an administrative change in the audit log");
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(method: &Method, path: &str) -> Option<(String, String)> {
        match need(method, path)? {
            Need::Permission {
                permission,
                resource,
                ..
            } => Some((permission.to_owned(), resource)),
            Need::Authenticated => Some(("(authenticated)".into(), String::new())),
        }
    }

    #[test]
    fn methods_map_to_googles_permissions_on_the_right_resource() {
        let cases = [
            (
                Method::GET,
                "/v1/projects/d/policy",
                "binaryauthorization.policy.get",
                "projects/d/policy",
            ),
            (
                Method::POST,
                "/v1alpha2/projects/d/policy:setIamPolicy",
                "binaryauthorization.policy.setIamPolicy",
                "projects/d/policy",
            ),
            (
                Method::POST,
                "/v1/projects/a/attestors",
                "binaryauthorization.attestors.create",
                "projects/a",
            ),
            (
                Method::POST,
                "/v1/projects/a/attestors/x:validateAttestationOccurrence",
                "binaryauthorization.attestors.verifyImageAttested",
                "projects/a/attestors/x",
            ),
            (
                Method::GET,
                "/v1/projects/n/notes/x/occurrences",
                "containeranalysis.notes.listOccurrences",
                "projects/n/notes/x",
            ),
            (
                Method::POST,
                "/v1/projects/n/notes:batchCreate",
                "containeranalysis.notes.create",
                "projects/n",
            ),
            (
                Method::POST,
                "/v1/projects/k/locations/global/keyRings/r/cryptoKeys/c/cryptoKeyVersions/1:asymmetricSign",
                "cloudkms.cryptoKeyVersions.useToSign",
                "projects/k/locations/global/keyRings/r/cryptoKeys/c/cryptoKeyVersions/1",
            ),
            (
                Method::GET,
                "/v1/projects/k/locations/global/keyRings/r/cryptoKeys/c/cryptoKeyVersions/1/publicKey",
                "cloudkms.cryptoKeyVersions.viewPublicKey",
                "projects/k/locations/global/keyRings/r/cryptoKeys/c/cryptoKeyVersions/1",
            ),
            (
                Method::POST,
                "/v1/projects/p:setIamPolicy",
                "resourcemanager.projects.setIamPolicy",
                "projects/p",
            ),
            (
                Method::GET,
                "/admit/v1/projects/p/auditRecords",
                "logging.logEntries.list",
                "projects/p",
            ),
        ];
        for (m, path, permission, resource) in cases {
            assert_eq!(
                p(&m, path),
                Some((permission.to_owned(), resource.to_owned())),
                "{path}"
            );
        }
        assert_eq!(
            p(
                &Method::POST,
                "/v1/projects/p/attestors/x:testIamPermissions"
            )
            .map(|x| x.0)
            .as_deref(),
            Some("(authenticated)")
        );
        assert_eq!(p(&Method::GET, "/v1/projects/p/secrets"), None);
        assert_eq!(p(&Method::POST, "/v1/projects/p/policy"), None);
    }
}
