//! `PUT /tasks/{task-id}/aggregation_jobs/{aggregation-job-id}`: the
//! Helper's initialization of an aggregation job (DAP-09 section 4.5.1.2),
//! answered with 201 Created and an `AggregationJobResp`.
//!
//! 1. Task (or, advertised in a `dap-taskprov` header, a task provisioned by
//!    taskprov: [`crate::taskprov::task_to_provision`], stored in step 4's
//!    transaction), token (403 `unauthorizedRequest`), media type (415), body
//!    (`invalidMessage`).
//! 2. A job already stored under the ID: the identical request again (same
//!    SHA-256 digest, job not continued since) gets the stored response,
//!    byte for byte; any other request conflicts (409, typed
//!    `invalidMessage`: "MUST fail with an HTTP client error status code").
//! 3. The facts of the reports are read ([`super::facts`]), then
//!    [`dyad_protocol::helper_init::helper_initialize`] runs on the blocking pool;
//!    a report still accepted whose time cannot be stored (at or after
//!    2^63 - 1 with its time-precision bucket, see [`crate::http::storable_time`])
//!    is then rejected alone with `report_too_early`; its row is stored
//!    with a clamped time, the rest of the job goes on.
//! 4. One write transaction re-checks anti-replay
//!    ([`super::replay::lookup_seen`], judged by
//!    [`dyad_protocol::replay::decide`]; for a single-parameter VDAF only
//!    where a collected batch would otherwise decide, see
//!    `needing_history`) and collected batches (rejecting
//!    reports that lost a race with `report_replayed` or `batch_collected`,
//!    without preparing anything again), records the accepted reports as
//!    seen ([`super::replay::record_seen`]), and stores the job (step 0, request digest),
//!    its reports with their responses, and the finished reports' output
//!    shares folded into this job's batch aggregation rows.
//!
//! A job that finishes in its initialization (every report finished or
//! failed: any one-round VDAF, Prio3 among them) keeps its encoded answer
//! on its own row instead of one report aggregation per report: nothing
//! can continue it, so a replay of the request (answered with those
//! bytes) is all that could read them, and on PostgreSQL those rows were
//! a large share of the Helper's writes per report. A job that goes on
//! (Poplar1) stores its reports' states and answers as rows.

use super::facts::{self, InitFacts};
use super::replay;
use super::{batch_of, stored_job, stored_response, to_stored_state};
use crate::convert::span_to_interval;
use crate::http::problem::{ApiError, ApiResult};
use crate::http::request::{
    authenticate, message_response, parse_id, read_message, DapPath, Requester,
};
use crate::http::storable_time::{
    is_storable_report_time, stored_time_of_refused, with_storable_clock_skew,
};
use crate::state::AppState;
use crate::taskprov;
use crate::telemetry::instruments;
use crate::vdaf_ops::{fold_output_shares, FinishedReport};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use dyad_core::task::Task;
use dyad_core::vdaf_dispatch;
use dyad_datastore::models::{
    AggregationJob, AggregationJobState, BatchAggregation, BatchIdentifier, ReportAggregation,
    TaskCounters,
};
use dyad_datastore::{Datastore, DatastoreExt, Transaction, TxError};
use dyad_messages::codec::{Decode, Encode};
use dyad_messages::draft09::{
    AggregationJobId, AggregationJobInitReq, AggregationJobResp, PartialBatchSelector,
    PrepareError, PrepareResp, PrepareStepResult, ReportMetadata, Role, TaskId, Time,
};
use dyad_messages::media_type::DapMediaType;
use dyad_protocol::batch::TimestampSpan;
use dyad_protocol::helper_init::{
    helper_initialize, HelperInitContext, HelperInitOutcome, HelperReportAggregation,
    HelperReportState,
};
use dyad_protocol::idempotency::{check_init_request, InitDisposition, RequestHash};
use dyad_protocol::keyring::HpkeKeyring;
use dyad_protocol::replay::{decide as decide_replay, Replay};
use dyad_protocol::upload::NO_EXTENSIONS;
use dyad_protocol::ProtocolError;
use std::collections::HashMap;
use std::sync::Arc;

/// The handler.
pub async fn put_aggregation_job(
    State(state): State<AppState>,
    DapPath((task_id, job_id)): DapPath<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let task_id: TaskId = parse_id(&task_id, "task ID")?;
    // Every error of a request naming a task carries its ID (DAP-09
    // section 3.2).
    initialize(state, task_id, job_id, headers, body)
        .await
        .map_err(|e| e.with_task_id(task_id))
}

