//! The Leader's collection job endpoints (DAP-09 section 4.6.1), all
//! authenticated with the task's collector token (403
//! `unauthorizedRequest`). The background driver that completes jobs is the
//! Leader's [`crate::leader`] module; these handlers only create, report on
//! and delete jobs.
//!
//! `PUT /tasks/{task-id}/collection_jobs/{collection-job-id}`
//! (`CollectionReq`) → 201 Created. Checked at once: query type
//! (`invalidMessage`), aggregation parameter (`invalidMessage`), and, under
//! "the Leader MAY further validate the request" (section 4.6.5), the batch
//! boundary (`batchInvalid`: misaligned interval, an interval ending after
//! 2^63 - 1, which no datastore can hold (see [`crate::http::storable_time`]), or a
//! `by_batch_id` batch the Leader never returned), the query count (`batchQueriedTooManyTimes`:
//! a new aggregation parameter for a batch already queried with
//! `max_batch_query_count` others) and overlap (`batchOverlap`: an interval
//! overlapping, without equalling, one already queried). Earlier queries are
//! the batches asked of the Helper and the jobs pending or finished. The
//! size check is left to the driver (the Leader "SHOULD wait for more
//! reports"). A `current_batch` query takes the oldest batch ready for
//! collection, or fails with `invalidBatchSize` if none is ready yet. The
//! same PUT again (identical body) is 201 again; a different body for the
//! same ID is 409 Conflict (typed `invalidMessage`).
//!
//! `POST` on the URI → 202 Accepted with `Retry-After` while the job runs
//! (its estimate of the work left: see `pending_retry_after`),
//! 200 OK with a `Collection` (`application/dap-collection`) once finished,
//! the job's stored problem document if it failed, 500 if the Leader
//! abandoned it, 204 No Content if it was deleted. An unknown job is 404
//! Not Found (no DAP type exists for it).
//!
//! `DELETE` on the URI → 204 No Content; the job is marked deleted (later
//! POSTs get 204: "results deleted").
//!
//! Every error of the three carries the task ID once it parses (DAP-09
//! section 3.2).
//!
//! ## Where is
//!
//! - only the task's Collector, with the collector token (3.1) →
//!   [`authorize_collector`]
//! - query type, aggregation parameter and batch boundary checked before any
//!   lookup → [`create_job`]; the parameter well formed for the VDAF, and a
//!   parameter chosen at collection only in time_interval tasks →
//!   [`check_collectable`]
//! - the same PUT again is 201, another body for the same ID 409; a
//!   `current_batch` query takes the oldest ready batch (4.6.1) →
//!   [`store_new_job`]
//! - batch validation that stored queries decide: batch ID boundary, query
//!   count, the levels of the batch's parameters (Poplar1: each level
//!   once, any order), overlap (4.6.5) → [`check_earlier_queries`]
//! - what a POST answers for each state of the job (4.6.1) → [`poll_job`]
//! - the `Retry-After` of a pending job, growing with the work left →
//!   [`pending_retry_after`], [`pending_work`]
//! - DELETE marks the job deleted → [`delete_job`]

use crate::convert::{to_protocol_batch, to_stored_batch};
use crate::http::problem::{ApiError, ApiResult};
use crate::http::request::{
    authenticate, message_response, parse_id, read_message, DapPath, Requester,
};
use crate::http::storable_time::check_batch_interval;
use crate::state::AppState;
use crate::vdaf_ops::check_agg_param;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use dyad_core::task::{BatchMode, Task};
use dyad_datastore::models::{
    BatchIdentifier, CollectionJob, CollectionJobState, CollectionJobWriteOutcome,
};
use dyad_datastore::{DatastoreExt, Transaction, TxError};
use dyad_messages::draft09::{CollectionJobId, CollectionReq, Interval, Role, TaskId};
use dyad_messages::media_type::DapMediaType;
use dyad_messages::problem::DapProblemType;
use dyad_protocol::batch::{
    check_agg_param_sequence, check_fixed_size_batch_known, check_query_count,
    check_time_interval_overlap, QueriedBatch,
};
use dyad_protocol::collection::{build_collection, collection_target, CollectionTarget};
use dyad_protocol::ProtocolError;
use std::sync::Arc;

