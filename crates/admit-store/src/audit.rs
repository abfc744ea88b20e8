//! The admission audit log, written once for both backends: the statements differ only in
//! their placeholders and one column name, which the dialect supplies; sqlx's generic
//! `Database` API runs them on either pool.

use serde_json::Value;
use sqlx::{
    AssertSqlSafe, ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row, Type,
};

use crate::common::{page_token, start_seq};
use crate::filter_sql::Dialect;
use crate::{AuditEntry, AuditFilter, Listed, Page, StoreError};

/// Columns per audit row.
const COLUMNS: usize = 13;
/// Rows per INSERT: a batch goes in statements of 256, 128, …, 1 rows (its size in binary), so
/// at most nine statement texts exist per dialect and each is prepared once by the driver's
/// statement cache (13 × 256 placeholders, well inside both drivers' limits).
const MAX_ROWS_PER_STATEMENT: usize = 256;

/// The sizes of the statements `n` records go in: as many full ones as fit, then the binary
/// digits of the rest, largest first.
fn statement_sizes(n: usize) -> impl Iterator<Item = usize> {
    let full = std::iter::repeat_n(MAX_ROWS_PER_STATEMENT, n / MAX_ROWS_PER_STATEMENT);
    let rest = n % MAX_ROWS_PER_STATEMENT;
    let bits = (0..MAX_ROWS_PER_STATEMENT.trailing_zeros())
        .rev()
        .map(|b| 1usize << b)
        .filter(move |size| rest & size != 0);
    full.chain(bits)
}

/// The INSERT of `rows` audit records.
fn insert_text(dialect: Dialect, rows: usize) -> String {
    use std::fmt::Write as _;
    // `user` is reserved in PostgreSQL, so its column there is `username`.
    let user = match dialect {
        Dialect::Sqlite => "user",
        Dialect::Postgres => "username",
    };
    let mut text = format!(
        "INSERT INTO audit_records (time, project, cluster, namespace, kind, name, {user}, verdict, breakglass, dry_run, body, log_id, log_seq) VALUES "
    );
    for r in 0..rows {
        text.push_str(if r == 0 { "(" } else { ", (" });
        for c in 1..=COLUMNS {
            let sep = if c == 1 { "" } else { ", " };
            let _ = write!(
                text,
                "{sep}{}",
                dialect.sequential_placeholder(r * COLUMNS + c)
            );
        }
        text.push(')');
    }
    text.push_str(" ON CONFLICT (log_id, log_seq) DO NOTHING");
    text
}

/// Appends `records` in one transaction; records copied from an on-disk log (`from`: its id
/// and the first record's number) that are stored already are skipped.
pub(crate) async fn append<DB>(
    pool: &sqlx::Pool<DB>,
    dialect: Dialect,
    records: &[AuditEntry],
    from: Option<(&str, u64)>,
) -> Result<(), StoreError>
where
    DB: Database,
    <DB as Database>::Arguments: IntoArguments<DB>,
    for<'c> &'c mut <DB as Database>::Connection: Executor<'c, Database = DB>,
    for<'c> &'c sqlx::Pool<DB>: Executor<'c, Database = DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    str: Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Type<DB>,
    for<'r> String: Decode<'r, DB>,
    for<'r> i64: Decode<'r, DB>,
    for<'a> &'a str: ColumnIndex<<DB as Database>::Row>,
{
    let mut tx = pool
        .begin()
        .await
        .map_err(StoreError::db("append audit records"))?;
    // Many rows per statement: one round trip to the driver per statement.
    let mut done = 0usize;
    for size in statement_sizes(records.len()) {
        let chunk = &records[done..done + size];
        let mut q = sqlx::query(AssertSqlSafe(insert_text(dialect, size)));
        for (i, r) in chunk.iter().enumerate() {
            let n = (done + i) as u64;
            let log_id = from.map(|(id, _)| id.to_owned());
            let log_seq = from.map(|(_, first)| i64::try_from(first + n).unwrap_or(i64::MAX));
            q = q
                .bind(r.time.as_str())
                .bind(r.project.as_str())
                .bind(r.cluster.as_str())
                .bind(r.namespace.as_str())
                .bind(r.kind.as_str())
                .bind(r.name.as_str())
                .bind(r.user.as_str())
                .bind(r.verdict.as_str())
                .bind(r.breakglass)
                .bind(r.dry_run)
                .bind(&*r.body)
                .bind(log_id)
                .bind(log_seq);
        }
        q.execute(&mut *tx)
            .await
            .map_err(StoreError::db("append audit records"))?;
        done += size;
    }
    tx.commit()
        .await
        .map_err(StoreError::db("append audit records"))?;
    Ok(())
}

/// How much of `log_id` is stored: records, lowest and highest number.
pub(crate) async fn copied<DB>(
    pool: &sqlx::Pool<DB>,
    log_id: &str,
) -> Result<crate::AuditCopied, StoreError>
where
    DB: Database,
    <DB as Database>::Arguments: IntoArguments<DB>,
    for<'c> &'c sqlx::Pool<DB>: Executor<'c, Database = DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    (i64, i64, i64): for<'r> sqlx::FromRow<'r, <DB as Database>::Row>,
{
    let (records, lowest, highest): (i64, i64, i64) = sqlx::query_as(
        "SELECT CAST(COUNT(*) AS BIGINT), CAST(COALESCE(MIN(log_seq), 0) AS BIGINT), CAST(COALESCE(MAX(log_seq), 0) AS BIGINT) FROM audit_records WHERE log_id = $1",
    )
    .bind(log_id)
    .fetch_one(pool)
    .await
    .map_err(StoreError::db("read the audit log's copy"))?;
    let n = |v: i64| u64::try_from(v).unwrap_or_default();
    Ok(crate::AuditCopied {
        records: n(records),
        lowest: n(lowest),
        highest: n(highest),
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_sizes_cover_every_record_once() {
        for n in [0usize, 1, 2, 3, 255, 256, 257, 511, 512, 1000, 2_000] {
            let sizes: Vec<usize> = statement_sizes(n).collect();
            assert_eq!(sizes.iter().sum::<usize>(), n, "{n}: {sizes:?}");
            assert!(
                sizes
                    .iter()
                    .all(|s| s.is_power_of_two() && *s <= MAX_ROWS_PER_STATEMENT)
            );
            assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{n}: {sizes:?}");
        }
        assert_eq!(
            statement_sizes(300).collect::<Vec<_>>(),
            vec![256, 32, 8, 4]
        );
    }

    #[test]
    fn sqlite_inserts_use_nameless_placeholders() {
        let text = insert_text(Dialect::Sqlite, 2);
        assert_eq!(text.matches('?').count(), 2 * COLUMNS);
        assert!(!text.contains('$'));
        let pg = insert_text(Dialect::Postgres, 2);
        assert!(pg.contains("$1, $2") && pg.contains("$26)"), "{pg}");
    }
}
