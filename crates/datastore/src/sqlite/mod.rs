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
use sqlx::Connection as _;
use std::any::Any;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};
use tracing::{debug, warn};

use crate::backend_transaction::BackendTransaction;

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

    async fn attempt(
        &self,
        name: &'static str,
        mode: TxMode,
        f: &ErasedTxFn,
    ) -> Result<Box<dyn Any + Send>, TxError> {
        let begin = match mode {
            TxMode::ReadWrite => "BEGIN IMMEDIATE",
            TxMode::ReadOnly => "BEGIN DEFERRED",
        };
        // The pooled connection is held here, outside the transaction, so
        // that one whose state is in doubt can be closed instead of going
        // back to the pool.
        let mut conn = self.pool.acquire().await.map_err(DatastoreError::from)?;
        let inner = conn.begin_with(begin).await.map_err(DatastoreError::from)?;
        let mut tx = BackendTransaction::<sqlx::Sqlite>::new(
            inner,
            self.clock.now(),
            mode,
            self.keys.clone(),
        );
        let started = Instant::now();
        // On error the sqlx transaction rolls back when dropped (also if the
        // body panics).
        let outcome = tokio::time::timeout(self.max_transaction_duration, f(&mut tx)).await;
        let value = match outcome {
            Ok(result) => result?,
            Err(_) => {
                // The body is dropped at the await it hung on. Until its
                // transaction ends, the connection holds the write lock.
                let rolled_back =
                    crate::datastore::roll_back_abandoned(tx.rollback(), self.statement_timeout)
                        .await;
                if !rolled_back {
                    conn.close_on_drop();
                }
                return Err(crate::datastore::abandoned(
                    name,
                    self.max_transaction_duration,
                    started.elapsed(),
                    rolled_back,
                ));
            }
        };
        tx.commit().await?;
        Ok(value)
    }
}

impl SqliteDatastore {
    /// Runs `f` until it commits, fails for good or runs out of retries.
    async fn run_attempts(
        &self,
        name: &'static str,
        mode: TxMode,
        f: &ErasedTxFn,
    ) -> Result<Box<dyn Any + Send>, TxError> {
        let mut attempt = 1;
        loop {
            match self.attempt(name, mode, f).await {
                Ok(value) => return Ok(value),
                Err(error) if error.is_retryable() => {
                    if attempt >= self.retry.max_attempts {
                        warn!(tx = name, attempt, "giving up on busy transaction");
                        return Err(DatastoreError::RetriesExhausted {
                            name,
                            attempts: attempt,
                            last_error: error.to_string(),
                        }
                        .into());
                    }
                    let delay = self.retry.backoff(attempt);
                    debug!(tx = name, attempt, ?delay, %error, "retrying busy transaction");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }
}

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
        run_detached(async move { this.run_attempts(name, mode, &*f).await }).await
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
