//! Pictures as inline SVG, drawn on the server: stacked bars over time and horizontal bars by
//! label. Every bar carries `data-*` attributes with what it shows, so tests (and screen
//! readers, through the `<title>`) can read them.

use maud::{Markup, html};

/// A colour per verdict, matching the badges.
pub(crate) fn colour(verdict: &str) -> &'static str {
    match verdict {
        "ALLOWED" | "CV_CONFORMANT" => "#1f8f4e",
        "DENIED" | "CV_VIOLATION" => "#c0362c",
        "DRY_RUN" => "#b7791f",
        "BREAKGLASS" => "#7b3fbf",
        "ADMIN_CHANGE" => "#2563eb",
        _ => "#8a1c12",
    }
}

/// Stacked bars: one column per bucket (its label), each split by series (name, count).
pub(crate) fn stacked(id: &str, buckets: &[(String, Vec<(String, u64)>)]) -> Markup {
    let (w, h, pad) = (760.0_f64, 180.0_f64, 24.0_f64);
    let max = buckets
        .iter()
        .map(|(_, s)| s.iter().map(|(_, n)| *n).sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let n = buckets.len().max(1) as f64;
    let bw = (w - pad) / n;
    let mut series: Vec<&str> = buckets
        .iter()
        .flat_map(|(_, s)| s.iter().map(|(k, _)| k.as_str()))
        .collect();
    series.sort_unstable();
    series.dedup();
    html! {
        svg.chart id=(id) viewBox={ "0 0 " (w) " " (h + 30.0) } width="100%" role="img" {
            line x1=(pad) y1=(h) x2=(w) y2=(h) stroke="#cbd5e1" {}
            text x="0" y="10" { (max as u64) }
            @for (i, (label, parts)) in buckets.iter().enumerate() {
                @let x = pad + i as f64 * bw;
                @let mut y = h;
                @for (name, count) in parts {
                    @let bh = *count as f64 / max * (h - 12.0);
                    @let top = { y -= bh; y };
                    rect.bar x=(x + 1.0) y=(top) width=((bw - 2.0).max(1.0)) height=(bh)
                        fill=(colour(name)) data-bucket=(label) data-series=(name) data-count=(count) {
                        title { (label) ": " (count) " " (name) }
                    }
                }
                @if buckets.len() <= 24 || i % 4 == 0 {
                    text x=(x + bw / 2.0) y=(h + 14.0) text-anchor="middle" { (label) }
                }
            }
        }
        div.legend {
            @for s in &series {
                span { i style={ "background:" (colour(s)) } {} (s) }
            }
        }
    }
}

/// Horizontal bars: one per label.
pub(crate) fn bars(id: &str, items: &[(String, u64)], fill: &str) -> Markup {
    let max = items.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1) as f64;
    let (w, row) = (760.0_f64, 22.0_f64);
    let h = row * items.len().max(1) as f64;
    html! {
        svg.chart id=(id) viewBox={ "0 0 " (w) " " (h) } width="100%" role="img" {
            @if items.is_empty() {
                text x="0" y="14" { "nothing to show" }
            }
            @for (i, (label, n)) in items.iter().enumerate() {
                @let y = i as f64 * row;
                text x="0" y=(y + 15.0) { (label) }
                rect.bar x="180" y=(y + 4.0) width=((*n as f64 / max * (w - 240.0)).max(2.0)) height=(row - 8.0)
                    fill=(fill) data-label=(label) data-count=(n) {
                    title { (label) ": " (n) }
                }
                text x=(186.0 + *n as f64 / max * (w - 240.0)) y=(y + 15.0) { (n) }
            }
        }
    }
}
