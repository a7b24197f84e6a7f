//! PostgreSQL's side of the shared column conversions (`crate::columns`):
//! state codes in `SMALLINT`, steps in `INTEGER`, native `BOOLEAN`s, and the
//! de-duplication of rows written by one `UNNEST` statement.

pub(super) use crate::columns::{
    batch_columns, code, count, encode, int, interval, time, Result, RowReader,
};
use crate::columns::{plain_reads, StoredRow};
use sqlx::postgres::PgRow;
use sqlx::Row as _;

impl StoredRow for PgRow {
    plain_reads!();

    /// A `SMALLINT` code, widened.
    fn code(&self, column: &str) -> sqlx::Result<i64> {
        self.try_get::<i16, _>(column).map(i64::from)
    }

    /// A `SMALLINT` code that may be NULL, widened.
    fn opt_code(&self, column: &str) -> sqlx::Result<Option<i64>> {
        self.try_get::<Option<i16>, _>(column)
            .map(|code| code.map(i64::from))
    }

    /// An `INTEGER`, widened.
    fn small_int(&self, column: &str) -> sqlx::Result<i64> {
        self.try_get::<i32, _>(column).map(i64::from)
    }

    fn bool(&self, column: &str) -> std::result::Result<bool, String> {
        self.try_get(column).map_err(|e| e.to_string())
    }
}

/// Keeps the first copy of every key, in order; `key` names an item.
pub(super) fn first_of_each<T, K: std::hash::Hash + Eq>(
    items: &[T],
    key: impl Fn(&T) -> K,
) -> Vec<&T> {
    let mut seen = std::collections::HashSet::new();
    items.iter().filter(|item| seen.insert(key(item))).collect()
}

/// Keeps the last copy of every key, in the order of the kept copies (what
/// running one write per item in order would leave).
pub(super) fn last_of_each<T, K: std::hash::Hash + Eq>(
    items: &[T],
    key: impl Fn(&T) -> K,
) -> Vec<&T> {
    let mut seen = std::collections::HashSet::new();
    let mut kept: Vec<&T> = items
        .iter()
        .rev()
        .filter(|item| seen.insert(key(item)))
        .collect();
    kept.reverse();
    kept
}

impl crate::backend::Backend for sqlx::Postgres {
    const FALSE: &'static str = "FALSE";

    const LOCK_LEASED_ROW: &'static str = " FOR NO KEY UPDATE";

    fn acquire_leases<'c>(
        conn: &'c mut <sqlx::Postgres as sqlx::Database>::Connection,
        request: crate::tables::leases::LeaseRequest<'c>,
    ) -> futures::future::BoxFuture<
        'c,
        Result<Vec<crate::tables::leases::Acquired<<sqlx::Postgres as sqlx::Database>::Row>>>,
    > {
        Box::pin(super::leases::acquire(conn, request))
    }

    crate::backend::statement_methods!(sqlx::Postgres);
}
