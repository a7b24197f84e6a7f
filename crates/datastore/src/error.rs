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
    /// Its message is the driver's (for an error the server returned, the
    /// server's own message), stated here once: it is not also given as
    /// the error's source.
    #[error("database error: {}", driver_message(.0))]
    Database(sqlx::Error),
    /// The database stayed busy (locked, or a serialization failure) through
    /// every retry of the transaction.
    /// `last_error` says why the last attempt failed (contention, or a
    /// connection that could not be had), not only that it did.
    #[error("transaction {name} gave up after {attempts} attempts: {last_error}")]
    RetriesExhausted {
        name: &'static str,
        attempts: u32,
        last_error: String,
    },
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
    /// A sealed secret opened with none of the configured datastore keys:
    /// the keys are wrong (or incomplete after a rotation), or the value was
    /// moved or altered.
    #[error(
        "cannot decrypt {table}.{column} of {row} with any of the {keys} configured datastore \
         keys (wrong DYAD_DATASTORE_KEYS / datastore_keys, or the key that sealed it was removed)"
    )]
    Decrypt {
        table: &'static str,
        column: &'static str,
        /// Which row, e.g. `task <ID>` (its key, never its contents).
        row: String,
        keys: usize,
    },
    /// The connection failed while the transaction was committing: it may or
    /// may not have been committed, so it is not retried (running the body
    /// again could apply it twice).
    #[error("transaction {name}: connection lost while committing, outcome unknown: {source}")]
    CommitInDoubt {
        name: &'static str,
        #[source]
        source: sqlx::Error,
    },
    /// The transaction body ran longer than the datastore's maximum
    /// transaction duration (`DatastoreOptions::max_transaction_duration`):
    /// it was abandoned and its transaction rolled back (or its connection
    /// closed), so none of its writes were committed. Not retried.
    #[error(
        "transaction {name} abandoned after {elapsed:.1?}: its body ran longer than the maximum \
         transaction duration ({limit:?}); nothing of it was committed"
    )]
    TransactionTimedOut {
        name: &'static str,
        limit: std::time::Duration,
        elapsed: std::time::Duration,
    },
    /// A stored row could not be read back into its model.
    #[error("corrupt row in {table}.{column}: {reason}")]
    Corrupt {
        table: &'static str,
        column: &'static str,
        reason: String,
    },
}

/// The usual mistakes in setting up a datastore, which the caller can
/// turn into advice (see [`DatastoreError::setup_problem`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetupProblem {
    /// The PostgreSQL server has no database of that name.
    MissingDatabase,
    /// No connection could be made: the server is down, unreachable, or
    /// not listening where the URL says.
    Unreachable,
    /// SQLite could not open or create its file (missing folder, no
    /// permission).
    CannotOpenFile,
    /// The PostgreSQL server refused the user: a wrong password, an
    /// unknown role, or no `pg_hba.conf` entry letting it in from here.
    AuthenticationFailed,
}

/// A driver error's message: the server's own for an error it returned,
/// without the driver's "error returned from database" preamble.
fn driver_message(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Database(db) => db.message().to_owned(),
        other => other.to_string(),
    }
}

impl DatastoreError {
    /// A decryption error with its row named for people (`task <ID>`,
    /// `global HPKE key <ID>`) rather than by its row key; any other error
    /// unchanged.
    pub(crate) fn naming_row(self, row: impl FnOnce() -> String) -> Self {
        match self {
            DatastoreError::Decrypt {
                table,
                column,
                keys,
                ..
            } => DatastoreError::Decrypt {
                table,
                column,
                row: row(),
                keys,
            },
            other => other,
        }
    }

