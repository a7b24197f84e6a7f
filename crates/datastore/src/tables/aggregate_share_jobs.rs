//! The Helper's aggregate share jobs (DAP-09 section 4.6.3): one row per
//! batch and aggregation parameter, holding the answer to repeat.

use crate::backend::{sql, Backend};
use crate::backend_transaction::{BackendTransaction as Tx, Open};
use crate::columns::{self, Result};
use crate::models::{AggregateShareJob, BatchIdentifier};
use crate::DatastoreError;
use dyad_messages::draft09::TaskId;

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
