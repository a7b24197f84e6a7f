//! One module per table: its SQL, binds and row handling, written once for
//! every backend (generic over [`crate::backend::Backend`]). Each
//! [`crate::Transaction`] operation is the function of the same name in the
//! module of the table it works on (the grouping in `crate::transaction`
//! says which), taking the transaction itself.
//!
//! Where is what: reports ([`client_reports`]), aggregation jobs and their
//! per-report state ([`aggregation_jobs`], [`report_aggregations`]), the
//! per-job aggregate of each batch ([`batch_aggregations`]), collection
//! ([`collection_jobs`], [`collected_batches`], [`outstanding_batches`]),
//! the Helper's answers and anti-replay set ([`aggregate_share_jobs`],
//! [`helper_replay`]), tasks ([`tasks`]), per-task statistics
//! ([`task_counters`]), the HPKE keys shared by tasks
//! ([`global_hpke_keys`]), taskprov's peer aggregators
//! ([`taskprov_peer_aggregators`]) and leases on jobs ([`leases`]).
//! The garbage collector's deletes share [`expiry`]; [`free_space`] gives
//! the space of deleted rows back to the file system (SQLite).

pub(crate) mod aggregate_share_jobs;
pub(crate) mod aggregation_jobs;
pub(crate) mod batch_aggregations;
pub(crate) mod client_reports;
pub(crate) mod collected_batches;
pub(crate) mod collection_jobs;
pub(crate) mod expiry;
pub(crate) mod free_space;
pub(crate) mod global_hpke_keys;
pub(crate) mod helper_replay;
pub(crate) mod leases;
pub(crate) mod outstanding_batches;
pub(crate) mod queue_depths;
pub(crate) mod report_aggregations;
pub(crate) mod task_counters;
pub(crate) mod taskprov_peer_aggregators;
pub(crate) mod tasks;

use crate::backend::{Backend, Sql};
use crate::columns::{Result, RowReader};
use crate::DatastoreError;
use dyad_messages::draft09::ReportId;
use sqlx::QueryBuilder;
use std::collections::HashSet;

/// The `report_id`s that `query` (on `table`) returns.
async fn report_ids_found<DB: Backend>(
    conn: &mut DB::Connection,
    query: &mut QueryBuilder<'_, DB>,
    table: &'static str,
) -> Result<HashSet<ReportId>> {
    let mut found = HashSet::new();
    for row in Sql::built(query).fetch_all(conn).await? {
        found.insert(RowReader::new(&row, table).id::<ReportId>("report_id")?);
    }
    Ok(found)
}

/// Inserts those of `items` (distinct report IDs, one task) whose row is
/// not already in `table`, leaving the others as they are, and returns the
/// inserted ones. `there` builds the `SELECT report_id` of the items
/// already there; `insert` the `INSERT ... ON CONFLICT ... DO NOTHING` of
/// some items, of `columns` values each. Which of the two ways the backend
/// takes is [`Backend::INSERT_RETURNS_IDS`].
///
/// A row another transaction inserts meanwhile cannot make an item count
/// twice: SQLite's writers take turns, and on PostgreSQL (`REPEATABLE
/// READ` or stricter) a conflict with a row this transaction's snapshot
/// does not see is a serialization failure, and the transaction runs again.
pub(crate) async fn insert_new<'i, DB: Backend, T>(
    conn: &mut DB::Connection,
    table: &'static str,
    items: &[&'i T],
    columns: usize,
    id: impl Fn(&T) -> ReportId,
    there: impl FnOnce(&[&'i T]) -> QueryBuilder<'static, DB>,
    insert: impl Fn(&[&'i T]) -> Result<QueryBuilder<'static, DB>>,
) -> Result<Vec<&'i T>> {
    if DB::INSERT_RETURNS_IDS {
        let mut query = insert(items)?;
        query.push(" RETURNING report_id");
        let inserted = report_ids_found(&mut *conn, &mut query, table).await?;
        return Ok(items
            .iter()
            .copied()
            .filter(|item| inserted.contains(&id(item)))
            .collect());
    }
    let found = report_ids_found(&mut *conn, &mut there(items), table).await?;
    let new: Vec<&T> = items
        .iter()
        .copied()
        .filter(|item| !found.contains(&id(item)))
        .collect();
    for part in DB::statement_chunks(&new, columns, items.len()) {
        let inserted = Sql::built(&mut insert(part)?).execute(&mut *conn).await?;
        if inserted != part.len() as u64 {
            // Only another writer could have stored one since the lookup:
            // where writers take turns (SQLite, the backend that looks up
            // first), none can.
            return Err(DatastoreError::Internal(
                "a row was stored between its lookup and its insert",
            ));
        }
    }
    Ok(new)
}
