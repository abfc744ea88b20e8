//! The PostgreSQL backend, for several replicas serving one fleet: the same schema and
//! semantics as SQLite (etags, stable pages, indexed filters), a bounded pool with timeouts,
//! migrations serialised across replicas by an advisory lock. When the database goes away,
//! calls fail with `Unavailable`; the pool reconnects by itself when it returns.

mod migrate;

use std::time::Duration;

use admit_model::Filter;
use async_trait::async_trait;
use serde_json::Value;
use sqlx::postgres::PgConnectOptions;
use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::common::{after_seq, etag};
use crate::filter_sql::Dialect;
use crate::sql::{doc_from_row, paginate};
use crate::{
    AuditFilter, Doc, Kind, Listed, OccurrenceScope, Page, Precondition, Store, StoreError,
};

/// PostgreSQL-backed store.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// The shared SQL implementation on `pool`.
    fn db<'p>(&self, pool: &'p PgPool) -> crate::sql::Db<'p, sqlx::Postgres> {
        crate::sql::Db {
            pool,
            dialect: Dialect::Postgres,
        }
    }

    /// Connects (lazily: the server starts even while the database is down) and migrates.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let opts: PgConnectOptions = url
            .parse()
            .map_err(|e: sqlx::Error| StoreError::InvalidArgument(format!("database URL: {e}")))?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(3))
            .idle_timeout(Duration::from_secs(300))
            .max_lifetime(Duration::from_secs(1800))
            .test_before_acquire(true)
            .connect_lazy_with(opts);
        migrate::run(&pool).await?;
        Ok(PostgresStore { pool })
    }
}

/// One resource write inside `tx` (see [`Store::put`]).
#[allow(
    clippy::too_many_arguments,
    reason = "the Store::put signature, inside a transaction"
)]
async fn put_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
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
        "SELECT seq, version, create_time FROM resources WHERE kind = $1 AND name = $2 FOR UPDATE",
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
            sqlx::query("UPDATE resources SET body = $1, secret = COALESCE($2, secret), version = $3, update_time = $4, parent = $5 WHERE seq = $6")
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
            let res = sqlx::query_scalar::<_, i64>("INSERT INTO resources (kind, name, parent, body, secret, version, create_time, update_time) VALUES ($1, $2, $3, $4, $5, 1, $6, $6) RETURNING seq")
                .bind(kind.as_str())
                .bind(name)
                .bind(parent)
                .bind(&text)
                .bind(secret)
                .bind(now)
                .fetch_one(&mut **tx)
                .await;
            match res {
                Ok(seq) => (seq, 1, now.to_owned()),
                // Two replicas creating the same resource at once: one wins.
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                    return Err(match pre {
                        Precondition::MustNotExist => StoreError::AlreadyExists(name.to_owned()),
                        _ => StoreError::Aborted(name.to_owned()),
                    });
                }
                Err(e) => return Err(db(e)),
            }
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
impl Store for PostgresStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(StoreError::db("ping"))?;
        Ok(())
    }

    async fn get(&self, kind: Kind, name: &str) -> Result<Option<Doc>, StoreError> {
        let row = sqlx::query("SELECT seq, name, body, version, create_time, update_time FROM resources WHERE kind = $1 AND name = $2")
            .bind(kind.as_str())
            .bind(name)
            .fetch_optional(&self.pool)
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
        let mut tx = self.pool.begin().await.map_err(&db)?;
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
        let mut tx = self.pool.begin().await.map_err(&db)?;
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
            .pool
            .begin()
            .await
            .map_err(StoreError::db("begin delete"))?;
        let done = sqlx::query("DELETE FROM resources WHERE kind = $1 AND name = $2")
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
            sqlx::query("DELETE FROM resources WHERE kind = $1 AND name = $2")
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
        let rows = sqlx::query("SELECT seq, name, body, version, create_time, update_time FROM resources WHERE kind = $1 AND parent = $2 AND seq > $3 ORDER BY seq LIMIT $4")
            .bind(kind.as_str())
            .bind(parent)
            .bind(after_seq(page)?)
            .bind(i64::from(limit) + 1)
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::db("list resources"))?;
        paginate(&rows, limit)
    }

    async fn secret(&self, kind: Kind, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let v: Option<Option<Vec<u8>>> =
            sqlx::query_scalar("SELECT secret FROM resources WHERE kind = $1 AND name = $2")
                .bind(kind.as_str())
                .bind(name)
                .fetch_optional(&self.pool)
                .await
                .map_err(StoreError::db("read secret"))?;
        Ok(v.flatten())
    }

    async fn create_occurrences(
        &self,
        bodies: &[Value],
        now: &str,
    ) -> Result<Vec<Doc>, StoreError> {
        self.db(&self.pool).create_occurrences(bodies, now).await
    }

    async fn get_occurrence(&self, name: &str) -> Result<Option<Doc>, StoreError> {
        self.db(&self.pool).get_occurrence(name).await
    }

    async fn update_occurrence(
        &self,
        name: &str,
        body: &Value,
        now: &str,
        etag: Option<&str>,
    ) -> Result<Doc, StoreError> {
        self.db(&self.pool)
            .update_occurrence(name, body, now, etag)
            .await
    }

    async fn delete_occurrence(&self, name: &str) -> Result<(), StoreError> {
        self.db(&self.pool).delete_occurrence(name).await
    }

    async fn append_audit_batch(&self, records: &[Value]) -> Result<(), StoreError> {
        crate::audit::append(&self.pool, Dialect::Postgres, records).await
    }

    async fn prune_audit(&self, before: &str, limit: u32) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM audit_records WHERE seq IN (SELECT seq FROM audit_records WHERE time < $1 ORDER BY time LIMIT $2)",
        )
        .bind(before)
        .bind(i64::from(limit))
        .execute(&self.pool)
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
        crate::audit::list(&self.pool, Dialect::Postgres, project, filter, page).await
    }

    async fn list_occurrences(
        &self,
        scope: &OccurrenceScope,
        filter: Option<&Filter>,
        page: &Page,
    ) -> Result<Listed<Doc>, StoreError> {
        self.db(&self.pool)
            .list_occurrences(scope, filter, page)
            .await
    }

    async fn attestations(
        &self,
        note: &str,
        digest: &str,
        limit: u32,
    ) -> Result<Vec<Doc>, StoreError> {
        self.db(&self.pool).attestations(note, digest, limit).await
    }
}
