//! Versioned migrations for PostgreSQL, each in its own transaction, serialised across
//! replicas that start together by a transaction-scoped advisory lock.

use sqlx::{AssertSqlSafe, PgPool};

use crate::StoreError;

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "audit",
        include_str!("../../migrations/postgres/0002_audit.sql"),
    ),
    (
        3,
        "audit_time",
        include_str!("../../migrations/postgres/0003_audit_time.sql"),
    ),
    (
        4,
        "changes",
        include_str!("../../migrations/postgres/0004_changes.sql"),
    ),
    (
        5,
        "audit_log",
        include_str!("../../migrations/postgres/0005_audit_log.sql"),
    ),
];

/// An arbitrary constant: "admit migrations".
const LOCK: i64 = 0x0AD1_7000;

pub(crate) async fn run(pool: &PgPool) -> Result<(), StoreError> {
    let db = StoreError::db("migrate");
    let mut tx = pool.begin().await.map_err(&db)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(LOCK)
        .execute(&mut *tx)
        .await
        .map_err(&db)?;
    sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL)")
        .execute(&mut *tx)
        .await
        .map_err(&db)?;
    for (version, description, sql) in MIGRATIONS {
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
                .bind(version)
                .fetch_optional(&mut *tx)
                .await
                .map_err(&db)?;
        if applied.is_some() {
            continue;
        }
        sqlx::raw_sql(AssertSqlSafe(*sql))
            .execute(&mut *tx)
            .await
            .map_err(&db)?;
        sqlx::query("INSERT INTO schema_migrations (version, description) VALUES ($1, $2)")
            .bind(version)
            .bind(description)
            .execute(&mut *tx)
            .await
            .map_err(&db)?;
    }
    tx.commit().await.map_err(&db)?;
    Ok(())
}
