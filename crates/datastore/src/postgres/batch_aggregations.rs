//! Batch aggregations in PostgreSQL (DAP-09 section 4.6.3): one row per
//! (task, batch, aggregation parameter, aggregation job), so jobs never
//! contend for a row; collection reads all the rows of a batch. Written with
//! one upsert per chunk, over `UNNEST`ed arrays.

use super::row::{self, Result};
use crate::columns;
use crate::lease::LeaseToken;
use crate::models::{BatchAggregation, BatchIdentifier};
use crate::tables::leases::{self, LeasedTable};
use dyad_messages::draft09::{AggregationJobId, TaskId, Time};
use sqlx::PgConnection;
use std::collections::BTreeSet;

const COLUMNS: &str = "task_id, batch_identifier, aggregation_parameter, aggregation_job_id, \
                       aggregate_share, report_count, checksum, client_interval_start, \
                       client_interval_end";
/// Rows written by one statement at most.
const CHUNK: usize = 500;

/// The columns of a chunk of rows, as arrays.
#[derive(Default)]
struct Columns {
    task_ids: Vec<Vec<u8>>,
    batches: Vec<Vec<u8>>,
    batch_starts: Vec<Option<i64>>,
    batch_ends: Vec<Option<i64>>,
    batch_ids: Vec<Option<Vec<u8>>>,
    parameters: Vec<Vec<u8>>,
    job_ids: Vec<Vec<u8>>,
    shares: Vec<Vec<u8>>,
    counts: Vec<i64>,
    checksums: Vec<Vec<u8>>,
    client_starts: Vec<i64>,
    client_ends: Vec<i64>,
}

impl Columns {
    fn of(rows: &[&BatchAggregation]) -> Result<Self> {
        let mut c = Columns::default();
        for ba in rows {
            let batch = row::batch_columns(&ba.batch_identifier)?;
            let (start, end) = row::interval(&ba.client_timestamp_interval, "client interval")?;
            c.counts.push(row::int(ba.report_count, "report_count")?);
            c.task_ids.push(ba.task_id.as_bytes().to_vec());
            c.batches.push(batch.encoded);
            c.batch_starts.push(batch.start);
            c.batch_ends.push(batch.end);
            c.batch_ids.push(batch.batch_id);
            c.parameters.push(ba.aggregation_parameter.clone());
            c.job_ids.push(ba.aggregation_job_id.as_bytes().to_vec());
            c.shares.push(ba.aggregate_share.clone());
            c.checksums.push(ba.checksum.0.to_vec());
            c.client_starts.push(start);
            c.client_ends.push(end);
        }
        Ok(c)
    }
}

pub(super) async fn put(
    conn: &mut PgConnection,
    now: Time,
    rows: &[BatchAggregation],
    lease: Option<&LeaseToken>,
) -> Result<()> {
    if let Some(token) = lease {
        let jobs: BTreeSet<(TaskId, AggregationJobId)> = rows
            .iter()
            .map(|ba| (ba.task_id, ba.aggregation_job_id))
            .collect();
        for (task_id, job_id) in jobs {
            let job_id = job_id.as_bytes().as_slice();
            leases::check::<sqlx::Postgres>(
                conn,
                LeasedTable::AggregationJobs,
                &task_id,
                job_id,
                token,
                now,
            )
            .await?;
        }
    }
    let now = row::time(now, "now")?;
    // One upsert cannot touch a row twice: of several rows with the same
    // key, the last one counts (as if written one after the other).
    let lasts = row::last_of_each(rows, |ba| {
        (
            ba.task_id,
            ba.batch_identifier,
            ba.aggregation_parameter.clone(),
            ba.aggregation_job_id,
        )
    });
    for chunk in lasts.chunks(CHUNK) {
        let c = Columns::of(chunk)?;
        sqlx::query(
            "INSERT INTO batch_aggregations (task_id, batch_identifier, batch_interval_start,
                 batch_interval_end, batch_id, aggregation_parameter, aggregation_job_id,
                 aggregate_share, report_count, checksum, client_interval_start,
                 client_interval_end, updated_at)
             SELECT u.*, $13 FROM UNNEST($1::BYTEA[], $2::BYTEA[], $3::BIGINT[], $4::BIGINT[],
                 $5::BYTEA[], $6::BYTEA[], $7::BYTEA[], $8::BYTEA[], $9::BIGINT[], $10::BYTEA[],
                 $11::BIGINT[], $12::BIGINT[]) AS u
             ON CONFLICT (task_id, batch_identifier, aggregation_parameter, aggregation_job_id)
             DO UPDATE SET aggregate_share = excluded.aggregate_share,
                 report_count = excluded.report_count, checksum = excluded.checksum,
                 client_interval_start = excluded.client_interval_start,
                 client_interval_end = excluded.client_interval_end,
                 updated_at = excluded.updated_at",
        )
        .bind(c.task_ids)
        .bind(c.batches)
        .bind(c.batch_starts)
        .bind(c.batch_ends)
        .bind(c.batch_ids)
        .bind(c.parameters)
        .bind(c.job_ids)
        .bind(c.shares)
        .bind(c.counts)
        .bind(c.checksums)
        .bind(c.client_starts)
        .bind(c.client_ends)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub(super) async fn get_for_batch(
    conn: &mut PgConnection,
    task_id: &TaskId,
    batch: &BatchIdentifier,
    aggregation_parameter: &[u8],
) -> Result<Vec<BatchAggregation>> {
    let rows = match batch {
        BatchIdentifier::TimeInterval(interval) => {
            // Every bucket lying inside the interval.
            let (start, end) = row::interval(interval, "batch interval")?;
            sqlx::query(&format!(
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
            sqlx::query(&format!(
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

pub(super) async fn get_for_job(
    conn: &mut PgConnection,
    task_id: &TaskId,
    job_id: &AggregationJobId,
) -> Result<Vec<BatchAggregation>> {
    sqlx::query(&format!(
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
