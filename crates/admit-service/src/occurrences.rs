//! Grafeas occurrences: lossless JSON bodies, server-assigned UUID names, derived `kind`,
//! AIP-160 filters.

use admit_model::{Filter, NoteName, Occurrence};
use admit_store::{Listed, OccurrenceScope, Page};
use serde_json::{Map, Value};

use crate::grafeas_body::{apply_mask, derive_kind, with_times};
use crate::{Service, ServiceError, check_project};

/// The most occurrences of one kind read for one image on an admission or evaluation path
/// (attestations under a note, vulnerabilities, scans): beyond it the decision fails closed.
pub const MAX_OCCURRENCES_PER_IMAGE: usize = 10_000;

/// The most notes or occurrences one `batchCreate` may carry (Container Analysis' own limit).
pub const MAX_BATCH: usize = 1000;

/// Grafeas enums inside occurrence bodies that admit reads, by name; Google's client libraries
/// send them as numbers (proto3 JSON allows either). Each table is the proto's, by number.
const SEVERITY: &[&str] = &[
    "SEVERITY_UNSPECIFIED",
    "MINIMAL",
    "LOW",
    "MEDIUM",
    "HIGH",
    "CRITICAL",
];
const ANALYSIS_STATUS: &[&str] = &[
    "ANALYSIS_STATUS_UNSPECIFIED",
    "PENDING",
    "SCANNING",
    "FINISHED_SUCCESS",
    "FINISHED_FAILED",
    "FINISHED_UNSUPPORTED",
];
const CONTINUOUS_ANALYSIS: &[&str] = &["CONTINUOUS_ANALYSIS_UNSPECIFIED", "ACTIVE", "INACTIVE"];

/// Rewrites a number at `v` as its name in `names`; an unknown number is refused naming `path`.
fn enum_name(v: Option<&mut Value>, names: &[&str], path: &str) -> Result<(), ServiceError> {
    let Some(v) = v else { return Ok(()) };
    if let Some(n) = v.as_u64() {
        let name = usize::try_from(n)
            .ok()
            .and_then(|i| names.get(i))
            .ok_or_else(|| ServiceError::invalid(format!("{path}: unknown value {n}")))?;
        *v = Value::String((*name).to_owned());
    } else if v.is_number() {
        return Err(ServiceError::invalid(format!("{path}: unknown value {v}")));
    }
    Ok(())
}

/// The enums admit reads from occurrence bodies, as names whatever form they came in.
fn normalise_enums(body: &mut Map<String, Value>) -> Result<(), ServiceError> {
    if let Some(Value::Object(v)) = body.get_mut("vulnerability") {
        for f in ["severity", "effectiveSeverity"] {
            enum_name(v.get_mut(f), SEVERITY, &format!("vulnerability.{f}"))?;
        }
        if let Some(Value::Array(issues)) = v.get_mut("packageIssue") {
            for (i, issue) in issues.iter_mut().enumerate() {
                enum_name(
                    issue.get_mut("effectiveSeverity"),
                    SEVERITY,
                    &format!("vulnerability.packageIssue[{i}].effectiveSeverity"),
                )?;
            }
        }
    }
    if let Some(Value::Object(d)) = body.get_mut("discovery") {
        enum_name(
            d.get_mut("analysisStatus"),
            ANALYSIS_STATUS,
            "discovery.analysisStatus",
        )?;
        enum_name(
            d.get_mut("continuousAnalysis"),
            CONTINUOUS_ANALYSIS,
            "discovery.continuousAnalysis",
        )?;
    }
    // `kind` is derived from the detail field; a number given for it is checked as a name.
    if let Some(k) = body.get("kind").and_then(Value::as_u64) {
        let kind = admit_model::NoteKind::from_number(i64::try_from(k).unwrap_or(-1))
            .ok_or_else(|| ServiceError::invalid(format!("kind: unknown value {k}")))?;
        body.insert("kind".into(), Value::String(kind.as_str().to_owned()));
    }
    Ok(())
}

/// Checks an occurrence body and fills in derived fields. `name` is set by the caller.
fn prepare(mut body: Map<String, Value>, name: &str) -> Result<Value, ServiceError> {
    normalise_enums(&mut body)?;
    for f in ["createTime", "updateTime"] {
        body.remove(f);
    }
    body.insert("name".into(), Value::String(name.to_owned()));
    let note = body.get("noteName").and_then(Value::as_str).unwrap_or("");
    NoteName::parse(note).map_err(|e| ServiceError::invalid(format!("noteName: {e}")))?;
    let uri = body
        .get("resourceUri")
        .and_then(Value::as_str)
        .unwrap_or("");
    if uri.is_empty() {
        return Err(ServiceError::invalid("resourceUri is required"));
    }
    let kind = derive_kind(&body, "an occurrence")?;
    let mut v = Value::Object(body);
    v["kind"] = Value::String(kind.into());
    // Check the typed shape of what we model (base64 bytes, enum strings) without losing
    // anything: the stored body is the original JSON.
    serde_json::from_value::<Occurrence>(v.clone())
        .map_err(|e| ServiceError::invalid(format!("occurrence: {e}")))?;
    Ok(v)
}

