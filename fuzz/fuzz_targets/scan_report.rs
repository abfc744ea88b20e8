//! Trivy and Grype JSON reports as `admit vulns import` reads them.
#![no_main]
use admit_model::ScanFormat;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let format = if sel & 1 == 0 { ScanFormat::Trivy } else { ScanFormat::Grype };
    let _ = admit_model::parse_scan_report(
        format,
        text,
        "https://gcr.io/p/app@sha256:1111111111111111111111111111111111111111111111111111111111111111",
        "goog-vulnz",
    );
});
