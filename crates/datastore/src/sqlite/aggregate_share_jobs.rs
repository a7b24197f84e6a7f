//! The Helper's aggregate share jobs in SQLite (DAP-09 section 4.6.3).

use super::row::{self, Result};
use crate::columns;
use crate::models::{AggregateShareJob, BatchIdentifier};
use crate::DatastoreError;
use dyad_messages::draft09::{TaskId, Time};
use sqlx::SqliteConnection;

pub(super) async fn put(
    conn: &mut SqliteConnection,
    now: Time,
    job: &AggregateShareJob,
) -> Result<()> {
    let result = sqlx::query(
        "INSERT INTO aggregate_share_jobs (task_id, batch_identifier, aggregation_parameter,
             report_count, checksum, response, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(job.task_id.as_bytes().as_slice())
    .bind(job.batch_identifier.to_bytes())
    .bind(job.aggregation_parameter.as_slice())
    .bind(row::int(job.report_count, "report_count")?)
    .bind(job.checksum.0.as_slice())
    .bind(row::encode(&job.response, "aggregate share")?)
    .bind(row::time(now, "now")?)
    .execute(&mut *conn)
    .await;
    match result {
        Ok(_) => Ok(()),
        Err(e) if row::is_unique_violation(&e) => Err(DatastoreError::AlreadyExists {
            what: "aggregate share job for the batch and aggregation parameter".into(),
        }),
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn get(
    conn: &mut SqliteConnection,
    task_id: &TaskId,
    batch: &BatchIdentifier,
    aggregation_parameter: &[u8],
) -> Result<Option<AggregateShareJob>> {
    let found = sqlx::query(
        "SELECT task_id, batch_identifier, aggregation_parameter, report_count, checksum,
             response, created_at
         FROM aggregate_share_jobs
         WHERE task_id = ? AND batch_identifier = ? AND aggregation_parameter = ?",
    )
    .bind(task_id.as_bytes().as_slice())
    .bind(batch.to_bytes())
    .bind(aggregation_parameter)
    .fetch_optional(&mut *conn)
    .await?;
    found
        .as_ref()
        .map(columns::rows::aggregate_share_job)
        .transpose()
}
