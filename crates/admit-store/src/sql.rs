//! One SQL implementation for both backends: `Db` is a pool of either driver and its dialect.
//! Statements are written once with numbered placeholders (`$1`…), which PostgreSQL reads and
//! sqlx's SQLite driver binds by number as well; the dialect supplies what really differs
//! (a reserved column name, a string function). The driver capabilities the statements need are
//! the `where` clause of each `impl Db` block.

use sqlx::{ColumnIndex, Database, Decode, Row, Type};

use crate::common::{etag, page_token};
use crate::filter_sql::Dialect;
use crate::{Doc, Listed, StoreError};

/// A pool and the dialect of its database.
#[derive(Debug)]
pub(crate) struct Db<'p, DB: Database> {
    pub(crate) pool: &'p sqlx::Pool<DB>,
    pub(crate) dialect: Dialect,
}

fn parse_body(step: &'static str, text: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Internal {
        step,
        message: e.to_string(),
    })
}

/// A stored resource or occurrence row (`seq, name, body, version, create_time, update_time`).
pub(crate) fn doc_from_row<R: Row>(row: &R) -> Result<Doc, StoreError>
where
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'a> &'a str: ColumnIndex<R>,
{
    let g = StoreError::db("read row");
    let seq: i64 = row.try_get("seq").map_err(&g)?;
    let version: i64 = row.try_get("version").map_err(&g)?;
    let body: String = row.try_get("body").map_err(&g)?;
    Ok(Doc {
        name: row.try_get("name").map_err(&g)?,
        body: parse_body("decode stored body", &body)?,
        etag: etag(seq, version),
        create_time: row.try_get("create_time").map_err(&g)?,
        update_time: row.try_get("update_time").map_err(&g)?,
    })
}

/// Turns `limit + 1` rows into a page and a token for the next one.
pub(crate) fn paginate<R: Row>(rows: &[R], limit: u32) -> Result<Listed<Doc>, StoreError>
where
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'a> &'a str: ColumnIndex<R>,
{
    let more = rows.len() > limit as usize;
    let mut items = Vec::with_capacity(rows.len().min(limit as usize));
    let mut last = 0i64;
    for row in rows.iter().take(limit as usize) {
        last = row.try_get("seq").map_err(StoreError::db("read row"))?;
        items.push(doc_from_row(row)?);
    }
    Ok(Listed {
        items,
        next_page_token: more.then(|| page_token(last)),
    })
}
