//! `POST /tasks/{task-id}/aggregation_jobs/{aggregation-job-id}`: the
//! Helper's continuation of an aggregation job (DAP-09 section 4.5.2.2),
//! answered with 200 OK and an `AggregationJobResp`.
//!
//! 1. Task, token, media type, body; an unknown (or deleted) job is
//!    `unrecognizedAggregationJob`.
//! 2. [`dyad_protocol::helper_continue::helper_continue`] on the blocking
//!    pool decides the step: the previous request again (same step, same
//!    digest) is answered with the stored responses of the reports it names
//!    (section 4.5.2.3, step skew recovery); a wrong step is `stepMismatch`;
//!    step 0, unknown, repeated or reordered reports are `invalidMessage`.
//! 3. One write transaction stores the new step and digest, each report's
//!    state and response, and the newly finished output shares merged into
//!    this job's batch aggregation rows. If the job moved on meanwhile (a
//!    concurrent request), the whole request is decided again.

use super::{job_selector, stored_job, stored_response, to_helper_report, to_stored_state};
use crate::http::problem::{ApiError, ApiResult};
use crate::http::request::{
    authenticate, message_response, parse_id, read_message, DapPath, Requester,
};
use crate::state::AppState;
use crate::telemetry::instruments;
use crate::vdaf_ops::{fold_output_shares, merge_job_rows, FinishedReport};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use dyad_core::task::Task;
use dyad_core::vdaf_dispatch;
use dyad_datastore::models::{
    AggregationJob, AggregationJobState, ReportAggregation, TaskCounters,
};
use dyad_datastore::{DatastoreExt, Transaction, TxError};
use dyad_messages::draft09::{
    AggregationJobContinueReq, AggregationJobId, AggregationJobResp, PrepareError, Role, TaskId,
};
use dyad_messages::media_type::DapMediaType;
use dyad_messages::problem::DapProblemType;
use dyad_protocol::helper_continue::{
    helper_continue, HelperContinueOutcome, HelperContinueResult,
};
use dyad_protocol::helper_init::{HelperReportAggregation, HelperReportState};
use dyad_protocol::idempotency::RequestHash;
use std::sync::Arc;

/// How often a request is decided again after losing a race with a
/// concurrent request for the same job.
const MAX_ATTEMPTS: usize = 3;

/// The handler.
pub async fn post_aggregation_job(
    State(state): State<AppState>,
    DapPath((task_id, job_id)): DapPath<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let task_id: TaskId = parse_id(&task_id, "task ID")?;
    // Every error of a request naming a task carries its ID (DAP-09
    // section 3.2).
    continue_job(state, task_id, job_id, headers, body)
        .await
        .map_err(|e| e.with_task_id(task_id))
}

pub(crate) async fn continue_job(
    state: AppState,
    task_id: TaskId,
    job_id: String,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let job_id: AggregationJobId = parse_id(&job_id, "aggregation job ID")?;
    let task = crate::taskprov::task_in_role(&state, task_id, Role::Helper, &headers).await?;
    let with_task = |e: ApiError| e.with_task_id(task_id);
    authenticate(&task, &headers, Requester::Leader)?;
    let (request_message, body): (AggregationJobContinueReq, _) = read_message(
        task_id,
        &headers,
        DapMediaType::AggregationJobContinueReq,
        body,
        state.config.max_request_body_bytes,
    )
    .await?;
    let request_hash = RequestHash::of_body(&body);
    let request: Arc<AggregationJobContinueReq> = Arc::new(request_message);

    for _ in 0..MAX_ATTEMPTS {
        let (job, stored) = load(&state, task_id, job_id).await?;
        let reports = stored
            .iter()
            .map(to_helper_report)
            .collect::<ApiResult<Vec<_>>>()?;
        let (task_for_vdaf, request_for_vdaf) = (task.clone(), request.clone());
        let (agg_param, stored_job) = (
            job.aggregation_parameter.clone(),
            stored_job(job.step, job.last_request_hash),
        );
        let reports_for_vdaf = reports.clone();
        let result = tokio::task::spawn_blocking(move || {
            vdaf_dispatch!(task_for_vdaf.vdaf(), |vdaf, V, VERIFY_KEY_LEN| {
                helper_continue::<V, VERIFY_KEY_LEN>(
                    &vdaf,
                    &agg_param,
                    &stored_job,
                    &reports_for_vdaf,
                    &request_for_vdaf,
                    request_hash,
                )
            })
        })
        .await?
        .map_err(|e| with_task(e.into()))?;

        let outcome = match result {
            HelperContinueResult::Replay => {
                tracing::info!(task_id = %task_id, aggregation_job_id = %job_id, step = %request.step, "replayed aggregation job continuation");
                let ids = request.prepare_continues.iter().map(|p| &p.report_id);
                let response = stored_response(&stored, ids).map_err(with_task)?;
                return message_response(
                    StatusCode::OK,
                    DapMediaType::AggregationJobResp,
                    &response,
                );
            }
            HelperContinueResult::Advanced(outcome) => outcome,
        };
        if let Some(response) = store(&state, &task, &job, &stored, &reports, outcome).await? {
            tracing::info!(task_id = %task_id, aggregation_job_id = %job_id, step = %request.step, "continued aggregation job");
            return message_response(StatusCode::OK, DapMediaType::AggregationJobResp, &response);
        }
        tracing::debug!(task_id = %task_id, aggregation_job_id = %job_id, "job moved on concurrently; deciding again");
    }
    Err(
        ApiError::internal("aggregation job kept changing under concurrent requests")
            .with_task_id(task_id),
    )
}

