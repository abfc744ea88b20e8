//! Grafeas notes. Bodies are kept as JSON so every kind round-trips losslessly; the service
//! checks the name, derives `kind` from the one kind field that is set, and stamps times.

use admit_model::NoteName;
use admit_store::{Kind, Listed, Page, Precondition};
use serde_json::Value;

use crate::grafeas_body::{apply_mask, derive_kind, with_times};
use crate::{Service, ServiceError, check_id, check_project};

fn object(body: Value) -> Result<serde_json::Map<String, Value>, ServiceError> {
    match body {
        Value::Object(o) => Ok(o),
        _ => Err(ServiceError::invalid(
            "the request body must be a JSON object",
        )),
    }
}

impl Service {
    /// Checks a note body and fills in its derived fields; its name and body.
    fn prepare_note(
        project: &str,
        note_id: &str,
        body: Value,
    ) -> Result<(String, Value), ServiceError> {
        check_project(project)?;
        check_id("noteId", note_id)?;
        let name = format!("projects/{project}/notes/{note_id}");
        let mut o = object(body)?;
        if let Some(given) = o
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            && given != name
        {
            return Err(ServiceError::invalid(format!(
                "name `{given}` does not match {name}"
            )));
        }
        o.remove("createTime");
        o.remove("updateTime");
        o.insert("name".into(), Value::String(name.clone()));
        let mut body = Value::Object(o);
        let kind = derive_kind(&body, "a note")?;
        body["kind"] = Value::String(kind.into());
        Ok((name, body))
    }

    pub async fn create_note(
        &self,
        project: &str,
        note_id: &str,
        body: Value,
    ) -> Result<Value, ServiceError> {
        let (name, body) = Self::prepare_note(project, note_id, body)?;
        let doc = self
            .store
            .put(
                Kind::Note,
                &name,
                &format!("projects/{project}"),
                &body,
                None,
                Precondition::MustNotExist,
                &self.now(),
            )
            .await?;
        Ok(with_times(doc))
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
        let parent = format!("projects/{project}");
        let mut items = Vec::with_capacity(notes.len());
        for (id, n) in notes {
            let (name, body) = Self::prepare_note(project, id, n.clone())
                .map_err(|e| ServiceError::new(e.code, format!("notes[{id}]: {}", e.message)))?;
            items.push((name, parent.clone(), body));
        }
        let docs = self
            .store
            .create_all(Kind::Note, &items, &self.now())
            .await?;
        Ok(docs.into_iter().map(with_times).collect())
    }

    pub async fn get_note(&self, name: &str) -> Result<Value, ServiceError> {
        NoteName::parse(name).map_err(|e| ServiceError::invalid(e.to_string()))?;
        let doc = self
            .store
            .get(Kind::Note, name)
            .await?
            .ok_or_else(|| ServiceError::not_found(format!("note {name} not found")))?;
        Ok(with_times(doc))
    }

    pub async fn list_notes(
        &self,
        project: &str,
        page: &Page,
    ) -> Result<Listed<Value>, ServiceError> {
        check_project(project)?;
        let l = self
            .store
            .list(Kind::Note, &format!("projects/{project}"), page)
            .await?;
        Ok(Listed {
            items: l.items.into_iter().map(with_times).collect(),
            next_page_token: l.next_page_token,
        })
    }

    /// PATCH with an update mask of top-level fields (`*` or empty means every field given).
    pub async fn patch_note(
        &self,
        name: &str,
        patch: Value,
        mask: &[String],
    ) -> Result<Value, ServiceError> {
        let parsed = NoteName::parse(name).map_err(|e| ServiceError::invalid(e.to_string()))?;
        let current = self
            .store
            .get(Kind::Note, name)
            .await?
            .ok_or_else(|| ServiceError::not_found(format!("note {name} not found")))?;
        let body = apply_mask(
            current.body,
            &object(patch)?,
            mask,
            &["name", "kind", "createTime", "updateTime"],
        )?;
        let mut body = Value::Object(body);
        let kind = derive_kind(&body, "a note")?;
        body["kind"] = Value::String(kind.into());
        let doc = self
            .store
            .put(
                Kind::Note,
                name,
                &format!("projects/{}", parsed.project),
                &body,
                None,
                Precondition::MustExist { etag: None },
                &self.now(),
            )
            .await?;
        Ok(with_times(doc))
    }

    pub async fn delete_note(&self, name: &str) -> Result<(), ServiceError> {
        NoteName::parse(name).map_err(|e| ServiceError::invalid(e.to_string()))?;
        self.store.delete(Kind::Note, name).await?;
        Ok(())
    }
}