async fn initialize(
    state: AppState,
    task_id: TaskId,
    job_id: String,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let job_id: AggregationJobId = parse_id(&job_id, "aggregation job ID")?;
    // A task advertised by taskprov is stored with the job, below.
    let (task, provisioning) =
        taskprov::task_to_provision(&state, task_id, Role::Helper, &headers).await?;
    authenticate(&task, &headers, Requester::Leader)?;
    let (request, body): (AggregationJobInitReq, _) = read_message(
        task_id,
        &headers,
        DapMediaType::AggregationJobInitReq,
        body,
        state.config.max_request_body_bytes,
    )
    .await?;
    let request_hash = RequestHash::of_body(&body);

    if let Some(response) = stored_answer(&state, task_id, job_id, request_hash).await? {
        tracing::info!(task_id = %task_id, aggregation_job_id = %job_id, "replayed aggregation job initialization");
        return message_response(
            StatusCode::CREATED,
            DapMediaType::AggregationJobResp,
            &response,
        );
    }

    let facts = read_facts(&state, &task, &request).await?;
    let global_keys = state
        .global_keys_for(
            &task,
            request
                .prepare_inits
                .iter()
                .map(|init| init.report_share.encrypted_input_share.config_id),
        )
        .await?;
    let now = state.now();
    let (task_for_vdaf, request) = (with_storable_clock_skew(&task, now), Arc::new(request));
    let request_for_vdaf = request.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let keys = (task_for_vdaf.as_ref(), global_keys.keypairs.as_slice());
        prepare(
            &task_for_vdaf,
            &keys,
            &facts,
            &request_for_vdaf,
            request_hash,
            now,
        )
    })
    .await??;
    let outcome = refuse_unstorable_times(&task, outcome);

    let response = store(
        state.datastore.as_ref(),
        &task,
        job_id,
        request.clone(),
        outcome,
        provisioning,
    )
    .await?;
    tracing::info!(
        task_id = %task_id,
        aggregation_job_id = %job_id,
        reports = response.prepare_resps.len(),
        "initialized aggregation job"
    );
    message_response(
        StatusCode::CREATED,
        DapMediaType::AggregationJobResp,
        &response,
    )
}

/// The stored response if the job exists and `request_hash` replays its
/// initialization; a conflict if it exists otherwise; `None` if it does not.
pub(crate) async fn stored_answer(
    state: &AppState,
    task_id: TaskId,
    job_id: AggregationJobId,
    request_hash: RequestHash,
) -> ApiResult<Option<AggregationJobResp>> {
    let stored = state
        .datastore
        .run_read_tx("helper_get_aggregation_job", move |tx| {
            Box::pin(async move {
                let Some(job) = tx.get_aggregation_job(&task_id, &job_id).await? else {
                    return Ok(None);
                };
                let reports = stored_reports(tx, &job).await?;
                Ok(Some((job, reports)))
            })
        })
        .await?;
    match stored {
        None => Ok(None),
        Some((job, reports)) => answer_existing(&job, &reports, &request_hash)
            .map(Some)
            .map_err(|e| e.with_task_id(task_id)),
    }
}

/// The answer to an initialization of a job that is already stored.
fn answer_existing(
    job: &AggregationJob,
    reports: &[ReportAggregation],
    request_hash: &RequestHash,
) -> ApiResult<AggregationJobResp> {
    if job.state == AggregationJobState::Deleted {
        return Err(ApiError::conflict("the aggregation job was deleted"));
    }
    let stored = stored_job(job.step, job.last_request_hash);
    match check_init_request(Some(&stored), request_hash) {
        Ok(InitDisposition::Replay) => match &job.init_response {
            Some(answer) => AggregationJobResp::get_decoded(answer)
                .map_err(|e| ApiError::internal(format!("the stored answer is corrupt: {e}"))),
            None => stored_response(reports, reports.iter().map(|r| &r.report_id)),
        },
        Ok(InitDisposition::Fresh) => Err(ApiError::internal("stored job judged fresh")),
        Err(error) => Err(ApiError::conflict(error.detail())),
    }
}

