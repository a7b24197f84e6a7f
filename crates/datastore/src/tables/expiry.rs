//! What the garbage collector's deletes share (see each table's
//! `delete_expired_*` operation): one statement per table, deleting at most
//! `limit` rows picked by a sub-select, so that a transaction's work stays
//! bounded and two collectors running at once never wait for each other
//! (PostgreSQL skips rows another transaction holds; SQLite's writers take
//! turns). Deleting a row twice is not possible, so replicas running the
//! same delete at once never count a row twice.
//!
//! Every statement binds the same values: `$1` the task ID, `$2` the cutoff
//! time (rows whose time is before it are expired), `$3` the limit and, for
//! the statements that need one, `$4` a state code to compare with (the
//! in-progress state of an aggregation job, the start state of a collection
//! job).

use crate::backend::{sql, Backend};
use crate::backend_transaction::{BackendTransaction as Tx, Open};
use crate::columns::{self, Result};
use dyad_messages::draft09::{TaskId, Time};

/// Runs `statement` (see the module documentation for its binds) in a
/// read-write transaction, as operation `op`; how many rows it deleted.
pub(crate) async fn delete_expired<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    op: &'static str,
    statement: &str,
    task_id: &TaskId,
    before: Time,
    limit: u64,
    state: Option<i64>,
) -> Result<u64> {
    let Open { conn, .. } = tx.write(op)?;
    let mut query = sql::<DB>(statement)
        .bind(task_id.as_bytes().as_slice())
        .bind(columns::time(before, "before")?)
        .bind(columns::int(limit, "limit")?);
    if let Some(state) = state {
        query = query.bind(columns::code(state, "state")?);
    }
    Ok(query.execute(&mut *conn).await?)
}

/// Deletes up to `limit` rows of `table` (primary key `keys`, with a
/// `client_time` column) of the task whose time is before `before`,
/// skipping rows other transactions hold; how many it deleted.
pub(crate) async fn delete_rows_before<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    op: &'static str,
    table: &str,
    keys: &str,
    task_id: &TaskId,
    before: Time,
    limit: u64,
) -> Result<u64> {
    let statement = format!(
        "DELETE FROM {table} WHERE ({keys}) IN (
             SELECT {keys} FROM {table}
             WHERE task_id = $1 AND client_time < $2 LIMIT $3{})",
        DB::SKIP_ROWS_LOCKED_FOR_DELETE
    );
    delete_expired(tx, op, &statement, task_id, before, limit, None).await
}
