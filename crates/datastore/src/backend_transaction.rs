//! [`BackendTransaction`]: one open transaction on either backend, on which
//! `crate::Transaction` is implemented once (see `crate::transaction`), each
//! operation by its table's module (`crate::tables`). Table code reaches the
//! connection through [`BackendTransaction::read`] and
//! [`BackendTransaction::write`], the second holding the write guard of
//! read-only transactions (which PostgreSQL enforces too: they begin `READ
//! ONLY`). Each backend begins it (its `Backend::BEGIN`, see
//! `crate::pooled`).

use crate::backend::Backend;
use crate::{DatastoreError, DatastoreKeys};
use dyad_messages::draft09::Time;
use std::sync::Arc;

type Result<T> = std::result::Result<T, DatastoreError>;

/// Whether a transaction may write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TxMode {
    /// Reads and writes. SQLite takes the write lock at the start
    /// (`BEGIN IMMEDIATE`), so two writers never deadlock upgrading locks.
    ReadWrite,
    /// Reads only; every write fails with [`DatastoreError::ReadOnly`].
    /// Read-only transactions run beside each other and beside a writer.
    ReadOnly,
    /// Reads and writes, for a body that claims rows: every rule it keeps
    /// rests on the rows it locks (`SKIP LOCKED` reads) and the rows it
    /// writes (updates whose count it checks, inserts of fresh keys), none
    /// on rows it only reads. On PostgreSQL it runs at `REPEATABLE READ`
    /// instead of `SERIALIZABLE`: a concurrent write to a row it locks or
    /// writes still aborts it (SQLSTATE 40001, and the body is run again),
    /// but what it merely read takes no part in serialization conflicts,
    /// so the inserts and updates of neighbouring rows by other writers
    /// (uploads, job drivers) never abort it, nor it them. On SQLite,
    /// whose writers run one at a time, it is [`TxMode::ReadWrite`].
    Claim,
}

impl TxMode {
    /// Whether the transaction may write.
    pub fn writes(self) -> bool {
        !matches!(self, TxMode::ReadOnly)
    }
}

/// One open transaction on backend `DB`. Dropped without being committed,
/// it rolls back.
pub(crate) struct BackendTransaction<'c, DB: Backend> {
    inner: sqlx::Transaction<'c, DB>,
    pub(crate) now: Time,
    pub(crate) mode: TxMode,
    keys: Arc<DatastoreKeys>,
}

/// What table code works with: the transaction's connection, its "now" and
/// the keys task secrets are sealed under.
pub(crate) struct Open<'t, DB: Backend> {
    pub(crate) conn: &'t mut DB::Connection,
    pub(crate) now: Time,
    pub(crate) keys: &'t DatastoreKeys,
}

impl<'c, DB: Backend> BackendTransaction<'c, DB> {
    pub(crate) fn new(
        inner: sqlx::Transaction<'c, DB>,
        now: Time,
        mode: TxMode,
        keys: Arc<DatastoreKeys>,
    ) -> Self {
        Self {
            inner,
            now,
            mode,
            keys,
        }
    }

    /// Rolls the transaction back, leaving its connection out of any
    /// transaction.
    pub(crate) async fn rollback(self) -> Result<()> {
        Ok(self.inner.rollback().await?)
    }

    pub(crate) async fn commit(self) -> Result<()> {
        Ok(self.inner.commit().await?)
    }

    /// The transaction, to read.
    pub(crate) fn read(&mut self) -> Open<'_, DB> {
        Open {
            conn: &mut self.inner,
            now: self.now,
            keys: &self.keys,
        }
    }

    /// The transaction, to write: [`DatastoreError::ReadOnly`] naming
    /// `operation` in a read-only transaction.
    pub(crate) fn write(&mut self, operation: &'static str) -> Result<Open<'_, DB>> {
        if self.mode.writes() {
            Ok(self.read())
        } else {
            Err(DatastoreError::ReadOnly { operation })
        }
    }
}
