//! The change feeds: what was committed to resources and occurrences, by anyone, in commit
//! order. Triggers (migration 4) record every change in the database itself, so no writer can
//! forget to: SQLite's fill a `changes` table this process polls (with the schema version, which
//! DDL changes); PostgreSQL's send a
//! notification on `CHANNEL`, which a dedicated connection listens to and pings itself through,
//! so a listener that silently stopped hearing is noticed within two ping periods.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::postgres::PgListener;
use sqlx::{PgPool, SqlitePool};
use tokio::sync::{mpsc, watch};

use crate::{Change, FeedEvent, Kind};

/// The PostgreSQL notification channel the triggers send on.
pub(crate) const CHANNEL: &str = "admit_changes";
/// How often SQLite's `changes` table is read.
const SQLITE_POLL: Duration = Duration::from_millis(20);
/// How many `changes` rows SQLite keeps (a follower that falls further behind starts over).
const SQLITE_KEEP: i64 = 10_000;
/// How often the `changes` table is trimmed.
const SQLITE_PRUNE_EVERY: Duration = Duration::from_secs(10);
/// How often a PostgreSQL listener pings itself; an unanswered ping is a dead listener.
pub(crate) const PG_PING: Duration = Duration::from_millis(500);
/// The longest wait before connecting again.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// A change as the triggers write it: `kind` is a resource kind or `occurrence` (then `name`
/// is the note).
fn change(kind: &str, name: String, digest: String) -> Option<Change> {
    if kind == "occurrence" {
        return Some(Change::Occurrence { note: name, digest });
    }
    Kind::parse(kind).map(|kind| Change::Resource { kind, name })
}

/// A notification's payload: `r KIND NAME`, `o NOTE DIGEST` (names never hold spaces).
fn parse_payload(payload: &str) -> Option<Change> {
    let mut parts = payload.splitn(3, ' ');
    match (parts.next()?, parts.next()?, parts.next().unwrap_or("")) {
        ("r", kind, name) => change(kind, name.to_owned(), String::new()),
        ("o", note, digest) => change("occurrence", note.to_owned(), digest.to_owned()),
        _ => None,
    }
}

/// Polls SQLite's `changes` table (filled by triggers in each writer's transaction, so other
/// processes writing the same file are seen too) until `events` closes.
pub(crate) async fn follow_sqlite(
    read: &SqlitePool,
    write: &SqlitePool,
    events: mpsc::Sender<FeedEvent>,
) {
    let mut last: Option<i64> = None;
    let mut schema: Option<i64> = None;
    let mut pruned = tokio::time::Instant::now();
    loop {
        if events.is_closed() {
            return;
        }
        // DDL (a table dropped or altered by another program) writes no change rows but may
        // change anything: start over, so everything cached is read again (or fails to be).
        let now = sqlx::query_scalar::<_, i64>("PRAGMA schema_version")
            .fetch_one(read)
            .await
            .ok();
        if now != schema {
            schema = now;
            last = None;
        }
        let event = match last {
            None => match sqlx::query_scalar::<_, i64>("SELECT COALESCE(MAX(seq), 0) FROM changes")
                .fetch_one(read)
                .await
            {
                Ok(n) => {
                    last = Some(n);
                    Some(FeedEvent::Live)
                }
                Err(e) => Some(FeedEvent::Down(format!("cannot read the change log: {e}"))),
            },
            Some(from) => match sqlx::query_as::<_, (i64, String, String, String)>(
                "SELECT seq, kind, name, digest FROM changes WHERE seq > $1 ORDER BY seq LIMIT 1000",
            )
            .bind(from)
            .fetch_all(read)
            .await
            {
                // Rows are numbered without gaps (a rolled-back write takes its number back),
                // so a gap means rows this follower never read were trimmed: start over.
                Ok(rows) if rows.first().is_some_and(|r| r.0 != from + 1) => {
                    last = None;
                    continue;
                }
                Ok(rows) => rows.last().map(|r| r.0).map(|to| {
                    last = Some(to);
                    FeedEvent::Changes(
                        rows.into_iter()
                            .filter_map(|(_, kind, name, digest)| change(&kind, name, digest))
                            .collect(),
                    )
                }),
                Err(e) => {
                    last = None;
                    Some(FeedEvent::Down(format!("cannot read the change log: {e}")))
                }
            },
        };
        let down = matches!(event, Some(FeedEvent::Down(_)));
        if let Some(event) = event
            && events.send(event).await.is_err()
        {
            return;
        }
        if pruned.elapsed() >= SQLITE_PRUNE_EVERY {
            pruned = tokio::time::Instant::now();
            // Best effort: a failed trim is retried at the next period.
            let _ =
                sqlx::query("DELETE FROM changes WHERE seq <= (SELECT MAX(seq) FROM changes) - $1")
                    .bind(SQLITE_KEEP)
                    .execute(write)
                    .await;
        }
        tokio::time::sleep(if down { MAX_BACKOFF } else { SQLITE_POLL }).await;
    }
}

