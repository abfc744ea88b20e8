//! Kritis manifests (ImageSecurityPolicy, GenericAttestationPolicy, AttestationAuthority) as
//! `--kritis-policy-dir` reads them: YAML streams, several files.
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
});
