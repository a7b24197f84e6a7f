//! Errors of the datastore: [`DatastoreError`] for everything an operation
//! can fail with, and [`TxError`], what a transaction body returns: either a
//! datastore error or the caller's own reason to abort (and roll back).
//!
//! Display and Debug never include stored values (shares, keys, tokens):
//! only table and column names, identifiers and the database's own message.

use std::error::Error as StdError;

/// A boxed error of the caller's, carried through a transaction.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Anything a datastore operation can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DatastoreError {
    /// The database driver failed (connection, I/O, SQL error, constraint).
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// The database stayed busy (locked, or a serialization failure) through
    /// every retry of the transaction.
    #[error("transaction {name} gave up after {attempts} attempts: database busy")]
    RetriesExhausted { name: &'static str, attempts: u32 },
    /// Running the schema migrations failed.
    #[error("migration failed: {0}")]
    Migration(#[source] sqlx::migrate::MigrateError),
    /// The datastore URL or options are invalid.
    #[error("invalid datastore configuration: {0}")]
    Config(String),
    /// The job's lease expired or was taken by someone else: the write was
    /// not done (and the transaction must not be committed).
    #[error("lease lost on {what}")]
    LeaseLost { what: String },
    /// A row with the same key already exists and differs from the one
    /// written.
    #[error("already exists: {what}")]
    AlreadyExists { what: String },
    /// The row an update or delete names does not exist.
    #[error("not found: {what}")]
    NotFound { what: String },
    /// The caller passed a value the datastore cannot store (for example a
    /// time beyond `i64::MAX` seconds).
    #[error("invalid value for {what}: {reason}")]
    InvalidValue { what: &'static str, reason: String },
    /// A write was attempted in a read-only transaction.
    #[error("write in a read-only transaction: {operation}")]
    ReadOnly { operation: &'static str },
    /// A bug in the datastore itself.
    #[error("internal datastore error: {0}")]
    Internal(&'static str),
    /// A stored row could not be read back into its model.
    #[error("corrupt row in {table}.{column}: {reason}")]
    Corrupt {
        table: &'static str,
        column: &'static str,
        reason: String,
    },
}

impl DatastoreError {
    /// Whether the failure is transient contention (SQLite busy or locked,
    /// PostgreSQL serialization failure or deadlock), after which the whole
    /// transaction may be retried.
    pub fn is_retryable(&self) -> bool {
        match self {
            DatastoreError::Database(error) => is_retryable_sqlx(error),
            _ => false,
        }
    }

    pub(crate) fn corrupt(
        table: &'static str,
        column: &'static str,
        reason: impl ToString,
    ) -> Self {
        DatastoreError::Corrupt {
            table,
            column,
            reason: reason.to_string(),
        }
    }

    pub(crate) fn invalid(what: &'static str, reason: impl ToString) -> Self {
        DatastoreError::InvalidValue {
            what,
            reason: reason.to_string(),
        }
    }
}

impl From<sqlx::Error> for DatastoreError {
    fn from(error: sqlx::Error) -> Self {
        DatastoreError::Database(error)
    }
}

impl From<sqlx::migrate::MigrateError> for DatastoreError {
    fn from(error: sqlx::migrate::MigrateError) -> Self {
        DatastoreError::Migration(error)
    }
}

/// Whether a driver error is contention worth retrying the transaction for.
fn is_retryable_sqlx(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => match db.code() {
            // SQLite primary result codes (the low byte of the extended code):
            // 5 SQLITE_BUSY, 6 SQLITE_LOCKED.
            Some(code) => match code.parse::<i64>() {
                Ok(numeric) => matches!(numeric & 0xff, 5 | 6),
                // PostgreSQL SQLSTATEs: serialization_failure, deadlock_detected.
                Err(_) => matches!(code.as_ref(), "40001" | "40P01"),
            },
            None => false,
        },
        sqlx::Error::PoolTimedOut => true,
        _ => false,
    }
}

/// What a transaction body fails with: a datastore error, or the caller's
/// own reason to give up. Either way the transaction is rolled back; only a
/// retryable datastore error makes [`crate::DatastoreExt::run_tx`] try again.
#[derive(Debug, thiserror::Error)]
pub enum TxError {
    #[error(transparent)]
    Datastore(#[from] DatastoreError),
    /// The caller aborted the transaction with its own error.
    #[error("transaction aborted: {0}")]
    Aborted(#[source] BoxError),
}

impl TxError {
    /// Aborts the transaction with the caller's own error.
    pub fn abort(error: impl Into<BoxError>) -> Self {
        TxError::Aborted(error.into())
    }

    /// The datastore error, if this is one.
    pub fn as_datastore(&self) -> Option<&DatastoreError> {
        match self {
            TxError::Datastore(error) => Some(error),
            TxError::Aborted(_) => None,
        }
    }

    /// The caller's abort error downcast to `E`, if it is one; otherwise `self`.
    pub fn downcast_aborted<E: StdError + 'static>(self) -> Result<E, TxError> {
        match self {
            TxError::Aborted(boxed) => match boxed.downcast::<E>() {
                Ok(error) => Ok(*error),
                Err(other) => Err(TxError::Aborted(other)),
            },
            other => Err(other),
        }
    }

    /// Whether this is a lost lease ([`DatastoreError::LeaseLost`]).
    pub fn is_lease_lost(&self) -> bool {
        matches!(self, TxError::Datastore(DatastoreError::LeaseLost { .. }))
    }

    pub(crate) fn is_retryable(&self) -> bool {
        self.as_datastore()
            .is_some_and(DatastoreError::is_retryable)
    }
}