/// Tells this process's listeners' pings apart from other replicas'.
static LISTENERS: AtomicU64 = AtomicU64::new(0);

/// Listens to PostgreSQL's notifications until `events` closes: `Live` after each (re)connection
/// (notifications sent while it was away are lost), `Down` when the connection drops or a ping
/// through it goes unanswered.
pub(crate) async fn follow_postgres(pool: &PgPool, events: mpsc::Sender<FeedEvent>) {
    let me = format!(
        "{}-{}",
        std::process::id(),
        LISTENERS.fetch_add(1, Ordering::Relaxed)
    );
    let mut backoff = Duration::from_millis(100);
    loop {
        if events.is_closed() {
            return;
        }
        let listener = match listen(pool).await {
            Ok(l) => l,
            Err(e) => {
                let why = format!("cannot listen for changes: {e}");
                if events.send(FeedEvent::Down(why)).await.is_err() {
                    return;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        if events.send(FeedEvent::Live).await.is_err() {
            return;
        }
        let (heard_tx, mut heard) = watch::channel(0u64);
        let mut hearing = tokio::spawn(hear(listener, events.clone(), heard_tx, me.clone()));
        let mut n = 0u64;
        let why = loop {
            tokio::select! {
                r = &mut hearing => break r.unwrap_or_else(|e| Some(format!("the listener stopped: {e}"))),
                () = tokio::time::sleep(PG_PING) => {}
            }
            if events.is_closed() {
                hearing.abort();
                break None;
            }
            n += 1;
            if let Err(e) = sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(format!("p {me} {n}"))
                .execute(pool)
                .await
            {
                hearing.abort();
                break Some(format!("cannot ping the change listener: {e}"));
            }
            if tokio::time::timeout(PG_PING, heard.wait_for(|h| *h >= n))
                .await
                .is_err()
            {
                hearing.abort();
                break Some(format!(
                    "a ping through the change listener went unanswered for {PG_PING:?}"
                ));
            }
        };
        let Some(why) = why else { return };
        if events.send(FeedEvent::Down(why)).await.is_err() {
            return;
        }
    }
}

async fn listen(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Forwards notifications until the connection drops (the reason) or `events` closes (`None`).
async fn hear(
    mut listener: PgListener,
    events: mpsc::Sender<FeedEvent>,
    heard: watch::Sender<u64>,
    me: String,
) -> Option<String> {
    loop {
        let note = match listener.try_recv().await {
            Ok(Some(n)) => n,
            Ok(None) => return Some("the change listener's connection was lost".into()),
            Err(e) => return Some(format!("the change listener failed: {e}")),
        };
        let payload = note.payload();
        if let Some(ping) = payload.strip_prefix("p ") {
            if let Some(n) = ping
                .strip_prefix(me.as_str())
                .and_then(|r| r.strip_prefix(' '))
                .and_then(|r| r.parse().ok())
            {
                heard.send_replace(n);
            }
            continue;
        }
        if let Some(c) = parse_payload(payload)
            && events.send(FeedEvent::Changes(vec![c])).await.is_err()
        {
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_parse_as_the_triggers_write_them() {
        assert_eq!(
            parse_payload("r attestor projects/p/attestors/a"),
            Some(Change::Resource {
                kind: Kind::Attestor,
                name: "projects/p/attestors/a".into()
            })
        );
        assert_eq!(
            parse_payload("o projects/p/notes/n sha256:ab"),
            Some(Change::Occurrence {
                note: "projects/p/notes/n".into(),
                digest: "sha256:ab".into()
            })
        );
        assert_eq!(
            parse_payload("o projects/p/notes/n "),
            Some(Change::Occurrence {
                note: "projects/p/notes/n".into(),
                digest: String::new()
            })
        );
        assert_eq!(parse_payload("r nosuchkind x"), None);
        assert_eq!(parse_payload("x"), None);
    }
}
