//! The admission audit log.

use serde_json::Value;
use sqlx::{AssertSqlSafe, Row, SqlitePool};

use crate::common::{page_token, start_seq};
use crate::{AuditFilter, Listed, Page, StoreError};

pub(super) async fn append(pool: &SqlitePool, records: &[Value]) -> Result<(), StoreError> {
    let mut tx = pool
        .begin()
        .await
        .map_err(StoreError::db("append audit records"))?;
    for r in records {
        let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        let b = |k: &str| i64::from(r.get(k).and_then(Value::as_bool).unwrap_or(false));
        sqlx::query("INSERT INTO audit_records (time, project, cluster, namespace, kind, name, user, verdict, breakglass, dry_run, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
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
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db("append audit record"))?;
    }
    tx.commit()
        .await
        .map_err(StoreError::db("append audit records"))?;
    Ok(())
}

pub(super) async fn list(
    pool: &SqlitePool,
    project: &str,
    f: &AuditFilter,
    page: &Page,
) -> Result<Listed<Value>, StoreError> {
    let sql = crate::filter_sql::audit_list(crate::filter_sql::Dialect::Sqlite, project, f);
    let limit = page.limit();
    let mut q = sqlx::query(AssertSqlSafe(sql.text));
    for b in &sql.binds {
        q = q.bind(b);
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
