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

/// The `Store` implementation of a backend: every method runs the shared statements on the
/// backend's read or write pool (`$read`, `$write`: field names; SQLite keeps one writer apart,
/// PostgreSQL uses one pool for both) in its dialect. Written once, for both backends.
macro_rules! delegate_store {
    ($store:ty, $read:ident, $write:ident, $dialect:expr) => {
        #[async_trait::async_trait]
        impl $crate::Store for $store {
            async fn follow_changes(&self, events: tokio::sync::mpsc::Sender<$crate::FeedEvent>) {
                self.follow(events).await
            }

            async fn ping(&self) -> ::std::result::Result<(), $crate::StoreError> {
                self.db(&self.$read).ping().await
            }

            async fn get(
                &self,
                kind: $crate::Kind,
                name: &str,
            ) -> ::std::result::Result<Option<$crate::Doc>, $crate::StoreError> {
                self.db(&self.$read).get_resource(kind, name).await
            }

            async fn etag(
                &self,
                kind: $crate::Kind,
                name: &str,
            ) -> ::std::result::Result<Option<String>, $crate::StoreError> {
                self.db(&self.$read).resource_etag(kind, name).await
            }

            #[allow(
                clippy::too_many_arguments,
                reason = "one call carries a whole conditional write"
            )]
            async fn put(
                &self,
                kind: $crate::Kind,
                name: &str,
                parent: &str,
                body: &serde_json::Value,
                secret: Option<&[u8]>,
                pre: $crate::Precondition,
                now: &str,
            ) -> ::std::result::Result<$crate::Doc, $crate::StoreError> {
                self.db(&self.$write)
                    .put_resource(kind, name, parent, body, secret, pre, now)
                    .await
            }

            async fn create_all(
                &self,
                kind: $crate::Kind,
                items: &[(String, String, serde_json::Value)],
                now: &str,
            ) -> ::std::result::Result<Vec<$crate::Doc>, $crate::StoreError> {
                self.db(&self.$write).create_all(kind, items, now).await
            }

            async fn delete(
                &self,
                kind: $crate::Kind,
                name: &str,
                etag: ::std::option::Option<&str>,
            ) -> ::std::result::Result<(), $crate::StoreError> {
                self.db(&self.$write)
                    .delete_resource(kind, name, etag)
                    .await
            }

            async fn list(
                &self,
                kind: $crate::Kind,
                parent: &str,
                page: &$crate::Page,
            ) -> ::std::result::Result<$crate::Listed<$crate::Doc>, $crate::StoreError> {
                self.db(&self.$read)
                    .list_resources(kind, parent, page)
                    .await
            }

            async fn secret(
                &self,
                kind: $crate::Kind,
                name: &str,
            ) -> ::std::result::Result<Option<Vec<u8>>, $crate::StoreError> {
                self.db(&self.$read).secret(kind, name).await
            }

            async fn create_occurrences(
                &self,
                bodies: &[serde_json::Value],
                now: &str,
            ) -> ::std::result::Result<Vec<$crate::Doc>, $crate::StoreError> {
                self.db(&self.$write).create_occurrences(bodies, now).await
            }

            async fn get_occurrence(
                &self,
                name: &str,
            ) -> ::std::result::Result<Option<$crate::Doc>, $crate::StoreError> {
                self.db(&self.$read).get_occurrence(name).await
            }

            async fn update_occurrence(
                &self,
                name: &str,
                body: &serde_json::Value,
                now: &str,
                etag: Option<&str>,
            ) -> ::std::result::Result<$crate::Doc, $crate::StoreError> {
                self.db(&self.$write)
                    .update_occurrence(name, body, now, etag)
                    .await
            }

            async fn delete_occurrence(
                &self,
                name: &str,
                etag: ::std::option::Option<&str>,
            ) -> ::std::result::Result<(), $crate::StoreError> {
                self.db(&self.$write).delete_occurrence(name, etag).await
            }

            async fn append_audit_batch(
                &self,
                records: &[$crate::AuditEntry],
            ) -> ::std::result::Result<(), $crate::StoreError> {
                $crate::audit::append(&self.$write, $dialect, records, None).await
            }

            async fn ingest_audit(
                &self,
                log_id: &str,
                first_seq: u64,
                records: &[$crate::AuditEntry],
            ) -> ::std::result::Result<(), $crate::StoreError> {
                $crate::audit::append(&self.$write, $dialect, records, Some((log_id, first_seq)))
                    .await
            }

            async fn audit_copied(
                &self,
                log_id: &str,
            ) -> ::std::result::Result<$crate::AuditCopied, $crate::StoreError> {
                $crate::audit::copied(&self.$write, log_id).await
            }

            async fn prune_audit(
                &self,
                before: &str,
                limit: u32,
            ) -> ::std::result::Result<u64, $crate::StoreError> {
                self.db(&self.$write).prune_audit(before, limit).await
            }

            async fn list_audit(
                &self,
                project: &str,
                filter: &$crate::AuditFilter,
                page: &$crate::Page,
            ) -> ::std::result::Result<$crate::Listed<serde_json::Value>, $crate::StoreError> {
                $crate::audit::list(&self.$read, $dialect, project, filter, page).await
            }

            async fn list_occurrences(
                &self,
                scope: &$crate::OccurrenceScope,
                filter: Option<&admit_model::Filter>,
                page: &$crate::Page,
            ) -> ::std::result::Result<$crate::Listed<$crate::Doc>, $crate::StoreError> {
                self.db(&self.$read)
                    .list_occurrences(scope, filter, page)
                    .await
            }

            async fn attestations_of(
                &self,
                pairs: &[(String, String)],
                limit: u32,
            ) -> ::std::result::Result<Vec<Vec<$crate::Doc>>, $crate::StoreError> {
                self.db(&self.$read).attestations(pairs, limit).await
            }
        }
    };
}
pub(crate) use delegate_store;
