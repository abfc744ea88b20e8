//! Versioned migrations for SQLite: each applied once, in order, in its own transaction.

use sqlx::{AssertSqlSafe, SqlitePool};

use crate::StoreError;

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "audit",
        include_str!("../../migrations/sqlite/0002_audit.sql"),
    ),
    (
        3,
        "audit_time",
        include_str!("../../migrations/sqlite/0003_audit_time.sql"),
    ),
    (
        4,
        "changes",
        include_str!("../../migrations/sqlite/0004_changes.sql"),
    ),
    (
        5,
        "audit_log",
        include_str!("../../migrations/sqlite/0005_audit_log.sql"),
    ),
];

pub(crate) async fn run(pool: &SqlitePool) -> Result<(), StoreError> {
    let db = StoreError::db("migrate");
    sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL)")
        .execute(pool)
        .await
        .map_err(&db)?;
    for (version, description, sql) in MIGRATIONS {
        let mut tx = pool.begin().await.map_err(&db)?;
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = ?")
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
        sqlx::query("INSERT INTO schema_migrations (version, description) VALUES (?, ?)")
            .bind(version)
            .bind(description)
            .execute(&mut *tx)
            .await
            .map_err(&db)?;
        tx.commit().await.map_err(&db)?;
    }
    Ok(())
}
