//! Storage for admit behind one trait, `Store`, that speaks resources and occurrences and never
//! leaks SQL or sqlx types. Backends: SQLite (embedded default) and PostgreSQL (several
//! replicas). Every statement is written once (`resources`, `occurrences`, `audit`, over
//! `sql::Db`, generic over the sqlx driver, with the dialect for what really differs); a backend
//! keeps only its pool setup and versioned migrations. Writes are optimistic (etags) and
//! acknowledged only after commit.
//!
//! Must not depend on: the service, API or webhook crates, or the policy engine.

mod audit;
mod common;
mod error;
mod feed;
mod filter_sql;
mod occurrences;
mod postgres;
mod repo;
mod resources;
mod sql;
mod sqlite;
mod types;

pub use error::StoreError;
pub use postgres::PostgresStore;
pub use repo::{Repo, Resource, ResourceName, Versioned, repo};
pub use sqlite::SqliteStore;
pub use types::{
    AuditCopied, AuditEntry, AuditFilter, Change, Doc, FeedEvent, Kind, Listed, OccurrenceScope,
    Page, Precondition, Store, pinned_digest,
};
