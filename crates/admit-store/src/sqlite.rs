//! The embedded SQLite backend: WAL journal, `synchronous=FULL` (a write is acknowledged only
//! once it is durable), reads on a pool, writes serialised through a single connection.

mod migrate;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::StoreError;
use crate::filter_sql::Dialect;

/// SQLite-backed store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    read: SqlitePool,
    write: SqlitePool,
}

impl SqliteStore {
    /// The shared SQL implementation on `pool`.
    fn db<'p>(&self, pool: &'p SqlitePool) -> crate::sql::Db<'p, sqlx::Sqlite> {
        crate::sql::Db {
            pool,
            dialect: Dialect::Sqlite,
        }
    }

    /// Opens (creating if needed) `admit.db` in `data_dir` and applies pending migrations.
    pub async fn open(data_dir: &Path) -> Result<Self, StoreError> {
        tokio::fs::create_dir_all(data_dir).await.map_err(|e| {
            StoreError::Unavailable(format!(
                "cannot create data directory {}: {e}",
                data_dir.display()
            ))
        })?;
        Self::open_file(&data_dir.join("admit.db")).await
    }

    pub async fn open_file(path: &Path) -> Result<Self, StoreError> {
        let opts = SqliteConnectOptions::from_str("sqlite://")
            .map_err(StoreError::db("connect options"))?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            // Freed pages are zeroed, so erased key material (a destroyed KMS version) does not
            // linger in the database file.
            .pragma("secure_delete", "ON")
            .busy_timeout(Duration::from_secs(5));
        // The one writer commits audit copies in batches of hundreds of records: a page cache
        // that holds a whole batch (16 MiB, against SQLite's 2 MiB default) writes each page
        // once at commit instead of spilling it to the WAL mid-transaction.
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(opts.clone().pragma("cache_size", "-16384"))
            .await
            .map_err(StoreError::db("open database"))?;
        migrate::run(&write).await?;
        let read = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(opts.read_only(true))
            .await
            .map_err(StoreError::db("open database"))?;
        Ok(SqliteStore { read, write })
    }

    async fn follow(&self, events: tokio::sync::mpsc::Sender<crate::FeedEvent>) {
        crate::feed::follow_sqlite(&self.read, &self.write, events).await;
    }

    #[cfg(test)]
    pub(crate) fn read_pool(&self) -> &SqlitePool {
        &self.read
    }
}

crate::sql::delegate_store!(SqliteStore, read, write, Dialect::Sqlite);

#[cfg(test)]
mod occurrence_plan_tests {
    use admit_model::Filter;
    use sqlx::AssertSqlSafe;

    use crate::filter_sql::Dialect;
    use crate::sql::Db;
    use crate::{OccurrenceScope, SqliteStore};

    /// A lookup by resource digest (what gcloud sends) and a suffix/prefix lookup must be
    /// answered from an index, never by scanning the occurrences table.
    #[tokio::test]
    async fn resource_lookups_use_an_index() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let s = SqliteStore::open(dir.path())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let digest = format!("sha256:{}", "a".repeat(64));
        for (scope, filter) in [
            (
                OccurrenceScope::Project("p".into()),
                format!("has_suffix(resourceUrl, \"{digest}\")"),
            ),
            (
                OccurrenceScope::Note("projects/p/notes/n".into()),
                format!("has_suffix(resourceUrl, \"{digest}\")"),
            ),
            (
                OccurrenceScope::Project("p".into()),
                "has_suffix(resourceUri, \"/app:v1\")".to_owned(),
            ),
            (
                OccurrenceScope::Project("p".into()),
                "resourceUri = \"gcr.io/p/app\"".to_owned(),
            ),
        ] {
            let f = Filter::parse(&filter).unwrap_or_else(|e| panic!("{e}"));
            let db = Db {
                pool: s.read_pool(),
                dialect: Dialect::Sqlite,
            };
            let sql = db.list_sql(&scope, f.as_ref());
            let n = sql.binds.len();
            let text = format!(
                "EXPLAIN QUERY PLAN SELECT seq, name, body FROM occurrences WHERE {} AND seq > {} ORDER BY seq LIMIT {}",
                sql.text,
                sql.placeholder(n + 1),
                sql.placeholder(n + 2)
            );
            let mut q = sqlx::query_as::<_, (i64, i64, i64, String)>(AssertSqlSafe(text));
            for b in &sql.binds {
                q = q.bind(b);
            }
            let plan = q
                .bind(0i64)
                .bind(10i64)
                .fetch_all(s.read_pool())
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let plan: Vec<String> = plan.into_iter().map(|r| r.3).collect();
            assert!(
                plan.iter().all(|p| !p.starts_with("SCAN occurrences")),
                "{filter}: {plan:?}"
            );
        }
    }
}