impl Service {
    async fn require_note(&self, note: &str) -> Result<(), ServiceError> {
        let exists = match NoteName::parse(note) {
            Ok(n) => admit_store::repo::<crate::grafeas_body::NoteBody>(self.store.as_ref())
                .version(&n)
                .await?
                .is_some(),
            Err(_) => false,
        };
        if !exists {
            return Err(ServiceError::not_found(format!("note {note} not found")));
        }
        Ok(())
    }

    pub async fn create_occurrences(
        &self,
        project: &str,
        bodies: Vec<Value>,
    ) -> Result<Vec<Value>, ServiceError> {
        check_project(project)?;
        if bodies.len() > MAX_BATCH {
            return Err(ServiceError::invalid(format!(
                "occurrences: {} given; a batch holds at most {MAX_BATCH}",
                bodies.len()
            )));
        }
        let mut prepared = Vec::with_capacity(bodies.len());
        // A batch usually attaches to a handful of notes: check each once.
        let mut checked = std::collections::HashSet::new();
        for (i, b) in bodies.into_iter().enumerate() {
            let Value::Object(o) = b else {
                return Err(ServiceError::invalid(format!(
                    "occurrences[{i}] must be an object"
                )));
            };
            let name = format!(
                "projects/{project}/occurrences/{}",
                admit_crypto::random_uuid()?
            );
            let v = prepare(o, &name).map_err(|e| {
                ServiceError::new(e.code, format!("occurrences[{i}]: {}", e.message))
            })?;
            let note = v["noteName"].as_str().unwrap_or_default().to_owned();
            if !checked.contains(&note) {
                self.require_note(&note).await?;
                checked.insert(note);
            }
            prepared.push(v);
        }
        let docs = self
            .store
            .create_occurrences(&prepared, &self.now())
            .await?;
        Ok(docs.into_iter().map(with_times).collect())
    }

    pub async fn get_occurrence(&self, name: &str) -> Result<Value, ServiceError> {
        let doc = self
            .store
            .get_occurrence(name)
            .await?
            .ok_or_else(|| ServiceError::not_found(format!("occurrence {name} not found")))?;
        Ok(with_times(doc))
    }

    pub async fn patch_occurrence(
        &self,
        name: &str,
        patch: Value,
        mask: &[String],
    ) -> Result<Value, ServiceError> {
        let Value::Object(p) = patch else {
            return Err(ServiceError::invalid(
                "the request body must be a JSON object",
            ));
        };
        // Read, merge, write only if nothing changed in between; a concurrent update makes
        // the write ABORTED, and the merge is redone on what that update stored.
        let p = &p;
        crate::raced::redo_when_raced(true, move || async move {
            let current =
                self.store.get_occurrence(name).await?.ok_or_else(|| {
                    ServiceError::not_found(format!("occurrence {name} not found"))
                })?;
            let v = Self::merged_occurrence(name, &current.body, p, mask)?;
            self.require_note(v["noteName"].as_str().unwrap_or_default())
                .await?;
            let doc = self
                .store
                .update_occurrence(name, &v, &self.now(), Some(&current.etag))
                .await?;
            Ok(with_times(doc))
        })
        .await
    }

    /// `current` with `patch` applied under `mask`, checked as an occurrence.
    fn merged_occurrence(
        name: &str,
        current: &Value,
        p: &serde_json::Map<String, Value>,
        mask: &[String],
    ) -> Result<Value, ServiceError> {
        // Grafeas marks `noteName` and `resourceUri` "Required. Immutable": moving an
        // occurrence to another note would skip `notes.attachOccurrence` on it (maybe in
        // another project), and to another resource would re-point an attestation.
        for (field, snake) in [("noteName", "note_name"), ("resourceUri", "resource_uri")] {
            let asked = mask.iter().any(|m| m == field || m == snake);
            let sent = p.get(field).or_else(|| p.get(snake));
            let changed = sent.is_some_and(|v| Some(v) != current.get(field));
            let all = mask.is_empty() || mask.iter().any(|m| m == "*");
            if changed && (asked || all) {
                return Err(ServiceError::invalid(format!(
                    "{field} is immutable: create a new occurrence instead"
                )));
            }
        }
        let merged = apply_mask(
            current.clone(),
            p,
            mask,
            &[
                "name",
                "kind",
                "createTime",
                "updateTime",
                "noteName",
                "resourceUri",
            ],
        )?;
        prepare(merged, name)
    }

    pub async fn delete_occurrence(&self, name: &str) -> Result<(), ServiceError> {
        self.store.delete_occurrence(name, None).await?;
        Ok(())
    }

    pub async fn list_occurrences(
        &self,
        scope: &OccurrenceScope,
        filter: &str,
        page: &Page,
    ) -> Result<Listed<Value>, ServiceError> {
        let f = Filter::parse(filter).map_err(|e| ServiceError::invalid(e.to_string()))?;
        let l = self.store.list_occurrences(scope, f.as_ref(), page).await?;
        Ok(Listed {
            items: l.items.into_iter().map(with_times).collect(),
            next_page_token: l.next_page_token,
        })
    }