async fn read_facts(
    state: &AppState,
    task: &Task,
    request: &AggregationJobInitReq,
) -> ApiResult<InitFacts> {
    let task = Arc::new(task.clone());
    let agg_param = Arc::new(request.aggregation_parameter.clone());
    let selector = request.partial_batch_selector;
    let reports: Arc<Vec<ReportMetadata>> = Arc::new(
        request
            .prepare_inits
            .iter()
            .map(|init| init.report_share.metadata)
            .collect(),
    );
    Ok(state
        .datastore
        .run_read_tx("helper_init_facts", move |tx| {
            let (task, agg_param, reports) = (task.clone(), agg_param.clone(), reports.clone());
            Box::pin(async move { facts::gather(tx, &task, &agg_param, &selector, &reports).await })
        })
        .await?)
}

pub(super) fn prepare<K: HpkeKeyring + Sync + ?Sized>(
    task: &Task,
    keys: &K,
    facts: &InitFacts,
    request: &AggregationJobInitReq,
    request_hash: RequestHash,
    now: Time,
) -> Result<HelperInitOutcome, ProtocolError> {
    let context = HelperInitContext {
        task,
        keys,
        facts,
        now,
        recognized_extensions: NO_EXTENSIONS,
        batch_capacity: facts.batch_capacity,
    };
    vdaf_dispatch!(task.vdaf(), |vdaf, V, VERIFY_KEY_LEN| {
        helper_initialize::<V, VERIFY_KEY_LEN, K, InitFacts>(&vdaf, &context, request, request_hash)
    })
}

/// Rejects with `report_too_early` every report still accepted whose time
/// cannot be stored (DAP-09 section 4.5.1.4: a report too far in the
/// future; see `crate::http::storable_time`), so that it fails alone, never the
/// whole job. The protocol's own time check, run with the clock skew cut by
/// `with_storable_clock_skew`, has rejected it already; this is the
/// guarantee that nothing unstorable reaches the transaction.
pub(super) fn refuse_unstorable_times(
    task: &Task,
    mut outcome: HelperInitOutcome,
) -> HelperInitOutcome {
    for index in 0..outcome.reports.len() {
        let report = &outcome.reports[index];
        if accepted(&report.state) && !is_storable_report_time(task, report.metadata.time) {
            reject(
                &mut outcome.reports,
                &mut outcome.response.prepare_resps,
                index,
                PrepareError::ReportTooEarly,
            );
        }
    }
    outcome
}

/// The finished reports' output shares, folded per batch.
fn fold(
    task: &Task,
    job_id: AggregationJobId,
    agg_param: &[u8],
    selector: &PartialBatchSelector,
    reports: &[HelperReportAggregation],
) -> ApiResult<Vec<BatchAggregation>> {
    let mut finished = Vec::new();
    for report in reports {
        if let HelperReportState::Finished { output_share } = &report.state {
            let batch = batch_of(task, report.metadata.time, selector)
                .ok_or_else(|| ApiError::internal("report time has no batch bucket"))?;
            finished.push(FinishedReport {
                report_id: report.metadata.id,
                time: report.metadata.time,
                output_share,
                batch,
            });
        }
    }
    Ok(fold_output_shares(task, job_id, agg_param, &finished)?)
}

pub(crate) struct Prepared {
    task: Task,
    job: AggregationJob,
    request: Arc<AggregationJobInitReq>,
    outcome: HelperInitOutcome,
    rows: Vec<BatchAggregation>,
    /// The task to store first, if the request advertised a new one.
    provisioning: Option<taskprov::Provisioning>,
}

async fn store(
    datastore: &dyn Datastore,
    task: &Task,
    job_id: AggregationJobId,
    request: Arc<AggregationJobInitReq>,
    outcome: HelperInitOutcome,
    provisioning: Option<taskprov::Provisioning>,
) -> ApiResult<AggregationJobResp> {
    let selector = request.partial_batch_selector;
    let rows = fold(
        task,
        job_id,
        &request.aggregation_parameter,
        &selector,
        &outcome.reports,
    )?;
    let span = TimestampSpan::of(
        outcome
            .reports
            .iter()
            .map(|r| stored_time_of_refused(r.metadata.time)),
    );
    let job = AggregationJob::new(
        *task.task_id(),
        job_id,
        request.aggregation_parameter.clone(),
        selector.batch_id().copied(),
        span_to_interval(&span),
    );
    let prepared = Arc::new(Prepared {
        task: task.clone(),
        job,
        request,
        outcome,
        rows,
        provisioning,
    });
    let stored = prepared.clone();
    let (response, fresh) = datastore
        .run_tx("helper_init_aggregation_job", move |tx| {
            let prepared = stored.clone();
            Box::pin(async move { store_in_tx(tx, &prepared).await })
        })
        .await
        .map_err(|e| ApiError::from(e).with_task_id(*task.task_id()))?;
    if fresh {
        record_prepared(&prepared.outcome.reports, &response);
    }
    Ok(response)
}

