//! The audit log on real files: group commits survive reopening, any tampering is found and
//! named, a torn write is trimmed, retention drops whole segments and the rest still verifies
//! from the signed checkpoint.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests abort loudly"
)]

use std::path::Path;

use admit_auditlog::{AuditLog, AuditLogError, Limits, Signer, verify};
use serde_json::{Value, json};

const MASTER: [u8; 32] = [7u8; 32];

fn signer() -> Signer {
    Signer::from_master(&MASTER).unwrap()
}

fn records(from: u64, n: u64) -> Vec<String> {
    (from..from + n)
        .map(|i| {
            json!({"verdict": "ALLOWED", "name": format!("pod-{i}"), "namespace": "prod"})
                .to_string()
        })
        .collect()
}

fn small() -> Limits {
    Limits {
        segment_bytes: 2_000,
        max_bytes: 6_000,
        max_age_secs: 86_400,
    }
}

fn segment_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".jsonl"))
        .collect();
    v.sort();
    v
}

fn tampered(r: Result<admit_auditlog::Report, AuditLogError>) -> String {
    match r {
        Err(e @ AuditLogError::Tampered { .. }) => e.to_string(),
        other => panic!("expected tampering to be found, got {other:?}"),
    }
}

/// Rewrites line `n` (1-based) of `path` with `f`.
fn edit(path: &Path, f: impl FnOnce(&mut Vec<String>)) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    f(&mut lines);
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[test]
fn a_batch_with_a_record_that_is_not_a_one_line_object_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = AuditLog::open(dir.path(), signer(), Limits::default()).unwrap();
    log.append(&records(1, 2)).unwrap();
    let before = log.usage();
    for bad in ["[1]", "{\"a\":\n1}", "", "\"text\""] {
        let mut batch = records(3, 1);
        batch.push(bad.to_owned());
        let err = log.append(&batch).unwrap_err();
        assert!(
            err.to_string()
                .contains("record 1 of the batch is not a one-line JSON object"),
            "{err}"
        );
    }
    assert_eq!(log.usage(), before, "nothing was written");
    assert_eq!(log.append(&records(3, 1)).unwrap(), 3..4);
    let report = verify(dir.path(), &signer().verifier()).unwrap();
    assert_eq!(report.records, 3);
}

#[test]
fn group_commits_chain_and_verify_across_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = AuditLog::open(dir.path(), signer(), Limits::default()).unwrap();
    assert_eq!(log.append(&records(1, 3)).unwrap(), 1..4);
    assert_eq!(log.append(&records(4, 2)).unwrap(), 4..6);
    let id = log.log_id().to_owned();
    drop(log);
    let mut log = AuditLog::open(dir.path(), signer(), Limits::default()).unwrap();
    assert_eq!(log.log_id(), id, "the log keeps its id");
    assert_eq!(
        log.append(&records(6, 1)).unwrap(),
        6..7,
        "numbering goes on"
    );
    let report = verify(dir.path(), &signer().verifier()).unwrap();
    assert_eq!(report.records, 6);
    assert_eq!(report.last_signed_seq, 6);
    assert_eq!(report.first_seq, 1);
    let read = log.read(3, 10).unwrap();
    assert_eq!(read.iter().map(|r| r.0).collect::<Vec<_>>(), [3, 4, 5, 6]);
    assert_eq!(read[0].1["name"], "pod-3");
    // Another master key is another signer: its verifier refuses every head.
    let other = Signer::from_master(&[8u8; 32]).unwrap().verifier();
    assert!(tampered(verify(dir.path(), &other)).contains("signature does not verify"));
}

#[test]
fn edited_removed_reordered_and_forged_records_are_found() {
    let make = || {
        let dir = tempfile::tempdir().unwrap();
        let mut log = AuditLog::open(dir.path(), signer(), Limits::default()).unwrap();
        log.append(&records(1, 3)).unwrap();
        log.append(&records(4, 3)).unwrap();
        let seg = segment_files(dir.path()).remove(0);
        (dir, seg)
    };
    let key = signer().verifier();
    // Lines: 1-3 records, 4 head, 5-7 records, 8 head.
    let (dir, seg) = make();
    edit(&seg, |l| l[1] = l[1].replace("ALLOWED", "DENIED"));
    let e = tampered(verify(dir.path(), &key));
    assert!(e.contains("line 3") && e.contains("edited"), "{e}");

    let (dir, seg) = make();
    edit(&seg, |l| {
        l.remove(5);
    });
    let e = tampered(verify(dir.path(), &key));
    assert!(e.contains("record 6 where 5 was expected"), "{e}");

    let (dir, seg) = make();
    edit(&seg, |l| l.swap(4, 5));
    let e = tampered(verify(dir.path(), &key));
    assert!(e.contains("record 5 where 4 was expected"), "{e}");

    // A record appended by someone without the key: its chain is right, but no head signs it.
    let (dir, seg) = make();
    let last_hash = {
        let text = std::fs::read_to_string(&seg).unwrap();
        let head: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        head["head"]["hash"].as_str().unwrap().to_owned()
    };
    edit(&seg, |l| {
        l.push(json!({"seq": 7, "prev": last_hash, "record": {"verdict": "ALLOWED"}}).to_string());
    });
    let e = tampered(verify(dir.path(), &key));
    assert!(e.contains("records 7 to 7 carry no signed head"), "{e}");

    // A head re-signed by another key.
    let (dir, seg) = make();
    edit(&seg, |l| {
        let mut head: Value = serde_json::from_str(&l[7]).unwrap();
        head["head"]["sig"] = json!("AAAA");
        l[7] = head.to_string();
    });
    let e = tampered(verify(dir.path(), &key));
    assert!(e.contains("line 8") && e.contains("signature"), "{e}");

    // Untouched, it verifies.
    let (dir, _) = make();
    assert_eq!(verify(dir.path(), &key).unwrap().records, 6);
}