    /// Which usual setup mistake this is, if any: for advice when opening a
    /// datastore fails.
    pub fn setup_problem(&self) -> Option<SetupProblem> {
        let DatastoreError::Database(error) = self else {
            return None;
        };
        match error {
            sqlx::Error::Database(db) => {
                if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                    match pg.code() {
                        "3D000" => Some(SetupProblem::MissingDatabase), // invalid_catalog_name
                        // invalid_password, invalid_authorization_specification
                        "28P01" | "28000" => Some(SetupProblem::AuthenticationFailed),
                        _ => None,
                    }
                } else if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                    // SQLITE_CANTOPEN, in the low byte of the extended code.
                    db.code()
                        .and_then(|code| code.parse::<i64>().ok())
                        .is_some_and(|code| code & 0xff == 14)
                        .then_some(SetupProblem::CannotOpenFile)
                } else {
                    None
                }
            }
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) => Some(SetupProblem::Unreachable),
            _ => None,
        }
    }

    /// Whether the failure is transient, after which the whole transaction
    /// (rolled back) may be run again: contention (SQLite busy or locked,
    /// PostgreSQL serialization failure or deadlock), a statement timeout, or
    /// a connection that failed or could not be had (see
    /// [`Self::is_connection_failure`]). Backends never retry a connection
    /// failure while committing ([`DatastoreError::CommitInDoubt`]).
    pub fn is_retryable(&self) -> bool {
        match self {
            DatastoreError::Database(error) => is_retryable_sqlx(error),
            _ => false,
        }
    }

    /// Whether the database was busy or out of reach rather than the
    /// request wrong: contention or a connection that failed through every
    /// retry, a transaction body that ran past the maximum duration, a
    /// connection lost while committing. Nothing about the request itself
    /// is known to be at fault, so a caller may ask again later (every
    /// write of ours is idempotent, so asking again is safe even after a
    /// commit whose outcome is unknown).
    pub fn is_unavailable(&self) -> bool {
        match self {
            DatastoreError::Database(error) => {
                is_retryable_sqlx(error) || is_connection_failure_sqlx(error)
            }
            DatastoreError::RetriesExhausted { .. }
            | DatastoreError::TransactionTimedOut { .. }
            | DatastoreError::CommitInDoubt { .. } => true,
            _ => false,
        }
    }

    /// Whether the connection to the database failed (I/O error, closed
    /// connection, server shutting down): during a commit, whether the
    /// transaction was committed is then unknown.
    pub fn is_connection_failure(&self) -> bool {
        match self {
            DatastoreError::Database(error) => is_connection_failure_sqlx(error),
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

/// Whether a driver error is worth retrying the transaction for.
fn is_retryable_sqlx(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => {
            if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                is_retryable_sqlstate(pg.code())
            } else if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // SQLite primary result codes (the low byte of the extended
                // code): 5 SQLITE_BUSY, 6 SQLITE_LOCKED.
                db.code()
                    .and_then(|code| code.parse::<i64>().ok())
                    .is_some_and(|code| matches!(code & 0xff, 5 | 6))
            } else {
                false
            }
        }
        // No connection could be had in time: nothing was run.
        sqlx::Error::PoolTimedOut => true,
        other => is_connection_failure_sqlx(other),
    }
}

/// PostgreSQL SQLSTATEs after which rerunning the whole transaction is safe
/// (the server rolled it back) and may succeed.
fn is_retryable_sqlstate(code: &str) -> bool {
    matches!(
        code,
        // serialization_failure, deadlock_detected
        "40001" | "40P01"
        // query_canceled (statement_timeout), lock_not_available (lock_timeout)
        | "57014" | "55P03"
    ) || is_connection_sqlstate(code)
}

/// PostgreSQL SQLSTATEs saying the connection is gone: class 08
/// (connection exception), and the server shutting down or starting up
/// (admin_shutdown, crash_shutdown, cannot_connect_now).
fn is_connection_sqlstate(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03")
}

/// Whether a driver error means the connection failed.
pub(crate) fn is_connection_failure_sqlx(error: &sqlx::Error) -> bool {
    match error {
        // A broken or closed socket (the server went away mid-transaction).
        sqlx::Error::Io(_) => true,
        sqlx::Error::Database(db) => db
            .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
            .is_some_and(|pg| is_connection_sqlstate(pg.code())),
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
