//! The [`Datastore`] trait: a handle on one aggregator's database, shared
//! as `Arc<dyn Datastore>`, that runs transactions.
//!
//! All work is done in a transaction body, a closure given a
//! `&mut dyn Transaction` (see [`crate::Transaction`] for the operations):
//!
//! ```
//! use dyad_core::task::Task;
//! use dyad_datastore::{Datastore, DatastoreExt, TxError};
//! use dyad_messages::draft09::TaskId;
//!
//! async fn load(datastore: &dyn Datastore, task_id: TaskId) -> Result<Option<Task>, TxError> {
//!     datastore
//!         .run_read_tx("load_task", move |tx| {
//!             Box::pin(async move { Ok(tx.get_task(&task_id).await?) })
//!         })
//!         .await
//! }
//! ```
//!
//! The body's writes are committed together when it returns `Ok`, and rolled
//! back when it returns `Err` (or panics, or runs longer than
//! `DatastoreOptions::max_transaction_duration`, when it is abandoned). A transaction runs on a task of
//! its own, to commit or rollback, even when the caller's future is dropped
//! (a client that hangs up, a timeout): a dropped request can never leave a
//! pooled connection half-way through `BEGIN` or a statement, so the pool
//! stays healthy; the caller just never sees the result. Bodies are
//! therefore `'static`: they own (clone) what they use. When the
//! database is busy (SQLite's write lock, PostgreSQL serialization failures)
//! the whole body is run again after a backoff, up to [`RetryPolicy`]'s
//! limits, so a body must do nothing but database work (or work that is
//! harmless to repeat) and must clone what it captures into the future it
//! returns.

use crate::backend_transaction::TxMode;
use crate::{DatastoreError, Transaction, TxError};
use dyad_core::clock::Clock;
use futures::future::BoxFuture;
use std::any::Any;
use std::sync::Arc;
use std::time::Duration as StdDuration;

/// A transaction body with its result type erased, as backends receive it:
/// owned, so that a backend can run it on a task of its own.
pub type ErasedTxFn = dyn for<'a> Fn(&'a mut dyn Transaction) -> BoxFuture<'a, Result<Box<dyn Any + Send>, TxError>>
    + Send
    + Sync
    + 'static;

/// How often and how patiently a transaction is retried when the database
/// is busy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Runs of the body at most, the first included.
    pub max_attempts: u32,
    /// Delay before the first retry; doubled for each further one.
    pub initial_backoff: StdDuration,
    /// Longest delay between two runs.
    pub max_backoff: StdDuration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            initial_backoff: StdDuration::from_millis(10),
            max_backoff: StdDuration::from_secs(1),
        }
    }
}

impl RetryPolicy {
    /// The delay before run number `attempt + 1` (`attempt` counts from 1),
    /// with full jitter: uniform in `[delay/2, delay]`.
    pub fn backoff(&self, attempt: u32) -> StdDuration {
        let exponent = attempt.saturating_sub(1).min(20);
        let delay = self
            .initial_backoff
            .saturating_mul(1u32 << exponent)
            .min(self.max_backoff);
        let half = delay / 2;
        let jitter_nanos = rand::random::<u64>() % (half.as_nanos() as u64).max(1);
        half + StdDuration::from_nanos(jitter_nanos)
    }
}

/// A handle on one aggregator's database. Object-safe: callers hold
/// `Arc<dyn Datastore>` and run transactions with [`DatastoreExt`].
#[async_trait::async_trait]
pub trait Datastore: Send + Sync + 'static {
    /// Runs a type-erased transaction body (see [`DatastoreExt::run_tx`],
    /// which callers use instead) to its end, on a task of its own, so that
    /// dropping the returned future never cuts a transaction in half. `name`
    /// names the transaction in logs.
    async fn run_tx_erased(
        &self,
        name: &'static str,
        mode: TxMode,
        f: Arc<ErasedTxFn>,
    ) -> Result<Box<dyn Any + Send>, TxError>;

    /// The clock transactions read "now" from.
    fn clock(&self) -> &dyn Clock;

    /// Whether writers run side by side (PostgreSQL) rather than one at a
    /// time for the whole database (SQLite's one write lock): a caller
    /// may then split work into more, earlier transactions without them
    /// queueing behind each other.
    fn writers_run_in_parallel(&self) -> bool;

    /// Whether the datastore can serve this binary: it answers a query and
    /// its applied schema migrations are exactly the built-in ones (the
    /// readiness probe). The caller bounds the wait; a closed datastore
    /// fails at once.
    async fn check_ready(&self) -> Result<(), DatastoreError>;

    /// Closes the connections; later transactions fail.
    async fn close(&self);
}

