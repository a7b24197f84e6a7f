//! The Leader's collection jobs (DAP-09 section 4.6.1), with
//! the request bytes that make a repeated PUT idempotent and leases for the
//! collection job driver (see `leases`).

use crate::backend::LeaseRequest;
use crate::backend::{sql, Backend, Sql};
use crate::backend_transaction::{BackendTransaction as Tx, Open};
use crate::columns::{self, CollectionJobStateColumns, Result};
use crate::lease::LeasedTable;
use crate::lease::{Lease, LeaseToken};
use crate::models::{
    BatchIdentifier, CollectionJob, CollectionJobState, CollectionJobWriteOutcome,
};
use crate::tables::{expiry, leases};
use crate::DatastoreError;
use dyad_messages::draft09::{CollectionJobId, Duration, TaskId, Time};

const COLUMNS: &str = "j.task_id, j.collection_job_id, j.query, j.aggregation_parameter, \
                       j.batch_identifier, j.request, j.state, j.report_count, \
                       j.result_interval_start, j.result_interval_end, \
                       j.leader_encrypted_agg_share, j.helper_encrypted_agg_share, \
                       j.problem_type, j.problem_detail, j.created_at";

pub(crate) async fn put_collection_job<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    job: &CollectionJob,
) -> Result<CollectionJobWriteOutcome> {
    let Open { conn, now, .. } = tx.write("put_collection_job")?;
    let batch = columns::batch_columns(&job.batch_identifier)?;
    let state = columns::collection_job_state_columns(&job.state)?;
    let statement = sql::<DB>(
        "INSERT INTO collection_jobs (task_id, collection_job_id, query, aggregation_parameter,
             batch_identifier, batch_interval_start, batch_interval_end, request, state,
             report_count, result_interval_start, result_interval_end,
             leader_encrypted_agg_share, helper_encrypted_agg_share, problem_type,
             problem_detail, created_at, updated_at, retry_after)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
             $17, $17, $17)
         ON CONFLICT (task_id, collection_job_id) DO NOTHING",
    )
    .bind(job.task_id.as_bytes().as_slice())
    .bind(job.collection_job_id.as_bytes().as_slice())
    .bind(columns::encode(&job.query, "query")?)
    .bind(job.aggregation_parameter.as_slice())
    .bind(batch.encoded)
    .bind(batch.start)
    .bind(batch.end)
    .bind(job.request.as_slice());
    let inserted = bind_state(statement, state)
        .bind(columns::time(now, "now")?)
        .execute(&mut *conn)
        .await?;
    if inserted == 1 {
        return Ok(CollectionJobWriteOutcome::Created);
    }
    let existing = get_collection_job(tx, &job.task_id, &job.collection_job_id)
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

pub(crate) async fn get_collection_job<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
    job_id: &CollectionJobId,
) -> Result<Option<CollectionJob>> {
    let Open { conn, .. } = tx.read();
    sql::<DB>(&format!(
        "SELECT {COLUMNS} FROM collection_jobs j
         WHERE j.task_id = $1 AND j.collection_job_id = $2"
    ))
    .bind(task_id.as_bytes().as_slice())
    .bind(job_id.as_bytes().as_slice())
    .fetch_optional(&mut *conn)
    .await?
    .as_ref()
    .map(columns::rows::collection_job)
    .transpose()
}

pub(crate) async fn update_collection_job<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    job: &CollectionJob,
    lease: Option<&LeaseToken>,
) -> Result<()> {
    let Open { conn, now, .. } = tx.write("update_collection_job")?;
    let job_id = job.collection_job_id.as_bytes().as_slice();
    leases::check_job::<DB, _>(conn, job, lease, now).await?;
    let state = columns::collection_job_state_columns(&job.state)?;
    let statement = sql::<DB>(
        "UPDATE collection_jobs SET state = $1, report_count = $2, result_interval_start = $3,
             result_interval_end = $4, leader_encrypted_agg_share = $5,
             helper_encrypted_agg_share = $6, problem_type = $7, problem_detail = $8,
             updated_at = $9
         WHERE task_id = $10 AND collection_job_id = $11",
    );
    let updated = bind_state(statement, state)
        .bind(columns::time(now, "now")?)
        .bind(job.task_id.as_bytes().as_slice())
        .bind(job_id)
        .execute(&mut *conn)
        .await?;
    if updated == 0 {
        return Err(DatastoreError::NotFound {
            what: format!("collection job {}", job.collection_job_id),
        });
    }
    Ok(())
}

