//! One module per page.

pub(crate) mod attestors;
pub(crate) mod decision;
pub(crate) mod decisions;
pub(crate) mod images;
pub(crate) mod overview;
pub(crate) mod policy;
pub(crate) mod simulate;
pub(crate) mod violations;

/// Seconds since the epoch, for "the last 24 hours".
pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A query string value, percent-encoded for a link.
pub(crate) fn enc(v: &str) -> String {
    percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Hourly buckets of the last `hours` hours: (label `HH:00`, start RFC 3339 prefix `…THH`).
pub(crate) fn hours(now: u64, hours: u64) -> Vec<(String, String)> {
    (0..hours)
        .rev()
        .map(|i| {
            let t = admit_model::rfc3339(now.saturating_sub(i * 3600), 0);
            (format!("{}:00", &t[11..13]), t[..13].to_owned())
        })
        .collect()
}

/// Counts of `records` per hourly bucket and verdict, for a stacked chart.
pub(crate) fn per_hour(
    records: &[serde_json::Value],
    buckets: &[(String, String)],
) -> Vec<(String, Vec<(String, u64)>)> {
    buckets
        .iter()
        .map(|(label, prefix)| {
            let mut by: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
            for r in records
                .iter()
                .filter(|r| crate::records::s(r, "time").starts_with(prefix.as_str()))
            {
                *by.entry(crate::records::s(r, "verdict").to_owned())
                    .or_default() += 1;
            }
            (label.clone(), by.into_iter().collect())
        })
        .collect()
}

/// Admission verdicts (not administrative changes, not continuous validation).
pub(crate) fn is_admission(r: &serde_json::Value) -> bool {
    matches!(
        crate::records::s(r, "verdict"),
        "ALLOWED" | "DENIED" | "DRY_RUN" | "BREAKGLASS" | "ERROR_DENIED"
    )
}
