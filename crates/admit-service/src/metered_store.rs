//! The store, timed: every call observed in `admit_store_call_duration_seconds`; every write of
//! a resource or occurrence forgotten by admission's in-memory state before it is acknowledged
//! (after a failure too: a lost answer may hide a commit), so a review that follows a write sees
//! it; and every successful write (not of the audit log) counted on a watch channel, so that
//! continuous validation re-evaluates running pods within moments of a change made here.

use std::sync::Arc;
use std::time::Instant;

use admit_model::Filter;
use admit_store::{
    AuditFilter, Change, Doc, FeedEvent, Kind, Listed, OccurrenceScope, Page, Precondition, Store,
    StoreError, pinned_digest,
};
use async_trait::async_trait;
use serde_json::Value;

use crate::admission_state::AdmissionState;
use crate::metrics::SharedMetrics;

#[derive(Debug)]
pub(crate) struct MeteredStore {
    inner: Arc<dyn Store>,
    metrics: SharedMetrics,
    admission: Arc<AdmissionState>,
    writes: tokio::sync::watch::Sender<u64>,
}

fn resource(kind: Kind, name: &str) -> Change {
    Change::Resource {
        kind,
        name: name.to_owned(),
    }
}

/// What creating or rewriting an occurrence with `body` touches.
fn occurrence(body: &Value) -> Change {
    let s = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or_default();
    Change::Occurrence {
        note: s("noteName").to_owned(),
        digest: pinned_digest(s("resourceUri")).to_owned(),
    }
}

impl MeteredStore {
    pub(crate) fn new(
        inner: Arc<dyn Store>,
        metrics: SharedMetrics,
        admission: Arc<AdmissionState>,
    ) -> Self {
        MeteredStore {
            inner,
            metrics,
            admission,
            writes: tokio::sync::watch::Sender::new(0),
        }
    }

    /// A receiver told of every successful resource write.
    pub(crate) fn writes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.writes.subscribe()
    }

    fn wrote<T>(
        &self,
        op: &'static str,
        started: Instant,
        r: Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if r.is_ok() {
            self.writes.send_modify(|n| *n = n.wrapping_add(1));
        }
        self.done(op, started, r)
    }

    fn done<T>(
        &self,
        op: &'static str,
        started: Instant,
        r: Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.metrics.store_call(op, r.is_ok(), started);
        r
    }
}

#[async_trait]
impl Store for MeteredStore {
    /// The feed, passed on; a commit by another writer (another replica, another program on
    /// the file) also counts as a write for [`MeteredStore::writes`] (continuous validation
    /// re-runs on it), as does the feed coming back (commits may have been missed while down).
    async fn follow_changes(&self, events: tokio::sync::mpsc::Sender<FeedEvent>) {
        let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
        let relay = async move {
            while let Some(event) = rx.recv().await {
                let wrote = match &event {
                    FeedEvent::Changes(c) => !c.is_empty(),
                    FeedEvent::Live => true,
                    FeedEvent::Down(_) => false,
                };
                if wrote {
                    self.writes.send_modify(|n| *n = n.wrapping_add(1));
                }
                if events.send(event).await.is_err() {
                    return; // nobody listens: dropping `rx` stops the feed
                }
            }
        };
        tokio::join!(self.inner.follow_changes(tx), relay);
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let t = Instant::now();
        let r = self.inner.ping().await;
        self.done("ping", t, r)
    }

    async fn get(&self, kind: Kind, name: &str) -> Result<Option<Doc>, StoreError> {
        let t = Instant::now();
        let r = self.inner.get(kind, name).await;
        self.done("get", t, r)
    }

    async fn etag(&self, kind: Kind, name: &str) -> Result<Option<String>, StoreError> {
        let t = Instant::now();
        let r = self.inner.etag(kind, name).await;
        self.done("etag", t, r)
    }

    async fn put(
        &self,
        kind: Kind,
        name: &str,
        parent: &str,
        body: &Value,
        secret: Option<&[u8]>,
        pre: Precondition,
        now: &str,
    ) -> Result<Doc, StoreError> {
        let t = Instant::now();
        let r = self
            .inner
            .put(kind, name, parent, body, secret, pre, now)
            .await;
        self.admission.apply(&[resource(kind, name)]);
        self.wrote("put", t, r)
    }

