//! The Leader's queues, counted across all tasks for the queue-depth
//! gauges: reports not yet in any aggregation job (the rows of
//! `unaggregated_reports`) and collection jobs not
//! yet finished or failed (state `Start`, through
//! `collection_jobs_acquirable`).

use crate::backend::{sql, Backend};
use crate::backend_transaction::{BackendTransaction as Tx, Open};
use crate::columns::{self, Result};
use crate::models::CollectionJobState;

/// The depths of the Leader's queues at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueDepths {
    /// Reports not yet in any aggregation job.
    pub unaggregated_reports: u64,
    /// Collection jobs not yet finished, failed or deleted.
    pub pending_collection_jobs: u64,
}

pub(crate) async fn count_queue_depths<DB: Backend>(tx: &mut Tx<'_, DB>) -> Result<QueueDepths> {
    let Open { conn, .. } = tx.read();
    let reports = sql::<DB>("SELECT COUNT(*) AS count FROM unaggregated_reports")
        .fetch_one(&mut *conn)
        .await?;
    let jobs = sql::<DB>(&format!(
        "SELECT COUNT(*) AS count FROM collection_jobs WHERE state = {}",
        CollectionJobState::Start.code()
    ))
    .fetch_one(&mut *conn)
    .await?;
    Ok(QueueDepths {
        unaggregated_reports: columns::count_of(&reports, "unaggregated_reports")?,
        pending_collection_jobs: columns::count_of(&jobs, "collection_jobs")?,
    })
}
