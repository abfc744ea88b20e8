//! The answer to one review and its record: who was admitted where (`Subject`), what is
//! answered and recorded (`Answer`), and storing the one audit record of it before the answer
//! goes out (fail closed when it cannot be stored).

use std::time::{SystemTime, UNIX_EPOCH};

use admit_policy::Decision;
use serde_json::Value;

use crate::State;
use crate::audit::{self, Outcome};
use crate::cloud_run::CloudRun;
use crate::review::Review;

pub(crate) fn now() -> (u64, String) {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (
        d.as_secs(),
        admit_model::rfc3339(d.as_secs(), d.subsec_nanos()),
    )
}

/// Who is being admitted where: read once from the review, for the decision and the record.
pub(crate) struct Subject {
    pub(crate) time: String,
    pub(crate) secs: u64,
    pub(crate) name: String,
    pub(crate) namespace: String,
    pub(crate) cluster: String,
    /// Cloud Run's settings, when the workload is a Cloud Run service or job.
    pub(crate) cloud_run: Option<CloudRun>,
    /// The images and identity of its pods (read once: the decision and the record use it).
    pub(crate) workload: Result<crate::workload::Workload, String>,
}

impl Subject {
    pub(crate) fn of(s: &State, review: &Review) -> Subject {
        let (secs, time) = now();
        let object = &review.object;
        let name = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .or_else(|| {
                object
                    .pointer("/metadata/generateName")
                    .and_then(Value::as_str)
            })
            .unwrap_or(&review.name)
            .to_owned();
        let namespace = if review.namespace.is_empty() {
            object
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("default")
                .to_owned()
        } else {
            review.namespace.clone()
        };
        Subject {
            time,
            secs,
            name,
            namespace,
            cluster: s.config.cluster.clone().unwrap_or_default(),
            cloud_run: CloudRun::of(review),
            workload: crate::workload::extract(&review.group, &review.kind, &review.object),
        }
    }
}

/// The final outcome of one review: what is answered and what is recorded, both rendered from
/// this one value.
pub(crate) struct Answer {
    pub(crate) outcome: Outcome,
    pub(crate) allowed: bool,
    /// The denial message, or the note recorded with an allow.
    pub(crate) message: String,
    pub(crate) warnings: Vec<String>,
    pub(crate) decision: Option<Decision>,
    /// A granted breakglass: who, why, until when.
    pub(crate) breakglass: Option<Value>,
}

impl Answer {
    pub(crate) fn error(message: String) -> Answer {
        Answer {
            outcome: Outcome::Error,
            allowed: false,
            message,
            warnings: vec![],
            decision: None,
            breakglass: None,
        }
    }

    pub(crate) fn denied(message: String, decision: Option<Decision>) -> Answer {
        Answer {
            outcome: Outcome::Denied,
            allowed: false,
            message,
            warnings: vec![],
            decision,
            breakglass: None,
        }
    }
}

/// Stores the one record of `answer`, then writes the same record to stdout. An allow whose
/// record cannot be stored becomes a denial (fail closed), and it is that denial which stdout
/// records. If `deadline` passes while the record still waits for a writer, it is withdrawn
/// and the denial the API server will apply is recorded instead; once a writer has taken it,
/// its fate decides.
#[tracing::instrument(level = "debug", skip_all)]
pub(crate) async fn record(
    s: &State,
    review: &Review,
    subject: &Subject,
    answer: Answer,
    deadline: tokio::time::Instant,
) -> Answer {
    let render = |a: &Answer| {
        let ctx = audit::Context {
            time: subject.time.clone(),
            project: &s.config.project,
            cluster: &subject.cluster,
            namespace: &subject.namespace,
            cloud_run: subject.cloud_run.as_ref(),
            service_account: subject
                .workload
                .as_ref()
                .ok()
                .filter(|w| !w.images.is_empty())
                .map(|w| w.service_account.as_str()),
        };
        audit::record(
            &ctx,
            review,
            &subject.name,
            a.outcome,
            a.decision.as_ref(),
            &a.message,
            a.breakglass.as_ref(),
        )
    };
    let mut ticket = s.service.queue_audit_entry(render(&answer));
    // The writer runs in a task of its own: nothing (a client hanging up drops this future)
    // can cancel a write that other reviews' records share.
    if !s.service.audit_writes_itself() {
        let service = s.service.clone();
        tokio::spawn(async move { service.flush_audit().await });
    }
    let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
    let stored = match tokio::time::timeout(remaining, ticket.wait()).await {
        Ok(r) => r,
        // Not taken by a writer, and now never will be: the deadline's denial is the decision,
        // and its record the only one.
        Err(_) if ticket.withdraw() => {
            let late = Answer {
                outcome: Outcome::Error,
                allowed: false,
                message: "admit could not record its decision before the webhook deadline; denying (fail closed)".into(),
                warnings: vec![],
                decision: answer.decision,
                breakglass: None,
            };
            let rec = render(&late);
            stdout_line(rec.body.clone());
            let mut late_ticket = s.service.queue_audit_entry(rec);
            let service = s.service.clone();
            tokio::spawn(async move {
                service.flush_audit().await;
                if let Err(e) = late_ticket.wait().await {
                    tracing::error!(error = %e, "cannot store the audit record");
                }
            });
            return late;
        }
        // Taken: its batch is being written; its fate is the decision's.
        Err(_) => ticket.wait().await,
    };
    let answer = match stored {
        Ok(()) => {
            stdout_line(ticket.text().clone());
            return answer;
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot store the audit record");
            if !answer.allowed {
                stdout_line(ticket.text().clone());
                return answer;
            }
            let what = if answer.outcome == Outcome::Breakglass {
                "the breakglass"
            } else {
                "the decision"
            };
            Answer {
                outcome: Outcome::Error,
                allowed: false,
                message: format!(
                    "admit could not record {what} in its audit log; denying (fail closed)"
                ),
                warnings: vec![],
                decision: answer.decision,
                breakglass: None,
            }
        }
    };
    let rec = render(&answer);
    stdout_line(rec.body);
    answer
}

