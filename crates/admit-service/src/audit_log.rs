//! The audit log: admission decisions and administrative changes, written with group commit,
//! withdrawable until written, listed with filters, and pruned by retention.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use admit_store::{AuditEntry, Page};
use serde_json::Value;

use crate::{Code, Service, ServiceError};

/// Told whether the batch holding its record was stored.
type AuditWaiter = tokio::sync::oneshot::Sender<Result<(), ServiceError>>;

const PENDING: u8 = 0;
const TAKEN: u8 = 1;
const WITHDRAWN: u8 = 2;

/// One queued record.
#[derive(Debug)]
struct Queued {
    record: AuditEntry,
    state: Arc<AtomicU8>,
    waiter: AuditWaiter,
}

/// Group commit for the audit log: records that arrive while a batch is being written wait
/// for the next batch, so concurrent reviews share one transaction (one fsync) instead of
/// queueing for one each. Every caller still learns whether *its* record was stored, and may
/// withdraw it until a writer has taken it.
#[derive(Debug, Default)]
pub(crate) struct AuditQueue {
    pending: Mutex<Vec<Queued>>,
    writer: tokio::sync::Mutex<()>,
    /// Wakes the on-disk log's writer thread, when there is one.
    arrived: std::sync::Condvar,
    /// The writer thread sleeps on `arrived` (read and written under `pending`'s lock): only
    /// then does a new record wake it, so a busy writer costs no wake-up call per record.
    writer_asleep: std::sync::atomic::AtomicBool,
    threaded: std::sync::atomic::AtomicBool,
}

impl AuditQueue {
    /// Takes every queued record no one has withdrawn (they can no longer be): the records,
    /// and who waits for each.
    fn take(batch: Vec<Queued>) -> (Vec<AuditEntry>, Vec<AuditWaiter>) {
        batch
            .into_iter()
            .filter(|q| {
                q.state
                    .compare_exchange(PENDING, TAKEN, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            })
            .map(|q| (q.record, q.waiter))
            .unzip()
    }
}

/// The on-disk log's writer: one thread that takes whatever is queued, appends it as one group
/// commit (one fsync) and tells each waiter, then takes what queued meanwhile. A review costs
/// the queue push and its own wake-up; no task or lock hand-over per review.
pub(crate) fn start_writer(
    queue: &Arc<AuditQueue>,
    disk: Arc<crate::audit_disk::DiskLog>,
    metrics: Arc<crate::metrics::Metrics>,
) -> std::io::Result<()> {
    queue.threaded.store(true, Ordering::Release);
    let q = queue.clone();
    let spawned = std::thread::Builder::new()
        .name("admit-audit".into())
        .spawn(move || {
            let queue = q;
            loop {
                let batch = {
                    let mut pending = lock(&queue.pending);
                    while pending.is_empty() {
                        queue.writer_asleep.store(true, Ordering::Relaxed);
                        pending = queue
                            .arrived
                            .wait(pending)
                            .unwrap_or_else(PoisonError::into_inner);
                    }
                    queue.writer_asleep.store(false, Ordering::Relaxed);
                    std::mem::take(&mut *pending)
                };
                let (records, waiters) = AuditQueue::take(batch);
                if records.is_empty() {
                    continue;
                }
                metrics.audit_batch(records.len());
                let result = disk.append_blocking(records, &metrics);
                for waiter in waiters {
                    let _ = waiter.send(result.clone());
                }
            }
        });
    if spawned.is_err() {
        queue.threaded.store(false, Ordering::Release);
    }
    spawned.map(|_| ())
}

/// A queued record: wait for its batch, or withdraw it while no writer has taken it.
#[derive(Debug)]
pub struct AuditTicket {
    state: Arc<AtomicU8>,
    done: tokio::sync::oneshot::Receiver<Result<(), ServiceError>>,
    text: Arc<str>,
}

impl AuditTicket {
    /// The record as it is written (compact JSON, one line).
    pub fn text(&self) -> &Arc<str> {
        &self.text
    }

