//! SQLite's side of the shared column conversions (`crate::columns`):
//! every integer, code and boolean is an `INTEGER` (booleans 0 or 1); and
//! its side of [`crate::backend::Backend`]: statements chunked to SQLite's
//! bound-parameter limit, rows as `VALUES` lists, no row locks.

use crate::columns::{plain_reads, StoredRow};
use sqlx::sqlite::SqliteRow;
use sqlx::Row as _;

impl StoredRow for SqliteRow {
    plain_reads!();

    fn code(&self, column: &str) -> sqlx::Result<i64> {
        self.try_get(column)
    }

    fn opt_code(&self, column: &str) -> sqlx::Result<Option<i64>> {
        self.try_get(column)
    }

    fn small_int(&self, column: &str) -> sqlx::Result<i64> {
        self.try_get(column)
    }

    fn bool(&self, column: &str) -> std::result::Result<bool, String> {
        match self.try_get::<i64, _>(column).map_err(|e| e.to_string())? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(format!("not a boolean: {other}")),
        }
    }
}

/// The most items of `columns` bound parameters each one statement takes
/// (SQLite allows 32766 parameters).
fn chunk_len(columns: usize) -> usize {
    (32_000 / columns.max(1)).clamp(1, 500)
}

/// `items` in chunks of `most` rounded down to a power of two, then in
/// chunks of the remainder's powers of two, largest first: 100 items at
/// most 256 are 64, 32 and 4.
fn power_of_two_chunks<T>(items: &[T], most: usize) -> Vec<&[T]> {
    let full = 1usize << most.max(1).ilog2();
    let mut chunks = Vec::new();
    let mut rest = items;
    while !rest.is_empty() {
        let take = full.min(1 << rest.len().ilog2());
        let (chunk, tail) = rest.split_at(take);
        chunks.push(chunk);
        rest = tail;
    }
    chunks
}

impl crate::backend::Backend for sqlx::Sqlite {
    /// Read-write transactions take the database's one write lock at
    /// `BEGIN`: two writers never deadlock upgrading a read lock, and a busy
    /// database makes a transaction wait (then retry) at its start, not fail
    /// in its middle. Read-only ones run beside the writer (WAL). A COMMIT
    /// is local: never in doubt. The writers of one process queue for the
    /// write lock in that process, on their one connection
    /// (`PooledDatastore::with_writer_pool`; the busy timeout remains for
    /// other processes on the same file).
    const BEGIN: crate::backend::Begin = crate::backend::Begin {
        read_write: "BEGIN IMMEDIATE",
        read_only: "BEGIN DEFERRED",
        claim: "BEGIN IMMEDIATE",
        commit_can_be_in_doubt: false,
    };

    const FALSE: &'static str = "0";

    const SKIP_ROWS_LOCKED_FOR_UPDATE: &'static str = "";
    const SKIP_ROWS_LOCKED_FOR_DELETE: &'static str = "";
    const INCREMENTAL_VACUUM: bool = true;
    const KEEP_BUILT_STATEMENTS: bool = true;
    const INSERT_RETURNS_IDS: bool = false;

    fn statement_chunks<T>(items: &[T], columns: usize, wanted: usize) -> Vec<&[T]> {
        power_of_two_chunks(items, chunk_len(columns).min(wanted))
    }

    fn push_rows<'a>(builder: &mut sqlx::QueryBuilder<'a, Self>, rows: crate::backend::Rows) {
        let mut columns: Vec<_> = rows.0.into_iter().map(|c| c.into_values()).collect();
        builder.push("VALUES ");
        let mut first_row = true;
        loop {
            let mut values = columns.iter_mut().map(Iterator::next);
            let Some(Some(first)) = values.next() else {
                break;
            };
            builder.push(if first_row { "(" } else { ", (" });
            first_row = false;
            first.push_bind(builder);
            for value in values.flatten() {
                builder.push(", ");
                value.push_bind(builder);
            }
            builder.push(")");
        }
    }

    fn push_task_reports<'a>(
        builder: &mut sqlx::QueryBuilder<'a, Self>,
        _table: &str,
        alias: &str,
        task_id: Vec<u8>,
        report_ids: Vec<Vec<u8>>,
    ) {
        builder.push(format!("{alias}.task_id = "));
        builder.push_bind(task_id);
        builder.push(format!(" AND {alias}.report_id IN ("));
        let mut list = builder.separated(", ");
        for id in report_ids {
            list.push_bind(id);
        }
        builder.push(")");
    }

    const LOCK_LEASED_ROW: &'static str = "";

    const REFERENCED_TASK_LOCK: Option<&'static str> = None;

    fn acquire_leases<'c>(
        conn: &'c mut <sqlx::Sqlite as sqlx::Database>::Connection,
        request: crate::backend::LeaseRequest<'c>,
    ) -> futures::future::BoxFuture<
        'c,
        crate::columns::Result<
            Vec<crate::backend::Acquired<<sqlx::Sqlite as sqlx::Database>::Row>>,
        >,
    > {
        Box::pin(super::leases::acquire(conn, request))
    }

    crate::backend::statement_methods!(sqlx::Sqlite);
}

#[cfg(test)]
mod tests {
    use crate::backend::Backend;

    fn lengths(items: usize, columns: usize, wanted: usize) -> Vec<usize> {
        let items = vec![0u8; items];
        sqlx::Sqlite::statement_chunks(&items, columns, wanted)
            .iter()
            .map(|chunk| chunk.len())
            .collect()
    }

    #[test]
    fn statements_take_power_of_two_row_counts_largest_first_and_cover_every_row_in_order() {
        assert_eq!(lengths(0, 8, 1000), Vec::<usize>::new());
        assert_eq!(lengths(1, 8, 1000), [1]);
        assert_eq!(lengths(100, 8, 1000), [64, 32, 4]);
        // The largest is the bound rounded down to a power of two: 500 -> 256.
        assert_eq!(lengths(600, 8, 1000), [256, 256, 64, 16, 8]);
        assert_eq!(lengths(7, 8, 2), [2, 2, 2, 1]);
        // Many columns: SQLite's parameter limit bounds a statement first.
        assert_eq!(lengths(5000, 13, 5000).iter().max(), Some(&256));
        assert!(lengths(40, 32_000, 1000).iter().all(|&n| n == 1));

        let items: Vec<u32> = (0..300).collect();
        let chunks = sqlx::Sqlite::statement_chunks(&items, 4, 1000);
        assert_eq!(chunks.concat(), items);
    }
}