pub(crate) async fn get_collection_jobs_for_batch<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
    batch: &BatchIdentifier,
) -> Result<Vec<CollectionJob>> {
    let Open { conn, .. } = tx.read();
    let rows = match batch {
        BatchIdentifier::TimeInterval(interval) => {
            let (start, end) = columns::interval(interval, "batch interval")?;
            sql::<DB>(&format!(
                "SELECT {COLUMNS} FROM collection_jobs j
                 WHERE j.task_id = $1 AND j.batch_interval_start < $2
                   AND j.batch_interval_end > $3
                 ORDER BY j.created_at, j.collection_job_id"
            ))
            .bind(task_id.as_bytes().as_slice())
            .bind(end)
            .bind(start)
            .fetch_all(&mut *conn)
            .await?
        }
        BatchIdentifier::FixedSize(_) => {
            sql::<DB>(&format!(
                "SELECT {COLUMNS} FROM collection_jobs j
                 WHERE j.task_id = $1 AND j.batch_identifier = $2
                 ORDER BY j.created_at, j.collection_job_id"
            ))
            .bind(task_id.as_bytes().as_slice())
            .bind(batch.to_bytes())
            .fetch_all(&mut *conn)
            .await?
        }
    };
    rows.iter().map(columns::rows::collection_job).collect()
}

pub(crate) async fn get_waiting_collection_batches<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
) -> Result<Vec<(BatchIdentifier, Vec<u8>)>> {
    let Open { conn, .. } = tx.read();
    let start = columns::code(CollectionJobState::Start.code(), "state")?;
    sql::<DB>(
        "SELECT DISTINCT batch_identifier, aggregation_parameter FROM collection_jobs
         WHERE task_id = $1 AND state = $2
         ORDER BY batch_identifier, aggregation_parameter",
    )
    .bind(task_id.as_bytes().as_slice())
    .bind(start)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|row| {
        let r = columns::RowReader::new(row, "collection_jobs");
        Ok((
            r.batch_identifier("batch_identifier")?,
            r.blob("aggregation_parameter")?,
        ))
    })
    .collect()
}

pub(crate) async fn acquire_collection_jobs<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    lease_duration: Duration,
    max: u64,
) -> Result<Vec<Lease<CollectionJob>>> {
    let Open { conn, now, .. } = tx.write("acquire_collection_jobs")?;
    let request = LeaseRequest {
        table: LeasedTable::CollectionJobs,
        columns: COLUMNS,
        state_code: CollectionJobState::Start.code(),
        join: "",
        filter: "",
        now,
        duration: lease_duration,
        max,
    };
    leases::acquire::<DB, _>(conn, request, columns::rows::collection_job).await
}

pub(crate) async fn release_collection_job<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    lease: &Lease<CollectionJob>,
    retry_after: Duration,
    reset_attempts: bool,
) -> Result<()> {
    let Open { conn, now, .. } = tx.write("release_collection_job")?;
    leases::release::<DB, _>(conn, lease, now, retry_after, reset_attempts).await
}

pub(crate) async fn expedite_waiting_collection_jobs<DB: Backend>(
    tx: &mut Tx<'_, DB>,
) -> Result<u64> {
    let Open { conn, now, .. } = tx.write("expedite_waiting_collection_jobs")?;
    // A job given back as not ready had its attempts reset to 0 (see
    // `release_collection_job`); one given back after a failure keeps them,
    // and its backoff with them.
    Ok(sql::<DB>(
        "UPDATE collection_jobs SET retry_after = $1
         WHERE state = $2 AND lease_token IS NULL AND lease_attempts = 0 AND retry_after > $1",
    )
    .bind(columns::time(now, "now")?)
    .bind(CollectionJobState::Start.code())
    .execute(&mut *conn)
    .await?)
}

pub(crate) async fn renew_collection_job_lease<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
    collection_job_id: &CollectionJobId,
    token: &LeaseToken,
    lease_duration: Duration,
) -> Result<Time> {
    let Open { conn, now, .. } = tx.write("renew_collection_job_lease")?;
    let table = LeasedTable::CollectionJobs;
    leases::renew::<DB>(
        conn,
        table,
        task_id,
        collection_job_id.as_bytes(),
        token,
        now,
        lease_duration,
    )
    .await
}

/// Binds a state's columns to the statement's next placeholders, in order.
fn bind_state<'a, DB: Backend>(
    sql: Sql<'a, 'a, DB>,
    state: CollectionJobStateColumns,
) -> Sql<'a, 'a, DB> {
    sql.bind(state.code)
        .bind(state.report_count)
        .bind(state.start)
        .bind(state.end)
        .bind(state.leader_share)
        .bind(state.helper_share)
        .bind(state.problem_type)
        .bind(state.problem_detail)
}

/// Deletes up to `limit` collection jobs that are over (not in state
/// `Start`), last changed before `before` (the Collector had the whole
/// expiry age to fetch the result) and, for a time interval, whose interval
/// ends at or before `before`.
pub(crate) async fn delete_expired_collection_jobs<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
    before: Time,
    limit: u64,
) -> Result<u64> {
    let statement = format!(
        "DELETE FROM collection_jobs WHERE (task_id, collection_job_id) IN (
             SELECT c.task_id, c.collection_job_id FROM collection_jobs c
             WHERE c.task_id = $1 AND c.state <> $4 AND c.updated_at < $2
               AND (c.batch_interval_end IS NULL OR c.batch_interval_end <= $2)
             LIMIT $3{})",
        DB::SKIP_ROWS_LOCKED_FOR_DELETE
    );
    expiry::delete_expired(
        tx,
        "delete_expired_collection_jobs",
        &statement,
        task_id,
        before,
        limit,
        Some(CollectionJobState::Start.code()),
    )
    .await
}
