//! The engine end to end: rules, scopes, exemptions, enforcement modes, and attestations signed
//! by the real openssl and gpg, including every negative case the issue names.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "integration tests abort loudly on broken set-up"
)]

use std::sync::OnceLock;

use admit_crypto::{DEFAULT_DSSE_TYPE, create_signature_payload, pae};
use admit_model::{
    AttestationOccurrence, Attestor, AttestorPublicKey, Bytes, Format, NoteKind, Occurrence,
    PkixPublicKey, Policy, Signature, SignatureAlgorithm, UserOwnedGrafeasNote, decode,
};
use admit_policy::{
    Basis, CompiledPolicy, Context, Decision, Evidence, Request, RuleScope, Verdict,
};
use admit_testkit::{Gpg, OpensslKey, SigMode};

const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const D2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
const IMAGE: &str = "gcr.io/my-proj/app";
const ATTESTOR: &str = "projects/my-proj/attestors/built-by-ci";
const NOTE: &str = "projects/my-proj/notes/built-by-ci";

fn p256() -> &'static OpensslKey {
    static K: OnceLock<OpensslKey> = OnceLock::new();
    K.get_or_init(|| OpensslKey::generate("p256"))
}

fn other_p256() -> &'static OpensslKey {
    static K: OnceLock<OpensslKey> = OnceLock::new();
    K.get_or_init(|| OpensslKey::generate("p256"))
}

fn gpg() -> &'static Gpg {
    static G: OnceLock<Gpg> = OnceLock::new();
    G.get_or_init(|| {
        let g = Gpg::new();
        g.generate("signer <signer@example.com>", "ed25519", "sign");
        g
    })
}

fn mk_policy(yaml: &str) -> CompiledPolicy {
    let policy: Policy = decode(yaml, Format::Yaml).expect("policy decodes");
    CompiledPolicy::new(policy).expect("policy is valid")
}

fn require_policy(enforcement: &str) -> CompiledPolicy {
    mk_policy(&format!(
        "defaultAdmissionRule:\n  evaluationMode: REQUIRE_ATTESTATION\n  enforcementMode: {enforcement}\n  requireAttestationsBy: [{ATTESTOR}]\n"
    ))
}

fn mk_pkix_attestor(name: &str, note: &str, key: &OpensslKey, alg: SignatureAlgorithm) -> Attestor {
    Attestor {
        name: name.into(),
        user_owned_grafeas_note: Some(UserOwnedGrafeasNote {
            note_reference: note.into(),
            public_keys: vec![AttestorPublicKey {
                pkix_public_key: Some(PkixPublicKey {
                    public_key_pem: key.public_pem.clone(),
                    signature_algorithm: alg,
                    key_id: None,
                }),
                ..Default::default()
            }],
            delegation_service_account_email: None,
        }),
        ..Default::default()
    }
}

fn key_id(key: &OpensslKey) -> String {
    admit_crypto::pkix_key_id(&key.public_der())
}

fn mk_occurrence(
    note: &str,
    resource: &str,
    payload: &[u8],
    sig: Vec<u8>,
    key_id: &str,
) -> Occurrence {
    Occurrence {
        name: format!(
            "projects/my-proj/occurrences/{}",
            resource.len() + sig.len()
        ),
        resource_uri: resource.into(),
        note_name: note.into(),
        kind: NoteKind::Attestation,
        attestation: Some(AttestationOccurrence {
            serialized_payload: Bytes(payload.to_vec()),
            signatures: vec![Signature {
                signature: Bytes(sig),
                public_key_id: key_id.into(),
            }],
            jwts: vec![],
        }),
        ..Default::default()
    }
}

/// A correctly signed attestation for `IMAGE@digest` by `p256()`.
fn good_occurrence(digest: &str) -> Occurrence {
    let payload = create_signature_payload(&format!("{IMAGE}@{digest}")).expect("payload");
    let sig = p256().sign(SigMode::Dgst("sha256"), payload.as_bytes());
    mk_occurrence(
        NOTE,
        &format!("{IMAGE}@{digest}"),
        payload.as_bytes(),
        sig,
        &key_id(p256()),
    )
}