#[test]
fn a_torn_write_is_trimmed_on_open_and_an_edit_of_the_current_segment_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = AuditLog::open(dir.path(), signer(), Limits::default()).unwrap();
    log.append(&records(1, 2)).unwrap();
    drop(log);
    let seg = segment_files(dir.path()).remove(0);
    // A crash in the middle of the next group commit: half a line, never acknowledged.
    let mut text = std::fs::read_to_string(&seg).unwrap();
    text.push_str("{\"seq\":3,\"prev\":\"ab");
    std::fs::write(&seg, &text).unwrap();
    assert!(tampered(verify(dir.path(), &signer().verifier())).contains("incomplete last line"));
    let mut log = AuditLog::open(dir.path(), signer(), Limits::default()).unwrap();
    assert_eq!(log.append(&records(3, 1)).unwrap(), 3..4);
    assert_eq!(verify(dir.path(), &signer().verifier()).unwrap().records, 3);
    drop(log);
    edit(&seg, |l| l[0] = l[0].replace("pod-1", "pod-x"));
    let e = AuditLog::open(dir.path(), signer(), Limits::default()).unwrap_err();
    assert!(e.to_string().contains("line 2"), "{e}");
}

#[test]
fn retention_drops_whole_old_segments_and_the_rest_verifies_from_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = AuditLog::open(dir.path(), signer(), small()).unwrap();
    for i in 0..40 {
        log.append(&records(i * 5 + 1, 5)).unwrap();
    }
    let before = log.usage();
    assert!(before.bytes > small().max_bytes, "{before:?}");
    assert!(before.segments > 3);
    // Nothing copied elsewhere yet: nothing goes, whatever the size.
    assert_eq!(log.retain(1).unwrap(), 0);
    assert_eq!(log.usage(), before);
    let dropped = log.retain(u64::MAX).unwrap();
    assert!(dropped > 0);
    let after = log.usage();
    assert!(after.bytes <= small().max_bytes, "{after:?}");
    assert_eq!(after.segments, before.segments - dropped);
    assert!(after.first_seq > 1);
    let report = verify(dir.path(), &signer().verifier()).unwrap();
    assert_eq!(report.first_seq, after.first_seq);
    assert_eq!(report.last_signed_seq, 200);
    assert_eq!(report.records, 201 - after.first_seq);
    // Appending and reopening go on from there.
    log.append(&records(201, 1)).unwrap();
    drop(log);
    let log = AuditLog::open(dir.path(), signer(), small()).unwrap();
    assert_eq!(log.usage().next_seq, 202);
    assert_eq!(
        verify(dir.path(), &signer().verifier())
            .unwrap()
            .last_signed_seq,
        201
    );
    // Removing the oldest kept segment as well is found: the chain no longer meets the checkpoint.
    std::fs::remove_file(segment_files(dir.path()).remove(0)).unwrap();
    let e = tampered(verify(dir.path(), &signer().verifier()));
    assert!(e.contains("a segment is missing"), "{e}");
    // So is a forged checkpoint.
    let dir2 = tempfile::tempdir().unwrap();
    let mut log = AuditLog::open(dir2.path(), signer(), small()).unwrap();
    for i in 0..40 {
        log.append(&records(i * 5 + 1, 5)).unwrap();
    }
    log.retain(u64::MAX).unwrap();
    let cp = dir2.path().join("checkpoint.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&cp).unwrap()).unwrap();
    v["head"]["seq"] = json!(1);
    std::fs::write(&cp, v.to_string()).unwrap();
    let e = tampered(verify(dir2.path(), &signer().verifier()));
    assert!(e.contains("checkpoint"), "{e}");
}

#[test]
fn retention_by_age_keeps_the_current_segment() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        max_age_secs: 0,
        ..small()
    };
    let mut log = AuditLog::open(dir.path(), signer(), limits).unwrap();
    for i in 0..10 {
        log.append(&records(i * 5 + 1, 5)).unwrap();
    }
    let segments = log.usage().segments;
    assert!(segments > 1);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(
        log.retain(u64::MAX).unwrap(),
        segments - 1,
        "every sealed segment is old"
    );
    assert_eq!(log.usage().segments, 1);
    assert_eq!(
        verify(dir.path(), &signer().verifier())
            .unwrap()
            .last_signed_seq,
        50
    );
}

#[test]
fn bad_limits_and_bad_keys_are_refused_naming_why() {
    let dir = tempfile::tempdir().unwrap();
    let e = AuditLog::open(
        dir.path(),
        signer(),
        Limits {
            segment_bytes: 10,
            max_bytes: 5,
            max_age_secs: 1,
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("at least one segment"), "{e}");
    let e = admit_auditlog::Verifier::from_base64("AAAA").unwrap_err();
    assert!(e.to_string().contains("32"), "{e}");
    let key = signer().verifier();
    assert_eq!(
        admit_auditlog::Verifier::from_base64(&key.to_base64()).unwrap(),
        key
    );
}
