//! The Binary Authorization policy engine: image references normalised as runtimes do,
//! exempt-image globs, the system policy, policy validation, rule selection with the
//! documented precedence, attestation checks (signature + payload binding to the admitted
//! digest) and the explained `Decision`.
//!
//! Pure and two-phase: `CompiledPolicy::required_attestors` says what to fetch, the caller
//! fetches it into an `Evidence`, and `CompiledPolicy::evaluate` decides. Time is an argument.
//! Must not depend on: async runtimes, I/O, the environment, a clock, or the store/service/api
//! crates.

mod attest;
mod cosign;
mod cosign_attest;
mod decision;
mod engine;
mod error;
mod image;
mod kritis;
mod pattern;
mod rules;
mod slsa;
mod system_policy;
mod validate;
mod vulnz;

pub use attest::{CompiledAttestor, Satisfied};
pub use cosign::{
    COSIGN_SIGN_PREDICATE, CosignKey, CosignSignature, CosignTrust, CosignVerified, IdentityRule,
    KeylessAuthority, verify_bundle_signer, verify_cosign,
};
pub use cosign_attest::{AttestationSigned, CosignAttestation, verify_cosign_attestation};
pub use decision::{Basis, Decision, Failure, ImageDecision, Verdict};
pub use engine::{CompiledPolicy, Evidence, Request};
pub use error::{PolicyError, Violation};
pub use image::{DOCKER_HUB, ImageRef};
pub use kritis::{
    KritisPolicies, NamespacePolicies, SecretKeys, Secrets, SecurityPolicy,
    note_of as kritis_note_of,
};
pub use pattern::ExemptPattern;
pub use rules::{Context, RuleScope, select_rule};
pub use slsa::{
    GOOGLE_CLOUD_BUILD_ID, Provenance, SLSA_PROVENANCE_V1, SLSA_PROVENANCE_V02, SlsaRequirements,
    check_provenance, check_repo_pattern, normalize_repo, read_provenance, repo_matches,
};
pub use system_policy::{default_project_policy, system_patterns, system_policy};
pub use validate::validate;
pub use vulnz::{Vuln, check_allowlist_expiry, check_package_requirements, check_signing_policy};