/// Counts each report whose preparation ended with this initialization
/// (its output share, or the error it was rejected with), once the job is
/// committed; a report waiting for a continuation is counted when it ends.
fn record_prepared(reports: &[HelperReportAggregation], response: &AggregationJobResp) {
    for (report, answer) in reports.iter().zip(&response.prepare_resps) {
        match (&answer.result, &report.state) {
            (PrepareStepResult::Reject(error), _) => {
                instruments::report_prepared("helper", Err(*error))
            }
            (_, HelperReportState::Finished { .. }) => {
                instruments::report_prepared("helper", Ok(()))
            }
            _ => {}
        }
    }
}

fn accepted(state: &HelperReportState) -> bool {
    matches!(
        state,
        HelperReportState::Continued { .. } | HelperReportState::Finished { .. }
    )
}

/// Stores the job; its answer, and whether this stored it (rather than
/// finding it stored by a request that raced this one).
pub(crate) async fn store_in_tx(
    tx: &mut dyn Transaction,
    prepared: &Prepared,
) -> Result<(AggregationJobResp, bool), TxError> {
    let Prepared {
        task,
        job,
        request,
        outcome,
        rows,
        provisioning,
    } = prepared;
    let (task_id, job_id) = (*task.task_id(), job.aggregation_job_id);
    if let Some(provisioning) = provisioning {
        provisioning.store(tx).await?;
    }
    let selector = request.partial_batch_selector;
    let agg_param = &request.aggregation_parameter;
    let abort = |e: ApiError| TxError::abort(e.with_task_id(task_id));

    // Another request for the same job may have been stored meanwhile.
    if let Some(existing) = tx.get_aggregation_job(&task_id, &job_id).await? {
        let reports = stored_reports(tx, &existing).await?;
        return answer_existing(&existing, &reports, &outcome.request_hash)
            .map(|answer| (answer, false))
            .map_err(abort);
    }

    // Authoritative anti-replay and collected-batch checks.
    let mut reports = outcome.reports.clone();
    let mut responses = outcome.response.prepare_resps.clone();
    let candidates: Vec<ReportMetadata> = reports
        .iter()
        .filter(|r| accepted(&r.state))
        .map(|r| r.metadata)
        .collect();
    let collected = facts::collected_batches(tx, task, agg_param, &selector, &candidates).await?;
    let to_look_up = needing_history(task, &selector, &collected, candidates);
    let seen = replay::lookup_seen(tx, &task_id, task.vdaf(), agg_param, &to_look_up).await?;
    let mut changed = false;
    for index in 0..reports.len() {
        let metadata = reports[index].metadata;
        if !accepted(&reports[index].state) {
            continue;
        }
        let previous = seen.get(&metadata.id).map_or(&[][..], Vec::as_slice);
        let error = if decide_replay(task.vdaf(), agg_param, previous) == Replay::Replayed {
            Some(PrepareError::ReportReplayed)
        } else if batch_of(task, metadata.time, &selector)
            .is_some_and(|b| facts::collected_blocks(&collected, &b, previous))
        {
            Some(PrepareError::BatchCollected)
        } else {
            None
        };
        if let Some(error) = error {
            reject(&mut reports, &mut responses, index, error);
            changed = true;
        }
    }
    let to_record: Vec<ReportMetadata> = reports
        .iter()
        .filter(|r| accepted(&r.state))
        .map(|r| r.metadata)
        .collect();
    let lost_race = replay::record_seen(tx, &task_id, agg_param, &to_record).await?;
    for index in 0..reports.len() {
        if accepted(&reports[index].state) && lost_race.contains(&reports[index].metadata.id) {
            reject(
                &mut reports,
                &mut responses,
                index,
                PrepareError::ReportReplayed,
            );
            changed = true;
        }
    }

    let rows = if changed {
        fold(task, job_id, agg_param, &selector, &reports).map_err(abort)?
    } else {
        rows.clone()
    };
    let mut job = job.clone();
    job.last_request_hash = Some(outcome.request_hash.0);
    job.state = if reports
        .iter()
        .any(|r| matches!(r.state, HelperReportState::Continued { .. }))
    {
        AggregationJobState::InProgress
    } else {
        AggregationJobState::Finished
    };
    let response = AggregationJobResp::new(responses);
    if job.state == AggregationJobState::Finished {
        // Nothing will continue the job: its answer is all a later request
        // can need (see `stored_reports`).
        job.init_response = Some(
            response
                .get_encoded()
                .map_err(|e| abort(ApiError::internal(format!("encoding the answer: {e}"))))?,
        );
    }
    tx.put_aggregation_job(&job).await?;
    let mut counters = TaskCounters::default();
    for report in &reports {
        counters.count_prepared(&to_stored_state(&report.state));
    }
    // A job that goes on keeps its reports' states and answers as rows.
    if job.init_response.is_none() {
        let stored: Vec<ReportAggregation> = reports
            .iter()
            .zip(response.prepare_resps.iter())
            .enumerate()
            .map(|(ord, (report, response))| ReportAggregation {
                task_id,
                aggregation_job_id: job_id,
                ord: ord as u64,
                report_id: report.metadata.id,
                // Accepted reports' times are storable; a refused report's
                // time may not be.
                time: stored_time_of_refused(report.metadata.time),
                state: to_stored_state(&report.state),
                last_prep_resp: Some(response.clone()),
            })
            .collect();
        tx.put_report_aggregations(&stored, None).await?;
    }
    tx.add_task_counters(&task_id, &counters).await?;
    if !rows.is_empty() {
        tx.put_batch_aggregations(&rows, None).await?;
    }
    Ok((response, true))
}

