//! Aggregation jobs (DAP-09 section 4.5), with the Leader's
//! lease acquisition (see `leases`).

use crate::backend::LeaseRequest;
use crate::backend::{sql, Backend};
use crate::backend_transaction::{BackendTransaction as Tx, Open};
use crate::columns::{self, Result};
use crate::lease::LeasedTable;
use crate::lease::{Lease, LeaseToken};
use crate::models::{AggregationJob, AggregationJobState, BatchIdentifier, StoredReportList};
use crate::tables::{expiry, leases};
use crate::DatastoreError;
use dyad_messages::draft09::{AggregationJobId, BatchId, Duration, Role, TaskId, Time};

const TABLE: &str = "aggregation_jobs";
const COLUMNS: &str = "j.task_id, j.aggregation_job_id, j.aggregation_parameter, j.batch_id, \
                       j.client_interval_start, j.client_interval_end, j.state, j.step, \
                       j.last_request_hash, j.init_response, j.report_list, j.created_at";

pub(crate) async fn put_aggregation_job<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    job: &AggregationJob,
) -> Result<()> {
    let Open { conn, now, .. } = tx.write("put_aggregation_job")?;
    let (start, end) =
        columns::interval(&job.client_timestamp_interval, "client timestamp interval")?;
    let now = columns::time(now, "now")?;
    let report_list = job
        .report_list
        .as_ref()
        .map(|list| StoredReportList::encode(list))
        .transpose()
        .map_err(|e| DatastoreError::invalid("report list", e))?;
    // ON CONFLICT keeps the transaction usable after a duplicate (a failed
    // statement would abort it).
    let inserted = sql::<DB>(
        "INSERT INTO aggregation_jobs (task_id, aggregation_job_id, aggregation_parameter,
             batch_id, client_interval_start, client_interval_end, state, step,
             last_request_hash, init_response, report_list, created_at, updated_at,
             retry_after)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $12)
         ON CONFLICT (task_id, aggregation_job_id) DO NOTHING",
    )
    .bind(job.task_id.as_bytes().as_slice())
    .bind(job.aggregation_job_id.as_bytes().as_slice())
    .bind(job.aggregation_parameter.as_slice())
    .bind(job.batch_id.as_ref().map(|id| id.as_bytes().as_slice()))
    .bind(start)
    .bind(end)
    .bind(columns::code(job.state.code(), "state")?)
    .bind(i32::from(job.step))
    .bind(job.last_request_hash.as_ref().map(|h| h.as_slice()))
    .bind(job.init_response.as_deref())
    .bind(report_list)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    if inserted == 0 {
        return Err(DatastoreError::AlreadyExists {
            what: format!("aggregation job {}", job.aggregation_job_id),
        });
    }
    Ok(())
}

pub(crate) async fn get_aggregation_job<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
    job_id: &AggregationJobId,
) -> Result<Option<AggregationJob>> {
    let Open { conn, .. } = tx.read();
    sql::<DB>(&format!(
        "SELECT {COLUMNS} FROM aggregation_jobs j
         WHERE j.task_id = $1 AND j.aggregation_job_id = $2"
    ))
    .bind(task_id.as_bytes().as_slice())
    .bind(job_id.as_bytes().as_slice())
    .fetch_optional(&mut *conn)
    .await?
    .as_ref()
    .map(columns::rows::aggregation_job)
    .transpose()
}

pub(crate) async fn update_aggregation_job<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    job: &AggregationJob,
    lease: Option<&LeaseToken>,
) -> Result<()> {
    let Open { conn, now, .. } = tx.write("update_aggregation_job")?;
    let job_id = job.aggregation_job_id.as_bytes().as_slice();
    leases::check_job::<DB, _>(conn, job, lease, now).await?;
    let updated = sql::<DB>(
        "UPDATE aggregation_jobs SET state = $1, step = $2, last_request_hash = $3,
             updated_at = $4
         WHERE task_id = $5 AND aggregation_job_id = $6",
    )
    .bind(columns::code(job.state.code(), "state")?)
    .bind(i32::from(job.step))
    .bind(job.last_request_hash.as_ref().map(|h| h.as_slice()))
    .bind(columns::time(now, "now")?)
    .bind(job.task_id.as_bytes().as_slice())
    .bind(job_id)
    .execute(&mut *conn)
    .await?;
    if updated == 0 {
        return Err(DatastoreError::NotFound {
            what: format!("aggregation job {}", job.aggregation_job_id),
        });
    }
    Ok(())
}