async fn load(
    state: &AppState,
    task_id: TaskId,
    job_id: AggregationJobId,
) -> ApiResult<(AggregationJob, Vec<ReportAggregation>)> {
    let loaded = state
        .datastore
        .run_read_tx("helper_load_aggregation_job", move |tx| {
            Box::pin(async move {
                let Some(job) = tx.get_aggregation_job(&task_id, &job_id).await? else {
                    return Ok(None);
                };
                let reports = tx.get_report_aggregations(&task_id, &job_id).await?;
                Ok(Some((job, reports)))
            })
        })
        .await?;
    match loaded {
        Some((job, reports)) if job.state != AggregationJobState::Deleted => Ok((job, reports)),
        _ => Err(ApiError::dap(
            DapProblemType::UnrecognizedAggregationJob,
            format!("unknown aggregation job {job_id}"),
        )
        .with_task_id(task_id)),
    }
}

struct Advance {
    task: Task,
    job: AggregationJob,
    stored: Vec<ReportAggregation>,
    outcome: HelperContinueOutcome,
    new_rows: Vec<dyad_datastore::models::BatchAggregation>,
}

/// Stores the advanced job; `None` if the job changed since it was loaded.
pub(super) async fn store(
    state: &AppState,
    task: &Task,
    job: &AggregationJob,
    stored: &[ReportAggregation],
    before: &[HelperReportAggregation],
    outcome: HelperContinueOutcome,
) -> ApiResult<Option<AggregationJobResp>> {
    let selector = job_selector(job.batch_id);
    let mut finished = Vec::new();
    for (old, new) in before.iter().zip(&outcome.reports) {
        if let (HelperReportState::Continued { .. }, HelperReportState::Finished { output_share }) =
            (&old.state, &new.state)
        {
            let batch = super::batch_of(task, new.metadata.time, &selector)
                .ok_or_else(|| ApiError::internal("report time has no batch bucket"))?;
            finished.push(FinishedReport {
                report_id: new.metadata.id,
                time: new.metadata.time,
                output_share,
                batch,
            });
        }
    }
    let new_rows = fold_output_shares(
        task,
        job.aggregation_job_id,
        &job.aggregation_parameter,
        &finished,
    )?;
    // Reports whose preparation ends in this step, counted once stored.
    let ended: Vec<Result<(), PrepareError>> = before
        .iter()
        .zip(&outcome.reports)
        .filter_map(|(old, new)| match (&old.state, &new.state) {
            (HelperReportState::Continued { .. }, HelperReportState::Finished { .. }) => {
                Some(Ok(()))
            }
            (HelperReportState::Continued { .. }, HelperReportState::Failed(error)) => {
                Some(Err(*error))
            }
            _ => None,
        })
        .collect();
    let advance = Arc::new(Advance {
        task: task.clone(),
        job: job.clone(),
        stored: stored.to_vec(),
        outcome,
        new_rows,
    });
    let task_id = *task.task_id();
    let stored = state
        .datastore
        .run_tx("helper_continue_aggregation_job", move |tx| {
            let advance = advance.clone();
            Box::pin(async move { store_in_tx(tx, &advance).await })
        })
        .await
        .map_err(|e| ApiError::from(e).with_task_id(task_id))?;
    if stored.is_some() {
        for outcome in ended {
            instruments::report_prepared("helper", outcome);
        }
    }
    Ok(stored)
}

async fn store_in_tx(
    tx: &mut dyn Transaction,
    advance: &Advance,
) -> Result<Option<AggregationJobResp>, TxError> {
    let Advance {
        task,
        job,
        stored,
        outcome,
        new_rows,
    } = advance;
    let (task_id, job_id) = (*task.task_id(), job.aggregation_job_id);
    let current = tx.get_aggregation_job(&task_id, &job_id).await?;
    let unchanged = current.as_ref().is_some_and(|c| {
        c.step == job.step && c.last_request_hash == job.last_request_hash && c.state == job.state
    });
    if !unchanged {
        return Ok(None);
    }

    let named: std::collections::HashMap<_, _> = outcome
        .response
        .prepare_resps
        .iter()
        .map(|r| (r.report_id, r.clone()))
        .collect();
    let updates: Vec<ReportAggregation> = stored
        .iter()
        .zip(&outcome.reports)
        .filter_map(|(old, new)| {
            let state = to_stored_state(&new.state);
            let response = named.get(&old.report_id).cloned();
            (state != old.state || response.is_some()).then(|| ReportAggregation {
                state,
                last_prep_resp: response.or_else(|| old.last_prep_resp.clone()),
                ..old.clone()
            })
        })
        .collect();
    if !updates.is_empty() {
        tx.update_report_aggregations(&updates, None).await?;
        // Each report counted once, when it reaches its final state.
        let mut counters = TaskCounters::default();
        for (old, new) in stored.iter().zip(&outcome.reports) {
            let state = to_stored_state(&new.state);
            if state != old.state {
                counters.count_prepared(&state);
            }
        }
        tx.add_task_counters(&task_id, &counters).await?;
    }
    if !new_rows.is_empty() {
        let existing = tx.get_batch_aggregations_for_job(&task_id, &job_id).await?;
        let rows = merge_job_rows(task, &existing, new_rows.clone())
            .map_err(|e| TxError::abort(ApiError::from(e)))?;
        tx.put_batch_aggregations(&rows, None).await?;
    }
    let mut job = job.clone();
    job.step = outcome.step.0;
    job.last_request_hash = Some(outcome.request_hash.0);
    if !outcome
        .reports
        .iter()
        .any(|r| matches!(r.state, HelperReportState::Continued { .. }))
    {
        job.state = AggregationJobState::Finished;
    }
    tx.update_aggregation_job(&job, None).await?;
    Ok(Some(outcome.response.clone()))
}

#[cfg(test)]
#[path = "continue_job_tests.rs"]
mod tests;
