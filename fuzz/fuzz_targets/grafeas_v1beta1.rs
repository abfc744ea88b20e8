//! Grafeas v1beta1 request bodies: occurrence and note conversion to v1 and back (what the
//! v1beta1 REST handlers run on every body); never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(serde_json::Value::Object(body)) = serde_json::from_slice::<serde_json::Value>(data)
    else {
        return;
    };
    use admit_service::v1beta1::{note_from_v1, note_to_v1, occurrence_from_v1, occurrence_to_v1};
    if let Ok(v1) = occurrence_to_v1(&body) {
        let _ = occurrence_from_v1(&serde_json::Value::Object(v1));
    }
    if let Ok(v1) = note_to_v1(&body) {
        let _ = note_from_v1(&serde_json::Value::Object(v1));
    }
    // Stored bodies are read back through v1beta1 whatever wrote them.
    let _ = occurrence_from_v1(&serde_json::Value::Object(body.clone()));
    let _ = note_from_v1(&serde_json::Value::Object(body));
});
