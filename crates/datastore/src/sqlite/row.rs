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

/// Splits `items` into chunks small enough for one statement with
/// `columns` bound parameters per item (SQLite allows 32766 parameters).
pub(super) fn chunk_len(columns: usize) -> usize {
    (32_000 / columns.max(1)).clamp(1, 500)
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
    const KEEP_BUILT_STATEMENTS: bool = false;

    fn rows_per_statement(columns: usize, wanted: usize) -> usize {
        chunk_len(columns).min(wanted)
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
