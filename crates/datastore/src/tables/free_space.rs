//! Giving the space of deleted rows back to the file system, after the
//! garbage collector's deletes. SQLite keeps a deleted row's pages in the
//! file (on its free list, reused by later writes) unless the file is in
//! `auto_vacuum = INCREMENTAL` mode (set when the file is created, and once
//! when an older file is migrated: `crate::sqlite`) and `PRAGMA incremental_vacuum(N)` moves up
//! to `N` free pages to the end of the file and truncates them. PostgreSQL
//! needs nothing here: its autovacuum makes dead rows' space reusable.

use crate::backend::{sql, Backend};
use crate::backend_transaction::{BackendTransaction as Tx, Open};
use crate::columns::{self, Result};

/// Gives back up to `max_pages` free pages of the database file; how many
/// it gave back (0 on a backend that has no such thing).
pub(crate) async fn reclaim_free_space<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    max_pages: u64,
) -> Result<u64> {
    let Open { conn, .. } = tx.write("reclaim_free_space")?;
    if !DB::INCREMENTAL_VACUUM {
        return Ok(0);
    }
    let before = free_pages::<DB>(conn).await?;
    // A pragma takes no bound parameters: the count is a formatted integer.
    let pages = columns::int(max_pages, "max_pages")?;
    sql::<DB>(&format!("PRAGMA incremental_vacuum({pages})"))
        .execute(&mut *conn)
        .await?;
    let after = free_pages::<DB>(conn).await?;
    Ok(before.saturating_sub(after))
}

/// The number of pages on the file's free list.
async fn free_pages<DB: Backend>(conn: &mut DB::Connection) -> Result<u64> {
    let row = sql::<DB>("SELECT freelist_count AS count FROM pragma_freelist_count()")
        .fetch_one(&mut *conn)
        .await?;
    columns::count_of(&row, "pragma_freelist_count")
}
