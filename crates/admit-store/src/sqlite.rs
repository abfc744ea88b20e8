//! The embedded SQLite backend: WAL journal, `synchronous=FULL` (a write is acknowledged only
//! once it is durable), reads on a pool, writes serialised through a single connection.

mod migrate;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use admit_model::Filter;
use async_trait::async_trait;
use serde_json::Value;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::common::{after_seq, etag};
use crate::filter_sql::Dialect;
use crate::sql::{doc_from_row, paginate};
use crate::{
    AuditFilter, Doc, Kind, Listed, OccurrenceScope, Page, Precondition, Store, StoreError,
};

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
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(opts.clone())
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

    #[cfg(test)]
    pub(crate) fn read_pool(&self) -> &SqlitePool {
        &self.read
    }
}

/// One resource write inside `tx` (see [`Store::put`]).
#[allow(
    clippy::too_many_arguments,
    reason = "the Store::put signature, inside a transaction"
)]
async fn put_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    kind: Kind,
    name: &str,
    parent: &str,
    body: &Value,
    secret: Option<&[u8]>,
    pre: Precondition,
    now: &str,
) -> Result<Doc, StoreError> {
    let db = StoreError::db("write resource");
    let existing: Option<(i64, i64, String)> = sqlx::query_as(
        "SELECT seq, version, create_time FROM resources WHERE kind = ? AND name = ?",
    )
    .bind(kind.as_str())
    .bind(name)
    .fetch_optional(&mut **tx)
    .await
    .map_err(&db)?;
    let expected = match (&pre, &existing) {
        (Precondition::MustNotExist, Some(_)) => {
            return Err(StoreError::AlreadyExists(name.to_owned()));
        }
        (Precondition::MustExist { .. }, None) => {
            return Err(StoreError::NotFound(name.to_owned()));
        }
        (Precondition::MustExist { etag } | Precondition::Any { etag }, _) => etag.as_deref(),
        (Precondition::MustNotExist, None) => None,
    };
    if let Some(want) = expected.filter(|e| !e.is_empty()) {
        let current = existing.as_ref().map(|(s, v, _)| etag(*s, *v));
        if current.as_deref() != Some(want) {
            return Err(StoreError::Aborted(name.to_owned()));
        }
    }
    let text = body.to_string();
    let (seq, version, create_time) = match existing {
        Some((seq, version, create_time)) => {
            sqlx::query("UPDATE resources SET body = ?, secret = COALESCE(?, secret), version = ?, update_time = ?, parent = ? WHERE seq = ?")
                .bind(&text)
                .bind(secret)
                .bind(version + 1)
                .bind(now)
                .bind(parent)
                .bind(seq)
                .execute(&mut **tx)
                .await
                .map_err(&db)?;
            (seq, version + 1, create_time)
        }
        None => {
            let seq: i64 = sqlx::query_scalar("INSERT INTO resources (kind, name, parent, body, secret, version, create_time, update_time) VALUES (?, ?, ?, ?, ?, 1, ?, ?) RETURNING seq")
                .bind(kind.as_str())
                .bind(name)
                .bind(parent)
                .bind(&text)
                .bind(secret)
                .bind(now)
                .bind(now)
                .fetch_one(&mut **tx)
                .await
                .map_err(&db)?;
            (seq, 1, now.to_owned())
        }
    };
    Ok(Doc {
        name: name.to_owned(),
        body: body.clone(),
        etag: etag(seq, version),
        create_time,
        update_time: now.to_owned(),
    })
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.read)
            .await
            .map_err(StoreError::db("ping"))?;
        Ok(())
    }

    async fn get(&self, kind: Kind, name: &str) -> Result<Option<Doc>, StoreError> {
        let row = sqlx::query("SELECT seq, name, body, version, create_time, update_time FROM resources WHERE kind = ? AND name = ?")
            .bind(kind.as_str())
            .bind(name)
            .fetch_optional(&self.read)
            .await
            .map_err(StoreError::db("get resource"))?;
        row.as_ref().map(doc_from_row).transpose()
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "one call carries a whole conditional write"
    )]
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
        let db = StoreError::db("write resource");
        let mut tx = self.write.begin().await.map_err(&db)?;
        let doc = put_in(&mut tx, kind, name, parent, body, secret, pre, now).await?;
        tx.commit().await.map_err(&db)?;
        Ok(doc)
    }

    async fn create_all(
        &self,
        kind: Kind,
        items: &[(String, String, Value)],
        now: &str,
    ) -> Result<Vec<Doc>, StoreError> {
        let db = StoreError::db("write resources");
        let mut tx = self.write.begin().await.map_err(&db)?;
        let mut out = Vec::with_capacity(items.len());
        for (name, parent, body) in items {
            let pre = Precondition::MustNotExist;
            out.push(put_in(&mut tx, kind, name, parent, body, None, pre, now).await?);
        }
        tx.commit().await.map_err(&db)?;
        Ok(out)
    }

    async fn delete(&self, kind: Kind, name: &str) -> Result<(), StoreError> {
        let mut tx = self
            .write
            .begin()
            .await
            .map_err(StoreError::db("begin delete"))?;
        let done = sqlx::query("DELETE FROM resources WHERE kind = ? AND name = ?")
            .bind(kind.as_str())
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db("delete resource"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(name.to_owned()));
        }
        // The resource's IAM policy goes with it, so a resource recreated under the same name
        // starts with no grants.
        if kind != Kind::IamPolicy {
            sqlx::query("DELETE FROM resources WHERE kind = ? AND name = ?")
                .bind(Kind::IamPolicy.as_str())
                .bind(name)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::db("delete IAM policy"))?;
        }
        tx.commit().await.map_err(StoreError::db("commit delete"))
    }

    async fn list(&self, kind: Kind, parent: &str, page: &Page) -> Result<Listed<Doc>, StoreError> {
        let limit = page.limit();
        let rows = sqlx::query("SELECT seq, name, body, version, create_time, update_time FROM resources WHERE kind = ? AND parent = ? AND seq > ? ORDER BY seq LIMIT ?")
            .bind(kind.as_str())
            .bind(parent)
            .bind(after_seq(page)?)
            .bind(i64::from(limit) + 1)
            .fetch_all(&self.read)
            .await
            .map_err(StoreError::db("list resources"))?;
        paginate(&rows, limit)
    }

    async fn secret(&self, kind: Kind, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let v: Option<Option<Vec<u8>>> =
            sqlx::query_scalar("SELECT secret FROM resources WHERE kind = ? AND name = ?")
                .bind(kind.as_str())
                .bind(name)
                .fetch_optional(&self.read)
                .await
                .map_err(StoreError::db("read secret"))?;
        Ok(v.flatten())
    }

    async fn create_occurrences(
        &self,
        bodies: &[Value],
        now: &str,
    ) -> Result<Vec<Doc>, StoreError> {
        self.db(&self.write).create_occurrences(bodies, now).await
    }

    async fn get_occurrence(&self, name: &str) -> Result<Option<Doc>, StoreError> {
        self.db(&self.read).get_occurrence(name).await
    }

    async fn update_occurrence(
        &self,
        name: &str,
        body: &Value,
        now: &str,
        etag: Option<&str>,
    ) -> Result<Doc, StoreError> {
        self.db(&self.write)
            .update_occurrence(name, body, now, etag)
            .await
    }

    async fn delete_occurrence(&self, name: &str) -> Result<(), StoreError> {
        self.db(&self.write).delete_occurrence(name).await
    }

    async fn append_audit_batch(&self, records: &[Value]) -> Result<(), StoreError> {
        crate::audit::append(&self.write, Dialect::Sqlite, records).await
    }

    async fn prune_audit(&self, before: &str, limit: u32) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM audit_records WHERE seq IN (SELECT seq FROM audit_records WHERE time < ? ORDER BY time LIMIT ?)",
        )
        .bind(before)
        .bind(i64::from(limit))
        .execute(&self.write)
        .await
        .map_err(StoreError::db("prune audit records"))?;
        Ok(done.rows_affected())
    }

    async fn list_audit(
        &self,
        project: &str,
        filter: &AuditFilter,
        page: &Page,
    ) -> Result<Listed<Value>, StoreError> {
        crate::audit::list(&self.read, Dialect::Sqlite, project, filter, page).await
    }

    async fn list_occurrences(
        &self,
        scope: &OccurrenceScope,
        filter: Option<&Filter>,
        page: &Page,
    ) -> Result<Listed<Doc>, StoreError> {
        self.db(&self.read)
            .list_occurrences(scope, filter, page)
            .await
    }

    async fn attestations(
        &self,
        note: &str,
        digest: &str,
        limit: u32,
    ) -> Result<Vec<Doc>, StoreError> {
        self.db(&self.read).attestations(note, digest, limit).await
    }
}

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