    /// Withdraws the record if no writer has taken it yet: true when it will never be
    /// written; false when it is being (or has been) written, and [`AuditTicket::wait`]
    /// tells how that went.
    pub fn withdraw(&self) -> bool {
        self.state
            .compare_exchange(PENDING, WITHDRAWN, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Whether the batch holding the record was stored.
    pub async fn wait(&mut self) -> Result<(), ServiceError> {
        (&mut self.done).await.unwrap_or_else(|_| {
            // A writer cancelled mid-batch drops the senders: the record may be lost.
            Err(ServiceError::new(
                Code::Unavailable,
                "the audit write was interrupted",
            ))
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Service {
    /// Whether queued records are written by the on-disk log's writer thread (then
    /// [`Service::flush_audit`] has nothing to do).
    pub fn audit_writes_itself(&self) -> bool {
        self.audit.threaded.load(Ordering::Acquire)
    }

    /// Queues a record for the next batch; [`Service::flush_audit`] (or the on-disk log's
    /// writer thread) writes it. It is serialized here, once: the log, the store and stdout
    /// get the same text ([`AuditTicket::text`]).
    pub fn queue_audit(&self, record: &Value) -> AuditTicket {
        self.queue_audit_entry(AuditEntry::new(record))
    }

    /// [`Service::queue_audit`] for a record serialized already.
    pub fn queue_audit_entry(&self, record: AuditEntry) -> AuditTicket {
        let (waiter, done) = tokio::sync::oneshot::channel();
        let state = Arc::new(AtomicU8::new(PENDING));
        let text = record.body.clone();
        let wake = {
            let mut pending = lock(&self.audit.pending);
            pending.push(Queued {
                record,
                state: state.clone(),
                waiter,
            });
            self.audit.writer_asleep.load(Ordering::Relaxed)
        };
        if wake {
            self.audit.arrived.notify_one();
        }
        AuditTicket { state, done, text }
    }

    /// Writes every queued, not withdrawn record in one batch (waiting for a batch in flight
    /// first). Callers that must not be interrupted run it in a task of its own.
    pub async fn flush_audit(&self) {
        if self.audit.threaded.load(Ordering::Acquire) {
            return; // the writer thread takes it
        }
        let _writer = self.audit.writer.lock().await;
        let (records, waiters) = AuditQueue::take(std::mem::take(&mut *lock(&self.audit.pending)));
        if records.is_empty() {
            return;
        }
        self.metrics.audit_batch(records.len());
        let result = self
            .store
            .append_audit_batch(&records)
            .await
            .map_err(ServiceError::from);
        for waiter in waiters {
            let _ = waiter.send(result.clone());
        }
    }

    /// Appends an audit record to the store.
    pub async fn record_audit(&self, record: &Value) -> Result<(), ServiceError> {
        let mut ticket = self.queue_audit(record);
        self.flush_audit().await;
        ticket.wait().await
    }

    /// Deletes audit records older than `days` days, in chunks; returns how many went.
    pub async fn prune_audit(&self, days: u64) -> Result<u64, ServiceError> {
        const CHUNK: u32 = 10_000;
        let (now, _) = (self.clock)();
        let before = admit_model::rfc3339(now.saturating_sub(days.saturating_mul(86_400)), 0);
        let mut total = 0;
        loop {
            let n = self.store.prune_audit(&before, CHUNK).await?;
            total += n;
            if n < u64::from(CHUNK) {
                return Ok(total);
            }
        }
    }

    /// Lists audit records: `filter` is `field=value` terms joined by ` AND ` (fields: verdict,
    /// namespace, cluster, kind, user, breakglass, dryRun).
    pub async fn list_audit(
        &self,
        project: &str,
        filter: &str,
        page: &Page,
    ) -> Result<admit_store::Listed<Value>, ServiceError> {
        if filter.len() > admit_model::MAX_FILTER_LEN {
            return Err(ServiceError::invalid(format!(
                "filter: {} bytes long; at most {} are accepted",
                filter.len(),
                admit_model::MAX_FILTER_LEN
            )));
        }
        let mut f = admit_store::AuditFilter::default();
        for term in filter
            .split(" AND ")
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            let (k, v) = term.split_once('=').ok_or_else(|| {
                ServiceError::invalid(format!("filter term `{term}` is not field=value"))
            })?;
            let v = v.trim().trim_matches('"').to_owned();
            let b = || {
                v.parse::<bool>().map_err(|_| {
                    ServiceError::invalid(format!("filter: {k} must be true or false"))
                })
            };
            match k.trim() {
                "verdict" => f.verdict = Some(v.to_ascii_uppercase()),
                "namespace" => f.namespace = Some(v),
                "cluster" => f.cluster = Some(v),
                "kind" => f.kind = Some(v),
                "user" => f.user = Some(v),
                "breakglass" => f.breakglass = Some(b()?),
                "dryRun" | "dry_run" => f.dry_run = Some(b()?),
                other => {
                    return Err(ServiceError::invalid(format!(
                        "filter: unsupported field `{other}` (verdict, namespace, cluster, kind, user, breakglass, dryRun)"
                    )));
                }
            }
        }
        // Records reach the store from the on-disk log a moment after they are durable: a list
        // sees everything recorded before it.
        if let Some(disk) = &self.disk_log {
            disk.caught_up().await;
        }
        self.store
            .list_audit(project, &f, page)
            .await
            .map_err(Into::into)
    }
}
