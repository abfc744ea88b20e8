//! Policy validation: every broken rule is reported with the field that broke it.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "integration tests abort loudly on broken set-up"
)]

use admit_model::{Format, Policy, decode};
use admit_policy::{CompiledPolicy, validate};
use rstest::rstest;

fn violations(yaml: &str) -> Vec<String> {
    let policy: Policy = decode(yaml, Format::Yaml).expect("decodes");
    validate(&policy).iter().map(ToString::to_string).collect()
}

const OK_RULE: &str =
    "evaluationMode: ALWAYS_ALLOW\n    enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG";

#[test]
fn seed_000_policy_is_valid() {
    let yaml = "globalPolicyEvaluationMode: ENABLE\ndefaultAdmissionRule:\n  evaluationMode: REQUIRE_ATTESTATION\n  enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG\n  requireAttestationsBy:\n  - projects/my-proj/attestors/my-binauthz-attestor\n";
    assert_eq!(violations(yaml), Vec::<String>::new());
}

#[rstest]
#[case::missing_default("description: x\n", "defaultAdmissionRule: required")]
#[case::require_without_attestors(
    "defaultAdmissionRule:\n  evaluationMode: REQUIRE_ATTESTATION\n  enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG\n",
    "defaultAdmissionRule.requireAttestationsBy: REQUIRE_ATTESTATION needs at least one attestor"
)]
#[case::attestors_without_require(
    "defaultAdmissionRule:\n  evaluationMode: ALWAYS_ALLOW\n  enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG\n  requireAttestationsBy: [projects/p/attestors/a]\n",
    "defaultAdmissionRule.requireAttestationsBy: must be empty"
)]
#[case::bad_attestor_name(
    "defaultAdmissionRule:\n  evaluationMode: REQUIRE_ATTESTATION\n  enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG\n  requireAttestationsBy: [my-attestor]\n",
    "defaultAdmissionRule.requireAttestationsBy[0]: invalid attestor name `my-attestor`: expected `projects/*/attestors/*`"
)]
#[case::duplicate_attestor(
    "defaultAdmissionRule:\n  evaluationMode: REQUIRE_ATTESTATION\n  enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG\n  requireAttestationsBy: [projects/p/attestors/a, projects/p/attestors/a]\n",
    "defaultAdmissionRule.requireAttestationsBy[1]: attestor `projects/p/attestors/a` is listed twice"
)]
#[case::missing_evaluation_mode(
    "defaultAdmissionRule:\n  enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG\n",
    "defaultAdmissionRule.evaluationMode: required"
)]
#[case::missing_enforcement_mode(
    "defaultAdmissionRule:\n  evaluationMode: ALWAYS_DENY\n",
    "defaultAdmissionRule.enforcementMode: required"
)]
#[case::cluster_key_without_location(
    &format!("defaultAdmissionRule:\n    {OK_RULE}\nclusterAdmissionRules:\n  prod-cluster:\n    {OK_RULE}\n"),
    "clusterAdmissionRules[\"prod-cluster\"]: key must be `location.clusterId`"
)]
#[case::cluster_key_upper(
    &format!("defaultAdmissionRule:\n    {OK_RULE}\nclusterAdmissionRules:\n  us-central1-a.Prod:\n    {OK_RULE}\n"),
    "clusterAdmissionRules[\"us-central1-a.Prod\"]: cluster id `Prod`"
)]
#[case::namespace_key(
    &format!("defaultAdmissionRule:\n    {OK_RULE}\nkubernetesNamespaceAdmissionRules:\n  Test_NS:\n    {OK_RULE}\n"),
    "kubernetesNamespaceAdmissionRules[\"Test_NS\"]: key must be a Kubernetes namespace name"
)]
#[case::service_account_key(
    &format!("defaultAdmissionRule:\n    {OK_RULE}\nkubernetesServiceAccountAdmissionRules:\n  test-ns/default:\n    {OK_RULE}\n"),
    "kubernetesServiceAccountAdmissionRules[\"test-ns/default\"]: key must be `namespace:serviceaccount`"
)]
#[case::istio_key(
    &format!("defaultAdmissionRule:\n    {OK_RULE}\nistioServiceIdentityAdmissionRules:\n  spiffe://example.com/test-ns/default:\n    {OK_RULE}\n"),
    "istioServiceIdentityAdmissionRules[\"spiffe://example.com/test-ns/default\"]: key must be `spiffe://"
)]
#[case::two_kinds_of_specific_rule(
    &format!("defaultAdmissionRule:\n    {OK_RULE}\nclusterAdmissionRules:\n  us-east1.prod:\n    {OK_RULE}\nkubernetesNamespaceAdmissionRules:\n  test-ns:\n    {OK_RULE}\n"),
    "kubernetesNamespaceAdmissionRules: only one kind of specific rule may be set; clusterAdmissionRules is already set"
)]
#[case::wildcard_in_middle(
    &format!("defaultAdmissionRule:\n    {OK_RULE}\nadmissionWhitelistPatterns:\n- namePattern: gcr.io/my-project/n*x\n"),
    "admissionWhitelistPatterns[0].namePattern: `gcr.io/my-project/n*x`: wildcards (`*`, `**`) are allowed only at the end"
)]
#[case::wildcard_in_registry(
    &format!("defaultAdmissionRule:\n    {OK_RULE}\nadmissionWhitelistPatterns:\n- namePattern: gcr.i*\n"),
    "admissionWhitelistPatterns[0].namePattern: `gcr.i*`: a wildcard is allowed only after `registry/`"
)]
#[case::bad_name(
    &format!("name: projects/p/policies\ndefaultAdmissionRule:\n    {OK_RULE}\n"),
    "name: must be `projects/{project}/policy`"
)]
fn violations_name_the_field_and_the_rule(#[case] yaml: &str, #[case] want: &str) {
    let got = violations(yaml);
    assert!(
        got.iter().any(|v| v.starts_with(want)),
        "want `{want}` in {got:#?}"
    );
}

#[test]
fn every_violation_is_reported_at_once() {
    let yaml = "defaultAdmissionRule:\n  evaluationMode: REQUIRE_ATTESTATION\nadmissionWhitelistPatterns:\n- namePattern: '*'\n";
    assert_eq!(violations(yaml).len(), 3, "{:#?}", violations(yaml));
}

#[test]
fn valid_specific_rule_keys_are_accepted() {
    for (map, key) in [
        ("clusterAdmissionRules", "us-central1-a.prod-cluster"),
        ("clusterAdmissionRules", "us-central1.c1"),
        ("kubernetesNamespaceAdmissionRules", "test-ns"),
        ("kubernetesNamespaceAdmissionRules", "team1"),
        ("kubernetesServiceAccountAdmissionRules", "test-ns:default"),
        (
            "istioServiceIdentityAdmissionRules",
            "spiffe://example.com/ns/test-ns/sa/default",
        ),
        (
            "istioServiceIdentityAdmissionRules",
            "example.com/ns/test-ns/sa/default",
        ),
    ] {
        let yaml =
            format!("defaultAdmissionRule:\n    {OK_RULE}\n{map}:\n  {key}:\n    {OK_RULE}\n");
        assert_eq!(violations(&yaml), Vec::<String>::new(), "{map} {key}");
    }
}

#[test]
fn compiling_an_invalid_policy_fails_with_all_violations() {
    let policy: Policy = decode("description: nothing else\n", Format::Yaml).expect("decodes");
    let err = CompiledPolicy::new(policy)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("defaultAdmissionRule: required"), "{err}");
}
