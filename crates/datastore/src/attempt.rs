//! Running a transaction body on a pooled backend, shared by both backends:
//! one run ([`attempt`]: begin, run the body within its time bound, commit,
//! or roll back an abandoned body) and the reruns of a body whose run failed
//! for a reason that may pass ([`run_attempts`]). Each backend passes what
//! differs: its `BEGIN` statement per mode (isolation, write lock) and
//! whether a connection lost during COMMIT leaves the outcome in doubt
//! ([`Begin`]).

use crate::backend::Backend;
use crate::backend_transaction::BackendTransaction;
use crate::datastore::{abandoned, roll_back_abandoned, ErasedTxFn, RetryPolicy, TxMode};
use crate::{DatastoreError, DatastoreKeys, TxError};
use dyad_messages::draft09::Time;
use sqlx::{Connection as _, Pool};
use std::any::Any;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};
use tracing::{debug, warn};

/// How a backend begins and ends a run.
pub(crate) struct Begin {
    /// The `BEGIN` statement of a read-write transaction.
    pub(crate) read_write: &'static str,
    /// The `BEGIN` statement of a read-only transaction.
    pub(crate) read_only: &'static str,
    /// Whether a connection failure during COMMIT may hide a commit (a
    /// server at the other end of a network): then it is
    /// `CommitInDoubt`, never rerun.
    pub(crate) commit_can_be_in_doubt: bool,
}

/// What one run needs besides the body.
pub(crate) struct Run<'p, DB: Backend> {
    pub(crate) pool: &'p Pool<DB>,
    pub(crate) begin: &'p Begin,
    pub(crate) now: Time,
    pub(crate) keys: Arc<DatastoreKeys>,
    /// How long one run of a body may take.
    pub(crate) max_transaction_duration: StdDuration,
    /// How long the rollback of an abandoned body may take before its
    /// connection is closed instead.
    pub(crate) statement_timeout: StdDuration,
}

/// Runs `f` once in a transaction of its own.
pub(crate) async fn attempt<DB: Backend>(
    run: Run<'_, DB>,
    name: &'static str,
    mode: TxMode,
    f: &ErasedTxFn,
) -> Result<Box<dyn Any + Send>, TxError> {
    let begin = match mode {
        TxMode::ReadWrite => run.begin.read_write,
        TxMode::ReadOnly => run.begin.read_only,
    };
    // The pooled connection is held here, outside the transaction, so that
    // one whose state is in doubt can be closed instead of going back to
    // the pool.
    let mut conn = run.pool.acquire().await.map_err(DatastoreError::from)?;
    let inner = conn.begin_with(begin).await.map_err(DatastoreError::from)?;
    let mut tx = BackendTransaction::<DB>::new(inner, run.now, mode, run.keys);
    let started = Instant::now();
    // On error the sqlx transaction rolls back when dropped (also if the
    // body panics); a connection that failed is discarded.
    let outcome = tokio::time::timeout(run.max_transaction_duration, f(&mut tx)).await;
    let value = match outcome {
        Ok(result) => result?,
        Err(_) => {
            // The body is dropped at the await it hung on; its transaction
            // (and the locks it holds: SQLite's write lock, PostgreSQL's row
            // locks) ends here.
            let rolled_back = roll_back_abandoned(tx.rollback(), run.statement_timeout).await;
            if !rolled_back {
                conn.close_on_drop();
            }
            return Err(abandoned(
                name,
                run.max_transaction_duration,
                started.elapsed(),
                rolled_back,
            ));
        }
    };
    let commit_can_be_in_doubt = run.begin.commit_can_be_in_doubt;
    tx.commit().await.map_err(|error| match error {
        // The COMMIT may or may not have reached the server.
        DatastoreError::Database(source)
            if commit_can_be_in_doubt && DatastoreError::is_connection_failure_of(&source) =>
        {
            DatastoreError::CommitInDoubt { name, source }
        }
        other => other,
    })?;
    Ok(value)
}

/// Runs `attempt` until it commits, fails for good or runs out of retries
/// (with the retry policy's backoff between runs).
pub(crate) async fn run_attempts<F, Fut>(
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
                debug!(tx = name, attempt = attempt_number, ?delay, %error, "retrying transaction");
                tokio::time::sleep(delay).await;
                attempt_number += 1;
            }
            Err(error) => return Err(error),
        }
    }
}
