//! Typed repositories over the resource collections: a resource goes in as its model type under
//! its name newtype and comes back as `Versioned<T>` (value, version, create and update time).
//! Callers never see the stored JSON, never re-derive a parent from a name, and every write
//! states what must hold for it to go ahead.

use std::fmt::Display;
use std::marker::PhantomData;

use admit_model::{Attestor, AttestorName, NoteName, Policy, PolicyName};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{Doc, Kind, Listed, Page, Precondition, Store, StoreError};

/// A stored resource and its bookkeeping.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<T> {
    pub value: T,
    /// The etag: opaque, changes with every write.
    pub version: String,
    pub create_time: String,
    pub update_time: String,
}

impl<T> Versioned<T> {
    /// `value` with the bookkeeping of the document it was stored as.
    fn stored(value: T, doc: Doc) -> Self {
        Versioned {
            value,
            version: doc.etag,
            create_time: doc.create_time,
            update_time: doc.update_time,
        }
    }
}

/// A resource name that knows the collection it lists under.
pub trait ResourceName: Display + Send + Sync {
    /// What lists it (`projects/{p}` for a project's attestors).
    fn parent(&self) -> String;
}

impl ResourceName for AttestorName {
    fn parent(&self) -> String {
        format!("projects/{}", self.project)
    }
}

impl ResourceName for NoteName {
    fn parent(&self) -> String {
        format!("projects/{}", self.project)
    }
}

impl ResourceName for PolicyName {
    fn parent(&self) -> String {
        format!("projects/{}", self.project)
    }
}

/// A resource type kept in the resource table.
pub trait Resource: Serialize + DeserializeOwned + Send + Sync {
    const KIND: Kind;
    type Name: ResourceName;
    /// Top-level fields the store keeps in its own columns (etag, times) or that the name
    /// says: never stored in the body, so an echo of them cannot go stale.
    const OUTPUT_ONLY: &'static [&'static str] = &["etag", "updateTime", "createTime"];
}

impl Resource for Attestor {
    const KIND: Kind = Kind::Attestor;
    type Name = AttestorName;
}

impl Resource for Policy {
    const KIND: Kind = Kind::Policy;
    type Name = PolicyName;
    const OUTPUT_ONLY: &'static [&'static str] = &["name", "etag", "updateTime", "createTime"];
}

/// The body a resource is stored as.
fn body_of<T: Resource>(value: &T, name: &str) -> Result<Value, StoreError> {
    let mut body = serde_json::to_value(value).map_err(|e| StoreError::Unreadable {
        name: name.to_owned(),
        message: format!("cannot be written: {e}"),
    })?;
    if let Some(fields) = body.as_object_mut() {
        for f in T::OUTPUT_ONLY {
            fields.remove(*f);
        }
    }
    Ok(body)
}

/// The typed value of a stored document.
fn decode<T: Resource>(mut doc: Doc) -> Result<Versioned<T>, StoreError> {
    let body = std::mem::take(&mut doc.body);
    let value = serde_json::from_value(body).map_err(|e| StoreError::Unreadable {
        name: std::mem::take(&mut doc.name),
        message: e.to_string(),
    })?;
    Ok(Versioned::stored(value, doc))
}

/// The typed view of one collection of a store.
pub struct Repo<'s, T> {
    store: &'s dyn Store,
    _t: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for Repo<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repo").field("store", &self.store).finish()
    }
}

/// The repository of `T` in `store`.
pub fn repo<T: Resource>(store: &dyn Store) -> Repo<'_, T> {
    Repo {
        store,
        _t: PhantomData,
    }
}

impl<T: Resource> Repo<'_, T> {
    pub async fn get(&self, name: &T::Name) -> Result<Option<Versioned<T>>, StoreError> {
        self.store
            .get(T::KIND, &name.to_string())
            .await?
            .map(decode)
            .transpose()
    }

    /// The stored version alone (no body read, no parse): the freshness check of a cache.
    pub async fn version(&self, name: &T::Name) -> Result<Option<String>, StoreError> {
        self.store.etag(T::KIND, &name.to_string()).await
    }

    /// Writes `value` under `pre` (fields in `T::OUTPUT_ONLY` are not stored); returns it
    /// with its new version and times.
    pub async fn write(
        &self,
        name: &T::Name,
        value: T,
        pre: Precondition,
        now: &str,
    ) -> Result<Versioned<T>, StoreError> {
        let key = name.to_string();
        let body = body_of(&value, &key)?;
        let doc = self
            .store
            .put(T::KIND, &key, &name.parent(), &body, None, pre, now)
            .await?;
        Ok(Versioned::stored(value, doc))
    }

    /// Creates every item in one transaction: all or none (the first that exists already
    /// fails the whole call with AlreadyExists).
    pub async fn create_all(
        &self,
        items: Vec<(T::Name, T)>,
        now: &str,
    ) -> Result<Vec<Versioned<T>>, StoreError> {
        let rows = items
            .iter()
            .map(|(name, value)| {
                let key = name.to_string();
                let body = body_of(value, &key)?;
                Ok((key, name.parent(), body))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let docs = self.store.create_all(T::KIND, &rows, now).await?;
        Ok(items
            .into_iter()
            .zip(docs)
            .map(|((_, value), doc)| Versioned::stored(value, doc))
            .collect())
    }

    /// Deletes the resource (and its IAM policy); with `version`, only if it still has it
    /// (ABORTED otherwise).
    pub async fn delete(&self, name: &T::Name, version: Option<&str>) -> Result<(), StoreError> {
        self.store.delete(T::KIND, &name.to_string(), version).await
    }

    /// One page of the collection under `parent`, in creation order.
    pub async fn list(
        &self,
        parent: &str,
        page: &Page,
    ) -> Result<Listed<(String, Versioned<T>)>, StoreError> {
        let l = self.store.list(T::KIND, parent, page).await?;
        Ok(Listed {
            items: l
                .items
                .into_iter()
                .map(|d| {
                    let name = d.name.clone();
                    decode(d).map(|v| (name, v))
                })
                .collect::<Result<_, _>>()?,
            next_page_token: l.next_page_token,
        })
    }
}
