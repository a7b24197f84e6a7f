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

/// The `report_id`s that `query` (on `table`) returns: which of a chunk's
/// reports are already there, looked up before an insert so that the
/// insert needs no `RETURNING` (a row streamed back per report cost more
/// than the lookup on SQLite).
pub(crate) async fn report_ids_found<DB: Backend>(
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

/// Runs an `INSERT ... ON CONFLICT DO NOTHING` of `rows` rows that a
/// lookup found new; fewer inserted means a row was stored since, which
/// only another transaction can do: PostgreSQL then fails this one as a
/// serialization failure (and it is run again), and SQLite's writers take
/// turns, so `what` is an internal error.
pub(crate) async fn insert_all_new<DB: Backend>(
    conn: &mut DB::Connection,
    query: &mut QueryBuilder<'_, DB>,
    rows: usize,
    what: &'static str,
) -> Result<()> {
    if Sql::built(query).execute(conn).await? != rows as u64 {
        return Err(DatastoreError::Internal(what));
    }
    Ok(())
}
