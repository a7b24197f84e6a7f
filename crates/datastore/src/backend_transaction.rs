//! [`BackendTransaction`]: one open transaction on either backend, on which
//! `crate::Transaction` is implemented once (see `crate::transaction`), each
//! operation by its table's module (`crate::tables`). Table code reaches the
//! connection through [`BackendTransaction::read`] and
//! [`BackendTransaction::write`], the second holding the write guard of
//! read-only transactions (which PostgreSQL enforces too: they begin `READ
//! ONLY`). Each backend begins it (its `Backend::BEGIN`, see
//! `crate::pooled`).

use crate::backend::{sql, Backend};
use crate::{DatastoreError, DatastoreKeys};
use dyad_messages::draft09::Time;
use sqlx::pool::PoolConnection;
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

/// One open transaction on backend `DB`, begun and ended by plain
/// statements on its pooled connection. Dropped while still open (a body
/// that panicked), it marks the connection to be closed rather than
/// returned to the pool: closing a connection rolls its transaction back.
///
/// Why not sqlx's `Transaction`: sqlx-sqlite answers its BEGIN and COMMIT
/// through a rendezvous, the connection's thread blocking until the async
/// side has taken the answer, which is one more thread wake-up each, on
/// every transaction of the SQLite writer all uploads wait for.
pub(crate) struct BackendTransaction<'c, DB: Backend> {
    conn: &'c mut PoolConnection<DB>,
    /// Whether the transaction has begun and not yet ended.
    open: bool,
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
    /// Begins a transaction on `conn` with the statement `begin`.
    pub(crate) async fn begin(
        conn: &'c mut PoolConnection<DB>,
        begin: &'static str,
        now: Time,
        mode: TxMode,
        keys: Arc<DatastoreKeys>,
    ) -> Result<Self> {
        sql::<DB>(begin).execute(&mut **conn).await?;
        Ok(Self {
            conn,
            open: true,
            now,
            mode,
            keys,
        })
    }

    /// Rolls the transaction back, leaving its connection out of any
    /// transaction.
    pub(crate) async fn rollback(mut self) -> Result<()> {
        self.end("ROLLBACK").await
    }

    /// Commits the transaction. If the COMMIT fails, the transaction may
    /// still be open (SQLite leaves it open when the commit is busy): the
    /// caller rolls it back, or the connection is closed when this is
    /// dropped.
    pub(crate) async fn commit(&mut self) -> Result<()> {
        self.end("COMMIT").await
    }

    async fn end(&mut self, statement: &'static str) -> Result<()> {
        sql::<DB>(statement).execute(&mut **self.conn).await?;
        self.open = false;
        Ok(())
    }

    /// The transaction, to read.
    pub(crate) fn read(&mut self) -> Open<'_, DB> {
        Open {
            conn: &mut **self.conn,
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

impl<DB: Backend> Drop for BackendTransaction<'_, DB> {
    fn drop(&mut self) {
        if self.open {
            self.conn.close_on_drop();
        }
    }
}
