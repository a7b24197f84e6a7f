//! [`PooledDatastore`]: the one [`Datastore`] implementation, over a sqlx
//! pool of either backend (`crate::SqliteDatastore` and
//! `crate::PostgresDatastore` are its two instances; each backend module
//! only opens its pool). It runs a transaction body: one run ([`attempt`]:
//! begin, run the body within its time bound, commit, or roll back an
//! abandoned body) and the reruns of a body whose run failed for a reason
//! that may pass ([`run_attempts`]). What differs per backend, its `BEGIN`
//! statements (isolation, write lock) and whether a connection lost during
//! COMMIT leaves the outcome in doubt, is [`Backend::BEGIN`] ([`crate::backend::Begin`]).

use crate::backend::Backend;
use crate::backend_transaction::BackendTransaction;
use crate::backend_transaction::TxMode;
use crate::datastore::{
    abandoned, close_pool_bounded, roll_back_abandoned, run_detached, ErasedTxFn, RetryPolicy,
};
use crate::{Datastore, DatastoreError, DatastoreKeys, DatastoreOptions, TxError};
use dyad_core::clock::Clock;
use sqlx::Pool;
use std::any::Any;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};
use tracing::{debug, warn};

/// A datastore on a pool of backend `DB` connections.
pub struct PooledDatastore<DB: sqlx::Database> {
    pub(crate) pool: Pool<DB>,
    clock: Arc<dyn Clock>,
    retry: RetryPolicy,
    keys: Arc<DatastoreKeys>,
    /// How long one run of a body may take (see
    /// `DatastoreOptions::max_transaction_duration`).
    max_transaction_duration: StdDuration,
    /// How long the rollback of an abandoned body may take before its
    /// connection is closed instead.
    statement_timeout: StdDuration,
    /// What the pool is connected to, for Debug (never a password).
    target: Arc<str>,
    /// For a backend with one write lock (SQLite), the one connection this
    /// process's writers (read-write transactions and claims) all run on:
    /// its pool is their queue, so a writer starts as soon as the one
    /// before it has finished, where the database's busy handler would
    /// make it sleep and poll (SQLite's 1 to 100 ms per try), waiting
    /// writers never hold readers' connections, and the connection's own
    /// commits leave its page cache valid, where any other connection's
    /// commit makes SQLite drop it. `None`: writers run side by side on
    /// connections of `pool`, like readers.
    pub(crate) writer_pool: Option<Pool<DB>>,
}

impl<DB: sqlx::Database> Clone for PooledDatastore<DB> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            clock: self.clock.clone(),
            retry: self.retry,
            keys: self.keys.clone(),
            max_transaction_duration: self.max_transaction_duration,
            statement_timeout: self.statement_timeout,
            target: self.target.clone(),
            writer_pool: self.writer_pool.clone(),
        }
    }
}

impl<DB: sqlx::Database> std::fmt::Debug for PooledDatastore<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Datastore")
            .field("backend", &DB::NAME)
            .field("target", &self.target)
            .field("retry", &self.retry)
            .field("max_transaction_duration", &self.max_transaction_duration)
            .finish_non_exhaustive()
    }
}

impl<DB: sqlx::Database> PooledDatastore<DB> {
    /// The datastore on an open `pool`, configured by `options`.
    pub(crate) fn new(
        pool: Pool<DB>,
        clock: Arc<dyn Clock>,
        options: &DatastoreOptions,
        target: String,
    ) -> Self {
        Self {
            pool,
            clock,
            retry: options.retry,
            keys: Arc::new(options.keys.clone()),
            max_transaction_duration: options.max_transaction_duration,
            statement_timeout: options.statement_timeout,
            target: target.into(),
            writer_pool: None,
        }
    }

    /// Runs read-write transactions and claims one at a time on
    /// `writer_pool` (one connection), read-only ones on the main pool.
    pub(crate) fn with_writer_pool(mut self, writer_pool: Pool<DB>) -> Self {
        self.writer_pool = Some(writer_pool);
        self
    }
}

