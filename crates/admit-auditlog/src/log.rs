//! The writer: appends group commits (records, then a signed head, then one `fdatasync`),
//! rotates segments, recovers after a crash, feeds ingestion, drops old segments.
//!
//! Files in the directory: `log.json` (`{"logId": …}`, made once), `seg-<first seq>.jsonl`
//! (segments, oldest first), `checkpoint.json` (where the retained chain starts, signed; only
//! once a segment was dropped).

use std::fs::{File, OpenOptions};
use std::io::{BufRead as _, BufReader, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::chain::{
    Hash, Signer, checkpoint_message, genesis, head_message, hex, record_line, sha256,
};
use crate::{AuditLogError, io};

/// Bounds of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A segment is closed once it holds this many bytes.
    pub segment_bytes: u64,
    /// Whole old segments are dropped while the log holds more than this.
    pub max_bytes: u64,
    /// Whole segments whose newest record is older than this are dropped.
    pub max_age_secs: u64,
}

impl Default for Limits {
    /// 16 MiB segments, at most 1 GiB, 30 days: about 700,000 reviews, kept a month, on a disk
    /// a small cluster never notices.
    fn default() -> Self {
        Limits {
            segment_bytes: 16 << 20,
            max_bytes: 1 << 30,
            max_age_secs: 30 * 86_400,
        }
    }
}

/// How full the log is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub bytes: u64,
    pub segments: usize,
    pub max_bytes: u64,
    /// The sequence number the next record gets.
    pub next_seq: u64,
    /// The oldest record kept.
    pub first_seq: u64,
}

/// One line of a segment.
#[derive(Debug)]
pub(crate) enum Line {
    Record {
        seq: u64,
        prev: String,
        hash: Hash,
        record: Value,
    },
    Head {
        seq: u64,
        hash: String,
        sig: String,
    },
}

/// A segment read back: its lines (numbered from 1) and, if its last line is incomplete (a
/// crash mid-write), the length of the complete part.
pub(crate) struct Scan {
    pub(crate) lines: Vec<(usize, Line)>,
    pub(crate) complete_len: Option<u64>,
}

pub(crate) fn parse_line(path: &Path, n: usize, text: &str) -> Result<Line, AuditLogError> {
    let bad = |reason: String| AuditLogError::Tampered {
        path: path.to_path_buf(),
        line: n,
        reason,
    };
    let v: Value = serde_json::from_str(text).map_err(|e| bad(format!("not a JSON line ({e})")))?;
    let u = |v: &Value, k: &str| {
        v.get(k)
            .and_then(Value::as_u64)
            .ok_or_else(|| bad(format!("`{k}` is missing or not a number")))
    };
    let s = |v: &Value, k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| bad(format!("`{k}` is missing or not a string")))
    };
    if let Some(h) = v.get("head") {
        return Ok(Line::Head {
            seq: u(h, "seq")?,
            hash: s(h, "hash")?,
            sig: s(h, "sig")?,
        });
    }
    let record = v
        .get("record")
        .cloned()
        .ok_or_else(|| bad("neither a record nor a head".into()))?;
    Ok(Line::Record {
        seq: u(&v, "seq")?,
        prev: s(&v, "prev")?,
        hash: sha256(text.as_bytes()),
        record,
    })
}

pub(crate) fn scan(path: &Path) -> Result<Scan, AuditLogError> {
    let file = File::open(path).map_err(io(path))?;
    let mut reader = BufReader::new(file);
    let mut lines = Vec::new();
    let mut buf = String::new();
    let mut offset = 0u64;
    let mut n = 0usize;
    loop {
        buf.clear();
        let read = reader.read_line(&mut buf).map_err(io(path))?;
        if read == 0 {
            return Ok(Scan {
                lines,
                complete_len: None,
            });
        }
        n += 1;
        if !buf.ends_with('\n') {
            return Ok(Scan {
                lines,
                complete_len: Some(offset),
            });
        }
        lines.push((n, parse_line(path, n, buf.trim_end_matches('\n'))?));
        offset += read as u64;
    }
}

fn segment_name(first: u64) -> String {
    format!("seg-{first:020}.jsonl")
}

/// The segments in `dir`, oldest first: (first sequence number, path).
pub(crate) fn segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, AuditLogError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name();
        let Some(first) = name
            .to_str()
            .and_then(|n| n.strip_prefix("seg-"))
            .and_then(|n| n.strip_suffix(".jsonl"))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        out.push((first, entry.path()));
    }
    out.sort();
    Ok(out)
}

