//! Aggregation jobs in SQLite (DAP-09 section 4.5), with the Leader's lease
//! acquisition.

use super::leases::{self, LeasedTable};
use super::row::{self, Result};
use crate::columns;
use crate::lease::{Lease, LeaseToken};
use crate::models::{AggregationJob, AggregationJobState, BatchIdentifier};
use crate::DatastoreError;
use dyad_messages::draft09::{AggregationJobId, BatchId, Duration, Role, TaskId, Time};
use sqlx::SqliteConnection;

const TABLE: &str = "aggregation_jobs";
const COLUMNS: &str = "aj.task_id, aj.aggregation_job_id, aj.aggregation_parameter, aj.batch_id, \
                       aj.client_interval_start, aj.client_interval_end, aj.state, aj.step, \
                       aj.last_request_hash, aj.created_at";

pub(super) async fn put(
    conn: &mut SqliteConnection,
    now: Time,
    job: &AggregationJob,
) -> Result<()> {
    let (start, end) = row::interval(&job.client_timestamp_interval, "client timestamp interval")?;
    let now = row::time(now, "now")?;
    let result = sqlx::query(
        "INSERT INTO aggregation_jobs (task_id, aggregation_job_id, aggregation_parameter, batch_id,
             client_interval_start, client_interval_end, state, step, last_request_hash,
             created_at, updated_at, retry_after)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(job.task_id.as_bytes().as_slice())
    .bind(job.aggregation_job_id.as_bytes().as_slice())
    .bind(job.aggregation_parameter.as_slice())
    .bind(job.batch_id.as_ref().map(|id| id.as_bytes().as_slice()))
    .bind(start)
    .bind(end)
    .bind(job.state.code())
    .bind(i64::from(job.step))
    .bind(job.last_request_hash.as_ref().map(|h| h.as_slice()))
    .bind(now)
    .bind(now)
    .bind(now)
    .execute(&mut *conn)
    .await;
    match result {
        Ok(_) => Ok(()),
        Err(e) if row::is_unique_violation(&e) => Err(DatastoreError::AlreadyExists {
            what: format!("aggregation job {}", job.aggregation_job_id),
        }),
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn get(
    conn: &mut SqliteConnection,
    task_id: &TaskId,
    job_id: &AggregationJobId,
) -> Result<Option<AggregationJob>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM aggregation_jobs aj WHERE aj.task_id = ? AND aj.aggregation_job_id = ?"
    ))
    .bind(task_id.as_bytes().as_slice())
    .bind(job_id.as_bytes().as_slice())
    .fetch_optional(&mut *conn)
    .await?
    .as_ref()
    .map(columns::rows::aggregation_job)
    .transpose()
}

pub(super) async fn update(
    conn: &mut SqliteConnection,
    now: Time,
    job: &AggregationJob,
    lease: Option<&LeaseToken>,
) -> Result<()> {
    let job_id = job.aggregation_job_id.as_bytes().as_slice();
    if let Some(token) = lease {
        leases::check(
            conn,
            LeasedTable::AggregationJobs,
            &job.task_id,
            job_id,
            token,
            now,
        )
        .await?;
    }
    let updated = sqlx::query(
        "UPDATE aggregation_jobs SET state = ?, step = ?, last_request_hash = ?, updated_at = ?
         WHERE task_id = ? AND aggregation_job_id = ?",
    )
    .bind(job.state.code())
    .bind(i64::from(job.step))
    .bind(job.last_request_hash.as_ref().map(|h| h.as_slice()))
    .bind(row::time(now, "now")?)
    .bind(job.task_id.as_bytes().as_slice())
    .bind(job_id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if updated == 0 {
        return Err(DatastoreError::NotFound {
            what: format!("aggregation job {}", job.aggregation_job_id),
        });
    }
    Ok(())
}

pub(super) async fn count_unfinished_for_batch(
    conn: &mut SqliteConnection,
    task_id: &TaskId,
    batch: &BatchIdentifier,
    aggregation_parameter: &[u8],
) -> Result<u64> {
    let in_progress = AggregationJobState::InProgress.code();
    let count: i64 = match batch {
        BatchIdentifier::TimeInterval(interval) => {
            let (start, end) = row::interval(interval, "batch interval")?;
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM aggregation_jobs
                 WHERE task_id = ? AND state = ? AND aggregation_parameter = ?
                   AND client_interval_start < ? AND ? < client_interval_end",
            )
            .bind(task_id.as_bytes().as_slice())
            .bind(in_progress)
            .bind(aggregation_parameter)
            .bind(end)
            .bind(start)
            .fetch_one(&mut *conn)
            .await?
        }
        BatchIdentifier::FixedSize(batch_id) => {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM aggregation_jobs
                 WHERE task_id = ? AND state = ? AND aggregation_parameter = ? AND batch_id = ?",
            )
            .bind(task_id.as_bytes().as_slice())
            .bind(in_progress)
            .bind(aggregation_parameter)
            .bind(batch_id.as_bytes().as_slice())
            .fetch_one(&mut *conn)
            .await?
        }
    };
    row::count(count, TABLE)
}

pub(super) async fn exist_for_batch_id(
    conn: &mut SqliteConnection,
    task_id: &TaskId,
    batch_id: &BatchId,
) -> Result<bool> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM aggregation_jobs WHERE task_id = ? AND batch_id = ? LIMIT 1",
    )
    .bind(task_id.as_bytes().as_slice())
    .bind(batch_id.as_bytes().as_slice())
    .fetch_optional(&mut *conn)
    .await?;
    Ok(found.is_some())
}

pub(super) async fn acquire(
    conn: &mut SqliteConnection,
    now: Time,
    lease_duration: Duration,
    max: u64,
) -> Result<Vec<Lease<AggregationJob>>> {
    let now_db = row::time(now, "now")?;
    let candidates = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM aggregation_jobs aj JOIN tasks t ON t.task_id = aj.task_id
         WHERE aj.state = ? AND t.role = ? AND aj.lease_expiry <= ? AND aj.retry_after <= ?
         ORDER BY aj.retry_after, aj.created_at, aj.aggregation_job_id LIMIT ?"
    ))
    .bind(AggregationJobState::InProgress.code())
    .bind(i64::from(Role::Leader.as_u8()))
    .bind(now_db)
    .bind(now_db)
    .bind(row::int(max, "max")?)
    .fetch_all(&mut *conn)
    .await?;
    let jobs = candidates
        .iter()
        .map(columns::rows::aggregation_job)
        .collect::<Result<Vec<_>>>()?;
    leases::take_each(
        conn,
        LeasedTable::AggregationJobs,
        jobs,
        |job| (job.task_id, job.aggregation_job_id.as_bytes().to_vec()),
        now,
        lease_duration,
    )
    .await
}

pub(super) async fn release(
    conn: &mut SqliteConnection,
    now: Time,
    lease: &Lease<AggregationJob>,
    retry_after: Duration,
    reset_attempts: bool,
) -> Result<()> {
    leases::release(
        conn,
        LeasedTable::AggregationJobs,
        &lease.leased.task_id,
        lease.leased.aggregation_job_id.as_bytes().as_slice(),
        &lease.token,
        now,
        retry_after,
        reset_attempts,
    )
    .await
}
