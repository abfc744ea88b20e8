//! Occurrence rows: the indexed columns are derived from the body on every write.

use admit_model::Filter;
use serde_json::Value;
use sqlx::{AssertSqlSafe, SqlitePool};

use super::{doc_from_row, paginate};
use crate::common::{after_seq, columns, etag};
use crate::filter_sql::{Dialect, Sql, compile};
use crate::{Doc, Listed, OccurrenceScope, Page, StoreError};

const SELECT: &str = "SELECT seq, name, body, version, create_time, update_time FROM occurrences";

pub(super) async fn create(
    pool: &SqlitePool,
    bodies: &[Value],
    now: &str,
) -> Result<Vec<Doc>, StoreError> {
    let db = StoreError::db("create occurrences");
    let cols = bodies.iter().map(columns).collect::<Result<Vec<_>, _>>()?;
    let mut tx = pool.begin().await.map_err(&db)?;
    let mut out = Vec::with_capacity(bodies.len());
    for (c, body) in cols.iter().zip(bodies) {
        let res = sqlx::query_scalar::<_, i64>(
            "INSERT INTO occurrences (name, project, note_name, note_project, note_id, kind, resource_uri, resource_uri_rev, resource_digest, body, version, create_time, update_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?) RETURNING seq",
        )
        .bind(&c.name)
        .bind(&c.project)
        .bind(&c.note_name)
        .bind(&c.note_project)
        .bind(&c.note_id)
        .bind(&c.kind)
        .bind(&c.resource_uri)
        .bind(&c.resource_uri_rev)
        .bind(&c.resource_digest)
        .bind(body.to_string())
        .bind(now)
        .bind(now)
        .fetch_one(&mut *tx)
        .await;
        let seq = match res {
            Ok(seq) => seq,
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(StoreError::AlreadyExists(c.name.clone()));
            }
            Err(e) => return Err(db(e)),
        };
        out.push(Doc {
            name: c.name.clone(),
            body: body.clone(),
            etag: etag(seq, 1),
            create_time: now.to_owned(),
            update_time: now.to_owned(),
        });
    }
    tx.commit().await.map_err(&db)?;
    Ok(out)
}

pub(super) async fn get(pool: &SqlitePool, name: &str) -> Result<Option<Doc>, StoreError> {
    let row = sqlx::query(AssertSqlSafe(format!("{SELECT} WHERE name = ?")))
        .bind(name)
        .fetch_optional(pool)
        .await
        .map_err(StoreError::db("get occurrence"))?;
    row.as_ref().map(doc_from_row).transpose()
}

pub(super) async fn update(
    pool: &SqlitePool,
    name: &str,
    body: &Value,
    now: &str,
    expected: Option<&str>,
) -> Result<Doc, StoreError> {
    let db = StoreError::db("update occurrence");
    // An etag that names no version of this server cannot match.
    let (seq_want, version_want) = match expected {
        None => (None, None),
        Some(e) => match crate::common::etag_parts(e) {
            Some((s, v)) => (Some(s), Some(v)),
            None => return Err(StoreError::Aborted(name.to_owned())),
        },
    };
    let c = columns(body)?;
    if c.name != name {
        return Err(StoreError::InvalidArgument("name cannot be changed".into()));
    }
    let row: Option<(i64, i64, String)> = sqlx::query_as(
        "UPDATE occurrences SET note_name = ?, note_project = ?, note_id = ?, kind = ?, resource_uri = ?, resource_uri_rev = ?, resource_digest = ?, body = ?, version = version + 1, update_time = ? WHERE name = ? AND (? IS NULL OR seq = ?) AND (? IS NULL OR version = ?) RETURNING seq, version, create_time",
    )
    .bind(&c.note_name)
    .bind(&c.note_project)
    .bind(&c.note_id)
    .bind(&c.kind)
    .bind(&c.resource_uri)
    .bind(&c.resource_uri_rev)
    .bind(&c.resource_digest)
    .bind(body.to_string())
    .bind(now)
    .bind(name)
    .bind(seq_want)
    .bind(seq_want)
    .bind(version_want)
    .bind(version_want)
    .fetch_optional(pool)
    .await
    .map_err(&db)?;
    let Some((seq, version, create_time)) = row else {
        let exists: Option<i64> = sqlx::query_scalar("SELECT seq FROM occurrences WHERE name = ?")
            .bind(name)
            .fetch_optional(pool)
            .await
            .map_err(&db)?;
        return Err(match exists {
            Some(_) => StoreError::Aborted(name.to_owned()),
            None => StoreError::NotFound(name.to_owned()),
        });
    };
    Ok(Doc {
        name: name.to_owned(),
        body: body.clone(),
        etag: etag(seq, version),
        create_time,
        update_time: now.to_owned(),
    })
}

pub(super) async fn delete(pool: &SqlitePool, name: &str) -> Result<(), StoreError> {
    let mut tx = pool.begin().await.map_err(StoreError::db("begin delete"))?;
    let done = sqlx::query("DELETE FROM occurrences WHERE name = ?")
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db("delete occurrence"))?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(name.to_owned()));
    }
    // Its IAM policy goes with it (a recreated name starts with no grants).
    sqlx::query("DELETE FROM resources WHERE kind = ? AND name = ?")
        .bind(crate::Kind::IamPolicy.as_str())
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db("delete IAM policy"))?;
    tx.commit().await.map_err(StoreError::db("commit delete"))
}

/// The SQL for a list: scope, filter, page start; exposed for the query-plan test.
pub(crate) fn list_sql(scope: &OccurrenceScope, filter: Option<&Filter>) -> Sql {
    let mut sql = Sql::new(Dialect::Sqlite);
    let (col, v) = match scope {
        OccurrenceScope::Project(p) => ("project", p),
        OccurrenceScope::Note(n) => ("note_name", n),
    };
    let p = sql.bind(v.clone());
    sql.text.push_str(&format!("{col} = {p}"));
    if let Some(f) = filter {
        sql.text.push_str(" AND ");
        compile(f, &mut sql);
    }
    sql
}

pub(super) async fn list(
    pool: &SqlitePool,
    scope: &OccurrenceScope,
    filter: Option<&Filter>,
    page: &Page,
) -> Result<Listed<Doc>, StoreError> {
    let limit = page.limit();
    let sql = list_sql(scope, filter);
    let text = format!(
        "{SELECT} WHERE {} AND seq > ? ORDER BY seq LIMIT ?",
        sql.text
    );
    let mut q = sqlx::query(AssertSqlSafe(text));
    for b in &sql.binds {
        q = q.bind(b);
    }
    let rows = q
        .bind(after_seq(page)?)
        .bind(i64::from(limit) + 1)
        .fetch_all(pool)
        .await
        .map_err(StoreError::db("list occurrences"))?;
    paginate(&rows, limit)
}

/// ATTESTATION occurrences under `note` pinned to `digest`, on the (note_name,
/// resource_digest) index.
pub(super) async fn attestations(
    pool: &SqlitePool,
    note: &str,
    digest: &str,
    limit: u32,
) -> Result<Vec<Doc>, StoreError> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "{SELECT} WHERE note_name = ? AND resource_digest = ? AND kind = 'ATTESTATION' ORDER BY seq LIMIT ?"
    )))
    .bind(note)
    .bind(digest)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(StoreError::db("list attestations"))?;
    rows.iter().map(doc_from_row).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SqliteStore;

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
            let sql = list_sql(&scope, f.as_ref());
            let text = format!(
                "EXPLAIN QUERY PLAN {SELECT} WHERE {} AND seq > ? ORDER BY seq LIMIT ?",
                sql.text
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
