//! The Helper's aggregate share jobs (DAP-09 section 4.6.3): one row per
//! batch and aggregation parameter, holding the answer to repeat.

use crate::backend::{sql, Backend};
use crate::backend_transaction::{BackendTransaction as Tx, Open};
use crate::columns::{self, Result};
use crate::models::{AggregateShareJob, BatchIdentifier};
use crate::tables::expiry;
use crate::DatastoreError;
use dyad_messages::draft09::{TaskId, Time};

pub(crate) async fn put_aggregate_share_job<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    job: &AggregateShareJob,
) -> Result<()> {
    let Open { conn, now, .. } = tx.write("put_aggregate_share_job")?;
    // ON CONFLICT rather than a unique violation keeps a PostgreSQL
    // transaction usable after a duplicate.
    let inserted = sql::<DB>(
        "INSERT INTO aggregate_share_jobs (task_id, batch_identifier, aggregation_parameter,
             report_count, checksum, response, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (task_id, batch_identifier, aggregation_parameter) DO NOTHING",
    )
    .bind(job.task_id.as_bytes().as_slice())
    .bind(job.batch_identifier.to_bytes())
    .bind(job.aggregation_parameter.as_slice())
    .bind(columns::int(job.report_count, "report_count")?)
    .bind(job.checksum.0.as_slice())
    .bind(columns::encode(&job.response, "aggregate share")?)
    .bind(columns::time(now, "now")?)
    .execute(conn)
    .await?;
    if inserted == 0 {
        return Err(DatastoreError::AlreadyExists {
            what: "aggregate share job for the batch and aggregation parameter".into(),
        });
    }
    Ok(())
}

pub(crate) async fn get_aggregate_share_job<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
    batch: &BatchIdentifier,
    aggregation_parameter: &[u8],
) -> Result<Option<AggregateShareJob>> {
    let Open { conn, .. } = tx.read();
    let found = sql::<DB>(
        "SELECT task_id, batch_identifier, aggregation_parameter, report_count, checksum,
             response, created_at
         FROM aggregate_share_jobs
         WHERE task_id = $1 AND batch_identifier = $2 AND aggregation_parameter = $3",
    )
    .bind(task_id.as_bytes().as_slice())
    .bind(batch.to_bytes())
    .bind(aggregation_parameter)
    .fetch_optional(conn)
    .await?;
    found
        .as_ref()
        .map(columns::rows::aggregate_share_job)
        .transpose()
}

/// Deletes up to `limit` answered aggregate share requests made before
/// `before` whose collected-batch record is gone (see
/// `delete_expired_collected_batches`): the Leader asks again only while
/// its collection job runs, long before.
pub(crate) async fn delete_expired_aggregate_share_jobs<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
    before: Time,
    limit: u64,
) -> Result<u64> {
    let statement = format!(
        "DELETE FROM aggregate_share_jobs
         WHERE (task_id, batch_identifier, aggregation_parameter) IN (
             SELECT a.task_id, a.batch_identifier, a.aggregation_parameter
             FROM aggregate_share_jobs a
             WHERE a.task_id = $1 AND a.created_at < $2
               AND NOT EXISTS (
                   SELECT 1 FROM collected_batches c
                   WHERE c.task_id = a.task_id AND c.batch_identifier = a.batch_identifier
                     AND c.aggregation_parameter = a.aggregation_parameter)
             LIMIT $3{})",
        DB::SKIP_ROWS_LOCKED_FOR_DELETE
    );
    expiry::delete_expired(
        tx,
        "delete_expired_aggregate_share_jobs",
        &statement,
        task_id,
        before,
        limit,
        None,
    )
    .await
}