#[async_trait::async_trait]
impl<DB: Backend> Datastore for PooledDatastore<DB> {
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
            let started = Instant::now();
            let result = run_attempts(name, this.retry, || attempt(&this, name, mode, &*f)).await;
            crate::tx_metrics::record_finished(
                name,
                result.as_ref().map(|_| ()),
                started.elapsed(),
            );
            result
        })
        .await
    }

    async fn check_ready(&self) -> Result<(), DatastoreError> {
        // On a task of its own, like a transaction: a caller that stops
        // waiting (a probe's timeout) never cuts the query in half.
        let pool = self.pool.clone();
        let checked = tokio::spawn(async move {
            // Both backends have the same migration versions (checked by
            // `schema`'s tests), so the SQLite list serves for either.
            let migrator = sqlx::migrate!("./migrations/sqlite");
            crate::schema::check_database(&pool, &migrator).await
        })
        .await;
        checked.unwrap_or(Err(DatastoreError::Internal(
            "the readiness check's task failed",
        )))
    }

    fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    fn writers_run_in_parallel(&self) -> bool {
        self.writer_pool.is_none()
    }

    async fn close(&self) {
        if let Some(writer_pool) = &self.writer_pool {
            close_pool_bounded(writer_pool.close()).await;
        }
        close_pool_bounded(self.pool.close()).await;
    }
}

/// Runs `f` once in a transaction of its own.
async fn attempt<DB: Backend>(
    datastore: &PooledDatastore<DB>,
    name: &'static str,
    mode: TxMode,
    f: &ErasedTxFn,
) -> Result<Box<dyn Any + Send>, TxError> {
    let now = datastore.clock.now();
    let begin = match mode {
        TxMode::ReadWrite => DB::BEGIN.read_write,
        TxMode::ReadOnly => DB::BEGIN.read_only,
        TxMode::Claim => DB::BEGIN.claim,
    };
    // The pooled connection is held here, outside the transaction, so that
    // one whose state is in doubt can be closed instead of going back to
    // the pool. A writer waits for the writers' connection, if there is
    // one, until its turn comes.
    let pool = match (&datastore.writer_pool, mode) {
        (Some(writer_pool), TxMode::ReadWrite | TxMode::Claim) => writer_pool,
        _ => &datastore.pool,
    };
    let mut conn = pool.acquire().await.map_err(DatastoreError::from)?;
    let mut tx =
        BackendTransaction::<DB>::begin(&mut conn, begin, now, mode, datastore.keys.clone())
            .await?;
    let started = Instant::now();
    let outcome = tokio::time::timeout(datastore.max_transaction_duration, f(&mut tx)).await;
    let value = match outcome {
        Ok(Ok(value)) => value,
        Ok(Err(error)) => {
            // The body failed (or asked for a rerun): its writes are undone
            // before the connection goes back to the pool, or the
            // connection is closed (which undoes them too).
            roll_back_abandoned(tx.rollback(), datastore.statement_timeout).await;
            return Err(error);
        }
        Err(_) => {
            // The body is dropped at the await it hung on; its transaction
            // (and the locks it holds: SQLite's write lock, PostgreSQL's row
            // locks) ends here.
            let rolled_back = roll_back_abandoned(tx.rollback(), datastore.statement_timeout).await;
            return Err(abandoned(
                name,
                datastore.max_transaction_duration,
                started.elapsed(),
                rolled_back,
            ));
        }
    };
    let commit_can_be_in_doubt = DB::BEGIN.commit_can_be_in_doubt;
    if let Err(error) = tx.commit().await {
        // A COMMIT that failed may leave the transaction open (SQLite's
        // busy commit): it is rolled back, or its connection closed.
        roll_back_abandoned(tx.rollback(), datastore.statement_timeout).await;
        return Err(match error {
            // The COMMIT may or may not have reached the server.
            DatastoreError::Database(source)
                if commit_can_be_in_doubt && crate::error::is_connection_failure_sqlx(&source) =>
            {
                DatastoreError::CommitInDoubt { name, source }
            }
            other => other,
        }
        .into());
    }
    Ok(value)
}

/// Runs `attempt` until it commits, fails for good or runs out of retries
/// (with the retry policy's backoff between runs).
async fn run_attempts<F, Fut>(
    name: &'static str,
    retry: RetryPolicy,
    mut attempt: F,
) -> Result<Box<dyn Any + Send>, TxError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Box<dyn Any + Send>, TxError>>,
{
    let mut attempt_number = 1;
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(error) if error.is_retryable() => {
                if attempt_number >= retry.max_attempts {
                    warn!(tx = name, attempt = attempt_number, %error, "giving up on transaction");
                    return Err(DatastoreError::RetriesExhausted {
                        name,
                        attempts: attempt_number,
                        last_error: error.to_string(),
                    }
                    .into());
                }
                let delay = retry.backoff(attempt_number);
                crate::tx_metrics::record_retry(name);
                debug!(tx = name, attempt = attempt_number, ?delay, %error, "retrying transaction");
                tokio::time::sleep(delay).await;
                attempt_number += 1;
            }
            Err(error) => return Err(error),
        }
    }
}
