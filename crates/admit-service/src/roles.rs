//! The predefined IAM roles that matter to Binary Authorization, Container Analysis and Cloud
//! KMS, with the permissions Google's documentation lists for them (trimmed to the methods this
//! server has). Basic roles are derived from the catalogue the way Google defines them: owner
//! holds everything but the right to *use* KMS keys, editor everything but changing IAM, viewer
//! reading.

/// Every permission a method of this server can require.
pub const PERMISSIONS: &[&str] = &[
    "admit.breakglass.use",
    "binaryauthorization.attestors.create",
    "binaryauthorization.attestors.delete",
    "binaryauthorization.attestors.get",
    "binaryauthorization.attestors.getIamPolicy",
    "binaryauthorization.attestors.list",
    "binaryauthorization.attestors.setIamPolicy",
    "binaryauthorization.attestors.update",
    "binaryauthorization.attestors.verifyImageAttested",
    "binaryauthorization.continuousValidationConfig.get",
    "binaryauthorization.continuousValidationConfig.getIamPolicy",
    "binaryauthorization.continuousValidationConfig.setIamPolicy",
    "binaryauthorization.continuousValidationConfig.update",
    "binaryauthorization.platformPolicies.create",
    "binaryauthorization.platformPolicies.delete",
    "binaryauthorization.platformPolicies.evaluatePolicy",
    "binaryauthorization.platformPolicies.get",
    "binaryauthorization.platformPolicies.list",
    "binaryauthorization.platformPolicies.replace",
    "binaryauthorization.policy.evaluatePolicy",
    "binaryauthorization.policy.get",
    "binaryauthorization.policy.getIamPolicy",
    "binaryauthorization.policy.setIamPolicy",
    "binaryauthorization.policy.update",
    "containeranalysis.notes.attachOccurrence",
    "containeranalysis.notes.create",
    "containeranalysis.notes.delete",
    "containeranalysis.notes.get",
    "containeranalysis.notes.getIamPolicy",
    "containeranalysis.notes.list",
    "containeranalysis.notes.listOccurrences",
    "containeranalysis.notes.setIamPolicy",
    "containeranalysis.notes.update",
    "containeranalysis.occurrences.create",
    "containeranalysis.occurrences.delete",
    "containeranalysis.occurrences.get",
    "containeranalysis.occurrences.getIamPolicy",
    "containeranalysis.occurrences.list",
    "containeranalysis.occurrences.setIamPolicy",
    "containeranalysis.occurrences.update",
    "cloudkms.keyRings.create",
    "cloudkms.keyRings.get",
    "cloudkms.keyRings.getIamPolicy",
    "cloudkms.keyRings.list",
    "cloudkms.keyRings.setIamPolicy",
    "cloudkms.cryptoKeys.create",
    "cloudkms.cryptoKeys.get",
    "cloudkms.cryptoKeys.getIamPolicy",
    "cloudkms.cryptoKeys.list",
    "cloudkms.cryptoKeys.setIamPolicy",
    "cloudkms.cryptoKeys.update",
    "cloudkms.cryptoKeyVersions.create",
    "cloudkms.cryptoKeyVersions.destroy",
    "cloudkms.cryptoKeyVersions.get",
    "cloudkms.cryptoKeyVersions.list",
    "cloudkms.cryptoKeyVersions.restore",
    "cloudkms.cryptoKeyVersions.update",
    "cloudkms.cryptoKeyVersions.useToSign",
    "cloudkms.cryptoKeyVersions.useToVerify",
    "cloudkms.cryptoKeyVersions.viewPublicKey",
    "iam.roles.create",
    "iam.roles.delete",
    "iam.roles.get",
    "iam.roles.list",
    "iam.roles.undelete",
    "iam.roles.update",
    "iam.serviceAccounts.create",
    "iam.serviceAccounts.delete",
    "iam.serviceAccounts.get",
    "iam.serviceAccounts.getAccessToken",
    "iam.serviceAccounts.getIamPolicy",
    "iam.serviceAccounts.getOpenIdToken",
    "iam.serviceAccounts.list",
    "iam.serviceAccounts.setIamPolicy",
    "iam.serviceAccounts.update",
    "logging.logEntries.list",
    "resourcemanager.projects.get",
    "resourcemanager.projects.getIamPolicy",
    "resourcemanager.projects.setIamPolicy",
    "serviceusage.services.disable",
    "serviceusage.services.enable",
    "serviceusage.services.get",
    "serviceusage.services.list",
];

