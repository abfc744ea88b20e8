//! Image references from pod specs and exempt-image globs from policies, and matching one
//! against the other.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (a, b) = text.split_once('\n').unwrap_or((text, text));
    if let Ok(i) = admit_policy::ImageRef::parse(a) {
        let _ = i.canonical();
        let _ = i.repository();
        if let Ok(p) = admit_policy::ExemptPattern::parse(b) {
            let _ = p.matches(&i);
        }
    }
    let _ = admit_policy::ExemptPattern::parse(a);
});
