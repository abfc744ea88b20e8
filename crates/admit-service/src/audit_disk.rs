//! The audit trail's durable home when the server keeps one on disk (`admit-auditlog`): each
//! group commit is appended and fsynced there (off the async workers) before its reviews are
//! answered; a task then copies the records into the store, where they are listed, in
//! batches, idempotently (by log id and record number), catching up from the log after a
//! restart or an outage. Retention drops whole old segments of the log.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use admit_auditlog::AuditLog;
use admit_store::AuditEntry;
use tokio::sync::{mpsc, watch};

use crate::metrics::Metrics;
use crate::{Code, Service, ServiceError};

/// Records held in memory for the store at most; past it, ingestion reads them back from
/// the log instead.
const MAX_PENDING: u64 = 20_000;
/// Records per store transaction when copying.
const INGEST_BATCH: usize = 2_000;
/// How long a list waits for the records appended before it to reach the store.
const LIST_WAIT: Duration = Duration::from_secs(5);
/// How long the copy gathers records before a store transaction, unless someone waits for it
/// (a list, a graceful stop): one transaction (one fsync of the store) per period under load,
/// instead of one per group commit of the log.
const GATHER: Duration = Duration::from_millis(50);

/// A group commit on its way to the store: its first record's number, its records.
type Batch = (u64, Vec<AuditEntry>);

#[derive(Debug)]
pub(crate) struct DiskLog {
    log: Arc<Mutex<AuditLog>>,
    log_id: String,
    /// The highest record number durable in the log.
    appended: AtomicU64,
    /// The highest record number stored (every one before it too).
    ingested: watch::Sender<u64>,
    pending: Arc<AtomicU64>,
    /// Batches were not handed over (too many pending): read them back from the log.
    behind: Arc<AtomicBool>,
    to_store: mpsc::UnboundedSender<Batch>,
    from_log: Mutex<Option<mpsc::UnboundedReceiver<Batch>>>,
    /// Someone waits for the copy: stop gathering.
    hurry: tokio::sync::Notify,
}

fn internal(e: impl std::fmt::Display) -> ServiceError {
    ServiceError::new(Code::Unavailable, format!("the audit log: {e}"))
}

impl DiskLog {
    pub(crate) fn new(log: AuditLog) -> Self {
        let log_id = log.log_id().to_owned();
        let last = log.usage().next_seq.saturating_sub(1);
        let (to_store, from_log) = mpsc::unbounded_channel();
        DiskLog {
            log: Arc::new(Mutex::new(log)),
            log_id,
            appended: AtomicU64::new(last),
            ingested: watch::Sender::new(0),
            pending: Arc::new(AtomicU64::new(0)),
            behind: Arc::new(AtomicBool::new(false)),
            to_store,
            from_log: Mutex::new(Some(from_log)),
            hurry: tokio::sync::Notify::new(),
        }
    }

    /// Runs `f` on the log, on the blocking pool (file I/O and fsync).
    async fn with_log<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut AuditLog) -> T + Send + 'static,
    ) -> Result<T, ServiceError> {
        let log = self.log.clone();
        tokio::task::spawn_blocking(move || {
            let mut log = log.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut log)
        })
        .await
        .map_err(internal)
    }

    /// Appends one group commit durably (blocking: the writer thread's call), then hands it
    /// to ingestion.
    pub(crate) fn append_blocking(
        &self,
        records: Vec<AuditEntry>,
        metrics: &Metrics,
    ) -> Result<(), ServiceError> {
        let texts: Vec<&str> = records.iter().map(|r| &*r.body).collect();
        let (range, usage) = {
            let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
            (log.append(&texts), log.usage())
        };
        drop(texts);
        let range = range.map_err(internal)?;
        self.appended.store(range.end - 1, Ordering::Release);
        metrics.audit_log(&usage, self.lag());
        let n = records.len() as u64;
        if self.pending.load(Ordering::Acquire) + n > MAX_PENDING
            || self.to_store.send((range.start, records)).is_err()
        {
            self.behind.store(true, Ordering::Release);
        } else {
            self.pending.fetch_add(n, Ordering::AcqRel);
        }
        Ok(())
    }

    fn lag(&self) -> u64 {
        self.appended
            .load(Ordering::Acquire)
            .saturating_sub(*self.ingested.borrow())
    }

    /// Waits (a while) until every record appended so far is in the store.
    pub(crate) async fn caught_up(&self) {
        let target = self.appended.load(Ordering::Acquire);
        if *self.ingested.borrow() < target {
            self.hurry.notify_one();
        }
        let mut rx = self.ingested.subscribe();
        let _ = tokio::time::timeout(LIST_WAIT, rx.wait_for(|n| *n >= target)).await;
    }
}

impl Service {
    /// Keeps the audit trail in `log` (see `audit_disk`); start copying it into the store with
    /// [`Service::start_audit_log`].
    pub fn with_audit_log(mut self, log: AuditLog) -> Self {
        self.disk_log = Some(Arc::new(DiskLog::new(log)));
        self
    }

    /// Waits (at most a few seconds) until every record appended to the on-disk log so far
    /// is in the store: what a graceful stop does before exiting.
    pub async fn audit_caught_up(&self) {
        if let Some(disk) = &self.disk_log {
            disk.caught_up().await;
        }
    }

