//! AIP-160 filters from `?filter=` (and the parsed tree's drop): never a panic or a deep stack.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = admit_model::Filter::parse(text);
    }
});
