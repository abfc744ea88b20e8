//! Grafeas notes. Bodies are kept as JSON so every kind round-trips losslessly; the service
//! checks the name, derives `kind` from the one kind field that is set, and stamps times.

use admit_model::NoteName;
use admit_store::{Listed, Page, Precondition, Repo, Versioned, repo};
use serde_json::Value;

use crate::grafeas_body::{NoteBody, apply_mask, derive_kind, shown};
use crate::{Service, ServiceError, check_id, check_project};

fn object(body: Value) -> Result<serde_json::Map<String, Value>, ServiceError> {
    match body {
        Value::Object(o) => Ok(o),
        _ => Err(ServiceError::invalid(
            "the request body must be a JSON object",
        )),
    }
}

fn parse_name(name: &str) -> Result<NoteName, ServiceError> {
    NoteName::parse(name).map_err(|e| ServiceError::invalid(e.to_string()))
}

/// The note with `kind` derived from the one kind field that is set.
fn with_kind(mut body: serde_json::Map<String, Value>) -> Result<NoteBody, ServiceError> {
    let kind = derive_kind(&body, "a note")?;
    body.insert("kind".into(), Value::String(kind.into()));
    Ok(NoteBody(body))
}

impl Service {
    fn notes(&self) -> Repo<'_, NoteBody> {
        repo(self.store.as_ref())
    }

    /// Checks a note body and fills in its derived fields; its name and body.
    fn prepare_note(
        project: &str,
        note_id: &str,
        body: Value,
    ) -> Result<(NoteName, NoteBody), ServiceError> {
        check_project(project)?;
        check_id("noteId", note_id)?;
        let name = parse_name(&format!("projects/{project}/notes/{note_id}"))?;
        let mut o = object(body)?;
        if let Some(given) = o
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            && given != name.to_string()
        {
            return Err(ServiceError::invalid(format!(
                "name `{given}` does not match {name}"
            )));
        }
        o.insert("name".into(), Value::String(name.to_string()));
        Ok((name, with_kind(o)?))
    }

    pub async fn create_note(
        &self,
        project: &str,
        note_id: &str,
        body: Value,
    ) -> Result<Value, ServiceError> {
        let (name, body) = Self::prepare_note(project, note_id, body)?;
        let stored = self
            .notes()
            .write(&name, body, Precondition::MustNotExist, &self.now())
            .await?;
        Ok(shown(stored))
    }

    /// `notes:batchCreate`: every note or none (at most [`crate::MAX_BATCH`]).
    pub async fn create_notes(
        &self,
        project: &str,
        notes: &serde_json::Map<String, Value>,
    ) -> Result<Vec<Value>, ServiceError> {
        if notes.len() > crate::MAX_BATCH {
            return Err(ServiceError::invalid(format!(
                "notes: {} given; a batch holds at most {}",
                notes.len(),
                crate::MAX_BATCH
            )));
        }
        let mut items = Vec::with_capacity(notes.len());
        for (id, n) in notes {
            items.push(
                Self::prepare_note(project, id, n.clone()).map_err(|e| {
                    ServiceError::new(e.code, format!("notes[{id}]: {}", e.message))
                })?,
            );
        }
        let stored = self.notes().create_all(items, &self.now()).await?;
        Ok(stored.into_iter().map(shown).collect())
    }

    pub async fn get_note(&self, name: &str) -> Result<Value, ServiceError> {
        let name = parse_name(name)?;
        Ok(shown(self.stored_note(&name).await?))
    }

    async fn stored_note(&self, name: &NoteName) -> Result<Versioned<NoteBody>, ServiceError> {
        self.notes()
            .get(name)
            .await?
            .ok_or_else(|| ServiceError::not_found(format!("note {name} not found")))
    }

    pub async fn list_notes(
        &self,
        project: &str,
        page: &Page,
    ) -> Result<Listed<Value>, ServiceError> {
        check_project(project)?;
        let l = self
            .notes()
            .list(&format!("projects/{project}"), page)
            .await?;
        Ok(Listed {
            items: l.items.into_iter().map(|(_, v)| shown(v)).collect(),
            next_page_token: l.next_page_token,
        })
    }

    /// PATCH with an update mask of top-level fields (`*` or empty means every field given).
    /// The write is conditional on the version the patch was applied to, and redone on a
    /// concurrent update, so two patches of different fields both land.
    pub async fn patch_note(
        &self,
        name: &str,
        patch: Value,
        mask: &[String],
    ) -> Result<Value, ServiceError> {
        let name = parse_name(name)?;
        let patch = object(patch)?;
        let (name, patch) = (&name, &patch);
        crate::raced::redo_when_raced(true, move || async move {
            let current = self.stored_note(name).await?;
            let body = apply_mask(
                Value::Object(current.value.0),
                patch,
                mask,
                &["name", "kind", "createTime", "updateTime"],
            )?;
            let pre = Precondition::Unchanged {
                etag: Some(current.version),
            };
            let stored = self
                .notes()
                .write(name, with_kind(body)?, pre, &self.now())
                .await?;
            Ok(shown(stored))
        })
        .await
    }

    pub async fn delete_note(&self, name: &str) -> Result<(), ServiceError> {
        self.notes().delete(&parse_name(name)?, None).await?;
        Ok(())
    }
}