/// The Binary Authorization service agent's role, which every project's agent holds on its own
/// project (Google grants it when the API is enabled).
pub(crate) const SERVICE_AGENT_ROLE: &str = "roles/binaryauthorization.serviceAgent";

fn is_use_of_key(p: &str) -> bool {
    p.starts_with("cloudkms.cryptoKeyVersions.useTo")
}

fn basic(role: &str, p: &str) -> bool {
    let verb = p.rsplit('.').next().unwrap_or_default();
    match role {
        "roles/owner" => !is_use_of_key(p),
        // Editors read roles but do not define them (Google keeps that for owners and
        // roles/iam.roleAdmin).
        "roles/editor" => {
            !is_use_of_key(p)
                && verb != "setIamPolicy"
                && (!p.starts_with("iam.roles.") || matches!(verb, "get" | "list"))
        }
        "roles/viewer" => matches!(verb, "get" | "list" | "getIamPolicy" | "listOccurrences"),
        _ => false,
    }
}

fn in_service(p: &str, prefix: &str, except: &[&str]) -> bool {
    p.starts_with(prefix) && !except.iter().any(|e| p.ends_with(e))
}

/// The named predefined roles: (role, permissions).
const NAMED: &[(&str, &[&str])] = &[
    (
        "roles/binaryauthorization.policyEditor",
        &[
            "binaryauthorization.policy.get",
            "binaryauthorization.policy.update",
            "binaryauthorization.policy.evaluatePolicy",
            "binaryauthorization.platformPolicies.create",
            "binaryauthorization.platformPolicies.delete",
            "binaryauthorization.platformPolicies.evaluatePolicy",
            "binaryauthorization.platformPolicies.get",
            "binaryauthorization.platformPolicies.list",
            "binaryauthorization.platformPolicies.replace",
            "binaryauthorization.continuousValidationConfig.get",
            "binaryauthorization.continuousValidationConfig.update",
            "resourcemanager.projects.get",
        ],
    ),
    (
        "roles/binaryauthorization.policyViewer",
        &[
            "binaryauthorization.policy.get",
            "binaryauthorization.platformPolicies.get",
            "binaryauthorization.platformPolicies.list",
            "binaryauthorization.continuousValidationConfig.get",
            "resourcemanager.projects.get",
        ],
    ),
    (
        "roles/binaryauthorization.policyEvaluator",
        &[
            "binaryauthorization.policy.evaluatePolicy",
            "binaryauthorization.platformPolicies.evaluatePolicy",
            "resourcemanager.projects.get",
        ],
    ),
    (
        "roles/binaryauthorization.attestorsEditor",
        &[
            "binaryauthorization.attestors.create",
            "binaryauthorization.attestors.delete",
            "binaryauthorization.attestors.get",
            "binaryauthorization.attestors.list",
            "binaryauthorization.attestors.update",
            "binaryauthorization.attestors.verifyImageAttested",
            "resourcemanager.projects.get",
        ],
    ),
    (
        "roles/binaryauthorization.attestorsViewer",
        &[
            "binaryauthorization.attestors.get",
            "binaryauthorization.attestors.list",
            "resourcemanager.projects.get",
        ],
    ),
    (
        "roles/binaryauthorization.attestorsVerifier",
        &[
            "binaryauthorization.attestors.get",
            "binaryauthorization.attestors.list",
            "binaryauthorization.attestors.verifyImageAttested",
            "resourcemanager.projects.get",
        ],
    ),
    (
        SERVICE_AGENT_ROLE,
        &[
            "binaryauthorization.attestors.get",
            "binaryauthorization.attestors.verifyImageAttested",
            "binaryauthorization.policy.get",
            "containeranalysis.notes.get",
            "containeranalysis.notes.listOccurrences",
            "containeranalysis.occurrences.get",
            "containeranalysis.occurrences.list",
        ],
    ),
    (
        "roles/containeranalysis.notes.attacher",
        &[
            "containeranalysis.notes.attachOccurrence",
            "containeranalysis.notes.get",
        ],
    ),
    (
        "roles/containeranalysis.notes.editor",
        &[
            "containeranalysis.notes.attachOccurrence",
            "containeranalysis.notes.create",
            "containeranalysis.notes.delete",
            "containeranalysis.notes.get",
            "containeranalysis.notes.list",
            "containeranalysis.notes.update",
            "resourcemanager.projects.get",
        ],
    ),
    (
        "roles/containeranalysis.notes.viewer",
        &[
            "containeranalysis.notes.get",
            "containeranalysis.notes.list",
            "resourcemanager.projects.get",
        ],
    ),
    (
        "roles/containeranalysis.notes.occurrences.viewer",
        &[
            "containeranalysis.notes.get",
            "containeranalysis.notes.list",
            "containeranalysis.notes.listOccurrences",
            "containeranalysis.occurrences.get",
            "containeranalysis.occurrences.list",
            "resourcemanager.projects.get",
        ],
    ),
    (
        "roles/containeranalysis.occurrences.editor",
        &[
            "containeranalysis.occurrences.create",
            "containeranalysis.occurrences.delete",
            "containeranalysis.occurrences.get",
            "containeranalysis.occurrences.list",
            "containeranalysis.occurrences.update",
            "resourcemanager.projects.get",
        ],
    ),
    (
        "roles/containeranalysis.occurrences.viewer",
        &[
            "containeranalysis.occurrences.get",
            "containeranalysis.occurrences.list",
            "resourcemanager.projects.get",
        ],
    ),
    (
        "roles/cloudkms.signer",
        &["cloudkms.cryptoKeyVersions.useToSign"],
    ),
    (
        "roles/cloudkms.signerVerifier",
        &[
            "cloudkms.cryptoKeyVersions.useToSign",
            "cloudkms.cryptoKeyVersions.useToVerify",
            "cloudkms.cryptoKeyVersions.viewPublicKey",
        ],
    ),
    (
        "roles/cloudkms.verifier",
        &[
            "cloudkms.cryptoKeyVersions.useToVerify",
            "cloudkms.cryptoKeyVersions.viewPublicKey",
        ],
    ),
    (
        "roles/cloudkms.publicKeyViewer",
        &["cloudkms.cryptoKeyVersions.viewPublicKey"],
    ),
    (
        "roles/cloudkms.viewer",
        &[
            "cloudkms.keyRings.get",
            "cloudkms.keyRings.getIamPolicy",
            "cloudkms.keyRings.list",
            "cloudkms.cryptoKeys.get",
            "cloudkms.cryptoKeys.getIamPolicy",
            "cloudkms.cryptoKeys.list",
            "cloudkms.cryptoKeyVersions.get",
            "cloudkms.cryptoKeyVersions.list",
        ],
    ),
    ("roles/logging.viewer", &["logging.logEntries.list"]),
    // admit's own: may break glass where a project's admitBreakglass names this permission.
    ("roles/admit.breakglassUser", &["admit.breakglass.use"]),
    (
        "roles/iam.workloadIdentityUser",
        &[
            "iam.serviceAccounts.getAccessToken",
            "iam.serviceAccounts.getOpenIdToken",
        ],
    ),
    (
        "roles/iam.serviceAccountAdmin",
        &[
            "iam.serviceAccounts.create",
            "iam.serviceAccounts.delete",
            "iam.serviceAccounts.get",
            "iam.serviceAccounts.getIamPolicy",
            "iam.serviceAccounts.list",
            "iam.serviceAccounts.setIamPolicy",
            "iam.serviceAccounts.update",
            "resourcemanager.projects.get",
        ],
    ),
    (
        "roles/iam.roleAdmin",
        &[
            "iam.roles.create",
            "iam.roles.delete",
            "iam.roles.get",
            "iam.roles.list",
            "iam.roles.undelete",
            "iam.roles.update",
            "resourcemanager.projects.get",
            "resourcemanager.projects.getIamPolicy",
        ],
    ),
    ("roles/iam.roleViewer", &["iam.roles.get", "iam.roles.list"]),
    (
        "roles/serviceusage.serviceUsageAdmin",
        &[
            "serviceusage.services.disable",
            "serviceusage.services.enable",
            "serviceusage.services.get",
            "serviceusage.services.list",
        ],
    ),
    (
        "roles/serviceusage.serviceUsageViewer",
        &["serviceusage.services.get", "serviceusage.services.list"],
    ),
];