pub(crate) async fn count_unfinished_aggregation_jobs_for_batch<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
    batch: &BatchIdentifier,
    aggregation_parameter: &[u8],
) -> Result<u64> {
    let Open { conn, .. } = tx.read();
    let in_progress = columns::code(AggregationJobState::InProgress.code(), "state")?;
    let counted = match batch {
        BatchIdentifier::TimeInterval(interval) => {
            let (start, end) = columns::interval(interval, "batch interval")?;
            sql::<DB>(
                "SELECT COUNT(*) AS count FROM aggregation_jobs
                 WHERE task_id = $1 AND state = $2 AND aggregation_parameter = $3
                   AND client_interval_start < $4 AND $5 < client_interval_end",
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
            sql::<DB>(
                "SELECT COUNT(*) AS count FROM aggregation_jobs
                 WHERE task_id = $1 AND state = $2 AND aggregation_parameter = $3
                   AND batch_id = $4",
            )
            .bind(task_id.as_bytes().as_slice())
            .bind(in_progress)
            .bind(aggregation_parameter)
            .bind(batch_id.as_bytes().as_slice())
            .fetch_one(&mut *conn)
            .await?
        }
    };
    columns::count_of(&counted, TABLE)
}

pub(crate) async fn aggregation_jobs_exist_for_batch_id<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
    batch_id: &BatchId,
) -> Result<bool> {
    let Open { conn, .. } = tx.read();
    Ok(
        sql::<DB>("SELECT 1 FROM aggregation_jobs WHERE task_id = $1 AND batch_id = $2 LIMIT 1")
            .bind(task_id.as_bytes().as_slice())
            .bind(batch_id.as_bytes().as_slice())
            .fetch_optional(&mut *conn)
            .await?
            .is_some(),
    )
}

pub(crate) async fn acquire_aggregation_jobs<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    lease_duration: Duration,
    max: u64,
) -> Result<Vec<Lease<AggregationJob>>> {
    let Open { conn, now, .. } = tx.write("acquire_aggregation_jobs")?;
    let request = LeaseRequest {
        table: LeasedTable::AggregationJobs,
        columns: COLUMNS,
        state_code: AggregationJobState::InProgress.code(),
        join: "JOIN tasks t ON t.task_id = j.task_id",
        filter: &format!("AND t.role = {}", Role::Leader.as_u8()),
        now,
        duration: lease_duration,
        max,
    };
    leases::acquire::<DB, _>(conn, request, columns::rows::aggregation_job).await
}

pub(crate) async fn release_aggregation_job<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    lease: &Lease<AggregationJob>,
    retry_after: Duration,
    reset_attempts: bool,
) -> Result<()> {
    let Open { conn, now, .. } = tx.write("release_aggregation_job")?;
    leases::release::<DB, _>(conn, lease, now, retry_after, reset_attempts).await
}

pub(crate) async fn renew_aggregation_job_lease<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
    aggregation_job_id: &AggregationJobId,
    token: &LeaseToken,
    lease_duration: Duration,
) -> Result<Time> {
    let Open { conn, now, .. } = tx.write("renew_aggregation_job_lease")?;
    let table = LeasedTable::AggregationJobs;
    leases::renew::<DB>(
        conn,
        table,
        task_id,
        aggregation_job_id.as_bytes(),
        token,
        now,
        lease_duration,
    )
    .await
}

/// Deletes up to `limit` jobs that are over (not in progress), whose reports
/// are all older than `before`, that were last changed before `before`, and
/// that have no report aggregation nor batch aggregation left (those go
/// first: `delete_expired_report_aggregations`,
/// `delete_expired_batch_aggregations`). With `abandoned_in_progress`, a job
/// still in progress counts as over too (it was last changed before
/// `before`: on the Helper's side only the Leader moves a job on, and it
/// abandoned this one).
pub(crate) async fn delete_expired_aggregation_jobs<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
    before: Time,
    limit: u64,
    abandoned_in_progress: bool,
) -> Result<u64> {
    let (over, state) = over_condition(abandoned_in_progress);
    let statement = format!(
        "DELETE FROM aggregation_jobs WHERE (task_id, aggregation_job_id) IN (
             SELECT j.task_id, j.aggregation_job_id FROM aggregation_jobs j
             WHERE j.task_id = $1{over} AND j.client_interval_end <= $2
               AND j.updated_at < $2
               AND NOT EXISTS (
                   SELECT 1 FROM report_aggregations r
                   WHERE r.task_id = j.task_id AND r.aggregation_job_id = j.aggregation_job_id)
               AND NOT EXISTS (
                   SELECT 1 FROM batch_aggregations b
                   WHERE b.task_id = j.task_id AND b.aggregation_job_id = j.aggregation_job_id)
             LIMIT $3{})",
        DB::SKIP_ROWS_LOCKED_FOR_DELETE
    );
    expiry::delete_expired(
        tx,
        "delete_expired_aggregation_jobs",
        &statement,
        task_id,
        before,
        limit,
        state,
    )
    .await
}

/// The condition (on job `j`) that a job is over, and the state code it
/// binds as `$4`: not in progress; or, with `abandoned_in_progress`, any
/// state (the callers' own `j.updated_at < $2` then makes an in-progress job
/// one that was abandoned).
pub(crate) fn over_condition(abandoned_in_progress: bool) -> (&'static str, Option<i64>) {
    if abandoned_in_progress {
        ("", None)
    } else {
        (
            " AND j.state <> $4",
            Some(AggregationJobState::InProgress.code()),
        )
    }
}
