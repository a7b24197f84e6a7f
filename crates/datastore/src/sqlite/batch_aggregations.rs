//! Batch aggregations in SQLite (DAP-09 section 4.6.3): one row per (task,
//! batch, aggregation parameter, aggregation job), so jobs never contend for
//! a row; collection reads all the rows of a batch.

use super::row::{self, Result};
use crate::columns;
use crate::lease::LeaseToken;
use crate::models::{BatchAggregation, BatchIdentifier};
use crate::tables::leases::{self, LeasedTable};
use dyad_messages::draft09::{AggregationJobId, TaskId, Time};
use sqlx::SqliteConnection;
use std::collections::BTreeSet;

const COLUMNS: &str = "task_id, batch_identifier, aggregation_parameter, aggregation_job_id, \
                       aggregate_share, report_count, checksum, client_interval_start, \
                       client_interval_end";

pub(super) async fn put(
    conn: &mut SqliteConnection,
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
            leases::check::<sqlx::Sqlite>(
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
    for ba in rows {
        let batch = row::batch_columns(&ba.batch_identifier)?;
        let (start, end) = row::interval(&ba.client_timestamp_interval, "client interval")?;
        sqlx::query(
            "INSERT INTO batch_aggregations (task_id, batch_identifier, batch_interval_start,
                 batch_interval_end, batch_id, aggregation_parameter, aggregation_job_id,
                 aggregate_share, report_count, checksum, client_interval_start,
                 client_interval_end, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (task_id, batch_identifier, aggregation_parameter, aggregation_job_id)
             DO UPDATE SET aggregate_share = excluded.aggregate_share,
                 report_count = excluded.report_count, checksum = excluded.checksum,
                 client_interval_start = excluded.client_interval_start,
                 client_interval_end = excluded.client_interval_end,
                 updated_at = excluded.updated_at",
        )
        .bind(ba.task_id.as_bytes().as_slice())
        .bind(batch.encoded)
        .bind(batch.start)
        .bind(batch.end)
        .bind(batch.batch_id)
        .bind(ba.aggregation_parameter.as_slice())
        .bind(ba.aggregation_job_id.as_bytes().as_slice())
        .bind(ba.aggregate_share.as_slice())
        .bind(row::int(ba.report_count, "report_count")?)
        .bind(ba.checksum.0.as_slice())
        .bind(start)
        .bind(end)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub(super) async fn get_for_batch(
    conn: &mut SqliteConnection,
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
                 WHERE task_id = ? AND aggregation_parameter = ?
                   AND batch_interval_start >= ? AND batch_interval_end <= ?
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
                 WHERE task_id = ? AND aggregation_parameter = ? AND batch_id = ?
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
    conn: &mut SqliteConnection,
    task_id: &TaskId,
    job_id: &AggregationJobId,
) -> Result<Vec<BatchAggregation>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM batch_aggregations
         WHERE task_id = ? AND aggregation_job_id = ? ORDER BY batch_identifier"
    ))
    .bind(task_id.as_bytes().as_slice())
    .bind(job_id.as_bytes().as_slice())
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(columns::rows::batch_aggregation)
    .collect()
}
