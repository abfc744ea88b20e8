//! Occurrence rows, for both backends: the indexed columns are derived from the body on every
//! write; a list is a scope, a compiled filter and a page; the admission lookup is one indexed
//! (note, digest) query.

use admit_model::Filter;
use serde_json::Value;
use sqlx::{
    AssertSqlSafe, ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row, Type,
};

use crate::common::{after_seq, columns, etag};
use crate::filter_sql::{Sql, compile};
use crate::sql::{Db, doc_from_row, paginate};
use crate::{Doc, Listed, OccurrenceScope, Page, StoreError};

/// Pairs per admission lookup statement (two placeholders each, well inside both drivers' limits).
const PAIRS_PER_QUERY: usize = 200;

const SELECT: &str = "SELECT seq, name, body, version, create_time, update_time FROM occurrences";

impl<DB> Db<'_, DB>
where
    DB: Database,
    <DB as Database>::Arguments: IntoArguments<DB>,
    for<'c> &'c mut <DB as Database>::Connection: Executor<'c, Database = DB>,
    for<'c> &'c sqlx::Pool<DB>: Executor<'c, Database = DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> &'q String: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    for<'a> &'a str: ColumnIndex<<DB as Database>::Row>,
    (i64,): for<'r> sqlx::FromRow<'r, <DB as Database>::Row>,
    (i64, i64, String): for<'r> sqlx::FromRow<'r, <DB as Database>::Row>,
{
    /// Creates every occurrence in one transaction: all or none.
    pub(crate) async fn create_occurrences(
        &self,
        bodies: &[Value],
        now: &str,
    ) -> Result<Vec<Doc>, StoreError> {
        let db = StoreError::db("create occurrences");
        let cols = bodies.iter().map(columns).collect::<Result<Vec<_>, _>>()?;
        let mut tx = self.pool.begin().await.map_err(&db)?;
        let mut out = Vec::with_capacity(bodies.len());
        for (c, body) in cols.iter().zip(bodies) {
            let res = sqlx::query_as::<_, (i64,)>(
                "INSERT INTO occurrences (name, project, note_name, note_project, note_id, kind, resource_uri, resource_uri_rev, resource_digest, body, version, create_time, update_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11, $12) RETURNING seq",
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
                Ok((seq,)) => seq,
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

    pub(crate) async fn get_occurrence(&self, name: &str) -> Result<Option<Doc>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!("{SELECT} WHERE name = $1")))
            .bind(name)
            .fetch_optional(self.pool)
            .await
            .map_err(StoreError::db("get occurrence"))?;
        row.as_ref().map(doc_from_row).transpose()
    }

    /// Replaces an occurrence's body; with `expected`, only while its etag still matches.
    pub(crate) async fn update_occurrence(
        &self,
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
            "UPDATE occurrences SET note_name = $1, note_project = $2, note_id = $3, kind = $4, resource_uri = $5, resource_uri_rev = $6, resource_digest = $7, body = $8, version = version + 1, update_time = $9 WHERE name = $10 AND (CAST($11 AS BIGINT) IS NULL OR seq = $11) AND (CAST($12 AS BIGINT) IS NULL OR version = $12) RETURNING seq, version, create_time",
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
        .bind(version_want)
        .fetch_optional(self.pool)
        .await
        .map_err(&db)?;
        let Some((seq, version, create_time)) = row else {
            let exists: Option<(i64,)> =
                sqlx::query_as("SELECT seq FROM occurrences WHERE name = $1")
                    .bind(name)
                    .fetch_optional(self.pool)
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

    /// Deletes an occurrence and, in the same transaction, its IAM policy.
    /// Deletes an occurrence (and its IAM policy); with `expected`, only while its etag still
    /// matches.
    pub(crate) async fn delete_occurrence(
        &self,
        name: &str,
        expected: Option<&str>,
    ) -> Result<(), StoreError> {
        let db = StoreError::db("delete occurrence");
        // An etag that names no version of this server cannot match.
        let (seq_want, version_want) = match expected {
            None => (None, None),
            Some(e) => match crate::common::etag_parts(e) {
                Some((s, v)) => (Some(s), Some(v)),
                None => (Some(-1), Some(-1)),
            },
        };
        let mut tx = self.pool.begin().await.map_err(&db)?;
        // RETURNING tells whether a row went (the drivers' affected-row counts share no trait).
        let gone: Option<(i64,)> = sqlx::query_as(
            "DELETE FROM occurrences WHERE name = $1 AND (CAST($2 AS BIGINT) IS NULL OR seq = $2) AND (CAST($3 AS BIGINT) IS NULL OR version = $3) RETURNING seq",
        )
        .bind(name)
        .bind(seq_want)
        .bind(version_want)
        .fetch_optional(&mut *tx)
        .await
        .map_err(&db)?;
        if gone.is_none() {
            let exists: Option<(i64,)> =
                sqlx::query_as("SELECT seq FROM occurrences WHERE name = $1")
                    .bind(name)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(&db)?;
            return Err(match exists {
                Some(_) => StoreError::Aborted(name.to_owned()),
                None => StoreError::NotFound(name.to_owned()),
            });
        }
        // Its IAM policy goes with it (a recreated name starts with no grants).
        sqlx::query("DELETE FROM resources WHERE kind = $1 AND name = $2")
            .bind(crate::Kind::IamPolicy.as_str())
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db("delete IAM policy"))?;
        tx.commit().await.map_err(StoreError::db("commit delete"))
    }

    /// The SQL for a list: scope and filter.
    pub(crate) fn list_sql(&self, scope: &OccurrenceScope, filter: Option<&Filter>) -> Sql {
        let mut sql = Sql::new(self.dialect);
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

    pub(crate) async fn list_occurrences(
        &self,
        scope: &OccurrenceScope,
        filter: Option<&Filter>,
        page: &Page,
    ) -> Result<Listed<Doc>, StoreError> {
        let limit = page.limit();
        let sql = self.list_sql(scope, filter);
        let n = sql.binds.len();
        let text = format!(
            "{SELECT} WHERE {} AND seq > {} ORDER BY seq LIMIT {}",
            sql.text,
            sql.placeholder(n + 1),
            sql.placeholder(n + 2)
        );
        let mut q = sqlx::query(AssertSqlSafe(text));
        for b in &sql.binds {
            q = q.bind(b.clone());
        }
        let rows = q
            .bind(after_seq(page)?)
            .bind(i64::from(limit) + 1)
            .fetch_all(self.pool)
            .await
            .map_err(StoreError::db("list occurrences"))?;
        paginate(&rows, limit)
    }

    /// For each `(note, digest)` pair, in order: the ATTESTATION occurrences under the note
    /// pinned to the digest, oldest first, at most `limit` of them. One statement for up to
    /// `PAIRS_PER_QUERY` pairs (each on the (note_name, resource_digest) index; a window
    /// function keeps `limit` per pair).
    pub(crate) async fn attestations(
        &self,
        pairs: &[(String, String)],
        limit: u32,
    ) -> Result<Vec<Vec<Doc>>, StoreError> {
        let mut out: Vec<Vec<Doc>> = vec![Vec::new(); pairs.len()];
        for (chunk_no, chunk) in pairs.chunks(PAIRS_PER_QUERY).enumerate() {
            let wanted = chunk
                .iter()
                .enumerate()
                .map(|(i, _)| {
                    format!(
                        "(note_name = ${} AND resource_digest = ${})",
                        2 * i + 1,
                        2 * i + 2
                    )
                })
                .collect::<Vec<_>>()
                .join(" OR ");
            let text = format!(
                "SELECT note_name, resource_digest, seq, name, body, version, create_time, update_time FROM (\
                 SELECT note_name, resource_digest, seq, name, body, version, create_time, update_time, \
                 ROW_NUMBER() OVER (PARTITION BY note_name, resource_digest ORDER BY seq) AS nth \
                 FROM occurrences WHERE kind = 'ATTESTATION' AND ({wanted})) AS found \
                 WHERE nth <= ${} ORDER BY seq",
                2 * chunk.len() + 1
            );
            let mut q = sqlx::query(AssertSqlSafe(text));
            for (note, digest) in chunk {
                q = q.bind(note.as_str()).bind(digest.as_str());
            }
            let rows = q
                .bind(i64::from(limit))
                .fetch_all(self.pool)
                .await
                .map_err(StoreError::db("list attestations"))?;
            let g = StoreError::db("read row");
            for row in &rows {
                let note: String = row.try_get("note_name").map_err(&g)?;
                let digest: String = row.try_get("resource_digest").map_err(&g)?;
                let doc = doc_from_row(row)?;
                // A pair asked twice gets its rows twice.
                for (i, (n, d)) in chunk.iter().enumerate() {
                    if *n == note && *d == digest {
                        out[chunk_no * PAIRS_PER_QUERY + i].push(doc.clone());
                    }
                }
            }
        }
        Ok(out)
    }
}
