//! The page shell (navigation, styles) and small shared pieces.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

const CSS: &str = r#"
:root { --fg:#1c2430; --muted:#5b6675; --line:#dde3ea; --bg:#f6f8fa; --card:#fff;
  --ok:#1f8f4e; --deny:#c0362c; --dry:#b7791f; --glass:#7b3fbf; --err:#8a1c12; --info:#2563eb; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--fg); background:var(--bg); }
header { background:#111827; color:#fff; padding:10px 20px; display:flex; gap:20px; align-items:center; flex-wrap:wrap; }
header .brand { font-weight:700; letter-spacing:.02em; }
header nav a { color:#cbd5e1; text-decoration:none; margin-right:14px; }
header nav a.here { color:#fff; border-bottom:2px solid #60a5fa; }
header .who { margin-left:auto; color:#94a3b8; font-size:12px; }
header form { display:inline; }
header button { background:none; border:1px solid #475569; color:#cbd5e1; border-radius:4px; cursor:pointer; }
main { padding:20px; max-width:1280px; margin:0 auto; }
h1 { font-size:20px; margin:0 0 14px; }
h2 { font-size:16px; margin:22px 0 8px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:14px 16px; margin-bottom:16px; }
.row { display:flex; gap:16px; flex-wrap:wrap; } .row > .card { flex:1 1 380px; }
table { width:100%; border-collapse:collapse; background:var(--card); }
th, td { text-align:left; padding:6px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
th { color:var(--muted); font-weight:600; font-size:12px; text-transform:uppercase; letter-spacing:.03em; }
td.mono, .mono { font-family:ui-monospace, SFMono-Regular, Menlo, monospace; font-size:12px; word-break:break-all; }
.badge { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; font-weight:600; color:#fff; }
.v-ALLOWED, .v-CV_CONFORMANT { background:var(--ok); } .v-DENIED, .v-CV_VIOLATION { background:var(--deny); }
.v-DRY_RUN { background:var(--dry); } .v-BREAKGLASS { background:var(--glass); }
.v-ERROR_DENIED, .v-CV_CONFIG_ERROR { background:var(--err); } .v-ADMIN_CHANGE { background:var(--info); }
form.filters { display:flex; gap:10px; flex-wrap:wrap; align-items:end; margin-bottom:14px; }
form.filters label { display:flex; flex-direction:column; font-size:12px; color:var(--muted); }
input, select, textarea { font:inherit; padding:5px 7px; border:1px solid var(--line); border-radius:5px; }
textarea { width:100%; min-height:220px; font-family:ui-monospace, monospace; font-size:12px; }
button { font:inherit; padding:5px 12px; border-radius:5px; border:1px solid #2563eb; background:#2563eb; color:#fff; cursor:pointer; }
pre { background:#0f172a; color:#e2e8f0; padding:12px; border-radius:6px; overflow:auto; font-size:12px; }
.muted { color:var(--muted); } .refused { color:var(--deny); font-weight:600; }
ul.failures { margin:4px 0 0 18px; padding:0; color:var(--deny); }
svg.chart text { font-size:10px; fill:var(--muted); }
.legend span { display:inline-flex; align-items:center; gap:4px; margin-right:12px; font-size:12px; }
.legend i { width:10px; height:10px; display:inline-block; border-radius:2px; }
.stat { font-size:26px; font-weight:700; } .stat-label { color:var(--muted); font-size:12px; }
"#;

pub(crate) async fn css() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS).into_response()
}

/// The navigation entries: path and label.
const NAV: [(&str, &str); 7] = [
    ("/console", "Overview"),
    ("/console/decisions", "Decisions"),
    ("/console/violations", "Violations"),
    ("/console/policy", "Policy"),
    ("/console/simulate", "Simulate"),
    ("/console/attestors", "Attestors"),
    ("/console/images", "Images"),
];

/// Who is signed in and in which project, for the header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Here<'a> {
    pub(crate) path: &'a str,
    pub(crate) project: &'a str,
    pub(crate) principal: Option<&'a str>,
}

/// A whole page.
pub(crate) fn shell(
    status: StatusCode,
    title: &str,
    here: Option<Here<'_>>,
    body: &Markup,
) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · admit" }
                link rel="stylesheet" href="/console/console.css";
            }
            body {
                header {
                    span.brand { "admit" }
                    @if let Some(h) = here {
                        nav {
                            @for (path, label) in NAV {
                                a class=@if path == h.path { "here" } href={ (path) "?project=" (h.project) } { (label) }
                            }
                        }
                        span.who {
                            (h.project) " · " (h.principal.unwrap_or("anonymous (access control off)"))
                            " "
                            form method="post" action="/console/logout" { button type="submit" { "Sign out" } }
                        }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    };
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        markup.into_string(),
    )
        .into_response()
}

/// A verdict as a coloured badge.
pub(crate) fn badge(verdict: &str) -> Markup {
    html! { span class={ "badge v-" (verdict) } data-verdict=(verdict) { (verdict) } }
}

/// A service error as a page.
pub(crate) fn failed(e: &admit_service::ServiceError) -> Response {
    shell(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        None,
        &html! { p.refused { (e.message) } },
    )
}
