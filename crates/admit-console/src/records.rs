//! Reading the audit log for the pages: records of a period, newest first, bounded.

use admit_service::{Service, ServiceError};
use admit_store::{AuditFilter, Page};
use serde_json::Value;

/// At most this many records are read for one page.
pub(crate) const SCAN: usize = 20_000;

/// `record[key]` as text.
pub(crate) fn s<'a>(r: &'a Value, key: &str) -> &'a str {
    r.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// Records of `project` matching `filter`, newest first, at most [`SCAN`]; and whether more
/// were left unread.
pub(crate) async fn read(
    service: &Service,
    project: &str,
    filter: &AuditFilter,
) -> Result<(Vec<Value>, bool), ServiceError> {
    let mut out = Vec::new();
    let mut filter = filter.clone();
    filter.newest_first = true;
    let mut page = Page {
        size: Page::MAX_SIZE,
        token: None,
    };
    loop {
        let listed = service.store().list_audit(project, &filter, &page).await?;
        out.extend(listed.items);
        match listed.next_page_token {
            Some(t) if out.len() < SCAN => page.token = Some(t),
            Some(_) => return Ok((out, true)),
            None => return Ok((out, false)),
        }
    }
}

/// `since` (90s, 30m, 24h, 7d; default 24h) as an RFC 3339 lower bound.
pub(crate) fn since(service_now: u64, text: Option<&String>) -> (String, String) {
    let t = text
        .filter(|t| !t.is_empty())
        .cloned()
        .unwrap_or_else(|| "24h".into());
    let secs = admit_model::parse_duration(&t).unwrap_or(86_400);
    (t, admit_model::rfc3339(service_now.saturating_sub(secs), 0))
}