/// Whether `role` grants `permission`; `None` when the role is unknown.
pub fn grants(role: &str, permission: &str) -> Option<bool> {
    if let Some((_, perms)) = NAMED.iter().find(|(r, _)| *r == role) {
        return Some(perms.contains(&permission));
    }
    let p = permission;
    Some(match role {
        "roles/owner" | "roles/editor" | "roles/viewer" => basic(role, p),
        "roles/binaryauthorization.admin" => in_service(p, "binaryauthorization.", &[]),
        "roles/binaryauthorization.attestorsAdmin" => {
            in_service(p, "binaryauthorization.attestors.", &[])
        }
        "roles/containeranalysis.admin" => in_service(p, "containeranalysis.", &[]),
        "roles/containeranalysis.editor" => in_service(p, "containeranalysis.", &[".setIamPolicy"]),
        "roles/containeranalysis.viewer" => {
            in_service(p, "containeranalysis.", &[])
                && matches!(
                    p.rsplit('.').next(),
                    Some("get" | "list" | "listOccurrences")
                )
        }
        "roles/cloudkms.admin" => in_service(p, "cloudkms.", &[]) && !is_use_of_key(p),
        _ => return None,
    })
}

/// Every role name [`grants`] knows, for error messages.
pub fn known_roles() -> Vec<&'static str> {
    let mut v: Vec<&str> = vec![
        "roles/owner",
        "roles/editor",
        "roles/viewer",
        "roles/binaryauthorization.admin",
        "roles/binaryauthorization.attestorsAdmin",
        "roles/containeranalysis.admin",
        "roles/containeranalysis.editor",
        "roles/containeranalysis.viewer",
        "roles/cloudkms.admin",
    ];
    v.extend(NAMED.iter().map(|(r, _)| *r));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_permission_is_in_the_catalogue() {
        for (role, perms) in NAMED {
            for p in *perms {
                assert!(PERMISSIONS.contains(p), "{role}: {p}");
            }
        }
    }

    #[test]
    fn basic_roles_follow_google() {
        assert_eq!(
            grants("roles/owner", "binaryauthorization.policy.setIamPolicy"),
            Some(true)
        );
        assert_eq!(
            grants("roles/owner", "cloudkms.cryptoKeyVersions.useToSign"),
            Some(false)
        );
        assert_eq!(
            grants("roles/editor", "binaryauthorization.policy.update"),
            Some(true)
        );
        assert_eq!(
            grants("roles/editor", "containeranalysis.notes.setIamPolicy"),
            Some(false)
        );
        assert_eq!(
            grants("roles/viewer", "binaryauthorization.policy.get"),
            Some(true)
        );
        assert_eq!(
            grants("roles/viewer", "binaryauthorization.policy.update"),
            Some(false)
        );
        assert_eq!(
            grants(
                "roles/cloudkms.admin",
                "cloudkms.cryptoKeyVersions.useToSign"
            ),
            Some(false)
        );
        assert_eq!(
            grants(
                "roles/cloudkms.signerVerifier",
                "cloudkms.cryptoKeyVersions.useToSign"
            ),
            Some(true)
        );
        assert_eq!(grants("roles/made.up", "x"), None);
    }
}
