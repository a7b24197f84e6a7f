//! The Leader's collection jobs in PostgreSQL (DAP-09 section 4.6.1), with
//! the request bytes that make a repeated PUT idempotent and leases for the
//! collection job driver (see `leases`).

use super::leases::{self, LeasedTable};
use super::row::{self, Result, RowReader};
use crate::lease::{Lease, LeaseToken};
use crate::models::{
    BatchIdentifier, CollectionJob, CollectionJobState, CollectionJobWriteOutcome,
};
use crate::DatastoreError;
use dyad_messages::draft09::{CollectionJobId, Duration, HpkeCiphertext, TaskId, Time};
use dyad_messages::problem::DapProblemType;
use sqlx::postgres::PgRow;
use sqlx::PgConnection;

const TABLE: &str = "collection_jobs";
const COLUMNS: &str = "j.task_id, j.collection_job_id, j.query, j.aggregation_parameter, \
                       j.batch_identifier, j.request, j.state, j.report_count, \
                       j.result_interval_start, j.result_interval_end, \
                       j.leader_encrypted_agg_share, j.helper_encrypted_agg_share, \
                       j.problem_type, j.problem_detail, j.created_at";

fn state_from_row(r: &RowReader<'_>) -> Result<CollectionJobState> {
    Ok(match r.code("state")? {
        0 => CollectionJobState::Start,
        1 => CollectionJobState::Finished {
            report_count: r.u64("report_count")?,
            interval: r.interval("result_interval_start", "result_interval_end")?,
            leader_encrypted_agg_share: r.decode::<HpkeCiphertext>("leader_encrypted_agg_share")?,
            helper_encrypted_agg_share: r.decode::<HpkeCiphertext>("helper_encrypted_agg_share")?,
        },
        2 => {
            let urn = r
                .opt_text("problem_type")?
                .ok_or_else(|| r.corrupt("problem_type", "missing"))?;
            CollectionJobState::Failed {
                problem_type: urn
                    .parse::<DapProblemType>()
                    .map_err(|e| r.corrupt("problem_type", e))?,
                detail: r.opt_text("problem_detail")?.unwrap_or_default(),
            }
        }
        3 => CollectionJobState::Abandoned,
        4 => CollectionJobState::Deleted,
        other => return Err(r.corrupt("state", format!("unknown state {other}"))),
    })
}

fn from_row(row: &PgRow) -> Result<CollectionJob> {
    let r = RowReader::new(row, TABLE);
    Ok(CollectionJob {
        task_id: r.id("task_id")?,
        collection_job_id: r.id("collection_job_id")?,
        query: r.decode("query")?,
        aggregation_parameter: r.blob("aggregation_parameter")?,
        batch_identifier: r.batch_identifier("batch_identifier")?,
        request: r.blob("request")?,
        state: state_from_row(&r)?,
        created_at: r.time("created_at")?,
    })
}

/// The state's columns.
struct StateColumns {
    code: i16,
    report_count: Option<i64>,
    start: Option<i64>,
    end: Option<i64>,
    leader_share: Option<Vec<u8>>,
    helper_share: Option<Vec<u8>>,
    problem_type: Option<&'static str>,
    problem_detail: Option<String>,
}

fn state_columns(state: &CollectionJobState) -> Result<StateColumns> {
    let mut columns = StateColumns {
        code: row::code(state.code(), "state")?,
        report_count: None,
        start: None,
        end: None,
        leader_share: None,
        helper_share: None,
        problem_type: None,
        problem_detail: None,
    };
    match state {
        CollectionJobState::Finished {
            report_count,
            interval,
            leader_encrypted_agg_share,
            helper_encrypted_agg_share,
        } => {
            let (start, end) = row::interval(interval, "collection interval")?;
            columns.report_count = Some(row::int(*report_count, "report_count")?);
            columns.start = Some(start);
            columns.end = Some(end);
            columns.leader_share = Some(row::encode(leader_encrypted_agg_share, "leader share")?);
            columns.helper_share = Some(row::encode(helper_encrypted_agg_share, "helper share")?);
        }
        CollectionJobState::Failed {
            problem_type,
            detail,
        } => {
            columns.problem_type = Some(problem_type.urn());
            columns.problem_detail = Some(detail.clone());
        }
        _ => {}
    }
    Ok(columns)
}

pub(super) async fn put(
    conn: &mut PgConnection,
    now: Time,
    job: &CollectionJob,
) -> Result<CollectionJobWriteOutcome> {
    let batch = row::batch_columns(&job.batch_identifier)?;
    let s = state_columns(&job.state)?;
    let inserted = sqlx::query(
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
    .bind(row::encode(&job.query, "query")?)
    .bind(job.aggregation_parameter.as_slice())
    .bind(batch.encoded)
    .bind(batch.start)
    .bind(batch.end)
    .bind(job.request.as_slice())
    .bind(s.code)
    .bind(s.report_count)
    .bind(s.start)
    .bind(s.end)
    .bind(s.leader_share)
    .bind(s.helper_share)
    .bind(s.problem_type)
    .bind(s.problem_detail)
    .bind(row::time(now, "now")?)
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
    conn: &mut PgConnection,
    task_id: &TaskId,
    job_id: &CollectionJobId,
) -> Result<Option<CollectionJob>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM collection_jobs j
         WHERE j.task_id = $1 AND j.collection_job_id = $2"
    ))
    .bind(task_id.as_bytes().as_slice())
    .bind(job_id.as_bytes().as_slice())
    .fetch_optional(&mut *conn)
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

pub(super) async fn update(
    conn: &mut PgConnection,
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
    let s = state_columns(&job.state)?;
    let updated = sqlx::query(
        "UPDATE collection_jobs SET state = $1, report_count = $2, result_interval_start = $3,
             result_interval_end = $4, leader_encrypted_agg_share = $5,
             helper_encrypted_agg_share = $6, problem_type = $7, problem_detail = $8,
             updated_at = $9
         WHERE task_id = $10 AND collection_job_id = $11",
    )
    .bind(s.code)
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
    conn: &mut PgConnection,
    task_id: &TaskId,
    batch: &BatchIdentifier,
) -> Result<Vec<CollectionJob>> {
    let rows = match batch {
        BatchIdentifier::TimeInterval(interval) => {
            let (start, end) = row::interval(interval, "batch interval")?;
            sqlx::query(&format!(
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
            sqlx::query(&format!(
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
    rows.iter().map(from_row).collect()
}

pub(super) async fn acquire(
    conn: &mut PgConnection,
    now: Time,
    lease_duration: Duration,
    max: u64,
) -> Result<Vec<Lease<CollectionJob>>> {
    leases::acquire(
        conn,
        LeasedTable::CollectionJobs,
        COLUMNS,
        CollectionJobState::Start.code(),
        "",
        "",
        now,
        lease_duration,
        max,
    )
    .await?
    .into_iter()
    .map(|taken| {
        Ok(Lease {
            leased: from_row(&taken.row)?,
            token: taken.token,
            expiry: taken.expiry,
            attempts: taken.attempts,
        })
    })
    .collect()
}

pub(super) async fn release(
    conn: &mut PgConnection,
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