/// Typed transactions over any [`Datastore`], `dyn` or not.
pub trait DatastoreExt: Datastore {
    /// Runs `f` in a read-write transaction, committing its writes if it
    /// returns `Ok` and retrying it while the database is busy.
    fn run_tx<'s, T, F>(&'s self, name: &'static str, f: F) -> BoxFuture<'s, Result<T, TxError>>
    where
        T: Send + 'static,
        F: for<'a> Fn(&'a mut dyn Transaction) -> BoxFuture<'a, Result<T, TxError>>
            + Send
            + Sync
            + 'static,
    {
        run_typed(self, name, TxMode::ReadWrite, f)
    }

    /// Runs `f` in a read-only transaction (see [`TxMode::ReadOnly`]).
    fn run_read_tx<'s, T, F>(
        &'s self,
        name: &'static str,
        f: F,
    ) -> BoxFuture<'s, Result<T, TxError>>
    where
        T: Send + 'static,
        F: for<'a> Fn(&'a mut dyn Transaction) -> BoxFuture<'a, Result<T, TxError>>
            + Send
            + Sync
            + 'static,
    {
        run_typed(self, name, TxMode::ReadOnly, f)
    }

    /// Runs `f` in a read-write transaction that claims rows (see
    /// [`TxMode::Claim`] for what its body may rely on), committing its
    /// writes if it returns `Ok` and retrying it while the database is
    /// busy.
    fn run_claim_tx<'s, T, F>(
        &'s self,
        name: &'static str,
        f: F,
    ) -> BoxFuture<'s, Result<T, TxError>>
    where
        T: Send + 'static,
        F: for<'a> Fn(&'a mut dyn Transaction) -> BoxFuture<'a, Result<T, TxError>>
            + Send
            + Sync
            + 'static,
    {
        run_typed(self, name, TxMode::Claim, f)
    }
}

impl<D: Datastore + ?Sized> DatastoreExt for D {}

fn run_typed<'s, D, T, F>(
    datastore: &'s D,
    name: &'static str,
    mode: TxMode,
    f: F,
) -> BoxFuture<'s, Result<T, TxError>>
where
    D: Datastore + ?Sized,
    T: Send + 'static,
    F: for<'a> Fn(&'a mut dyn Transaction) -> BoxFuture<'a, Result<T, TxError>>
        + Send
        + Sync
        + 'static,
{
    Box::pin(async move {
        let erased: Arc<ErasedTxFn> = Arc::new(move |tx| {
            let body = f(tx);
            Box::pin(async move {
                body.await
                    .map(|value| Box::new(value) as Box<dyn Any + Send>)
            })
        });
        let value = datastore.run_tx_erased(name, mode, erased).await?;
        value.downcast::<T>().map(|value| *value).map_err(|_| {
            TxError::Datastore(DatastoreError::Internal(
                "transaction result of unexpected type",
            ))
        })
    })
}

/// Runs a backend's transaction loop on a task of its own and waits for
/// it (see [`Datastore::run_tx_erased`]). A panic in the body is resumed
/// in the caller, as if the body had run inline.
pub(crate) async fn run_detached<F>(work: F) -> Result<Box<dyn Any + Send>, TxError>
where
    F: std::future::Future<Output = Result<Box<dyn Any + Send>, TxError>> + Send + 'static,
{
    match tokio::spawn(work).await {
        Ok(result) => result,
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(_) => Err(TxError::Datastore(DatastoreError::Internal(
            "the transaction's task was cancelled (runtime shutting down)",
        ))),
    }
}

/// Rolls back the transaction of a body cut at the maximum transaction
/// duration, waiting at most `bound` (the statement timeout: what one
/// statement may take). Returns whether the rollback finished; when it did
/// not, the caller must close the connection rather than return it to the
/// pool, since its state is then unknown.
pub(crate) async fn roll_back_abandoned<F>(rollback: F, bound: StdDuration) -> bool
where
    F: std::future::Future<Output = Result<(), DatastoreError>>,
{
    match tokio::time::timeout(bound, rollback).await {
        Ok(Ok(())) => true,
        Ok(Err(error)) => {
            tracing::warn!(%error, "rolling back an abandoned transaction failed");
            false
        }
        Err(_) => false,
    }
}

/// Logs a body abandoned at the maximum transaction duration and makes the
/// caller's error (see [`DatastoreError::TransactionTimedOut`]).
pub(crate) fn abandoned(
    name: &'static str,
    limit: StdDuration,
    elapsed: StdDuration,
    rolled_back: bool,
) -> TxError {
    tracing::error!(
        tx = name,
        elapsed_ms = elapsed.as_millis() as u64,
        limit_ms = limit.as_millis() as u64,
        connection = if rolled_back {
            "rolled back, back in the pool"
        } else {
            "rollback did not finish, connection closed"
        },
        "transaction body ran past the maximum transaction duration; abandoned"
    );
    TxError::Datastore(DatastoreError::TransactionTimedOut {
        name,
        limit,
        elapsed,
    })
}

/// How long closing a datastore waits for connections still in use.
pub(crate) const CLOSE_TIMEOUT: StdDuration = StdDuration::from_secs(5);

/// Waits for a pool to close, at most [`CLOSE_TIMEOUT`]: shutdown must not
/// hang on a connection that a stuck transaction holds.
pub(crate) async fn close_pool_bounded<F: std::future::Future<Output = ()>>(close: F) {
    if tokio::time::timeout(CLOSE_TIMEOUT, close).await.is_err() {
        tracing::warn!(
            timeout_secs = CLOSE_TIMEOUT.as_secs(),
            "datastore connections still busy at close; not waiting for them"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryPolicy {
            max_attempts: 5,
            initial_backoff: StdDuration::from_millis(100),
            max_backoff: StdDuration::from_millis(400),
        };
        let first = policy.backoff(1);
        assert!(first >= StdDuration::from_millis(50) && first <= StdDuration::from_millis(100));
        let third = policy.backoff(3);
        assert!(third >= StdDuration::from_millis(200) && third <= StdDuration::from_millis(400));
        let late = policy.backoff(30);
        assert!(late <= StdDuration::from_millis(400));
    }
}