fn evidence(occurrences: Vec<Occurrence>) -> Evidence {
    let mut e = Evidence::new();
    e.add_attestor(&mk_pkix_attestor(
        ATTESTOR,
        NOTE,
        p256(),
        SignatureAlgorithm::EcdsaP256Sha256,
    ));
    for o in occurrences {
        e.add_occurrence(o);
    }
    e
}

fn eval(policy: &CompiledPolicy, image: &str, ctx: Context, ev: &Evidence) -> Decision {
    let req = Request {
        images: vec![image.to_owned()],
        context: ctx,
    };
    policy.evaluate(&req, ev, 1_700_000_000)
}

fn failures(d: &Decision) -> String {
    d.images
        .iter()
        .flat_map(|i| i.failures.iter().map(ToString::to_string))
        .collect::<Vec<_>>()
        .join(" | ")
}

/// An occurrence for `IMAGE@D1` whose signed payload is the one for `signed_url`.
fn occurrence_signing(signed_url: &str) -> Occurrence {
    let payload = create_signature_payload(signed_url).expect("payload");
    let sig = p256().sign(SigMode::Dgst("sha256"), payload.as_bytes());
    mk_occurrence(
        NOTE,
        &format!("{IMAGE}@{D1}"),
        payload.as_bytes(),
        sig,
        &key_id(p256()),
    )
}

/// Evaluates `IMAGE@D1` under the enforced policy, asserts it is denied and that the
/// failures mention `reason`.
fn assert_denied(ev: &Evidence, reason: &str) {
    let d = eval(
        &require_policy("ENFORCED_BLOCK_AND_AUDIT_LOG"),
        &format!("{IMAGE}@{D1}"),
        Context::default(),
        ev,
    );
    assert!(!d.allowed, "expected a denial for `{reason}`");
    assert!(
        failures(&d).contains(reason),
        "want `{reason}` in {}",
        failures(&d)
    );
}

#[test]
fn attested_digest_is_allowed_and_says_by_whom() {
    let policy = require_policy("ENFORCED_BLOCK_AND_AUDIT_LOG");
    let d = eval(
        &policy,
        &format!("{IMAGE}@{D1}"),
        Context::default(),
        &evidence(vec![good_occurrence(D1)]),
    );
    assert!(d.allowed, "{}", failures(&d));
    match &d.images[0].basis {
        Basis::Rule {
            scope,
            satisfied_by,
            ..
        } => {
            assert_eq!(*scope, RuleScope::Default);
            assert_eq!(satisfied_by[0].attestor, ATTESTOR);
            assert_eq!(satisfied_by[0].key_id, key_id(p256()));
        }
        other => panic!("unexpected basis {other:?}"),
    }
    assert_eq!(
        policy
            .required_attestors(&Request {
                images: vec![format!("{IMAGE}@{D1}")],
                context: Context::default()
            })
            .len(),
        1
    );
}

#[test]
fn name_tag_at_digest_is_decided_by_the_digest() {
    let policy = require_policy("ENFORCED_BLOCK_AND_AUDIT_LOG");
    let ev = evidence(vec![good_occurrence(D1)]);
    assert!(
        eval(
            &policy,
            &format!("{IMAGE}:v1@{D1}"),
            Context::default(),
            &ev
        )
        .allowed
    );
    assert!(
        !eval(
            &policy,
            &format!("{IMAGE}:v1@{D2}"),
            Context::default(),
            &ev
        )
        .allowed
    );
}

#[test]
fn tag_only_image_is_denied_with_a_deploy_by_digest_message() {
    let policy = require_policy("ENFORCED_BLOCK_AND_AUDIT_LOG");
    let d = eval(
        &policy,
        &format!("{IMAGE}:v1"),
        Context::default(),
        &evidence(vec![good_occurrence(D1)]),
    );
    assert!(!d.allowed);
    assert!(failures(&d).contains("by digest"), "{}", failures(&d));
}

#[test]
fn tampered_payload_is_denied() {
    let mut occ = good_occurrence(D1);
    let att = occ.attestation.as_mut().expect("attestation");
    let mut payload = String::from_utf8(att.serialized_payload.0.clone()).expect("utf8");
    payload = payload.replace("binauthz", "BINAUTHZ");
    att.serialized_payload = Bytes(payload.into_bytes());
    assert_denied(&evidence(vec![occ]), "does not verify");
}

