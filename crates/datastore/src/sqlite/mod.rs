//! The SQLite backend, the embedded default: one database file per
//! aggregator, opened from a `sqlite://PATH` URL (created if missing).
//!
//! Connections run in WAL mode with `synchronous=NORMAL` (durable across
//! process crashes; a power loss may drop the last commits but never
//! corrupts), a busy timeout, and foreign keys on; files are in incremental
//! auto-vacuum mode, so that space freed by the garbage collector can be
//! given back (`crate::tables::free_space`, `auto_vacuum.rs`). Read-write transactions
//! start with `BEGIN IMMEDIATE`, taking the database's single write lock up
//! front: two writers never deadlock trying to upgrade a read lock, and a
//! busy database makes the transaction wait (then retry) at its start, not
//! fail in its middle. Read-only transactions (`BEGIN DEFERRED`) run beside
//! the writer thanks to WAL. Writers, which take turns in the process for
//! that one lock, all run on a connection of their own (a second pool, of
//! one), whose page cache stays valid across its own commits; readers
//! take the `datastore_pool` connections, with a small cache. A statement's undo
//! journal stays in memory, and the log is copied into the file every
//! 4000 pages rather than SQLite's 1000 (`WAL_AUTOCHECKPOINT_PAGES`).
//!
//! The tables' SQL is shared with PostgreSQL (`crate::tables`); what is
//! SQLite's own lives here: connection setup and transactions (this file),
//! its side of `crate::backend::Backend` (`row.rs`), how it leases jobs
//! (`leases.rs`), its migrations (schema in `migrations/sqlite/`) and its
//! file's incremental auto-vacuum mode (`auto_vacuum.rs`).

mod auto_vacuum;
mod file_mode;
mod leases;
mod row;

use crate::pooled::PooledDatastore;
use crate::schema::{self, Migrated};
use crate::{DatastoreError, DatastoreOptions};
use dyad_core::clock::Clock;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;
use std::sync::Arc;
use tracing::debug;

/// The page cache of each reading connection (`PRAGMA cache_size`;
/// negative: KiB). SQLite drops a connection's cache whenever another
/// connection has committed since its last transaction, so while writers
/// work a reader's cache is mostly empty, and a large one only held memory
/// that grew with the database (the writers' connection keeps SQLite's
/// default, 2 MiB, and its cache stays valid across its own commits).
const READER_CACHE_SIZE: &str = "-256";

/// How many pages the write-ahead log holds before a commit copies them
/// into the database file (`PRAGMA wal_autocheckpoint`; SQLite's default
/// is 1000, 4 MiB). A page written by many commits in between is copied
/// once: the index pages that reports land on at random are written again
/// and again, and with SQLite's default a writer spent a fifth of its time
/// copying them. The log grows to about 16 MiB on disk before it is reused.
const WAL_AUTOCHECKPOINT_PAGES: &str = "4000";

/// How many rows of one statement a connection's thread may hand over
/// before the task reading them has taken any (sqlx's default is 50).
/// Beyond it the thread stops and waits to be woken, twice a context
/// switch; a job's reports (256 by default) came back in several such
/// stops. The rows are those the caller reads anyway.
const ROW_BUFFER: usize = 512;

/// A datastore in one SQLite file.
pub type SqliteDatastore = PooledDatastore<sqlx::Sqlite>;

impl PooledDatastore<sqlx::Sqlite> {
    /// Opens (creating if missing) the database at `url` (`sqlite://PATH`)
    /// with the given options; brings its schema up to date if
    /// `options.apply_migrations`, else checks that it is.
    pub async fn open(
        url: &str,
        clock: Arc<dyn Clock>,
        options: &DatastoreOptions,
    ) -> Result<Self, DatastoreError> {
        options.validate()?;
        let connect = connect_options(url)?;
        let target = connect.get_filename().display().to_string();
        let connect = connect
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(options.statement_timeout)
            .foreign_keys(true)
            // A statement's undo journal (kept while a statement of many
            // rows runs inside a transaction, in case it fails half-way)
            // stays in memory: in a temporary file it took a write system
            // call per page.
            .pragma("temp_store", "memory")
            .pragma("wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)
            .row_buffer_size(ROW_BUFFER);
        if options.apply_migrations {
            auto_vacuum::make_incremental(&connect).await?;
        }
        // No ping of a connection as it leaves the pool (sqlx's default): a
        // connection to a file does not go stale between transactions, and
        // each ping was a round trip to the connection's thread (two
        // context switches) per transaction. sqlx still pings one as it
        // comes back, which waits for the rollback a dropped transaction
        // queued.
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .test_before_acquire(false)
            .connect_with(connect.clone().pragma("cache_size", READER_CACHE_SIZE))
            .await?;
        let migrator = sqlx::migrate!("./migrations/sqlite");
        if options.apply_migrations {
            migrator.run(&pool).await?;
        } else {
            crate::schema::check_database(&pool, &migrator).await?;
        }
        // Writers queue in the process for the file's one write lock
        // anyway; running them all on one connection keeps its page cache:
        // SQLite drops a connection's cache whenever another connection has
        // committed since its last transaction, which with writers spread
        // over the pool was at nearly every transaction (every page read
        // again from the OS, and allocated and freed again).
        let writer_pool = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(options.acquire_timeout)
            .test_before_acquire(false)
            .connect_with(connect)
            .await?;
        debug!(
            max_connections = options.max_connections,
            "opened SQLite datastore"
        );
        Ok(Self::new(pool, clock, options, target).with_writer_pool(writer_pool))
    }

    /// Applies pending migrations to the database at `url` (creating it if
    /// missing); returns the schema versions it was and is at.
    pub async fn migrate(url: &str) -> Result<Migrated, DatastoreError> {
        let connect = connect_options(url)?;
        auto_vacuum::make_incremental(&connect).await?;
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(connect)
            .await?;
        let before = schema::applied_versions(&pool).await?;
        let migrator = sqlx::migrate!("./migrations/sqlite");
        migrator.run(&pool).await?;
        let after = schema::applied_versions(&pool).await?;
        pool.close().await;
        Ok(Migrated::between(&before, &after))
    }
}

/// The options of the file at `url` (`sqlite://PATH`), created if missing
/// (readable by its owner only), in WAL mode and, for a new file, in
/// incremental auto-vacuum mode (set before any table exists, so that the
/// garbage collector's `PRAGMA incremental_vacuum` gives deleted rows' pages
/// back; an older file is switched when migrated: `auto_vacuum.rs`).
fn connect_options(url: &str) -> Result<SqliteConnectOptions, DatastoreError> {
    if !url.starts_with("sqlite:") {
        return Err(DatastoreError::Config(format!(
            "not a SQLite URL (expected sqlite://PATH): {url}"
        )));
    }
    let connect = SqliteConnectOptions::from_str(url)
        .map_err(|e| DatastoreError::Config(format!("invalid SQLite URL: {e}")))?;
    file_mode::create_private(connect.get_filename());
    Ok(connect
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal))
}

#[cfg(test)]
mod tests;
