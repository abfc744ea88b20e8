//! Kritis manifests (ImageSecurityPolicy, GenericAttestationPolicy, AttestationAuthority) as
//! `--kritis-policy-dir` reads them (YAML streams, several files), and the same documents as
//! objects from the API server (`--watch-kubernetes`: one bad object breaks its namespace only).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let files: Vec<(String, String)> = text
        .split("\n#FILE\n")
        .enumerate()
        .map(|(i, t)| (format!("f{i}.yaml"), t.to_owned()))
        .collect();
    if let Ok(p) = admit_policy::KritisPolicies::from_manifests(&files) {
        let _ = p.counts();
        let _ = p.namespace("default");
    }
    let mut objects = Vec::new();
    for (name, t) in &files {
        let format = admit_model::Format::sniff(t);
        if let Ok(docs) = admit_model::decode_many::<serde_json::Value>(t, format) {
            objects.extend(docs.into_iter().map(|d| (name.clone(), d)));
        }
    }
    let refs = admit_policy::KritisPolicies::secret_refs(&objects);
    let p = admit_policy::KritisPolicies::from_objects(&objects, &admit_policy::Secrets::new());
    let _ = (refs.len(), p.counts(), p.broken().count(), p.namespace("default").is_some());
});