#[test]
fn attestation_for_another_digest_is_denied() {
    // Signed payload names D2 but the occurrence claims to be about D1.
    let occ = occurrence_signing(&format!("{IMAGE}@{D2}"));
    assert_denied(&evidence(vec![occ]), &format!("is for digest {D2}"));
}

#[test]
fn attestation_whose_payload_names_another_image_is_denied() {
    let occ = occurrence_signing(&format!("gcr.io/my-proj/other@{D1}"));
    assert_denied(&evidence(vec![occ]), "names image gcr.io/my-proj/other");
}

#[test]
fn signature_by_a_key_the_attestor_does_not_hold_is_denied() {
    let payload = create_signature_payload(&format!("{IMAGE}@{D1}")).expect("payload");
    let sig = other_p256().sign(SigMode::Dgst("sha256"), payload.as_bytes());
    // Claims the attestor's key id, but was made by another key.
    let forged = mk_occurrence(
        NOTE,
        &format!("{IMAGE}@{D1}"),
        payload.as_bytes(),
        sig.clone(),
        &key_id(p256()),
    );
    // Names its own key id, which the attestor does not hold.
    let foreign = mk_occurrence(
        NOTE,
        &format!("{IMAGE}@{D1}"),
        payload.as_bytes(),
        sig,
        &key_id(other_p256()),
    );
    let d = eval(
        &require_policy("ENFORCED_BLOCK_AND_AUDIT_LOG"),
        &format!("{IMAGE}@{D1}"),
        Context::default(),
        &evidence(vec![forged, foreign]),
    );
    assert!(!d.allowed);
    let f = failures(&d);
    assert!(
        f.contains("does not verify") && f.contains("not one of"),
        "{f}"
    );
}

#[test]
fn occurrence_under_another_note_does_not_count() {
    let mut occ = good_occurrence(D1);
    occ.note_name = "projects/my-proj/notes/someone-else".into();
    assert_denied(&evidence(vec![occ]), "no attestation by");
}

#[test]
fn attestor_with_wrongly_declared_key_algorithm_denies() {
    let mut ev = Evidence::new();
    ev.add_attestor(&mk_pkix_attestor(
        ATTESTOR,
        NOTE,
        p256(),
        SignatureAlgorithm::EcdsaP384Sha384,
    ));
    ev.add_occurrence(good_occurrence(D1));
    assert_denied(&ev, "ECDSA_P384_SHA384 does not match the key");
}

#[test]
fn missing_attestor_denies() {
    assert_denied(&Evidence::new(), "not found");
}

#[test]
fn pae_encoded_signature_is_accepted() {
    let payload = create_signature_payload(&format!("{IMAGE}@{D1}")).expect("payload");
    let sig = p256().sign(
        SigMode::Dgst("sha256"),
        &pae(DEFAULT_DSSE_TYPE, payload.as_bytes()),
    );
    let occ = mk_occurrence(
        NOTE,
        &format!("{IMAGE}@{D1}"),
        payload.as_bytes(),
        sig,
        &key_id(p256()),
    );
    let d = eval(
        &require_policy("ENFORCED_BLOCK_AND_AUDIT_LOG"),
        &format!("{IMAGE}@{D1}"),
        Context::default(),
        &evidence(vec![occ]),
    );
    assert!(d.allowed, "{}", failures(&d));
}

#[test]
fn scheme_on_resource_uri_is_accepted_as_scanners_write_it() {
    let mut occ = good_occurrence(D1);
    occ.resource_uri = format!("https://{IMAGE}@{D1}");
    let d = eval(
        &require_policy("ENFORCED_BLOCK_AND_AUDIT_LOG"),
        &format!("{IMAGE}@{D1}"),
        Context::default(),
        &evidence(vec![occ]),
    );
    assert!(d.allowed, "{}", failures(&d));
}