    async fn create_all(
        &self,
        kind: Kind,
        items: &[(String, String, Value)],
        now: &str,
    ) -> Result<Vec<Doc>, StoreError> {
        let t = Instant::now();
        let r = self.inner.create_all(kind, items, now).await;
        let changes: Vec<Change> = items.iter().map(|(n, _, _)| resource(kind, n)).collect();
        self.admission.apply(&changes);
        self.wrote("create_all", t, r)
    }

    async fn delete(&self, kind: Kind, name: &str, etag: Option<&str>) -> Result<(), StoreError> {
        let t = Instant::now();
        let r = self.inner.delete(kind, name, etag).await;
        self.admission
            .apply(&[resource(kind, name), resource(Kind::IamPolicy, name)]);
        self.wrote("delete", t, r)
    }

    async fn list(&self, kind: Kind, parent: &str, page: &Page) -> Result<Listed<Doc>, StoreError> {
        let t = Instant::now();
        let r = self.inner.list(kind, parent, page).await;
        self.done("list", t, r)
    }

    async fn secret(&self, kind: Kind, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let t = Instant::now();
        let r = self.inner.secret(kind, name).await;
        self.done("secret", t, r)
    }

    async fn create_occurrences(
        &self,
        bodies: &[Value],
        now: &str,
    ) -> Result<Vec<Doc>, StoreError> {
        let t = Instant::now();
        let r = self.inner.create_occurrences(bodies, now).await;
        let changes: Vec<Change> = bodies.iter().map(occurrence).collect();
        self.admission.apply(&changes);
        self.wrote("create_occurrences", t, r)
    }

    async fn get_occurrence(&self, name: &str) -> Result<Option<Doc>, StoreError> {
        let t = Instant::now();
        let r = self.inner.get_occurrence(name).await;
        self.done("get_occurrence", t, r)
    }

    async fn update_occurrence(
        &self,
        name: &str,
        body: &Value,
        now: &str,
        etag: Option<&str>,
    ) -> Result<Doc, StoreError> {
        let t = Instant::now();
        let r = self.inner.update_occurrence(name, body, now, etag).await;
        self.admission.forget_occurrence(name);
        self.admission.apply(&[occurrence(body)]);
        self.wrote("update_occurrence", t, r)
    }

    async fn delete_occurrence(&self, name: &str, etag: Option<&str>) -> Result<(), StoreError> {
        let t = Instant::now();
        let r = self.inner.delete_occurrence(name, etag).await;
        self.admission.forget_occurrence(name);
        self.admission.apply(&[resource(Kind::IamPolicy, name)]);
        self.wrote("delete_occurrence", t, r)
    }

    async fn append_audit_batch(
        &self,
        records: &[admit_store::AuditEntry],
    ) -> Result<(), StoreError> {
        let t = Instant::now();
        let r = self.inner.append_audit_batch(records).await;
        self.done("append_audit_batch", t, r)
    }

    async fn ingest_audit(
        &self,
        log_id: &str,
        first_seq: u64,
        records: &[admit_store::AuditEntry],
    ) -> Result<(), StoreError> {
        let t = Instant::now();
        let r = self.inner.ingest_audit(log_id, first_seq, records).await;
        self.done("ingest_audit", t, r)
    }

    async fn audit_copied(&self, log_id: &str) -> Result<admit_store::AuditCopied, StoreError> {
        let t = Instant::now();
        let r = self.inner.audit_copied(log_id).await;
        self.done("audit_copied", t, r)
    }

    async fn prune_audit(&self, before: &str, limit: u32) -> Result<u64, StoreError> {
        let t = Instant::now();
        let r = self.inner.prune_audit(before, limit).await;
        self.done("prune_audit", t, r)
    }

    async fn list_audit(
        &self,
        project: &str,
        filter: &AuditFilter,
        page: &Page,
    ) -> Result<Listed<Value>, StoreError> {
        let t = Instant::now();
        let r = self.inner.list_audit(project, filter, page).await;
        self.done("list_audit", t, r)
    }

    async fn list_occurrences(
        &self,
        scope: &OccurrenceScope,
        filter: Option<&Filter>,
        page: &Page,
    ) -> Result<Listed<Doc>, StoreError> {
        let t = Instant::now();
        let r = self.inner.list_occurrences(scope, filter, page).await;
        self.done("list_occurrences", t, r)
    }

    async fn attestations_of(
        &self,
        pairs: &[(String, String)],
        limit: u32,
    ) -> Result<Vec<Vec<Doc>>, StoreError> {
        let t = Instant::now();
        let r = self.inner.attestations_of(pairs, limit).await;
        self.done("attestations", t, r)
    }
}
