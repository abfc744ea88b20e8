//! One reading of the request path for access control and routing alike.
//!
//! The router percent-decodes path segments; the access check reads the raw path. Left apart,
//! `PUT /v1/projects/%61/policy` is checked (and audited) as project `%61` and executed on
//! project `a`. So the path is decoded here, once, before both: the request continues with the
//! decoded path, and a path that cannot be written without escapes (a decoded `/`, `?`, `#`,
//! `%`, a space or a control character, invalid UTF-8) or that has empty, `.` or `..`
//! segments is refused. Resource ids in these APIs never need any of those.

use axum::extract::Request;
use axum::http::Uri;
use axum::http::uri::PathAndQuery;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::ApiError;

/// Characters a decoded path may hold: RFC 3986 `pchar` without `%`, plus `/`.
fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@/".contains(c)
}

/// The canonical form of `raw`, or why it is refused.
pub(crate) fn canonical_path(raw: &str) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    for (i, seg) in raw.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        let decoded = percent_encoding::percent_decode_str(seg)
            .decode_utf8()
            .map_err(|_| format!("path segment `{seg}` is not UTF-8 once decoded"))?;
        if let Some(c) = decoded.chars().find(|c| !allowed(*c) || *c == '/') {
            return Err(format!(
                "path segment `{seg}` holds {c:?}, which no resource name may contain"
            ));
        }
        if decoded == "." || decoded == ".." {
            return Err(format!("path segment `{seg}` is not a resource id"));
        }
        out.push_str(&decoded);
    }
    // A leading `/` gives one empty segment, a trailing `/` another (normalised later); any
    // other empty segment is a mistake.
    let inner = out.trim_start_matches('/').trim_end_matches('/');
    if inner.split('/').any(str::is_empty) && !inner.is_empty() {
        return Err(format!("the path `{raw}` has an empty segment"));
    }
    Ok(out)
}

/// The middleware: rewrites the URI to the canonical path or answers INVALID_ARGUMENT.
pub(crate) async fn canonicalize(mut req: Request, next: Next) -> Response {
    let uri = req.uri();
    let raw = uri.path();
    if !raw.contains('%') && !raw.contains("/.") && !raw.contains("//") {
        return next.run(req).await;
    }
    let path = match canonical_path(raw) {
        Ok(p) => p,
        Err(e) => return ApiError::invalid(e).into_response(),
    };
    let pq = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    let mut parts = uri.clone().into_parts();
    match PathAndQuery::try_from(pq) {
        Ok(pq) => parts.path_and_query = Some(pq),
        Err(e) => return ApiError::invalid(format!("bad path: {e}")).into_response(),
    }
    match Uri::from_parts(parts) {
        Ok(u) => *req.uri_mut() = u,
        Err(e) => return ApiError::invalid(format!("bad path: {e}")).into_response(),
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::canonical_path;

    #[test]
    fn decodes_once_and_refuses_what_names_cannot_hold() {
        assert_eq!(
            canonical_path("/v1/projects/%61/policy").ok().as_deref(),
            Some("/v1/projects/a/policy")
        );
        assert_eq!(
            canonical_path("/v1/projects/p/attestors/a%3AvalidateAttestationOccurrence")
                .ok()
                .as_deref(),
            Some("/v1/projects/p/attestors/a:validateAttestationOccurrence")
        );
        for bad in [
            "/v1/projects/a%2Fb/policy",
            "/v1/projects/%2E%2E/policy",
            "/v1/projects/../policy",
            "/v1/projects//policy",
            "/v1/projects/%25/policy",
            "/v1/projects/a%20b/policy",
            "/v1/projects/%ff/policy",
            "/v1/projects/a%00/policy",
        ] {
            assert!(canonical_path(bad).is_err(), "{bad}");
        }
        assert!(canonical_path("/v1/projects/p/notes/").is_ok());
    }
}
