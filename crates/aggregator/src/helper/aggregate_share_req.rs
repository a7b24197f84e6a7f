//! `POST /tasks/{task-id}/aggregate_shares` (DAP-09 section 4.6.2): the
//! Helper's aggregate share for a batch, sealed to the Collector, answered
//! with 200 OK and an `AggregateShare`.
//!
//! Before any lookup: query type (`invalidMessage`) and, for a batch
//! interval, the boundary check (`batchInvalid`: misaligned, or ending after
//! 2^63 - 1, see [`crate::http::storable_time`]). Then, in one write transaction, so
//! that no aggregation job can add to the batch between the check and the
//! record:
//!
//! 1. an identical request answered before (same batch, aggregation
//!    parameter, report count and checksum) gets the stored response and
//!    consumes no further query ("MUST be idempotent"); the same batch and
//!    parameter with another count or checksum is `batchMismatch`;
//! 2. the batch's rows are merged (every time-precision bucket inside a
//!    batch interval, or the batch ID's rows) into the Helper's count,
//!    checksum and aggregate share;
//! 3. batch validation (section 4.6.5, [`dyad_protocol::collection::check_aggregate_share_req`]):
//!    query type (`invalidMessage`), boundary (`batchInvalid`: misaligned
//!    interval, or a batch ID no aggregation job used), size
//!    (`invalidBatchSize`), distinct aggregation parameters
//!    (`batchQueriedTooManyTimes`), overlap with another collected interval
//!    (`batchOverlap`);
//! 4. count and checksum against the Leader's (`batchMismatch`), then the
//!    task's differential-privacy noise is added ([`add_task_noise`]) and
//!    the share is sealed ([`dyad_protocol::collection::answer_aggregate_share_req`]);
//!    the noise is drawn once: a replayed request gets the stored answer
//!    (step 1), and a rerun transaction stored nothing;
//! 5. the batch is recorded as collected with the parameter, and the
//!    response stored.

use crate::batch_facts::StoredBatchFacts;
use crate::convert::{to_protocol_batch, to_stored_batch};
use crate::http::problem::{ApiError, ApiResult};
use crate::http::request::{
    authenticate, message_response, parse_id, read_message, DapPath, Requester,
};
use crate::http::storable_time::check_batch_interval;
use crate::state::AppState;
use crate::vdaf_ops::{add_task_noise, check_agg_param, merge_rows};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use dyad_core::task::Task;
use dyad_datastore::models::AggregateShareJob;
use dyad_datastore::{DatastoreExt, Transaction, TxError};
use dyad_messages::draft09::{
    AggregateShare, AggregateShareReq, BatchSelector, Role, TaskId, Time,
};
use dyad_messages::media_type::DapMediaType;
use dyad_messages::problem::DapProblemType;
use dyad_protocol::batch::{check_query_type, check_time_interval_boundary, QueriedBatch};
use dyad_protocol::collection::{answer_aggregate_share_req, check_aggregate_share_req};
use dyad_protocol::ProtocolError;
use std::sync::Arc;

/// The handler.
pub async fn post_aggregate_share(
    State(state): State<AppState>,
    DapPath(task_id): DapPath<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let task_id: TaskId = parse_id(&task_id, "task ID")?;
    // Every error of a request naming a task carries its ID (DAP-09
    // section 3.2).
    serve_aggregate_share(state, task_id, headers, body)
        .await
        .map_err(|e| e.with_task_id(task_id))
}

/// Reads and checks the request, then answers it in one transaction.
pub(super) async fn serve_aggregate_share(
    state: AppState,
    task_id: TaskId,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let task = crate::taskprov::task_in_role(&state, task_id, Role::Helper, &headers).await?;
    let with_task = |e: ApiError| e.with_task_id(task_id);
    authenticate(&task, &headers, Requester::Leader)?;
    let (request, _): (AggregateShareReq, _) = read_message(
        task_id,
        &headers,
        DapMediaType::AggregateShareReq,
        body,
        state.config.max_request_body_bytes,
    )
    .await?;
    check_query_type(&task, request.batch_selector.query_type())?;
    if let BatchSelector::TimeInterval(interval) = &request.batch_selector {
        // The boundary check first (section 4.6.5.1.1), before any lookup
        // of the batch: an interval that cannot be stored names no batch.
        check_time_interval_boundary(*interval, task.time_precision())?;
        check_batch_interval(interval)?;
    }
    check_agg_param(&task, &request.aggregation_parameter)?;

    let shared = Arc::new((task, request));
    let response = state
        .datastore
        .run_tx("helper_aggregate_share", move |tx| {
            let shared = shared.clone();
            Box::pin(async move { answer(tx, &shared.0, &shared.1).await })
        })
        .await
        .map_err(|e| with_task(e.into()))?;
    message_response(StatusCode::OK, DapMediaType::AggregateShare, &response)
}

pub(crate) async fn answer(
    tx: &mut dyn Transaction,
    task: &Task,
    request: &AggregateShareReq,
) -> Result<AggregateShare, TxError> {
    let task_id = *task.task_id();
    let protocol_batch = QueriedBatch::from(request.batch_selector);
    let batch = to_stored_batch(&protocol_batch);
    let agg_param = &request.aggregation_parameter;
    let fail = |e: ProtocolError| TxError::abort(e.with_task_id(task_id));

    if let Some(answered) = tx
        .get_aggregate_share_job(&task_id, &batch, agg_param)
        .await?
    {
        if answered.report_count == request.report_count && answered.checksum == request.checksum {
            tracing::info!(task_id = %task_id, "replayed aggregate share request");
            return Ok(answered.response);
        }
        return Err(fail(ProtocolError::new(
            DapProblemType::BatchMismatch,
            format!(
                "the batch was answered for {} reports; this request counts {}",
                answered.report_count, request.report_count
            ),
        )));
    }

    let rows = tx
        .get_batch_aggregations_for_batch(&task_id, &batch, agg_param)
        .await?;
    let mut mine = merge_rows(task, agg_param, &rows).map_err(fail)?;

    let stored = StoredBatchFacts::read(tx, &task_id, &batch).await?;
    let facts = stored.with_report_count(mine.report_count);
    check_aggregate_share_req(task, request, &facts).map_err(fail)?;
    add_task_noise(task, &mut mine).map_err(fail)?;
    let response = answer_aggregate_share_req(
        task,
        request,
        mine.report_count,
        &mine.checksum,
        &mine.aggregate_share,
    )
    .map_err(fail)?;

    tx.put_collected_batch(&task_id, &batch, agg_param).await?;
    tx.put_aggregate_share_job(&AggregateShareJob {
        task_id,
        batch_identifier: batch,
        aggregation_parameter: agg_param.clone(),
        report_count: request.report_count,
        checksum: request.checksum,
        response: response.clone(),
        created_at: Time::from_seconds_since_epoch(0),
    })
    .await?;
    tracing::info!(
        task_id = %task_id,
        batch = ?to_protocol_batch(&batch),
        reports = mine.report_count,
        "answered aggregate share request"
    );
    Ok(response)
}

#[cfg(test)]
#[path = "aggregate_share_req_tests.rs"]
mod tests;
