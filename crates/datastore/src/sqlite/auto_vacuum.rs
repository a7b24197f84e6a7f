//! Incremental auto-vacuum, so that the space of rows the garbage collector
//! deletes goes back to the file system (`crate::tables::free_space` runs
//! `PRAGMA incremental_vacuum`). A new file gets the mode from the first
//! connection that opens it ([`make_incremental`]'s), before its first
//! table exists. A file made by an
//! earlier version (mode `NONE`) changes mode only with a `VACUUM`, which
//! rewrites the whole file: [`make_incremental`] runs it once, on a
//! connection of its own before the pool opens, when the datastore is
//! opened to migrate, and logs it.

use crate::DatastoreError;
use sqlx::sqlite::{SqliteAutoVacuum, SqliteConnectOptions, SqliteConnection};
use sqlx::Connection as _;
use std::time::Instant;
use tracing::{info, warn};

/// SQLite's code for `auto_vacuum = INCREMENTAL`.
const INCREMENTAL: i64 = 2;

/// Switches the file of `pool` to incremental auto-vacuum if it is not
/// yet (its connections ask for the mode, which a `VACUUM` then applies).
/// The `VACUUM` holds the write lock and needs free disk space as large as
/// the file while it runs.
///
/// Only this connection asks for the mode (it creates a missing file, so a
/// new file has it from the start); the pools' connections do not, because
/// `PRAGMA auto_vacuum = INCREMENTAL` opens a write transaction (to store
/// the mode): a connection opened while a writer held the lock waited for
/// it in SQLite's busy handler, which sleeps longer between each try (half
/// a second under load, with the transaction that wanted the connection
/// waiting behind it).
pub(super) async fn make_incremental(options: &SqliteConnectOptions) -> Result<(), DatastoreError> {
    let options = options.clone().auto_vacuum(SqliteAutoVacuum::Incremental);
    let mut conn = SqliteConnection::connect_with(&options).await?;
    let mode: i64 = sqlx::query_scalar("PRAGMA auto_vacuum")
        .fetch_one(&mut conn)
        .await?;
    if mode == INCREMENTAL {
        conn.close().await?;
        return Ok(());
    }
    info!(
        auto_vacuum = mode,
        "switching the SQLite file to incremental auto-vacuum (one VACUUM, which rewrites the file)"
    );
    let started = Instant::now();
    // In WAL mode a VACUUM keeps the auto-vacuum mode: leave WAL for it
    // (possible only while no other connection has the file open: this
    // runs before the pool opens, so only another process could), then
    // come back.
    let switched = async {
        for statement in [
            "PRAGMA journal_mode = DELETE",
            "PRAGMA auto_vacuum = INCREMENTAL",
            "VACUUM",
        ] {
            sqlx::query(statement).execute(&mut conn).await?;
        }
        sqlx::query_scalar::<_, i64>("PRAGMA auto_vacuum")
            .fetch_one(&mut conn)
            .await
    }
    .await;
    sqlx::query("PRAGMA journal_mode = WAL")
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    match switched {
        Ok(INCREMENTAL) => info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "the SQLite file is in incremental auto-vacuum mode"
        ),
        Ok(mode) => warn!(
            auto_vacuum = mode,
            "the SQLite file could not be switched to incremental auto-vacuum (another \
             process has it open?): deleted rows' space is reused but the file does not \
             shrink; open it again with no other process using it to retry"
        ),
        Err(error) => warn!(
            %error,
            "the SQLite file could not be switched to incremental auto-vacuum (another \
             process has it open?): deleted rows' space is reused but the file does not \
             shrink; open it again with no other process using it to retry"
        ),
    }
    Ok(())
}
