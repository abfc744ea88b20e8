//! Binary Authorization policies as `admit policy import`, `PUT …/policy` and offline evaluation
//! read them: YAML (aliases, anchors, deep nesting) and JSON, then validation and compilation.
#![no_main]
use admit_model::{Format, Policy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for format in [Format::Yaml, Format::Json] {
        if let Ok(p) = admit_model::decode::<Policy>(text, format) {
            let _ = admit_policy::validate(&p);
            let _ = admit_policy::CompiledPolicy::new(p);
        }
        let _ = admit_model::decode_many::<Policy>(text, format);
    }
});
