//! Batch aggregations (DAP-09 section 4.6.3): one row per (task, batch,
//! aggregation parameter, aggregation job), so jobs never contend for a row;
//! collection reads all the rows of a batch. Written with one upsert per
//! chunk of rows.

use crate::backend::{self, sql, Backend, Column, Rows, Sql};
use crate::backend_transaction::{BackendTransaction as Tx, Open};
use crate::columns::{self, Result};
use crate::lease::LeaseToken;
use crate::models::{AggregationJobState, BatchAggregation, BatchIdentifier};
use crate::tables::expiry;
use crate::tables::leases;
use dyad_messages::draft09::{AggregationJobId, TaskId, Time};
use sqlx::QueryBuilder;

const COLUMNS: &str = "task_id, batch_identifier, aggregation_parameter, aggregation_job_id, \
                       aggregate_share, report_count, checksum, client_interval_start, \
                       client_interval_end";
/// Rows written by one statement at most.
const CHUNK: usize = 500;

/// The columns of a chunk of rows, in the order of the upsert in [`put_batch_aggregations`].
fn rows(chunk: &[&BatchAggregation], now: i64) -> Result<Rows> {
    let (mut task_ids, mut batches, mut batch_starts) = (Vec::new(), Vec::new(), Vec::new());
    let (mut batch_ends, mut batch_ids, mut parameters) = (Vec::new(), Vec::new(), Vec::new());
    let (mut job_ids, mut shares, mut counts) = (Vec::new(), Vec::new(), Vec::new());
    let (mut checksums, mut client_starts, mut client_ends) = (Vec::new(), Vec::new(), Vec::new());
    for ba in chunk {
        let batch = columns::batch_columns(&ba.batch_identifier)?;
        let (start, end) = columns::interval(&ba.client_timestamp_interval, "client interval")?;
        counts.push(columns::int(ba.report_count, "report_count")?);
        task_ids.push(ba.task_id.as_bytes().to_vec());
        batches.push(batch.encoded);
        batch_starts.push(batch.start);
        batch_ends.push(batch.end);
        batch_ids.push(batch.batch_id);
        parameters.push(ba.aggregation_parameter.clone());
        job_ids.push(ba.aggregation_job_id.as_bytes().to_vec());
        shares.push(ba.aggregate_share.clone());
        checksums.push(ba.checksum.0.to_vec());
        client_starts.push(start);
        client_ends.push(end);
    }
    Ok(Rows(vec![
        Column::Bytes(task_ids),
        Column::Bytes(batches),
        Column::OptBigInt(batch_starts),
        Column::OptBigInt(batch_ends),
        Column::OptBytes(batch_ids),
        Column::Bytes(parameters),
        Column::Bytes(job_ids),
        Column::Bytes(shares),
        Column::BigInt(counts),
        Column::Bytes(checksums),
        Column::BigInt(client_starts),
        Column::BigInt(client_ends),
        Column::BigInt(vec![now; chunk.len()]),
    ]))
}

pub(crate) async fn put_batch_aggregations<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    rows_to_write: &[BatchAggregation],
    lease: Option<&LeaseToken>,
) -> Result<()> {
    let Open { conn, now, .. } = tx.write("put_batch_aggregations")?;
    if let Some(token) = lease {
        let jobs = rows_to_write
            .iter()
            .map(|ba| (ba.task_id, ba.aggregation_job_id));
        leases::check_aggregation_jobs::<DB>(conn, jobs, token, now).await?;
    }
    let now = columns::time(now, "now")?;
    // One upsert cannot touch a row twice: of several rows with the same
    // key, the last one counts (as if written one after the other).
    let lasts = backend::last_of_each(rows_to_write, |ba| {
        (
            ba.task_id,
            ba.batch_identifier,
            ba.aggregation_parameter.clone(),
            ba.aggregation_job_id,
        )
    });
    for chunk in DB::statement_chunks(&lasts, 13, CHUNK) {
        let mut query = QueryBuilder::<DB>::new(
            "INSERT INTO batch_aggregations (task_id, batch_identifier, batch_interval_start,
                 batch_interval_end, batch_id, aggregation_parameter, aggregation_job_id,
                 aggregate_share, report_count, checksum, client_interval_start,
                 client_interval_end, updated_at) ",
        );
        DB::push_rows(&mut query, rows(chunk, now)?);
        query.push(
            " ON CONFLICT (task_id, batch_identifier, aggregation_parameter, aggregation_job_id)
             DO UPDATE SET aggregate_share = excluded.aggregate_share,
                 report_count = excluded.report_count, checksum = excluded.checksum,
                 client_interval_start = excluded.client_interval_start,
                 client_interval_end = excluded.client_interval_end,
                 updated_at = excluded.updated_at",
        );
        Sql::built(&mut query).execute(&mut *conn).await?;
    }
    Ok(())
}

