//! Helpers every backend shares: etags, page tokens, and the indexed columns of an occurrence.

use admit_model::NoteName;
use base64::Engine as _;
use serde_json::Value;

use crate::{Page, StoreError};

pub(crate) fn etag(seq: i64, version: i64) -> String {
    let mut b = [0u8; 12];
    b[..8].copy_from_slice(&seq.to_be_bytes());
    b[8..].copy_from_slice(&(version as u32).to_be_bytes());
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// The (seq, version) an etag made by [`etag`] names; `None` for anything else.
pub(crate) fn etag_parts(etag: &str) -> Option<(i64, i64)> {
    let b = base64::engine::general_purpose::STANDARD
        .decode(etag)
        .ok()?;
    let b: [u8; 12] = b.try_into().ok()?;
    let seq = i64::from_be_bytes(b[..8].try_into().ok()?);
    let version = u32::from_be_bytes(b[8..].try_into().ok()?);
    Some((seq, i64::from(version)))
}

pub(crate) fn page_token(seq: i64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("s{seq}"))
}

pub(crate) fn after_seq(page: &Page) -> Result<i64, StoreError> {
    let Some(tok) = page.token.as_deref().filter(|t| !t.is_empty()) else {
        return Ok(0);
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(tok)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix('s').and_then(|n| n.parse().ok()))
        .ok_or_else(|| StoreError::InvalidArgument(format!("invalid pageToken `{tok}`")))
}

/// Where a listing starts: after the token's sequence number, or at the beginning (the end,
/// walking newest first).
pub(crate) fn start_seq(page: &Page, newest_first: bool) -> Result<i64, StoreError> {
    match page.token.as_deref().filter(|t| !t.is_empty()) {
        None if newest_first => Ok(i64::MAX),
        _ => after_seq(page),
    }
}

pub(crate) struct Columns {
    pub(crate) name: String,
    pub(crate) project: String,
    pub(crate) note_name: String,
    pub(crate) note_project: String,
    pub(crate) note_id: String,
    pub(crate) kind: String,
    pub(crate) resource_uri: String,
    pub(crate) resource_uri_rev: String,
    pub(crate) resource_digest: String,
}

pub(crate) fn columns(body: &Value) -> Result<Columns, StoreError> {
    let s = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let name = s("name");
    let project = name
        .strip_prefix("projects/")
        .and_then(|r| r.split('/').next())
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            StoreError::InvalidArgument(format!(
                "occurrence name `{name}` is not projects/*/occurrences/*"
            ))
        })?
        .to_owned();
    let note_name = s("noteName");
    let note = NoteName::parse(&note_name)
        .map_err(|e| StoreError::InvalidArgument(format!("noteName: {e}")))?;
    let resource_uri = s("resourceUri");
    let resource_digest = crate::pinned_digest(&resource_uri).to_owned();
    Ok(Columns {
        name,
        project,
        note_project: note.project.to_string(),
        note_id: note.note,
        note_name,
        kind: s("kind"),
        resource_uri_rev: resource_uri.chars().rev().collect(),
        resource_uri,
        resource_digest,
    })
}
