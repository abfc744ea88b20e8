//! The PostgreSQL backend, for several replicas serving one fleet: the same schema and
//! semantics as SQLite (etags, stable pages, indexed filters), a bounded pool with timeouts,
//! migrations serialised across replicas by an advisory lock. When the database goes away,
//! calls fail with `Unavailable`; the pool reconnects by itself when it returns.

mod migrate;

use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::StoreError;
use crate::filter_sql::Dialect;

/// PostgreSQL-backed store.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// The shared SQL implementation on `pool`.
    fn db<'p>(&self, pool: &'p PgPool) -> crate::sql::Db<'p, sqlx::Postgres> {
        crate::sql::Db {
            pool,
            dialect: Dialect::Postgres,
        }
    }

    /// Connects (lazily: the server starts even while the database is down) and migrates.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let opts: PgConnectOptions = url
            .parse()
            .map_err(|e: sqlx::Error| StoreError::InvalidArgument(format!("database URL: {e}")))?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(3))
            .idle_timeout(Duration::from_secs(300))
            .max_lifetime(Duration::from_secs(1800))
            .test_before_acquire(true)
            .connect_lazy_with(opts);
        migrate::run(&pool).await?;
        Ok(PostgresStore { pool })
    }

    async fn follow(&self, events: tokio::sync::mpsc::Sender<crate::FeedEvent>) {
        crate::feed::follow_postgres(&self.pool, events).await;
    }
}

crate::sql::delegate_store!(PostgresStore, pool, pool, Dialect::Postgres);