pub(crate) async fn get_batch_aggregations_for_batch<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
    batch: &BatchIdentifier,
    aggregation_parameter: &[u8],
) -> Result<Vec<BatchAggregation>> {
    let Open { conn, .. } = tx.read();
    let rows = match batch {
        BatchIdentifier::TimeInterval(interval) => {
            // Every bucket lying inside the interval.
            let (start, end) = columns::interval(interval, "batch interval")?;
            sql::<DB>(&format!(
                "SELECT {COLUMNS} FROM batch_aggregations
                 WHERE task_id = $1 AND aggregation_parameter = $2
                   AND batch_interval_start >= $3 AND batch_interval_end <= $4
                 ORDER BY batch_interval_start, aggregation_job_id"
            ))
            .bind(task_id.as_bytes().as_slice())
            .bind(aggregation_parameter)
            .bind(start)
            .bind(end)
            .fetch_all(&mut *conn)
            .await?
        }
        BatchIdentifier::FixedSize(batch_id) => {
            sql::<DB>(&format!(
                "SELECT {COLUMNS} FROM batch_aggregations
                 WHERE task_id = $1 AND aggregation_parameter = $2 AND batch_id = $3
                 ORDER BY aggregation_job_id"
            ))
            .bind(task_id.as_bytes().as_slice())
            .bind(aggregation_parameter)
            .bind(batch_id.as_bytes().as_slice())
            .fetch_all(&mut *conn)
            .await?
        }
    };
    rows.iter().map(columns::rows::batch_aggregation).collect()
}

pub(crate) async fn get_batch_aggregations_for_job<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
    job_id: &AggregationJobId,
) -> Result<Vec<BatchAggregation>> {
    let Open { conn, .. } = tx.read();
    sql::<DB>(&format!(
        "SELECT {COLUMNS} FROM batch_aggregations
         WHERE task_id = $1 AND aggregation_job_id = $2 ORDER BY batch_identifier"
    ))
    .bind(task_id.as_bytes().as_slice())
    .bind(job_id.as_bytes().as_slice())
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(columns::rows::batch_aggregation)
    .collect()
}

/// Deletes up to `limit` rows of batches whose reports are all older than
/// `before` and that no unfinished aggregation job may still add to (see
/// the garbage collector's rules in `dyad_aggregator::garbage_collector`):
/// a time-interval row whose bucket ends at or before `before` and that no
/// in-progress job of the task overlaps; a fixed-size row whose batch has
/// no row with a report at or after `before` and no in-progress job. With
/// `abandoned_in_progress` (a Helper's task), an in-progress job last
/// changed before `before` was abandoned by the Leader and holds nothing
/// back.
pub(crate) async fn delete_expired_batch_aggregations<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
    before: Time,
    limit: u64,
    abandoned_in_progress: bool,
) -> Result<u64> {
    // An in-progress job that may still add to a batch.
    let live = if abandoned_in_progress {
        "j.state = $4 AND j.updated_at >= $2"
    } else {
        "j.state = $4"
    };
    let statement = format!(
        "DELETE FROM batch_aggregations
         WHERE (task_id, batch_identifier, aggregation_parameter, aggregation_job_id) IN (
             SELECT b.task_id, b.batch_identifier, b.aggregation_parameter, b.aggregation_job_id
             FROM batch_aggregations b
             WHERE b.task_id = $1 AND (
                 (b.batch_interval_end IS NOT NULL AND b.batch_interval_end <= $2
                  AND NOT EXISTS (
                      SELECT 1 FROM aggregation_jobs j
                      WHERE j.task_id = b.task_id AND {live}
                        AND j.client_interval_start < b.batch_interval_end
                        AND b.batch_interval_start < j.client_interval_end))
                 OR (b.batch_id IS NOT NULL
                  AND NOT EXISTS (
                      SELECT 1 FROM batch_aggregations n
                      WHERE n.task_id = b.task_id AND n.batch_id = b.batch_id
                        AND n.client_interval_end > $2)
                  AND NOT EXISTS (
                      SELECT 1 FROM aggregation_jobs j
                      WHERE j.task_id = b.task_id AND j.batch_id = b.batch_id AND {live})))
             LIMIT $3{skip})",
        skip = DB::SKIP_ROWS_LOCKED_FOR_DELETE
    );
    let in_progress = AggregationJobState::InProgress.code();
    expiry::delete_expired(
        tx,
        "delete_expired_batch_aggregations",
        &statement,
        task_id,
        before,
        limit,
        Some(in_progress),
    )
    .await
}