#[test]
fn gpg_signed_atomic_signature_is_accepted_and_a_mismatching_payload_is_not() {
    let g = gpg();
    let payload = format!(
        "{{\"critical\":{{\"type\":\"atomic container signature\",\"image\":{{\"docker-manifest-digest\":\"{D1}\"}},\"identity\":{{\"docker-reference\":\"{IMAGE}\"}}}}}}\n"
    );
    let sig = g.sign(
        "signer@example.com",
        &["--armor", "--sign"],
        payload.as_bytes(),
    );
    let attestor = Attestor {
        name: ATTESTOR.into(),
        user_owned_grafeas_note: Some(UserOwnedGrafeasNote {
            note_reference: NOTE.into(),
            public_keys: vec![AttestorPublicKey {
                ascii_armored_pgp_public_key: Some(g.export("signer@example.com")),
                ..Default::default()
            }],
            delegation_service_account_email: None,
        }),
        ..Default::default()
    };
    let fpr = g.fingerprint("signer@example.com");
    let mk_ev = |payload: &[u8]| {
        let mut ev = Evidence::new();
        ev.add_attestor(&attestor);
        ev.add_occurrence(mk_occurrence(
            NOTE,
            &format!("{IMAGE}@{D1}"),
            payload,
            sig.clone(),
            &fpr,
        ));
        ev
    };
    let policy = require_policy("ENFORCED_BLOCK_AND_AUDIT_LOG");
    let ok = eval(
        &policy,
        &format!("{IMAGE}@{D1}"),
        Context::default(),
        &mk_ev(payload.as_bytes()),
    );
    assert!(ok.allowed, "{}", failures(&ok));
    let other = create_signature_payload(&format!("{IMAGE}@{D1}")).expect("payload");
    let bad = eval(
        &policy,
        &format!("{IMAGE}@{D1}"),
        Context::default(),
        &mk_ev(other.as_bytes()),
    );
    assert!(!bad.allowed);
    assert!(
        failures(&bad).contains("differs from the content"),
        "{}",
        failures(&bad)
    );
}

#[test]
fn every_required_attestor_must_pass() {
    let second = "projects/qa-proj/attestors/qa";
    let policy = mk_policy(&format!(
        "defaultAdmissionRule:\n  evaluationMode: REQUIRE_ATTESTATION\n  enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG\n  requireAttestationsBy: [{ATTESTOR}, {second}]\n"
    ));
    let mut ev = evidence(vec![good_occurrence(D1)]);
    ev.add_attestor(&mk_pkix_attestor(
        second,
        "projects/qa-proj/notes/qa",
        other_p256(),
        SignatureAlgorithm::EcdsaP256Sha256,
    ));
    let d = eval(&policy, &format!("{IMAGE}@{D1}"), Context::default(), &ev);
    assert!(!d.allowed);
    assert!(
        d.images[0]
            .failures
            .iter()
            .all(|f| f.attestor.as_deref() == Some(second)),
        "{}",
        failures(&d)
    );
}

#[test]
fn dry_run_allows_but_records_what_would_have_been_denied() {
    let d = eval(
        &require_policy("DRYRUN_AUDIT_LOG_ONLY"),
        &format!("{IMAGE}@{D1}"),
        Context::default(),
        &Evidence::new(),
    );
    assert!(d.allowed);
    assert_eq!(d.images[0].verdict, Verdict::DryRun);
    assert_eq!(d.dry_run_violations().count(), 1);
    assert!(d.summary().contains("would deny"), "{}", d.summary());
}

#[test]
fn invalid_image_is_denied_even_under_dry_run() {
    let d = eval(
        &require_policy("DRYRUN_AUDIT_LOG_ONLY"),
        "gcr.io/p/App:v1",
        Context::default(),
        &Evidence::new(),
    );
    assert!(!d.allowed);
    assert_eq!(d.images[0].basis, Basis::InvalidImage);
}

const ALLOW: &str =
    "evaluationMode: ALWAYS_ALLOW\n    enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG";
const DENY: &str = "evaluationMode: ALWAYS_DENY\n    enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG";

fn ctx(cluster: Option<&str>, ns: Option<&str>, sa: Option<&str>, istio: Option<&str>) -> Context {
    Context {
        cluster: cluster.map(Into::into),
        namespace: ns.map(Into::into),
        service_account: sa.map(Into::into),
        istio_identity: istio.map(Into::into),
    }
}

