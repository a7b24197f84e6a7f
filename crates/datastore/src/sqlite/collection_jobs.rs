//! The Leader's collection jobs in SQLite (DAP-09 section 4.6.1), with the
//! request bytes that make a repeated PUT idempotent and leases for the
//! collection job driver.

use super::leases::{self, LeasedTable};
use super::row::{self, Result};
use crate::columns;
use crate::lease::{Lease, LeaseToken};
use crate::models::{
    BatchIdentifier, CollectionJob, CollectionJobState, CollectionJobWriteOutcome,
};
use crate::DatastoreError;
use dyad_messages::draft09::{CollectionJobId, Duration, TaskId, Time};
use sqlx::SqliteConnection;

const COLUMNS: &str =
    "task_id, collection_job_id, query, aggregation_parameter, batch_identifier, \
                       request, state, report_count, result_interval_start, result_interval_end, \
                       leader_encrypted_agg_share, helper_encrypted_agg_share, problem_type, \
                       problem_detail, created_at";

pub(super) async fn put(
    conn: &mut SqliteConnection,
    now: Time,
    job: &CollectionJob,
) -> Result<CollectionJobWriteOutcome> {
    let batch = row::batch_columns(&job.batch_identifier)?;
    let s = columns::collection_job_state_columns(&job.state)?;
    let now_db = row::time(now, "now")?;
    let inserted = sqlx::query(
        "INSERT INTO collection_jobs (task_id, collection_job_id, query, aggregation_parameter,
             batch_identifier, batch_interval_start, batch_interval_end, request, state,
             report_count, result_interval_start, result_interval_end,
             leader_encrypted_agg_share, helper_encrypted_agg_share, problem_type,
             problem_detail, created_at, updated_at, retry_after)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (task_id, collection_job_id) DO NOTHING",
    )
    .bind(job.task_id.as_bytes().as_slice())
    .bind(job.collection_job_id.as_bytes().as_slice())
    .bind(row::encode(&job.query, "query")?)
    .bind(job.aggregation_parameter.as_slice())
    .bind(batch.encoded)
    .bind(batch.start)
    .bind(batch.end)
    .bind(job.request.as_slice())
    .bind(job.state.code())
    .bind(s.report_count)
    .bind(s.start)
    .bind(s.end)
    .bind(s.leader_share)
    .bind(s.helper_share)
    .bind(s.problem_type)
    .bind(s.problem_detail)
    .bind(now_db)
    .bind(now_db)
    .bind(now_db)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(CollectionJobWriteOutcome::Created);
    }
    let existing = get(conn, &job.task_id, &job.collection_job_id)
        .await?
        .ok_or(DatastoreError::Internal(
            "collection job vanished inside a transaction",
        ))?;
    Ok(if existing.request == job.request {
        CollectionJobWriteOutcome::AlreadyExists(Box::new(existing))
    } else {
        CollectionJobWriteOutcome::Conflict
    })
}

pub(super) async fn get(
    conn: &mut SqliteConnection,
    task_id: &TaskId,
    job_id: &CollectionJobId,
) -> Result<Option<CollectionJob>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM collection_jobs WHERE task_id = ? AND collection_job_id = ?"
    ))
    .bind(task_id.as_bytes().as_slice())
    .bind(job_id.as_bytes().as_slice())
    .fetch_optional(&mut *conn)
    .await?
    .as_ref()
    .map(columns::rows::collection_job)
    .transpose()
}

pub(super) async fn update(
    conn: &mut SqliteConnection,
    now: Time,
    job: &CollectionJob,
    lease: Option<&LeaseToken>,
) -> Result<()> {
    let job_id = job.collection_job_id.as_bytes().as_slice();
    if let Some(token) = lease {
        leases::check(
            conn,
            LeasedTable::CollectionJobs,
            &job.task_id,
            job_id,
            token,
            now,
        )
        .await?;
    }
    let s = columns::collection_job_state_columns(&job.state)?;
    let updated = sqlx::query(
        "UPDATE collection_jobs SET state = ?, report_count = ?, result_interval_start = ?,
             result_interval_end = ?, leader_encrypted_agg_share = ?,
             helper_encrypted_agg_share = ?, problem_type = ?, problem_detail = ?, updated_at = ?
         WHERE task_id = ? AND collection_job_id = ?",
    )
    .bind(job.state.code())
    .bind(s.report_count)
    .bind(s.start)
    .bind(s.end)
    .bind(s.leader_share)
    .bind(s.helper_share)
    .bind(s.problem_type)
    .bind(s.problem_detail)
    .bind(row::time(now, "now")?)
    .bind(job.task_id.as_bytes().as_slice())
    .bind(job_id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if updated == 0 {
        return Err(DatastoreError::NotFound {
            what: format!("collection job {}", job.collection_job_id),
        });
    }
    Ok(())
}

pub(super) async fn get_for_batch(
    conn: &mut SqliteConnection,
    task_id: &TaskId,
    batch: &BatchIdentifier,
) -> Result<Vec<CollectionJob>> {
    let rows = match batch {
        BatchIdentifier::TimeInterval(interval) => {
            let (start, end) = row::interval(interval, "batch interval")?;
            sqlx::query(&format!(
                "SELECT {COLUMNS} FROM collection_jobs
                 WHERE task_id = ? AND batch_interval_start < ? AND batch_interval_end > ?
                 ORDER BY created_at, collection_job_id"
            ))
            .bind(task_id.as_bytes().as_slice())
            .bind(end)
            .bind(start)
            .fetch_all(&mut *conn)
            .await?
        }
        BatchIdentifier::FixedSize(_) => {
            sqlx::query(&format!(
                "SELECT {COLUMNS} FROM collection_jobs
                 WHERE task_id = ? AND batch_identifier = ?
                 ORDER BY created_at, collection_job_id"
            ))
            .bind(task_id.as_bytes().as_slice())
            .bind(batch.to_bytes())
            .fetch_all(&mut *conn)
            .await?
        }
    };
    rows.iter().map(columns::rows::collection_job).collect()
}

pub(super) async fn acquire(
    conn: &mut SqliteConnection,
    now: Time,
    lease_duration: Duration,
    max: u64,
) -> Result<Vec<Lease<CollectionJob>>> {
    let now_db = row::time(now, "now")?;
    let candidates = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM collection_jobs
         WHERE state = ? AND lease_expiry <= ? AND retry_after <= ?
         ORDER BY retry_after, created_at, collection_job_id LIMIT ?"
    ))
    .bind(CollectionJobState::Start.code())
    .bind(now_db)
    .bind(now_db)
    .bind(row::int(max, "max")?)
    .fetch_all(&mut *conn)
    .await?;
    let jobs = candidates
        .iter()
        .map(columns::rows::collection_job)
        .collect::<Result<Vec<_>>>()?;
    leases::take_each(
        conn,
        LeasedTable::CollectionJobs,
        jobs,
        |job| (job.task_id, job.collection_job_id.as_bytes().to_vec()),
        now,
        lease_duration,
    )
    .await
}

pub(super) async fn release(
    conn: &mut SqliteConnection,
    now: Time,
    lease: &Lease<CollectionJob>,
    retry_after: Duration,
    reset_attempts: bool,
) -> Result<()> {
    leases::release(
        conn,
        LeasedTable::CollectionJobs,
        &lease.leased.task_id,
        lease.leased.collection_job_id.as_bytes().as_slice(),
        &lease.token,
        now,
        retry_after,
        reset_attempts,
    )
    .await
}
