//! The SQLite backend, the embedded default: one database file per
//! aggregator, opened from a `sqlite://PATH` URL (created if missing).
//!
//! Connections run in WAL mode with `synchronous=NORMAL` (durable across
//! process crashes; a power loss may drop the last commits but never
//! corrupts), a busy timeout, and foreign keys on. Read-write transactions
//! start with `BEGIN IMMEDIATE`, taking the database's single write lock up
//! front: two writers never deadlock trying to upgrade a read lock, and a
//! busy database makes the transaction wait (then retry) at its start, not
//! fail in its middle. Read-only transactions (`BEGIN DEFERRED`) run beside
//! the writer thanks to WAL.
//!
//! The tables' SQL is shared with PostgreSQL (`crate::tables`); what is
//! SQLite's own lives here: connection setup and transactions (this file),
//! its side of `crate::backend::Backend` (`row.rs`), how it leases jobs
//! (`leases.rs`) and its migrations (schema in `migrations/sqlite/`).

mod file_mode;
mod leases;
mod migrations;
mod row;

use crate::datastore::{run_detached, ErasedTxFn, RetryPolicy, TxMode};
use crate::{Datastore, DatastoreError, DatastoreKeys, DatastoreOptions, TxError};
use dyad_core::clock::Clock;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::any::Any;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration as StdDuration;
use tracing::debug;

/// A datastore in one SQLite file.
#[derive(Clone)]
pub struct SqliteDatastore {
    pool: SqlitePool,
    clock: Arc<dyn Clock>,
    retry: RetryPolicy,
    keys: Arc<DatastoreKeys>,
    /// How long one run of a body may take (see
    /// `DatastoreOptions::max_transaction_duration`).
    max_transaction_duration: StdDuration,
    /// How long the rollback of an abandoned body may take before its
    /// connection is closed instead.
    statement_timeout: StdDuration,
}

impl std::fmt::Debug for SqliteDatastore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteDatastore")
            .field("retry", &self.retry)
            .field("max_transaction_duration", &self.max_transaction_duration)
            .finish_non_exhaustive()
    }
}

impl SqliteDatastore {
    /// Opens (creating if missing) the database at `url` (`sqlite://PATH`)
    /// with the given options; brings its schema up to date if
    /// `options.apply_migrations`, else checks that it is.
    pub async fn open(
        url: &str,
        clock: Arc<dyn Clock>,
        options: &DatastoreOptions,
    ) -> Result<Self, DatastoreError> {
        if !url.starts_with("sqlite:") {
            return Err(DatastoreError::Config(format!(
                "not a SQLite URL (expected sqlite://PATH): {url}"
            )));
        }
        options.validate()?;
        let connect = SqliteConnectOptions::from_str(url)
            .map_err(|e| DatastoreError::Config(format!("invalid SQLite URL: {e}")))?;
        file_mode::create_private(connect.get_filename());
        let connect = connect
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(options.statement_timeout)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await?;
        let migrator = migrations::migrator();
        if options.apply_migrations {
            migrator.run(&pool).await?;
        } else {
            let applied: Vec<i64> = match sqlx::query_scalar(
                "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
            )
            .fetch_all(&pool)
            .await
            {
                Ok(versions) => versions,
                // No migrations table: nothing applied yet.
                Err(sqlx::Error::Database(_)) => Vec::new(),
                Err(error) => return Err(error.into()),
            };
            crate::schema::check_up_to_date(&applied, &migrator)?;
        }
        debug!(
            max_connections = options.max_connections,
            "opened SQLite datastore"
        );
        Ok(Self {
            pool,
            clock,
            retry: options.retry,
            keys: Arc::new(options.keys.clone()),
            max_transaction_duration: options.max_transaction_duration,
            statement_timeout: options.statement_timeout,
        })
    }

    /// Applies pending migrations to the database at `url` (creating it if
    /// missing); returns the schema version it is at.
    pub async fn migrate(url: &str) -> Result<i64, DatastoreError> {
        let connect = SqliteConnectOptions::from_str(url)
            .map_err(|e| DatastoreError::Config(format!("invalid SQLite URL: {e}")))?;
        file_mode::create_private(connect.get_filename());
        let connect = connect
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(connect)
            .await?;
        let migrator = migrations::migrator();
        migrator.run(&pool).await?;
        pool.close().await;
        Ok(migrator.iter().map(|m| m.version).max().unwrap_or(0))
    }
}

/// How Sqlite transactions begin, and whether a lost COMMIT is in doubt.
const BEGIN: crate::attempt::Begin = crate::attempt::Begin {
    read_write: "BEGIN IMMEDIATE",
    read_only: "BEGIN DEFERRED",
    commit_can_be_in_doubt: false,
};

#[async_trait::async_trait]
impl Datastore for SqliteDatastore {
    async fn run_tx_erased(
        &self,
        name: &'static str,
        mode: TxMode,
        f: Arc<ErasedTxFn>,
    ) -> Result<Box<dyn Any + Send>, TxError> {
        // On a task of its own: if the caller's future is dropped, the
        // transaction still runs to COMMIT or ROLLBACK and its connection
        // goes back to the pool in a known state.
        let this = self.clone();
        run_detached(async move {
            crate::attempt::run_attempts(name, this.retry, || {
                let run = crate::attempt::Run {
                    pool: &this.pool,
                    begin: &BEGIN,
                    now: this.clock.now(),
                    keys: this.keys.clone(),
                    max_transaction_duration: this.max_transaction_duration,
                    statement_timeout: this.statement_timeout,
                };
                crate::attempt::attempt(run, name, mode, &*f)
            })
            .await
        })
        .await
    }

    fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    async fn close(&self) {
        crate::datastore::close_pool_bounded(self.pool.close()).await;
    }
}

#[cfg(test)]
mod tests;