/// The report aggregations of a stored job: none for a job whose answer
/// is on its row (it finished in its initialization), whose reports were
/// never written, so the read is skipped.
async fn stored_reports(
    tx: &mut dyn Transaction,
    job: &AggregationJob,
) -> Result<Vec<ReportAggregation>, TxError> {
    if job.init_response.is_some() {
        return Ok(Vec::new());
    }
    Ok(tx
        .get_report_aggregations(&job.task_id, &job.aggregation_job_id)
        .await?)
}

/// The reports among `candidates` whose verdict depends on the parameters
/// they were aggregated with before, read in the storing transaction.
///
/// For a VDAF with one aggregation parameter (Prio3), a report aggregated
/// before is one already recorded with this parameter, and the insert of
/// [`replay::record_seen`] finds those (`report_replayed`). The history is
/// then read only for the reports a collected batch would block, so that
/// a replayed one among them is answered `report_replayed`, the check
/// DAP-09 section 4.5.1.4 makes first; usually none. Reading every
/// report's history here was, on PostgreSQL, a read of much of the
/// anti-replay index by each job's `SERIALIZABLE` transaction, which
/// conflicted with every other job's insert and had jobs retried again and
/// again. A VDAF whose parameters vary (Poplar1) judges each report by its
/// history, so all of them are read.
fn needing_history(
    task: &Task,
    selector: &PartialBatchSelector,
    collected: &HashMap<BatchIdentifier, bool>,
    candidates: Vec<ReportMetadata>,
) -> Vec<ReportMetadata> {
    if task.vdaf().fixed_aggregation_parameter().is_none() {
        return candidates;
    }
    candidates
        .into_iter()
        .filter(|report| {
            batch_of(task, report.time, selector)
                .is_some_and(|batch| facts::collected_blocks(collected, &batch, &[]))
        })
        .collect()
}

/// Rejects report `index` with `error`, in its state and its response.
fn reject(
    reports: &mut [HelperReportAggregation],
    responses: &mut [PrepareResp],
    index: usize,
    error: PrepareError,
) {
    if let (Some(report), Some(response)) = (reports.get_mut(index), responses.get_mut(index)) {
        report.state = HelperReportState::Failed(error);
        *response = PrepareResp::new(report.metadata.id, PrepareStepResult::Reject(error));
    }
}

#[cfg(test)]
#[path = "init_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "init_race_tests.rs"]
mod race_tests;
