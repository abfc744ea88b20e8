//! Compiles the vendored googleapis protos (`/proto`) into one descriptor set with protox (pure
//! Rust, no protoc), embedded in the crate.

#![allow(clippy::expect_used, reason = "a build script fails loudly")]

use std::path::Path;

/// The services served, and so everything they import.
const ENTRIES: [&str; 8] = [
    "google/cloud/binaryauthorization/v1/service.proto",
    "google/cloud/binaryauthorization/v1beta1/service.proto",
    "grafeas/v1/grafeas.proto",
    "google/cloud/kms/v1/service.proto",
    "google/devtools/containeranalysis/v1/containeranalysis.proto",
    "google/iam/v1/iam_policy.proto",
    "google/devtools/containeranalysis/v1beta1/grafeas/grafeas.proto",
    "google/devtools/containeranalysis/v1beta1/containeranalysis.proto",
];

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    println!("cargo:rerun-if-changed={}", root.display());
    // Encoded by protox itself: prost-types' descriptors would drop the options' extensions,
    // and with them the google.api.http rules.
    let mut compiler = protox::Compiler::new([&root]).expect("the include path");
    compiler.include_imports(true);
    compiler
        .open_files(ENTRIES)
        .expect("the vendored protos compile");
    let out = std::env::var("OUT_DIR").expect("OUT_DIR");
    std::fs::write(
        Path::new(&out).join("descriptors.bin"),
        compiler.encode_file_descriptor_set(),
    )
    .expect("write the descriptor set");
}