pub(crate) fn stdout_flush() {
    stdout_writer::flush();
}

/// Writes one record (compact JSON) as a line of stdout.
pub(crate) fn stdout_line(record: std::sync::Arc<str>) {
    stdout_writer::line(record);
}

/// Audit lines reach stdout from a thread of their own: a slow reader of the process's output
/// (a log shipper, a full pipe) never blocks the workers that answer reviews. The lines are a
/// copy (the store holds the records); past `BACKLOG` waiting lines, new ones are dropped and
/// counted rather than wait.
mod stdout_writer {
    use std::io::Write as _;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
    use std::sync::{Arc, OnceLock};

    const BACKLOG: usize = 65_536;
    const GATHER: std::time::Duration = std::time::Duration::from_millis(5);
    static WRITER: OnceLock<SyncSender<Arc<str>>> = OnceLock::new();
    static DROPPED: AtomicU64 = AtomicU64::new(0);
    /// Lines handed over, and lines written (or dropped): equal when nothing waits.
    static SENT: AtomicU64 = AtomicU64::new(0);
    static DONE: AtomicU64 = AtomicU64::new(0);

    /// Waits (at most 2 s) until every line handed over is written: before the process exits.
    pub(crate) fn flush() {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while DONE.load(Ordering::Acquire) < SENT.load(Ordering::Acquire)
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    fn write_all(lines: &Receiver<Arc<str>>) {
        let stdout = std::io::stdout();
        let mut buf: Vec<u8> = Vec::new();
        while let Ok(first) = lines.recv() {
            // Lines that arrive meanwhile go out with it, in one write: under load this thread
            // wakes at most every GATHER, not once per review.
            std::thread::sleep(GATHER);
            buf.clear();
            buf.extend_from_slice(first.as_bytes());
            buf.push(b'\n');
            let mut written = 1;
            while buf.len() < (1 << 20)
                && let Ok(more) = lines.try_recv()
            {
                buf.extend_from_slice(more.as_bytes());
                buf.push(b'\n');
                written += 1;
            }
            let dropped = DROPPED.swap(0, Ordering::Relaxed);
            if dropped > 0 {
                let _ = writeln!(
                    buf,
                    "{{\"admitStdoutDropped\":{dropped},\"reason\":\"stdout was not read fast enough; the audit log in the store has every record\"}}"
                );
            }
            let mut out = stdout.lock();
            let _ = out.write_all(&buf);
            let _ = out.flush();
            drop(out);
            DONE.fetch_add(written, Ordering::AcqRel);
        }
    }

    pub(super) fn line(text: Arc<str>) {
        let writer = WRITER.get_or_init(|| {
            let (tx, rx) = sync_channel(BACKLOG);
            let spawned = std::thread::Builder::new()
                .name("admit-stdout".into())
                .spawn(move || write_all(&rx));
            if spawned.is_err() {
                // No thread: the receiver is gone and every line is counted as dropped.
                tracing::error!("cannot start the stdout writer thread");
            }
            tx
        });
        SENT.fetch_add(1, Ordering::AcqRel);
        match writer.try_send(text) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                DROPPED.fetch_add(1, Ordering::Relaxed);
                DONE.fetch_add(1, Ordering::AcqRel);
            }
        }
    }
}
