//! The admission audit log, written once for both backends: the statements differ only in
//! their placeholders and one column name, which the dialect supplies; sqlx's generic
//! `Database` API runs them on either pool.

use serde_json::Value;
use sqlx::{
    AssertSqlSafe, ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row, Type,
};

use crate::common::{page_token, start_seq};
use crate::filter_sql::Dialect;
use crate::{AuditFilter, Listed, Page, StoreError};

/// Columns per audit row, and rows per INSERT (13 × 200 placeholders, well inside both
/// drivers' limits).
const COLUMNS: usize = 13;
const ROWS_PER_STATEMENT: usize = 200;

/// Appends `records` in one transaction; records copied from an on-disk log (`from`: its id
/// and the first record's number) that are stored already are skipped.
pub(crate) async fn append<DB>(
    pool: &sqlx::Pool<DB>,
    dialect: Dialect,
    records: &[Value],
    from: Option<(&str, u64)>,
) -> Result<(), StoreError>
where
    DB: Database,
    <DB as Database>::Arguments: IntoArguments<DB>,
    for<'c> &'c mut <DB as Database>::Connection: Executor<'c, Database = DB>,
    for<'c> &'c sqlx::Pool<DB>: Executor<'c, Database = DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Type<DB>,
    for<'r> String: Decode<'r, DB>,
    for<'r> i64: Decode<'r, DB>,
    for<'a> &'a str: ColumnIndex<<DB as Database>::Row>,
{
    // `user` is reserved in PostgreSQL, so its column there is `username`.
    let user = match dialect {
        Dialect::Sqlite => "user",
        Dialect::Postgres => "username",
    };
    let mut tx = pool
        .begin()
        .await
        .map_err(StoreError::db("append audit records"))?;
    // Many rows per statement: one round trip to the driver per ROWS_PER_STATEMENT records.
    for (chunk_no, chunk) in records.chunks(ROWS_PER_STATEMENT).enumerate() {
        let rows: Vec<String> = (0..chunk.len())
            .map(|r| {
                let marks: Vec<String> = (1..=COLUMNS)
                    .map(|c| dialect.placeholder(r * COLUMNS + c))
                    .collect();
                format!("({})", marks.join(", "))
            })
            .collect();
        let text = format!(
            "INSERT INTO audit_records (time, project, cluster, namespace, kind, name, {user}, verdict, breakglass, dry_run, body, log_id, log_seq) VALUES {} ON CONFLICT (log_id, log_seq) DO NOTHING",
            rows.join(", ")
        );
        let mut q = sqlx::query(AssertSqlSafe(text));
        for (i, r) in chunk.iter().enumerate() {
            let n = (chunk_no * ROWS_PER_STATEMENT + i) as u64;
            let log_id = from.map(|(id, _)| id.to_owned());
            let log_seq = from.map(|(_, first)| i64::try_from(first + n).unwrap_or(i64::MAX));
            let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
            let b = |k: &str| r.get(k).and_then(Value::as_bool).unwrap_or(false);
            q = q
                .bind(s("time"))
                .bind(s("project"))
                .bind(s("cluster"))
                .bind(s("namespace"))
                .bind(s("kind"))
                .bind(s("name"))
                .bind(s("user"))
                .bind(s("verdict"))
                .bind(b("breakglass"))
                .bind(b("dryRun"))
                .bind(r.to_string())
                .bind(log_id)
                .bind(log_seq);
        }
        q.execute(&mut *tx)
            .await
            .map_err(StoreError::db("append audit records"))?;
    }
    tx.commit()
        .await
        .map_err(StoreError::db("append audit records"))?;
    Ok(())
}

/// The highest record number of `log_id` stored (0 when none).
pub(crate) async fn ingested<DB>(pool: &sqlx::Pool<DB>, log_id: &str) -> Result<u64, StoreError>
where
    DB: Database,
    <DB as Database>::Arguments: IntoArguments<DB>,
    for<'c> &'c sqlx::Pool<DB>: Executor<'c, Database = DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    (i64,): for<'r> sqlx::FromRow<'r, <DB as Database>::Row>,
{
    let (n,): (i64,) = sqlx::query_as(
        "SELECT CAST(COALESCE(MAX(log_seq), 0) AS BIGINT) FROM audit_records WHERE log_id = $1",
    )
    .bind(log_id)
    .fetch_one(pool)
    .await
    .map_err(StoreError::db("read the audit log's ingestion point"))?;
    Ok(u64::try_from(n).unwrap_or_default())
}

/// One page of `project`'s records matching `f`.
pub(crate) async fn list<DB>(
    pool: &sqlx::Pool<DB>,
    dialect: Dialect,
    project: &str,
    f: &AuditFilter,
    page: &Page,
) -> Result<Listed<Value>, StoreError>
where
    DB: Database,
    <DB as Database>::Arguments: IntoArguments<DB>,
    for<'c> &'c mut <DB as Database>::Connection: Executor<'c, Database = DB>,
    for<'c> &'c sqlx::Pool<DB>: Executor<'c, Database = DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Type<DB>,
    for<'r> String: Decode<'r, DB>,
    for<'r> i64: Decode<'r, DB>,
    for<'a> &'a str: ColumnIndex<<DB as Database>::Row>,
{
    let sql = crate::filter_sql::audit_list(dialect, project, f);
    let limit = page.limit();
    let mut q = sqlx::query(AssertSqlSafe(sql.text));
    for b in &sql.binds {
        q = q.bind(b.clone());
    }
    let rows = q
        .bind(start_seq(page, f.newest_first)?)
        .bind(i64::from(limit) + 1)
        .fetch_all(pool)
        .await
        .map_err(StoreError::db("list audit records"))?;
    let more = rows.len() > limit as usize;
    let mut items = Vec::new();
    let mut last = 0i64;
    for row in rows.iter().take(limit as usize) {
        last = row.try_get("seq").map_err(StoreError::db("read row"))?;
        let body: String = row.try_get("body").map_err(StoreError::db("read row"))?;
        items.push(
            serde_json::from_str(&body).map_err(|e| StoreError::Internal {
                step: "decode audit record",
                message: e.to_string(),
            })?,
        );
    }
    Ok(Listed {
        items,
        next_page_token: more.then(|| page_token(last)),
    })
}
