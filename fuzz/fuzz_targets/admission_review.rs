//! AdmissionReview bodies as the webhook reads them: the review, every workload kind's pod
//! spec and the response it would render.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = admit_webhook::inspect_review(data);
});
