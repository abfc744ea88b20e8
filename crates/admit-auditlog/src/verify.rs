//! Verification: the whole retained chain, from the signed checkpoint (or the genesis) to the
//! last signed head. Any edited, inserted, removed or reordered record breaks a `prev` link or
//! a sequence number; records after the last signed head, or a head that does not verify, are
//! reported as such.

use std::path::Path;

use crate::AuditLogError;
use crate::chain::{Verifier, checkpoint_message, genesis, head_message, hex};
use crate::log::{Line, parse_hex, read_checkpoint, read_log_id, scan, segments};

/// What a verified log holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub log_id: String,
    pub segments: usize,
    pub records: u64,
    /// The oldest record kept (after a checkpoint, not 1).
    pub first_seq: u64,
    /// The newest record covered by a signed head.
    pub last_signed_seq: u64,
}

fn tampered(path: &Path, line: usize, reason: impl Into<String>) -> AuditLogError {
    AuditLogError::Tampered {
        path: path.to_path_buf(),
        line,
        reason: reason.into(),
    }
}

/// Checks the log in `dir` against `key`; the first fault found is the error.
pub fn verify(dir: &Path, key: &Verifier) -> Result<Report, AuditLogError> {
    let log_id = read_log_id(dir)?.ok_or_else(|| {
        AuditLogError::Invalid(format!(
            "{} holds no audit log (no log.json)",
            dir.display()
        ))
    })?;
    let (mut expected, mut last) = match read_checkpoint(dir)? {
        Some((seq, prev, sig)) => {
            let path = dir.join("checkpoint.json");
            let prev = parse_hex(&path, &prev)?;
            if !key.verify(&checkpoint_message(&log_id, seq, &prev), &sig) {
                return Err(tampered(
                    &path,
                    1,
                    "the checkpoint's signature does not verify",
                ));
            }
            (seq, prev)
        }
        None => (1, genesis(&log_id)),
    };
    let first_seq = expected;
    let all = segments(dir)?;
    let mut records = 0u64;
    let mut last_signed = first_seq.saturating_sub(1);
    let mut last_head_at: Option<(std::path::PathBuf, usize)> = None;
    for (first, path) in &all {
        if *first != expected {
            return Err(tampered(
                path,
                0,
                format!(
                    "the segment starts at record {first}; the chain is at {expected} (a segment is missing or out of place)"
                ),
            ));
        }
        let s = scan(path)?;
        if s.complete_len.is_some() {
            return Err(tampered(
                path,
                s.lines.len() + 1,
                "an incomplete last line (a write cut short; the server trims it when it starts)",
            ));
        }
        for (n, line) in s.lines {
            match line {
                Line::Record {
                    seq, prev, hash, ..
                } => {
                    if seq != expected {
                        return Err(tampered(
                            path,
                            n,
                            format!(
                                "record {seq} where {expected} was expected (removed, inserted or reordered)"
                            ),
                        ));
                    }
                    if prev != hex(&last) {
                        return Err(tampered(
                            path,
                            n,
                            format!(
                                "record {seq}: `prev` is not the hash of the record before (it or an earlier one was edited)"
                            ),
                        ));
                    }
                    last = hash;
                    expected += 1;
                    records += 1;
                }
                Line::Head { seq, hash, sig } => {
                    if seq + 1 != expected {
                        return Err(tampered(
                            path,
                            n,
                            format!(
                                "a head for record {seq} where the chain is at record {} (records removed or inserted)",
                                expected - 1
                            ),
                        ));
                    }
                    if hash != hex(&last) {
                        return Err(tampered(
                            path,
                            n,
                            format!(
                                "the chain up to record {seq} is not what its head signed (a record of this group was edited)"
                            ),
                        ));
                    }
                    if !key.verify(&head_message(&log_id, seq, &last), &sig) {
                        return Err(tampered(
                            path,
                            n,
                            format!("the head of record {seq}: its signature does not verify"),
                        ));
                    }
                    last_signed = seq;
                    last_head_at = Some((path.clone(), n));
                }
            }
        }
    }
    if last_signed + 1 != expected {
        let (path, line) = last_head_at.unwrap_or_else(|| (dir.join("log.json"), 0));
        return Err(tampered(
            &path,
            line,
            format!(
                "records {} to {} carry no signed head (appended by someone else, or cut short by a crash)",
                last_signed + 1,
                expected - 1
            ),
        ));
    }
    Ok(Report {
        log_id,
        segments: all.len(),
        records,
        first_seq,
        last_signed_seq: last_signed,
    })
}
