//! The on-disk audit log as `admit audit verify` and `admit serve` read it: arbitrary bytes as
//! a segment file (and, from the first byte, a checkpoint), verified and opened. Neither may
//! panic or hang; and a log that verifies must still verify after the server opens it and
//! appends a group commit (opening trims nothing of an intact log).
#![no_main]
use std::sync::atomic::{AtomicU64, Ordering};

use admit_auditlog::{AuditLog, Limits, Signer, verify};
use libfuzzer_sys::fuzz_target;

static N: AtomicU64 = AtomicU64::new(0);

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!(
        "admit-fuzz-audit-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("log.json"), r#"{"logId":"fuzz"}"#).expect("write");
    // Split the input: the first part a checkpoint when `sel` says so, the rest a segment.
    let (checkpoint, segment) = if sel & 1 == 1 {
        let at = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
        (Some(&rest[..at]), rest.get(at + 1..).unwrap_or_default())
    } else {
        (None, rest)
    };
    if let Some(c) = checkpoint {
        std::fs::write(dir.join("checkpoint.json"), c).expect("write");
    }
    let first = u64::from(sel >> 1) + 1;
    std::fs::write(dir.join(format!("seg-{first:020}.jsonl")), segment).expect("write");
    let signer = || Signer::from_master(&[7u8; 32]).expect("signer");
    let key = signer().verifier();
    let intact = verify(&dir, &key).is_ok();
    let limits = Limits {
        segment_bytes: 1 << 20,
        max_bytes: 1 << 30,
        max_age_secs: u64::MAX / 2,
    };
    if let Ok(mut log) = AuditLog::open(&dir, signer(), limits) {
        let appended = log.append(&[r#"{"verdict":"ALLOWED"}"#]);
        if intact && appended.is_ok() {
            assert!(
                verify(&dir, &key).is_ok(),
                "an intact log no longer verifies after an append"
            );
        }
        let _ = log.read(0, 100);
    }
    let _ = std::fs::remove_dir_all(&dir);
});
