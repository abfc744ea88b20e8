//! AdmissionReview bodies as the webhook reads them: the review, every workload kind's pod
//! spec, the response it would render, and the image fields `/mutate` would pin.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = admit_webhook::inspect_review(data);
});