#[test]
fn specific_rules_win_over_the_default_for_their_scope_only() {
    let cases: Vec<(String, Context, bool, RuleScope)> = vec![
        (
            format!("clusterAdmissionRules:\n  us-east1-b.prod:\n    {ALLOW}\n"),
            ctx(Some("us-east1-b.prod"), None, None, None),
            true,
            RuleScope::Cluster("us-east1-b.prod".into()),
        ),
        (
            format!("clusterAdmissionRules:\n  us-east1-b.prod:\n    {ALLOW}\n"),
            ctx(Some("us-east1-b.dev"), None, None, None),
            false,
            RuleScope::Default,
        ),
        (
            format!("kubernetesNamespaceAdmissionRules:\n  test-ns:\n    {ALLOW}\n"),
            ctx(None, Some("test-ns"), None, None),
            true,
            RuleScope::Namespace("test-ns".into()),
        ),
        (
            format!("kubernetesNamespaceAdmissionRules:\n  test-ns:\n    {ALLOW}\n"),
            ctx(None, Some("other"), None, None),
            false,
            RuleScope::Default,
        ),
        (
            format!("kubernetesServiceAccountAdmissionRules:\n  test-ns:default:\n    {ALLOW}\n"),
            ctx(None, Some("test-ns"), Some("default"), None),
            true,
            RuleScope::ServiceAccount("test-ns:default".into()),
        ),
        (
            format!("kubernetesServiceAccountAdmissionRules:\n  test-ns:default:\n    {ALLOW}\n"),
            ctx(None, Some("other-ns"), Some("default"), None),
            false,
            RuleScope::Default,
        ),
        (
            format!(
                "istioServiceIdentityAdmissionRules:\n  spiffe://example.com/ns/test-ns/sa/default:\n    {ALLOW}\n"
            ),
            ctx(None, None, None, Some("example.com/ns/test-ns/sa/default")),
            true,
            RuleScope::IstioIdentity("spiffe://example.com/ns/test-ns/sa/default".into()),
        ),
    ];
    for (rules, context, allowed, scope) in cases {
        let policy = mk_policy(&format!("defaultAdmissionRule:\n    {DENY}\n{rules}"));
        let d = eval(&policy, "nginx", context.clone(), &Evidence::new());
        assert_eq!(d.allowed, allowed, "{rules} {context:?}");
        match &d.images[0].basis {
            Basis::Rule { scope: s, .. } => assert_eq!(*s, scope),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn exempt_patterns_and_the_system_policy_bypass_rules() {
    let policy = mk_policy(&format!(
        "globalPolicyEvaluationMode: ENABLE\nadmissionWhitelistPatterns:\n- namePattern: gcr.io/my-proj/tools/*\n- namePattern: nginx\ndefaultAdmissionRule:\n    {DENY}\n"
    ));
    let cases = [
        ("gcr.io/my-proj/tools/kubectl:1.30", true, "exempt"),
        ("gcr.io/my-proj/tools/sub/kubectl", false, ""),
        ("docker.io/library/nginx:1.25", true, "exempt"),
        ("nginx", true, "exempt"),
        ("registry.k8s.io/pause:3.9", true, "system"),
        ("registry.k8s.io/coredns/coredns:v1.11.1", true, "system"),
        ("registry.k8s.io/not-a-system-image", false, ""),
        ("gcr.io.evil.com/my-proj/tools/x", false, ""),
    ];
    for (image, allowed, kind) in cases {
        let d = eval(&policy, image, Context::default(), &Evidence::new());
        assert_eq!(d.allowed, allowed, "{image}: {}", failures(&d));
        match (&d.images[0].basis, kind) {
            (Basis::ExemptImage { .. }, "exempt")
            | (Basis::SystemPolicy { .. }, "system")
            | (Basis::Rule { .. }, "") => {}
            (b, k) => panic!("{image}: basis {b:?}, want {k}"),
        }
    }
    // With the system policy off, its images face the rules.
    let off = mk_policy(&format!(
        "globalPolicyEvaluationMode: DISABLE\ndefaultAdmissionRule:\n    {DENY}\n"
    ));
    assert!(
        !eval(
            &off,
            "registry.k8s.io/pause:3.9",
            Context::default(),
            &Evidence::new()
        )
        .allowed
    );
}
