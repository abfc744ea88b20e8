//! Read-modify-write without lost updates: a use case reads a resource, builds the new value
//! from it and writes under the version it read; a concurrent writer makes that write ABORTED,
//! and the whole attempt is done again on what that writer stored.

use crate::{Code, ServiceError};

/// How often an update is redone after concurrent updates won the race.
pub(crate) const MAX_UPDATE_ATTEMPTS: u32 = 8;

/// Runs `attempt` until it is not ABORTED, at most [`MAX_UPDATE_ATTEMPTS`] times. Only for
/// attempts whose precondition is the version they read themselves: an etag the caller sent
/// stays stale however often it is tried, so such a write passes `redo: false`.
pub(crate) async fn redo_when_raced<T, F>(
    redo: bool,
    mut attempt: impl FnMut() -> F,
) -> Result<T, ServiceError>
where
    F: Future<Output = Result<T, ServiceError>>,
{
    let mut attempts = 0;
    loop {
        attempts += 1;
        match attempt().await {
            Err(e) if redo && e.code == Code::Aborted && attempts < MAX_UPDATE_ATTEMPTS => {}
            r => return r,
        }
    }
}

impl crate::Service {
    /// Read-modify-write of a resource kept as JSON (IAM service accounts, custom roles):
    /// `change` builds the new body from the stored one, which is written only over the
    /// version it was built from (or over `given`, the caller's etag), and redone when a
    /// concurrent write got there first. `missing` is the error when there is none.
    pub(crate) async fn rewrite(
        &self,
        kind: admit_store::Kind,
        name: &str,
        parent: &str,
        given: Option<String>,
        missing: impl Fn() -> ServiceError,
        change: impl Fn(serde_json::Value) -> Result<serde_json::Value, ServiceError>,
    ) -> Result<admit_store::Doc, ServiceError> {
        let (missing, change, given) = (&missing, &change, &given);
        redo_when_raced(given.is_none(), move || async move {
            let current = self.store.get(kind, name).await?.ok_or_else(missing)?;
            let body = change(current.body)?;
            let etag = given.clone().unwrap_or(current.etag);
            let pre = admit_store::Precondition::Unchanged { etag: Some(etag) };
            Ok(self
                .store
                .put(kind, name, parent, &body, None, pre, &self.now())
                .await?)
        })
        .await
    }
}