/// `PUT`: creates the job.
pub async fn put_collection_job(
    State(state): State<AppState>,
    DapPath((task_id, job_id)): DapPath<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<StatusCode> {
    let task_id: TaskId = parse_id(&task_id, "task ID")?;
    create_job(&state, task_id, &job_id, &headers, body)
        .await
        .map_err(|e| e.with_task_id(task_id))
}

async fn create_job(
    state: &AppState,
    task_id: TaskId,
    job_id: &str,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult<StatusCode> {
    let (task, job_id) = authorize_collector(state, task_id, job_id, headers).await?;
    let (request, bytes): (CollectionReq, _) = read_message(
        task_id,
        headers,
        DapMediaType::CollectionReq,
        body,
        state.config.max_request_body_bytes,
    )
    .await?;
    let target = collection_target(&task, &request.query)?;
    if let CollectionTarget::Batch(QueriedBatch::TimeInterval(interval)) = &target {
        check_batch_interval(interval)?;
    }
    check_agg_param(&task, &request.aggregation_parameter)?;
    check_collectable(&task, &request.aggregation_parameter)?;

    let shared = Arc::new((task, request, bytes.to_vec(), target));
    state
        .datastore
        .run_tx("put_collection_job", move |tx| {
            let shared = shared.clone();
            Box::pin(async move {
                let (task, request, bytes, target) = &*shared;
                store_new_job(tx, task, job_id, request, bytes, *target).await
            })
        })
        .await?;
    // Committed: this process's job creator and collection job driver (if
    // it runs them) start on it now.
    crate::leader::wake::collection_job_created();
    tracing::info!(task_id = %task_id, collection_job_id = %job_id, "collection job created");
    Ok(StatusCode::CREATED)
}

/// The checks of a collection's aggregation parameter that need no store:
/// well formed for the task's VDAF (Poplar1: a level below `bits`, sorted
/// and distinct prefixes, VDAF-08 section 8.2.6.6), and a batch mode this
/// Leader can aggregate it in (a parameter the Collector chooses is
/// aggregated per time-interval batch, `leader::param_jobs`). Otherwise
/// `invalidMessage`.
fn check_collectable(task: &Task, agg_param: &[u8]) -> Result<(), ApiError> {
    let vdaf = task.vdaf();
    vdaf.check_aggregation_parameter(agg_param)
        .map_err(|e| ApiError::dap(DapProblemType::InvalidMessage, e.to_string()))?;
    if vdaf.fixed_aggregation_parameter().is_none()
        && !matches!(task.batch_mode(), BatchMode::TimeInterval)
    {
        return Err(ApiError::dap(
            DapProblemType::InvalidMessage,
            format!(
                "{} is collected in time_interval batches only: its aggregation parameter is \
                 chosen at collection, and fixed_size batches are formed before",
                vdaf.type_name()
            ),
        ));
    }
    Ok(())
}

async fn store_new_job(
    tx: &mut dyn Transaction,
    task: &Task,
    job_id: CollectionJobId,
    request: &CollectionReq,
    bytes: &[u8],
    target: CollectionTarget,
) -> Result<(), TxError> {
    let task_id = *task.task_id();
    let agg_param = &request.aggregation_parameter;
    let conflict = || {
        TxError::abort(ApiError::conflict(
            "the collection job exists with a different request",
        ))
    };
    if let Some(existing) = tx.get_collection_job(&task_id, &job_id).await? {
        return if existing.request == bytes {
            Ok(())
        } else {
            Err(conflict())
        };
    }
    let batch = match target {
        CollectionTarget::Batch(batch) => {
            check_earlier_queries(tx, task, &batch, agg_param).await?;
            to_stored_batch(&batch)
        }
        CollectionTarget::CurrentBatch => {
            let taken = tx
                .take_current_batch(&task_id, agg_param, task.min_batch_size())
                .await?;
            match taken {
                Some(batch_id) => BatchIdentifier::FixedSize(batch_id),
                None => {
                    return Err(TxError::abort(ApiError::dap(
                        DapProblemType::InvalidBatchSize,
                        "no batch holds min_batch_size aggregated reports yet",
                    )))
                }
            }
        }
    };
    let job = CollectionJob::new(
        task_id,
        job_id,
        request.query,
        agg_param.clone(),
        batch,
        bytes.to_vec(),
    );
    match tx.put_collection_job(&job).await? {
        CollectionJobWriteOutcome::Created | CollectionJobWriteOutcome::AlreadyExists(_) => Ok(()),
        CollectionJobWriteOutcome::Conflict => Err(conflict()),
    }
}

/// The eager checks of batch validation (DAP-09 section 4.6.5) that the
/// stored queries decide: boundary of a batch ID, query count, overlap.
pub(crate) async fn check_earlier_queries(
    tx: &mut dyn Transaction,
    task: &Task,
    batch: &QueriedBatch,
    agg_param: &[u8],
) -> Result<(), TxError> {
    let task_id = *task.task_id();
    let stored = to_stored_batch(batch);
    let fail = |e: ProtocolError| TxError::abort(e.with_task_id(task_id));
    // Every query of a batch touching this one: (batch, parameter).
    let mut queries: Vec<(BatchIdentifier, Vec<u8>)> = tx
        .get_collected_batches(&task_id, &stored)
        .await?
        .into_iter()
        .map(|q| (q.batch_identifier, q.aggregation_parameter))
        .collect();
    let jobs = tx.get_collection_jobs_for_batch(&task_id, &stored).await?;
    let finished_before = jobs
        .iter()
        .any(|j| matches!(j.state, CollectionJobState::Finished { .. }));
    queries.extend(
        jobs.into_iter()
            .filter(|j| {
                matches!(
                    j.state,
                    CollectionJobState::Start | CollectionJobState::Finished { .. }
                )
            })
            .map(|j| (j.batch_identifier, j.aggregation_parameter)),
    );

    if let QueriedBatch::FixedSize(batch_id) = batch {
        let known = finished_before || queries.iter().any(|(b, _)| *b == stored);
        check_fixed_size_batch_known(batch_id, known).map_err(fail)?;
    }
    let same_batch: Vec<&[u8]> = queries
        .iter()
        .filter(|(b, _)| *b == stored)
        .map(|(_, p)| p.as_slice())
        .collect();
    check_query_count(task, &same_batch, agg_param).map_err(fail)?;
    check_agg_param_sequence(task, &same_batch, agg_param).map_err(fail)?;
    if let QueriedBatch::TimeInterval(interval) = batch {
        let intervals: Vec<Interval> = queries
            .iter()
            .filter_map(|(b, _)| b.interval().copied())
            .collect();
        check_time_interval_overlap(*interval, &intervals).map_err(fail)?;
    }
    Ok(())
}

/// `POST`: the job's status or result.
pub async fn poll_collection_job(
    State(state): State<AppState>,
    DapPath((task_id, job_id)): DapPath<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let task_id: TaskId = parse_id(&task_id, "task ID")?;
    poll_job(&state, task_id, &job_id, &headers)
        .await
        .map_err(|e| e.with_task_id(task_id))
}

async fn poll_job(
    state: &AppState,
    task_id: TaskId,
    job_id: &str,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let (_, job_id) = authorize_collector(state, task_id, job_id, headers).await?;
    let (job, work) = state
        .datastore
        .run_read_tx("get_collection_job", move |tx| {
            Box::pin(async move {
                let Some(job) = tx.get_collection_job(&task_id, &job_id).await? else {
                    return Ok(None);
                };
                let work = match job.state {
                    CollectionJobState::Start => Some(pending_work(tx, &job).await?),
                    _ => None,
                };
                Ok(Some((job, work)))
            })
        })
        .await?
        .ok_or_else(|| unknown_job(task_id, job_id))?;
    match job.state {
        CollectionJobState::Start => {
            let mut response = StatusCode::ACCEPTED.into_response();
            let delay = pending_retry_after(
                work.unwrap_or_default(),
                state.config.collection_retry_after,
            );
            if let Ok(value) = HeaderValue::from_str(&delay.as_secs().to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            Ok(response)
        }
        CollectionJobState::Finished {
            report_count,
            interval,
            leader_encrypted_agg_share,
            helper_encrypted_agg_share,
        } => {
            let collection = build_collection(
                &to_protocol_batch(&job.batch_identifier),
                report_count,
                interval,
                leader_encrypted_agg_share,
                helper_encrypted_agg_share,
            );
            message_response(StatusCode::OK, DapMediaType::Collection, &collection)
        }
        CollectionJobState::Failed {
            problem_type,
            detail,
        } => Err(ApiError::stored(problem_type, detail).with_task_id(task_id)),
        CollectionJobState::Abandoned => Err(ApiError::server_error(format!(
            "collection job {job_id} was abandoned by the Leader"
        ))
        .with_task_id(task_id)),
        CollectionJobState::Deleted => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

/// What is left to do before a pending collection job's batch can be
/// collected, as far as the Leader's tables tell.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct PendingWork {
    /// Aggregation jobs still running that may hold reports of the batch.
    pub unfinished_jobs: u64,
    /// Reports in the batch's interval not yet put in an aggregation job
    /// (time-interval batches only).
    pub unaggregated_reports: u64,
}

/// Roughly how many aggregation jobs, and reports, the Leader gets through
/// in a second on modest hardware; the estimate only paces the Collector's
/// polls.
const JOBS_PER_SECOND: u64 = 8;
const REPORTS_PER_SECOND: u64 = 2000;

/// The `Retry-After` of a pending collection job (DAP-09 section 4.6.1: the
/// Leader MAY include one): one second when (almost) nothing is left, so
/// that a Collector sees a result about as soon as it is ready, growing with
/// the work left, and never more than the configured
/// `collection_retry_after_secs`. (Whole seconds: the header carries no
/// fractions.)
pub(crate) fn pending_retry_after(
    work: PendingWork,
    max: std::time::Duration,
) -> std::time::Duration {
    let estimate = 1u64
        .saturating_add(work.unfinished_jobs / JOBS_PER_SECOND)
        .saturating_add(work.unaggregated_reports / REPORTS_PER_SECOND);
    std::time::Duration::from_secs(estimate.min(max.as_secs()).max(1))
}

/// Counts the work left on `job`'s batch.
async fn pending_work(
    tx: &mut dyn Transaction,
    job: &CollectionJob,
) -> Result<PendingWork, TxError> {
    let unfinished_jobs = tx
        .count_unfinished_aggregation_jobs_for_batch(
            &job.task_id,
            &job.batch_identifier,
            &job.aggregation_parameter,
        )
        .await?;
    let unaggregated_reports = match job.batch_identifier.interval() {
        Some(interval) => {
            tx.count_unaggregated_client_reports(&job.task_id, Some(*interval))
                .await?
        }
        None => 0,
    };
    Ok(PendingWork {
        unfinished_jobs,
        unaggregated_reports,
    })
}

/// `DELETE`: marks the job deleted.
pub async fn delete_collection_job(
    State(state): State<AppState>,
    DapPath((task_id, job_id)): DapPath<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let task_id: TaskId = parse_id(&task_id, "task ID")?;
    delete_job(&state, task_id, &job_id, &headers)
        .await
        .map_err(|e| e.with_task_id(task_id))
}

async fn delete_job(
    state: &AppState,
    task_id: TaskId,
    job_id: &str,
    headers: &HeaderMap,
) -> ApiResult<StatusCode> {
    let (_, job_id) = authorize_collector(state, task_id, job_id, headers).await?;
    state
        .datastore
        .run_tx("delete_collection_job", move |tx| {
            Box::pin(async move {
                let Some(mut job) = tx.get_collection_job(&task_id, &job_id).await? else {
                    return Err(TxError::abort(unknown_job(task_id, job_id)));
                };
                if job.state != CollectionJobState::Deleted {
                    job.state = CollectionJobState::Deleted;
                    tx.update_collection_job(&job, None).await?;
                }
                Ok(())
            })
        })
        .await?;
    tracing::info!(task_id = %task_id, collection_job_id = %job_id, "collection job deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// The task (which this aggregator must lead) and job ID of a request from
/// the task's Collector.
async fn authorize_collector(
    state: &AppState,
    task_id: TaskId,
    job_id: &str,
    headers: &HeaderMap,
) -> ApiResult<(Arc<Task>, CollectionJobId)> {
    let job_id: CollectionJobId = parse_id(job_id, "collection job ID")?;
    // A taskprov Collector advertises the task (taskprov-06 section 7): the
    // header must be the stored task's; a task not provisioned yet is
    // unknown (section 5.3).
    let task = crate::taskprov::task_in_role(state, task_id, Role::Leader, headers).await?;
    authenticate(&task, headers, Requester::Collector)?;
    Ok((task, job_id))
}

fn unknown_job(task_id: TaskId, job_id: CollectionJobId) -> ApiError {
    ApiError::not_found(format!("unknown collection job {job_id}")).with_task_id(task_id)
}

#[cfg(test)]
#[path = "collection_jobs_tests.rs"]
mod tests;
