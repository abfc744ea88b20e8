//! Resources (policies, attestors, notes, IAM policies, keys…), for both backends: conditional
//! writes under a precondition, in one transaction; a resource's IAM policy deleted with it;
//! key material kept in its own column. The one statement that differs, the read that locks
//! the row before a write, takes its locking clause from the dialect (PostgreSQL's replicas
//! need `FOR UPDATE`; SQLite has one writer).

use serde_json::Value;
use sqlx::{AssertSqlSafe, ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Type};

use crate::common::{after_seq, etag};
use crate::filter_sql::Dialect;
use crate::sql::{Db, doc_from_row, paginate};
use crate::{Doc, Kind, Listed, Page, Precondition, StoreError};

const SELECT: &str = "SELECT seq, name, body, version, create_time, update_time FROM resources";

impl Dialect {
    /// What locks a row read before it is written in the same transaction.
    fn lock_for_update(self) -> &'static str {
        match self {
            Dialect::Postgres => " FOR UPDATE",
            Dialect::Sqlite => "",
        }
    }
}

impl<DB> Db<'_, DB>
where
    DB: Database,
    <DB as Database>::Arguments: IntoArguments<DB>,
    for<'c> &'c mut <DB as Database>::Connection: Executor<'c, Database = DB>,
    for<'c> &'c sqlx::Pool<DB>: Executor<'c, Database = DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q [u8]>: Encode<'q, DB> + Type<DB>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    for<'a> &'a str: ColumnIndex<<DB as Database>::Row>,
    (i64,): for<'r> sqlx::FromRow<'r, <DB as Database>::Row>,
    (i64, i64): for<'r> sqlx::FromRow<'r, <DB as Database>::Row>,
    (i64, i64, String): for<'r> sqlx::FromRow<'r, <DB as Database>::Row>,
    (Option<Vec<u8>>,): for<'r> sqlx::FromRow<'r, <DB as Database>::Row>,
{
    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(self.pool)
            .await
            .map_err(StoreError::db("ping"))?;
        Ok(())
    }

    pub(crate) async fn get_resource(
        &self,
        kind: Kind,
        name: &str,
    ) -> Result<Option<Doc>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "{SELECT} WHERE kind = $1 AND name = $2"
        )))
        .bind(kind.as_str())
        .bind(name)
        .fetch_optional(self.pool)
        .await
        .map_err(StoreError::db("get resource"))?;
        row.as_ref().map(doc_from_row).transpose()
    }

    pub(crate) async fn resource_etag(
        &self,
        kind: Kind,
        name: &str,
    ) -> Result<Option<String>, StoreError> {
        let row: Option<(i64, i64)> =
            sqlx::query_as("SELECT seq, version FROM resources WHERE kind = $1 AND name = $2")
                .bind(kind.as_str())
                .bind(name)
                .fetch_optional(self.pool)
                .await
                .map_err(StoreError::db("read etag"))?;
        Ok(row.map(|(seq, version)| etag(seq, version)))
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "one call carries a whole conditional write"
    )]
    pub(crate) async fn put_resource(
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
        let doc = self
            .put_in(&mut tx, kind, name, parent, body, secret, pre, now)
            .await?;
        tx.commit().await.map_err(&db)?;
        Ok(doc)
    }

    /// Creates every item in one transaction: all or none.
    pub(crate) async fn create_all(
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
            out.push(
                self.put_in(&mut tx, kind, name, parent, body, None, pre, now)
                    .await?,
            );
        }
        tx.commit().await.map_err(&db)?;
        Ok(out)
    }

    /// One conditional write inside `tx`.
    #[allow(
        clippy::too_many_arguments,
        reason = "one call carries a whole conditional write"
    )]
    async fn put_in(
        &self,
        tx: &mut sqlx::Transaction<'_, DB>,
        kind: Kind,
        name: &str,
        parent: &str,
        body: &Value,
        secret: Option<&[u8]>,
        pre: Precondition,
        now: &str,
    ) -> Result<Doc, StoreError> {
        let db = StoreError::db("write resource");
        let existing: Option<(i64, i64, String)> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT seq, version, create_time FROM resources WHERE kind = $1 AND name = $2{}",
            self.dialect.lock_for_update()
        )))
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
            (Precondition::MustNotExist | Precondition::Unchanged { etag: None }, None) => None,
            (Precondition::Unchanged { etag: None }, Some(_))
            | (Precondition::Unchanged { etag: Some(_) }, None) => {
                return Err(StoreError::Aborted(name.to_owned()));
            }
            (Precondition::Unchanged { etag: Some(e) }, Some(_)) => Some(e.as_str()),
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
                    .bind(text)
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
                let res = sqlx::query_as::<_, (i64,)>("INSERT INTO resources (kind, name, parent, body, secret, version, create_time, update_time) VALUES ($1, $2, $3, $4, $5, 1, $6, $6) RETURNING seq")
                    .bind(kind.as_str())
                    .bind(name)
                    .bind(parent)
                    .bind(text)
                    .bind(secret)
                    .bind(now)
                    .fetch_one(&mut **tx)
                    .await;
                match res {
                    Ok((seq,)) => (seq, 1, now.to_owned()),
                    // Two replicas creating the same resource at once: one wins.
                    Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                        return Err(match pre {
                            Precondition::MustNotExist => {
                                StoreError::AlreadyExists(name.to_owned())
                            }
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

    /// Deletes a resource and, in the same transaction, its IAM policy, so a resource
    /// recreated under the same name starts with no grants. With `want`, only if the resource
    /// still has that etag.
    pub(crate) async fn delete_resource(
        &self,
        kind: Kind,
        name: &str,
        want: Option<&str>,
    ) -> Result<(), StoreError> {
        let db = StoreError::db("delete resource");
        let mut tx = self.pool.begin().await.map_err(&db)?;
        let found: Option<(i64, i64)> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT seq, version FROM resources WHERE kind = $1 AND name = $2{}",
            self.dialect.lock_for_update()
        )))
        .bind(kind.as_str())
        .bind(name)
        .fetch_optional(&mut *tx)
        .await
        .map_err(&db)?;
        let Some((seq, version)) = found else {
            return Err(StoreError::NotFound(name.to_owned()));
        };
        if let Some(want) = want.filter(|e| !e.is_empty())
            && etag(seq, version) != want
        {
            return Err(StoreError::Aborted(name.to_owned()));
        }
        sqlx::query("DELETE FROM resources WHERE seq = $1")
            .bind(seq)
            .execute(&mut *tx)
            .await
            .map_err(&db)?;
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

    pub(crate) async fn list_resources(
        &self,
        kind: Kind,
        parent: &str,
        page: &Page,
    ) -> Result<Listed<Doc>, StoreError> {
        let limit = page.limit();
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{SELECT} WHERE kind = $1 AND parent = $2 AND seq > $3 ORDER BY seq LIMIT $4"
        )))
        .bind(kind.as_str())
        .bind(parent)
        .bind(after_seq(page)?)
        .bind(i64::from(limit) + 1)
        .fetch_all(self.pool)
        .await
        .map_err(StoreError::db("list resources"))?;
        paginate(&rows, limit)
    }

    pub(crate) async fn secret(
        &self,
        kind: Kind,
        name: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let v: Option<(Option<Vec<u8>>,)> =
            sqlx::query_as("SELECT secret FROM resources WHERE kind = $1 AND name = $2")
                .bind(kind.as_str())
                .bind(name)
                .fetch_optional(self.pool)
                .await
                .map_err(StoreError::db("read secret"))?;
        Ok(v.and_then(|(s,)| s))
    }

    /// Deletes up to `limit` audit records older than `before`; how many went.
    pub(crate) async fn prune_audit(&self, before: &str, limit: u32) -> Result<u64, StoreError> {
        let gone: Vec<(i64,)> = sqlx::query_as(
            "DELETE FROM audit_records WHERE seq IN (SELECT seq FROM audit_records WHERE time < $1 ORDER BY time LIMIT $2) RETURNING seq",
        )
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(self.pool)
        .await
        .map_err(StoreError::db("prune audit records"))?;
        Ok(gone.len() as u64)
    }
}
