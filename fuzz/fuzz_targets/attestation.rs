//! Grafeas occurrences as clients store them (attestation signatures, JWTs, DSSE envelopes,
//! any kind), decoded and checked by an attestor with a real key: the admission path.
#![no_main]
use admit_model::{Attestor, AttestorPublicKey, Occurrence, PkixPublicKey, UserOwnedGrafeasNote};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const PEM: &str = include_str!("../corpus_seed/p256.pub.pem");

fn attestor() -> &'static Option<admit_policy::CompiledAttestor> {
    static A: OnceLock<Option<admit_policy::CompiledAttestor>> = OnceLock::new();
    A.get_or_init(|| {
        let a = Attestor {
            name: "projects/p/attestors/a".into(),
            user_owned_grafeas_note: Some(UserOwnedGrafeasNote {
                note_reference: "projects/p/notes/n".into(),
                public_keys: vec![AttestorPublicKey {
                    id: "k".into(),
                    pkix_public_key: Some(PkixPublicKey {
                        public_key_pem: PEM.into(),
                        signature_algorithm: admit_model::SignatureAlgorithm::EcdsaP256Sha256,
                        key_id: None,
                    }),
                    ..Default::default()
                }],
                delegation_service_account_email: None,
            }),
            ..Default::default()
        };
        admit_policy::CompiledAttestor::compile(&a).ok()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(o) = serde_json::from_slice::<Occurrence>(data) else {
        return;
    };
    let Ok(image) = admit_policy::ImageRef::parse(
        "gcr.io/p/app@sha256:1111111111111111111111111111111111111111111111111111111111111111",
    ) else {
        return;
    };
    if let Some(a) = attestor() {
        let _ = a.check(&image, std::slice::from_ref(&o));
    }
});
