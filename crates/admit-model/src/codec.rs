//! YAML and JSON in and out.
//!
//! Both formats are decoded to a JSON value first and then to the typed resource through
//! `serde_path_to_error`, so every error names the field path the way the user wrote it
//! (`clusterAdmissionRules.us-east1-b.prod.evaluationMode`), whichever format they used.
//! Output keys are sorted, as gcloud prints them.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ModelError;

/// Input or output document format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
}

impl Format {
    /// JSON when the document starts with `{` or `[`, otherwise YAML (a JSON document is also
    /// valid YAML, but the JSON parser gives better positions for JSON input).
    pub fn sniff(text: &str) -> Format {
        match text.trim_start().chars().next() {
            Some('{' | '[') => Format::Json,
            _ => Format::Yaml,
        }
    }

    /// From a file name: `.json` → JSON, `.yaml`/`.yml` → YAML, anything else sniffed.
    pub fn from_path_or_sniff(path: &str, text: &str) -> Format {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with(".json") {
            Format::Json
        } else if lower.ends_with(".yaml") || lower.ends_with(".yml") {
            Format::Yaml
        } else {
            Format::sniff(text)
        }
    }

    fn name(self) -> &'static str {
        match self {
            Format::Json => "JSON",
            Format::Yaml => "YAML",
        }
    }
}

/// Parses the document into an untyped JSON value.
pub fn decode_value(text: &str, format: Format) -> Result<serde_json::Value, ModelError> {
    match format {
        Format::Json => serde_json::from_str(text).map_err(|e| ModelError::Decode {
            format: "JSON",
            path: ".".into(),
            message: e.to_string(),
        }),
        Format::Yaml => {
            if text.trim().is_empty() {
                // An empty YAML file is a null document; say so instead of a parser error.
                return Ok(serde_json::Value::Null);
            }
            serde_saphyr::from_str_with_options::<serde_json::Value>(text, yaml_options()).map_err(
                |e| ModelError::Decode {
                    format: "YAML",
                    path: ".".into(),
                    message: e.to_string(),
                },
            )
        }
    }
}

/// The most YAML nodes one document may hold. Policies and Kritis manifests are hand-sized.
pub const MAX_YAML_NODES: usize = 100_000;

/// The most events alias references may replay in one document: a few anchors reused, as
/// people write them, fit easily; an alias bomb (a few hundred bytes that expand to millions of
/// nodes) is a clear error within milliseconds (fuzzing found 100,000 still took 2 s under
/// AddressSanitizer).
pub const MAX_YAML_ALIAS_EVENTS: usize = 10_000;

fn yaml_options() -> serde_saphyr::Options {
    let mut o = serde_saphyr::Options::default();
    let mut b = serde_saphyr::Budget::default();
    b.max_nodes = MAX_YAML_NODES;
    b.max_events = 4 * MAX_YAML_NODES;
    b.max_aliases = MAX_YAML_ALIAS_EVENTS / 10;
    b.max_total_scalar_bytes = 16 * 1024 * 1024;
    o.budget = Some(b);
    o.alias_limits.max_total_replayed_events = MAX_YAML_ALIAS_EVENTS;
    o
}

/// Decodes a typed resource, naming the field path on failure.
pub fn decode<T: DeserializeOwned>(text: &str, format: Format) -> Result<T, ModelError> {
    from_value(decode_value(text, format)?, format)
}

/// Decodes a typed resource from an already parsed document, naming the field path on failure.
pub fn from_value<T: DeserializeOwned>(
    value: serde_json::Value,
    format: Format,
) -> Result<T, ModelError> {
    if value.is_null() {
        return Err(ModelError::Decode {
            format: format.name(),
            path: ".".into(),
            message: "the document is empty".into(),
        });
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        ModelError::Decode {
            format: format.name(),
            path,
            message: e.into_inner().to_string(),
        }
    })
}

/// Decodes a file that holds one resource, a list of them (`gcloud … list --format=json`), or a
/// YAML stream of them (`gcloud … list`'s default output). Paths are prefixed with `[i]`.
pub fn decode_many<T: DeserializeOwned>(text: &str, format: Format) -> Result<Vec<T>, ModelError> {
    let docs: Vec<serde_json::Value> = match format {
        Format::Json => vec![decode_value(text, format)?],
        Format::Yaml => {
            serde_saphyr::from_multiple_with_options::<serde_json::Value>(text, yaml_options())
                .map_err(|e| ModelError::Decode {
                    format: "YAML",
                    path: ".".into(),
                    message: e.to_string(),
                })?
        }
    };
    let items: Vec<serde_json::Value> = docs
        .into_iter()
        .flat_map(|d| match d {
            serde_json::Value::Array(a) => a,
            serde_json::Value::Null => vec![],
            other => vec![other],
        })
        .collect();
    items
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            serde_path_to_error::deserialize(v).map_err(|e| ModelError::Decode {
                format: format.name(),
                path: format!("[{i}].{}", e.path()),
                message: e.into_inner().to_string(),
            })
        })
        .collect()
}

/// Pretty JSON with sorted keys and a trailing newline.
pub fn to_json_pretty<T: Serialize>(value: &T) -> Result<String, ModelError> {
    let sorted = serde_json::to_value(value).map_err(|e| ModelError::Encode {
        format: "JSON",
        message: e.to_string(),
    })?;
    let mut out = serde_json::to_string_pretty(&sorted).map_err(|e| ModelError::Encode {
        format: "JSON",
        message: e.to_string(),
    })?;
    out.push('\n');
    Ok(out)
}

/// Block-style YAML with sorted keys (serde_json's map is ordered), as gcloud exports it.
pub fn to_yaml<T: Serialize>(value: &T) -> Result<String, ModelError> {
    let sorted = serde_json::to_value(value).map_err(|e| ModelError::Encode {
        format: "YAML",
        message: e.to_string(),
    })?;
    serde_saphyr::to_string(&sorted).map_err(|e| ModelError::Encode {
        format: "YAML",
        message: e.to_string(),
    })
}

#[cfg(test)]
mod alias_bomb {
    use super::*;

    #[test]
    fn an_alias_bomb_is_refused_quickly() {
        let bomb = "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n";
        assert!(decode_value(bomb, Format::Yaml).is_err());
        assert!(decode_many::<serde_json::Value>(bomb, Format::Yaml).is_err());
        // A few aliases, as people write them, still work.
        let ok = "a: &a {evaluationMode: ALWAYS_ALLOW}\nb: *a\nc: *a\n";
        assert!(decode_value(ok, Format::Yaml).is_ok());
    }
}