    /// `projects/{p}/occurrences/{id}/notes`: the occurrence's note.
    pub async fn get_occurrence_note(&self, name: &str) -> Result<Value, ServiceError> {
        let occ = self.get_occurrence(name).await?;
        self.get_note(occ["noteName"].as_str().unwrap_or_default())
            .await
    }

    /// Every page of a list, for server-side aggregation.
    /// Streams the occurrences of `scope` matching `filter` to `each`, one page at a time, so
    /// memory holds one page, never a project. `each` may stop early. With `limit`, reading more
    /// than that many is an error (the admission paths fail closed rather than spend unbounded
    /// time and memory on what someone wrote under one image).
    pub(crate) async fn scan_occurrences(
        &self,
        scope: &OccurrenceScope,
        filter: &str,
        limit: Option<usize>,
        mut each: impl FnMut(Value) -> std::ops::ControlFlow<()>,
    ) -> Result<(), ServiceError> {
        let mut page = Page {
            size: Page::MAX_SIZE,
            token: None,
        };
        let mut seen = 0usize;
        loop {
            let l = self.list_occurrences(scope, filter, &page).await?;
            for item in l.items {
                seen += 1;
                if let Some(max) = limit
                    && seen > max
                {
                    return Err(ServiceError::precondition(format!(
                        "more than {max} occurrences match `{filter}`; refusing to read them all"
                    )));
                }
                if each(item).is_break() {
                    return Ok(());
                }
            }
            match l.next_page_token {
                Some(t) => page.token = Some(t),
                None => return Ok(()),
            }
        }
    }

    /// The occurrences `scan_occurrences` streams, collected: only with a `limit`.
    pub(crate) async fn bounded_occurrences(
        &self,
        scope: &OccurrenceScope,
        filter: &str,
    ) -> Result<Vec<Value>, ServiceError> {
        let mut out = Vec::new();
        self.scan_occurrences(scope, filter, Some(MAX_OCCURRENCES_PER_IMAGE), |v| {
            out.push(v);
            std::ops::ControlFlow::Continue(())
        })
        .await?;
        Ok(out)
    }

    /// `occurrences:vulnerabilitySummary`: counts per (resource, severity), plus a total entry
    /// per resource with severity unset.
    pub async fn vulnerability_summary(
        &self,
        project: &str,
        filter: &str,
    ) -> Result<Value, ServiceError> {
        use std::collections::BTreeMap;
        let mut counts: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
        // Only VULNERABILITY occurrences count: ask the store for them, not for everything.
        let filter = if filter.trim().is_empty() {
            "kind = \"VULNERABILITY\"".to_owned()
        } else {
            format!("({filter}) AND kind = \"VULNERABILITY\"")
        };
        let mut add = |o: Value| {
            let uri = o["resourceUri"].as_str().unwrap_or_default().to_owned();
            let v = &o["vulnerability"];
            let sev = v["effectiveSeverity"]
                .as_str()
                .or(v["severity"].as_str())
                .unwrap_or("SEVERITY_UNSPECIFIED")
                .to_owned();
            let fixable = u64::from(v["fixAvailable"].as_bool().unwrap_or(false));
            for key in [(uri.clone(), sev), (uri, String::new())] {
                let e = counts.entry(key).or_default();
                e.0 += fixable;
                e.1 += 1;
            }
            std::ops::ControlFlow::Continue(())
        };
        // Counted page by page: memory holds the counts, never the occurrences.
        self.scan_occurrences(
            &OccurrenceScope::Project(project.to_owned()),
            &filter,
            None,
            &mut add,
        )
        .await?;
        let entries: Vec<Value> = counts
            .into_iter()
            .map(|((uri, sev), (fixable, total))| {
                let mut e = serde_json::json!({"resourceUri": uri, "fixableCount": fixable.to_string(), "totalCount": total.to_string()});
                if !sev.is_empty() {
                    e["severity"] = Value::String(sev);
                }
                e
            })
            .collect();
        Ok(serde_json::json!({"counts": entries}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_numbers_in_bodies_become_names_and_unknown_ones_are_refused() {
        let Value::Object(mut body) = serde_json::json!({
            "kind": 1,
            "vulnerability": {"severity": 4, "effectiveSeverity": "LOW",
                              "packageIssue": [{"effectiveSeverity": 5}]},
        }) else {
            return;
        };
        assert!(normalise_enums(&mut body).is_ok());
        assert_eq!(body["kind"], "VULNERABILITY");
        assert_eq!(body["vulnerability"]["severity"], "HIGH");
        assert_eq!(body["vulnerability"]["effectiveSeverity"], "LOW");
        assert_eq!(
            body["vulnerability"]["packageIssue"][0]["effectiveSeverity"],
            "CRITICAL"
        );
        let Value::Object(mut bad) = serde_json::json!({"discovery": {"analysisStatus": 9}}) else {
            return;
        };
        let e = normalise_enums(&mut bad)
            .err()
            .map(|e| e.message)
            .unwrap_or_default();
        assert!(
            e.contains("discovery.analysisStatus: unknown value 9"),
            "{e}"
        );
    }
}
