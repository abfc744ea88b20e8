//! Request plumbing shared by every handler: API version from the path, query parameters in
//! gcloud's spelling, JSON bodies decoded with field-naming errors, proto3 JSON responses.

use std::collections::HashMap;

use admit_store::Page;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ApiError;

/// The Binary Authorization API version of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ApiVersion {
    V1,
    V1beta1,
    V1alpha2,
}

impl<S: Send + Sync> FromRequestParts<S> for ApiVersion {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match parts.uri.path().split('/').nth(1) {
            Some("v1") => Ok(ApiVersion::V1),
            Some("v1beta1") => Ok(ApiVersion::V1beta1),
            Some("v1alpha2") => Ok(ApiVersion::V1alpha2),
            other => Err(ApiError::not_found(format!(
                "unknown API version {other:?}"
            ))),
        }
    }
}

/// Query parameters.
pub(crate) type Params = Query<HashMap<String, String>>;

pub(crate) fn param<'a>(q: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    q.get(name).map(String::as_str)
}

/// gcloud writes booleans Python-style (`True`).
pub(crate) fn bool_param(q: &HashMap<String, String>, name: &str) -> Result<bool, ApiError> {
    match q.get(name).map(|s| s.to_ascii_lowercase()) {
        None => Ok(false),
        Some(s) if s == "true" || s == "1" => Ok(true),
        Some(s) if s == "false" || s == "0" || s.is_empty() => Ok(false),
        Some(s) => Err(ApiError::invalid(format!("{name}: `{s}` is not a boolean"))),
    }
}

pub(crate) fn page(q: &HashMap<String, String>) -> Result<Page, ApiError> {
    let size = match q.get("pageSize").map(String::as_str) {
        None | Some("") => 0,
        Some(s) => s.parse::<u32>().map_err(|_| {
            ApiError::invalid(format!("pageSize: `{s}` is not a non-negative integer"))
        })?,
    };
    Ok(Page {
        size,
        token: q.get("pageToken").filter(|t| !t.is_empty()).cloned(),
    })
}

pub(crate) fn update_mask(q: &HashMap<String, String>) -> Vec<String> {
    q.get("updateMask")
        .map(|m| {
            m.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Decodes a JSON body; errors name the field path. An empty body is `{}`. Every request
/// message of these APIs is a JSON object: any other JSON type is refused here, before a
/// typed decoder (which would read `[]` as a struct) or a handler sees it.
pub(crate) fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    admit_model::from_value(
        object(bytes, "a request message")?,
        admit_model::Format::Json,
    )
    .map_err(|e| ApiError::invalid(e.to_string()))
}

/// Decodes a JSON body that must be an object (`what` names the message, for the error): a
/// body of another JSON type (`[]`, `1`, `"x"`) is INVALID_ARGUMENT, never handed on.
pub(crate) fn object(bytes: &Bytes, what: &str) -> Result<serde_json::Value, ApiError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ApiError::invalid("the request body is not UTF-8"))?;
    let text = if text.trim().is_empty() { "{}" } else { text };
    let v = admit_model::decode_value(text, admit_model::Format::Json)
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    let kind = match &v {
        serde_json::Value::Object(_) => return Ok(v),
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
    };
    Err(ApiError::invalid(format!(
        "the request body must be a JSON object ({what}), not {kind}"
    )))
}

/// A JSON response.
pub(crate) fn ok<T: Serialize>(v: &T) -> Response {
    Json(v).into_response()
}

/// A list response `{<field>: [...], nextPageToken}`.
pub(crate) fn list<T: Serialize>(field: &str, items: &[T], next: Option<String>) -> Response {
    let mut m = serde_json::Map::new();
    m.insert(
        field.to_owned(),
        serde_json::to_value(items).unwrap_or_default(),
    );
    if let Some(t) = next {
        m.insert("nextPageToken".into(), serde_json::Value::String(t));
    }
    Json(serde_json::Value::Object(m)).into_response()
}

/// Splits `id:method` from the last path segment.
pub(crate) fn split_method(segment: &str) -> (&str, Option<&str>) {
    match segment.split_once(':') {
        Some((id, m)) => (id, Some(m)),
        None => (segment, None),
    }
}