    /// Starts copying the on-disk audit log into the store (catching up first), and its
    /// retention every `retention_every`.
    pub fn start_audit_log(self: &Arc<Self>, retention_every: Duration) {
        let Some(disk) = self.disk_log.clone() else {
            return;
        };
        let receiver = disk
            .from_log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(mut rx) = receiver else { return };
        if let Err(e) =
            crate::audit_log::start_writer(&self.audit, disk.clone(), self.metrics.clone())
        {
            // The async writer (one task per batch) takes over; slower, as safe.
            tracing::error!(error = %e, "cannot start the audit writer thread");
        }
        let service = self.clone();
        let d = disk.clone();
        tokio::spawn(async move {
            service.catch_up(&d).await;
            loop {
                let Some((mut first, mut records)) = rx.recv().await else {
                    return;
                };
                tokio::select! {
                    () = tokio::time::sleep(GATHER) => {}
                    () = d.hurry.notified() => {}
                }
                // Whatever else is waiting and follows on goes in the same transaction.
                while records.len() < INGEST_BATCH {
                    match rx.try_recv() {
                        Ok((f, r)) if f == first + records.len() as u64 => records.extend(r),
                        Ok((f, r)) => {
                            service.ingest(&d, first, &records).await;
                            (first, records) = (f, r);
                        }
                        Err(_) => break,
                    }
                }
                service.ingest(&d, first, &records).await;
                if d.behind.swap(false, Ordering::AcqRel) {
                    service.catch_up(&d).await;
                }
            }
        });
        let service = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(retention_every).await;
                // Never a segment holding records the store has not copied yet.
                let keep_from = *disk.ingested.borrow() + 1;
                match disk
                    .with_log(move |log| (log.retain(keep_from), log.usage()))
                    .await
                {
                    Ok((Ok(dropped), usage)) => {
                        service.metrics.audit_log(&usage, disk.lag());
                        if dropped > 0 {
                            tracing::info!(
                                dropped,
                                first_kept = usage.first_seq,
                                "audit log retention dropped old segments"
                            );
                        }
                    }
                    Ok((Err(e), _)) => tracing::error!(error = %e, "audit log retention failed"),
                    Err(e) => tracing::error!(error = %e.message, "audit log retention failed"),
                }
            }
        });
    }

    /// Stores `records` (numbered from `first`), retrying until the store takes them.
    async fn ingest(&self, disk: &DiskLog, first: u64, records: &[AuditEntry]) {
        let mut backoff = Duration::from_millis(50);
        loop {
            match self.store.ingest_audit(&disk.log_id, first, records).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(error = %e, first, "cannot copy audit records into the store yet; retrying (they are durable in the log)");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
        disk.pending
            .fetch_sub(records.len() as u64, Ordering::AcqRel);
        let last = first + records.len() as u64 - 1;
        disk.ingested.send_modify(|n| *n = (*n).max(last));
    }

    /// Copies what the store lacks from the log: after a restart, or after batches were not
    /// handed over; and again from the lowest stored record when rows were removed from the
    /// middle of the copy.
    async fn catch_up(&self, disk: &Arc<DiskLog>) {
        let mut backoff = Duration::from_millis(50);
        let mut from = loop {
            match self.store.audit_copied(&disk.log_id).await {
                // Rows removed from the middle of the copy: copy again from its lowest record
                // (what is there is skipped). Below the lowest is the database's own retention.
                Ok(c) if c.has_holes() => {
                    tracing::warn!(
                        log_id = %disk.log_id,
                        stored = c.records,
                        lowest = c.lowest,
                        highest = c.highest,
                        "the database's copy of the audit log has holes; copying the log again from its lowest stored record"
                    );
                    break c.lowest;
                }
                Ok(c) => break c.highest + 1,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read how much of the audit log the store has; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        };
        disk.ingested.send_modify(|n| *n = (*n).max(from - 1));
        loop {
            // The paths under the lock; the reading (whole segments) without it, so the writer
            // never waits for a catch-up.
            let chunk = match disk.with_log(|log| log.segment_paths()).await {
                Ok(paths) => tokio::task::spawn_blocking(move || {
                    admit_auditlog::read(&paths, from, INGEST_BATCH)
                })
                .await
                .map_err(internal),
                Err(e) => Err(e),
            };
            let records = match chunk {
                Ok(Ok(r)) if !r.is_empty() => r,
                Ok(Ok(_)) => return,
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "cannot read the audit log back");
                    return;
                }
                Err(e) => {
                    tracing::error!(error = %e.message, "cannot read the audit log back");
                    return;
                }
            };
            // Records dropped by retention before they were copied: continue after them.
            let first = records[0].0;
            let values: Vec<AuditEntry> = records.iter().map(|(_, v)| AuditEntry::new(v)).collect();
            let n = values.len() as u64;
            // `ingest` subtracts what it stored from `pending`; these were never counted.
            disk.pending.fetch_add(n, Ordering::AcqRel);
            self.ingest(disk, first, &values).await;
            from = first + n;
        }
    }
}