/// The checkpoint, if segments were dropped: (first kept seq, prev hash hex, signature).
pub(crate) fn read_checkpoint(dir: &Path) -> Result<Option<(u64, String, String)>, AuditLogError> {
    let path = dir.join("checkpoint.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(&path)(e)),
    };
    match parse_line(&path, 1, text.trim())? {
        Line::Head { seq, hash, sig } => Ok(Some((seq, hash, sig))),
        Line::Record { .. } => Err(AuditLogError::Tampered {
            path,
            line: 1,
            reason: "not a checkpoint".into(),
        }),
    }
}

pub(crate) fn read_log_id(dir: &Path) -> Result<Option<String>, AuditLogError> {
    let path = dir.join("log.json");
    match std::fs::read_to_string(&path) {
        Ok(t) => serde_json::from_str::<Value>(&t)
            .ok()
            .and_then(|v| v["logId"].as_str().map(str::to_owned))
            .map(Some)
            .ok_or_else(|| AuditLogError::Tampered {
                path,
                line: 1,
                reason: "no `logId`".into(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(&path)(e)),
    }
}

/// Writes `text` to `path` durably: a temporary file, fsynced, renamed over, the directory
/// fsynced.
fn write_durably(dir: &Path, name: &str, text: &str) -> Result<(), AuditLogError> {
    let tmp = dir.join(format!("{name}.tmp"));
    let mut f = File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(text.as_bytes()).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    let path = dir.join(name);
    std::fs::rename(&tmp, &path).map_err(io(&path))?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> Result<(), AuditLogError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// The open log.
#[derive(Debug)]
pub struct AuditLog {
    dir: PathBuf,
    log_id: String,
    signer: Signer,
    limits: Limits,
    file: File,
    /// The current segment: its path and length.
    current: PathBuf,
    len: u64,
    next_seq: u64,
    last: Hash,
    /// Every segment but the current one: (first seq, path, bytes).
    sealed: Vec<(u64, PathBuf, u64)>,
}

impl AuditLog {
    /// Opens (creating) the log in `dir`. A segment's incomplete last line (a crash while a
    /// group commit was being written, so never acknowledged) is cut off; a broken chain in
    /// the current segment stops the open, naming the line.
    pub fn open(dir: &Path, signer: Signer, limits: Limits) -> Result<Self, AuditLogError> {
        if limits.segment_bytes == 0 || limits.max_bytes < limits.segment_bytes {
            return Err(AuditLogError::Invalid(format!(
                "the log's maximum size ({} bytes) must hold at least one segment ({} bytes)",
                limits.max_bytes, limits.segment_bytes
            )));
        }
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let log_id = match read_log_id(dir)? {
            Some(id) => id,
            None => {
                let mut raw = [0u8; 16];
                aws_lc_rs::rand::fill(&mut raw)
                    .map_err(|_| AuditLogError::Invalid("no randomness for a log id".into()))?;
                let id = raw.iter().map(|b| format!("{b:02x}")).collect::<String>();
                write_durably(dir, "log.json", &json!({"logId": id}).to_string())?;
                id
            }
        };
        let (mut next_seq, mut last) = match read_checkpoint(dir)? {
            Some((seq, prev, _)) => (seq, parse_hex(&dir.join("checkpoint.json"), &prev)?),
            None => (1, genesis(&log_id)),
        };
        let mut all = segments(dir)?;
        let current = match all.pop() {
            None => {
                let path = dir.join(segment_name(next_seq));
                File::create(&path).map_err(io(&path))?;
                sync_dir(dir)?;
                path
            }
            Some((first, path)) => {
                let scan = scan(&path)?;
                if let Some(len) = scan.complete_len {
                    let f = OpenOptions::new()
                        .write(true)
                        .open(&path)
                        .map_err(io(&path))?;
                    f.set_len(len).map_err(io(&path))?;
                    f.sync_all().map_err(io(&path))?;
                }
                next_seq = first;
                // An empty current segment (just rotated): the chain goes on from the newest
                // record before it.
                if !scan
                    .lines
                    .iter()
                    .any(|(_, l)| matches!(l, Line::Record { .. }))
                    && let Some((_, before)) = all.last()
                    && let Some(hash) = scan_last_hash(before)?
                {
                    last = hash;
                }
                let mut prev_ok = None;
                for (n, line) in scan.lines {
                    if let Line::Record {
                        seq, prev, hash, ..
                    } = line
                    {
                        if seq != next_seq {
                            return Err(AuditLogError::Tampered {
                                path,
                                line: n,
                                reason: format!("record {seq} where {next_seq} was expected"),
                            });
                        }
                        if prev_ok.is_some() && prev != hex(&last) {
                            return Err(AuditLogError::Tampered {
                                path,
                                line: n,
                                reason: "`prev` is not the hash of the record before".into(),
                            });
                        }
                        prev_ok = Some(());
                        last = hash;
                        next_seq = seq + 1;
                    }
                }
                path
            }
        };
        let mut sealed = Vec::new();
        for (first, path) in all {
            let bytes = std::fs::metadata(&path).map_err(io(&path))?.len();
            sealed.push((first, path, bytes));
        }
        let file = OpenOptions::new()
            .append(true)
            .open(&current)
            .map_err(io(&current))?;
        let len = file.metadata().map_err(io(&current))?.len();
        Ok(AuditLog {
            dir: dir.to_path_buf(),
            log_id,
            signer,
            limits,
            file,
            current,
            len,
            next_seq,
            last,
            sealed,
        })
    }

    pub fn log_id(&self) -> &str {
        &self.log_id
    }

    pub fn usage(&self) -> Usage {
        Usage {
            bytes: self.len + self.sealed.iter().map(|s| s.2).sum::<u64>(),
            segments: self.sealed.len() + 1,
            max_bytes: self.limits.max_bytes,
            next_seq: self.next_seq,
            first_seq: self
                .sealed
                .first()
                .map_or_else(|| first_of(&self.current).unwrap_or(self.next_seq), |s| s.0),
        }
    }

    /// Appends `records` as one group commit: their lines, a signed head, one `fdatasync`.
    /// Returns their sequence numbers. On failure nothing of the batch remains in the file.
    /// Each record is a JSON object as `serde_json` writes it (compact: one line), embedded in
    /// its line as it is; anything else is refused before a byte is written.
    pub fn append<R: AsRef<str>>(
        &mut self,
        records: &[R],
    ) -> Result<std::ops::Range<u64>, AuditLogError> {
        if records.is_empty() {
            return Ok(self.next_seq..self.next_seq);
        }
        for (i, r) in records.iter().enumerate() {
            let r = r.as_ref();
            if !(r.starts_with('{') && r.ends_with('}')) || r.contains('\n') {
                return Err(AuditLogError::Invalid(format!(
                    "record {i} of the batch is not a one-line JSON object"
                )));
            }
        }
        if self.len >= self.limits.segment_bytes {
            self.rotate()?;
        }
        let mut text = String::new();
        let mut last = self.last;
        let mut seq = self.next_seq;
        for r in records {
            let line = record_line(seq, &last, r.as_ref());
            last = sha256(line.as_bytes());
            text.push_str(&line);
            text.push('\n');
            seq += 1;
        }
        let sig = self
            .signer
            .sign(&head_message(&self.log_id, seq - 1, &last));
        text.push_str(
            &json!({"head": {"seq": seq - 1, "hash": hex(&last), "sig": sig}}).to_string(),
        );
        text.push('\n');
        let written = self
            .file
            .write_all(text.as_bytes())
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            // Leave no part of an unacknowledged batch behind.
            let _ = self.file.set_len(self.len);
            let _ = self.file.seek(SeekFrom::End(0));
            return Err(io(&self.current)(e));
        }
        let first = self.next_seq;
        self.len += text.len() as u64;
        self.next_seq = seq;
        self.last = last;
        Ok(first..seq)
    }

    fn rotate(&mut self) -> Result<(), AuditLogError> {
        let path = self.dir.join(segment_name(self.next_seq));
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        sync_dir(&self.dir)?;
        let old = std::mem::replace(&mut self.current, path);
        self.sealed
            .push((first_of(&old).unwrap_or_default(), old, self.len));
        self.file = file;
        self.len = 0;
        Ok(())
    }

    /// The segment files, oldest first (first record number, path): what [`read`] reads, with
    /// no lock held (sealed segments never change; the current one only grows).
    pub fn segment_paths(&self) -> Vec<(u64, PathBuf)> {
        let mut paths: Vec<(u64, PathBuf)> = self
            .sealed
            .iter()
            .map(|(f, p, _)| (*f, p.clone()))
            .collect();
        paths.push((
            first_of(&self.current).unwrap_or_default(),
            self.current.clone(),
        ));
        paths
    }

    /// The records from `from` on (at most `max`), oldest first.
    pub fn read(&self, from: u64, max: usize) -> Result<Vec<(u64, Value)>, AuditLogError> {
        read(&self.segment_paths(), from, max)
    }

    /// Drops whole sealed segments, oldest first, while the log is over its size or their
    /// newest record is older than the age limit (by the file's modification time), but never
    /// one holding record `keep_from` or a later one (what has not been copied elsewhere yet).
    /// Before a segment goes, a signed checkpoint records where the kept chain starts. Returns
    /// how many went.
    pub fn retain(&mut self, keep_from: u64) -> Result<usize, AuditLogError> {
        let now = now_secs();
        let mut dropped = 0;
        while let Some((_, path, bytes)) = self.sealed.first().cloned() {
            let total = self.usage().bytes;
            let modified = std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .map_err(io(&path))?
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or_default();
            let old = now.saturating_sub(modified) > self.limits.max_age_secs;
            if total <= self.limits.max_bytes && !old {
                break;
            }
            // The chain continues at the next segment: its first record's seq and prev.
            let (next_first, next_path) = match self.sealed.get(1) {
                Some((f, p, _)) => (*f, p.clone()),
                None => (
                    first_of(&self.current).unwrap_or(self.next_seq),
                    self.current.clone(),
                ),
            };
            if next_first > keep_from {
                break; // it holds records not copied yet
            }
            // A segment starts with a record (a group commit's lines, then its head).
            let prev = first_prev(&next_path)?;
            let prev = match prev {
                Some(p) => p,
                // The next segment is still empty: the chain continues from our last record.
                None => hex(&self.last),
            };
            let sig = self.signer.sign(&checkpoint_message(
                &self.log_id,
                next_first,
                &parse_hex(&next_path, &prev)?,
            ));
            write_durably(
                &self.dir,
                "checkpoint.json",
                &json!({"head": {"seq": next_first, "hash": prev, "sig": sig}}).to_string(),
            )?;
            std::fs::remove_file(&path).map_err(io(&path))?;
            sync_dir(&self.dir)?;
            self.sealed.remove(0);
            let _ = bytes;
            dropped += 1;
        }
        Ok(dropped)
    }
}

/// The hash of a segment's last record.
fn scan_last_hash(path: &Path) -> Result<Option<Hash>, AuditLogError> {
    Ok(scan(path)?
        .lines
        .into_iter()
        .rev()
        .find_map(|(_, l)| match l {
            Line::Record { hash, .. } => Some(hash),
            Line::Head { .. } => None,
        }))
}

/// The records from `from` on (at most `max`) in `segments` (from
/// [`AuditLog::segment_paths`]), oldest first: what ingestion catches up with. A record being
/// written as this reads is left for the next read.
pub fn read(
    segments: &[(u64, PathBuf)],
    from: u64,
    max: usize,
) -> Result<Vec<(u64, Value)>, AuditLogError> {
    let start = segments.iter().rposition(|(f, _)| *f <= from).unwrap_or(0);
    let mut out = Vec::new();
    for (_, path) in segments.get(start..).unwrap_or_default() {
        for (_, line) in scan(path)?.lines {
            if let Line::Record { seq, record, .. } = line
                && seq >= from
            {
                out.push((seq, record));
                if out.len() >= max {
                    return Ok(out);
                }
            }
        }
    }
    Ok(out)
}

/// The `prev` of a segment's first record (its first line), without reading the rest.
fn first_prev(path: &Path) -> Result<Option<String>, AuditLogError> {
    let file = File::open(path).map_err(io(path))?;
    let mut line = String::new();
    BufReader::new(file)
        .read_line(&mut line)
        .map_err(io(path))?;
    if !line.ends_with('\n') {
        return Ok(None);
    }
    match parse_line(path, 1, line.trim_end_matches('\n'))? {
        Line::Record { prev, .. } => Ok(Some(prev)),
        Line::Head { .. } => Ok(None),
    }
}

fn first_of(path: &Path) -> Option<u64> {
    path.file_name()?
        .to_str()?
        .strip_prefix("seg-")?
        .strip_suffix(".jsonl")?
        .parse()
        .ok()
}

pub(crate) fn parse_hex(path: &Path, text: &str) -> Result<Hash, AuditLogError> {
    let bad = || AuditLogError::Tampered {
        path: path.to_path_buf(),
        line: 1,
        reason: format!("`{text}` is not a SHA-256 hash in hex"),
    };
    if text.len() != 64 {
        return Err(bad());
    }
    let mut h = [0u8; 32];
    for (i, b) in h.iter_mut().enumerate() {
        *b = u8::from_str_radix(text.get(2 * i..2 * i + 2).ok_or_else(bad)?, 16)
            .map_err(|_| bad())?;
    }
    Ok(h)
}
