//! gRPC requests as `admit serve --grpc-listen` receives them: the first byte picks one of the
//! served methods, the rest is its request message, decoded against the published descriptors
//! and transcoded into the REST call by the method's `google.api.http` rule — everything the
//! network reaches before the REST API (which other targets cover) is called.
#![no_main]
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;

static GATEWAY: LazyLock<admit_grpc::Gateway> =
    LazyLock::new(|| admit_grpc::Gateway::detached().expect("the embedded descriptors load"));

fuzz_target!(|data: &[u8]| {
    let Some((&index, body)) = data.split_first() else {
        return;
    };
    let _ = GATEWAY.inspect(usize::from(index), body);
});
