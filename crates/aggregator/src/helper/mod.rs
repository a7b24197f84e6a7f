//! The Helper's endpoints (DAP-09 sections 4.5 and 4.6.2), every one
//! authenticated with the task's aggregator token and refused with
//! `unrecognizedTask` for a task this aggregator does not help with:
//!
//! - [`init`]: `PUT /tasks/{task-id}/aggregation_jobs/{id}`
//!   (`AggregationJobInitReq` → 201 `AggregationJobResp`);
//! - [`continue_job`]: `POST` on the same URI (`AggregationJobContinueReq`
//!   → 200 `AggregationJobResp`);
//! - [`delete`]: `DELETE` on the same URI (204);
//! - [`aggregate_share_req`]: `POST /tasks/{task-id}/aggregate_shares`
//!   (`AggregateShareReq` → 200 `AggregateShare`).
//!
//! The rules are `dyad-protocol`'s ([`dyad_protocol::helper_init`],
//! [`dyad_protocol::helper_continue`], [`dyad_protocol::idempotency`],
//! [`dyad_protocol::replay`], [`dyad_protocol::collection`]); this module
//! stores what they decide. VDAF preparation runs on the blocking pool,
//! outside any transaction; one write transaction then re-checks what may
//! have changed meanwhile (anti-replay, through [`replay`]; collected
//! batches) and stores the job, its reports, its
//! batch aggregations and the response together.
//!
//! ## Where is
//!
//! - only the task's Leader, with the aggregator token (3.1) →
//!   [`crate::http::request::authenticate`] called with `Requester::Leader`
//!   by each handler
//! - an initialization repeated with the same body gets the same bytes;
//!   another body for the same job is 409 (4.5.1.2) → [`init::stored_answer`]
//! - the facts read before preparing: replay, collected batch, batch capacity
//!   (4.5.1.4) → [`facts::gather`], [`replay::lookup_seen`] (judged by
//!   [`dyad_protocol::replay::decide`]), [`facts::collected_batches`],
//!   [`facts::batch_capacity`]; accepted reports recorded as seen →
//!   [`replay::record_seen`]
//! - replay and collection checked again where they are authoritative, in the
//!   storing transaction → [`init::store_in_tx`]
//! - a report time the datastore cannot hold fails that report alone with
//!   `report_too_early` (4.5.1.4) → [`init::refuse_unstorable_times`]
//! - VDAF preparation off the async runtime → [`init::prepare`]
//! - a continuation: the previous request again is answered from storage, a
//!   wrong step is `stepMismatch` (4.5.2.2, 4.5.2.3) →
//!   [`continue_job::continue_job`]
//! - a job changed by a concurrent request is decided again →
//!   [`continue_job::store`]
//! - a report the Leader left out of a continuation is `report_dropped` →
//!   [`to_stored_state`]
//! - the batch a report counts in → [`batch_of`]
//! - a deleted job withdraws its contributions from batches not yet collected
//!   (4.5.2.2) → [`delete::delete_job`], [`crate::vdaf_ops::emptied_row`]
//! - an aggregate share request repeated is answered identically; another
//!   count or checksum is `batchMismatch`; batch validation (4.6.2, 4.6.5) →
//!   [`aggregate_share_req::answer`]
//! - a batch interval's boundary checked before any lookup (4.6.5.1.1) →
//!   [`aggregate_share_req::serve_aggregate_share`]

pub mod aggregate_share_req;
pub mod continue_job;
pub mod delete;
pub mod facts;
pub mod init;
pub mod replay;

use crate::http::problem::ApiError;
use dyad_core::task::Task;
use dyad_datastore::models::{BatchIdentifier, ReportAggregation, ReportAggregationState};
use dyad_messages::draft09::{
    AggregationJobResp, AggregationJobStep, PartialBatchSelector, PrepareError, ReportId,
    ReportMetadata, Time,
};
use dyad_protocol::batch::bucket_of;
use dyad_protocol::helper_init::{HelperReportAggregation, HelperReportState};
use dyad_protocol::idempotency::{RequestHash, StoredJob};

/// The stored state of a report the Helper holds as `state`.
///
/// A report the Leader left out of a continuation was rejected by the
/// Leader; it is stored as failed with `report_dropped` (nothing of it is
/// aggregated, and it is no longer prepared).
pub(crate) fn to_stored_state(state: &HelperReportState) -> ReportAggregationState {
    match state {
        HelperReportState::Continued { prep_state } => ReportAggregationState::WaitingHelper {
            prep_state: prep_state.clone(),
        },
        HelperReportState::Finished { .. } => ReportAggregationState::Finished,
        HelperReportState::Failed(error) => ReportAggregationState::Failed(*error),
        HelperReportState::AbandonedByLeader => {
            ReportAggregationState::Failed(PrepareError::ReportDropped)
        }
    }
}

/// The protocol's view of a stored report. A finished report's output
/// share was folded into a batch aggregation when it finished, so it comes
/// back without one (and is never folded again).
pub(crate) fn to_helper_report(
    stored: &ReportAggregation,
) -> Result<HelperReportAggregation, ApiError> {
    let state = match &stored.state {
        ReportAggregationState::WaitingHelper { prep_state } => HelperReportState::Continued {
            prep_state: prep_state.clone(),
        },
        ReportAggregationState::Finished => HelperReportState::Finished {
            output_share: Vec::new(),
        },
        ReportAggregationState::Failed(error) => HelperReportState::Failed(*error),
        other => {
            return Err(ApiError::internal(format!(
                "a Helper job holds a report in the Leader's state {other:?}"
            )))
        }
    };
    Ok(HelperReportAggregation {
        metadata: ReportMetadata::new(stored.report_id, stored.time),
        state,
    })
}

/// What idempotency needs of a stored job.
pub(crate) fn stored_job(step: u16, last_request_hash: Option<[u8; 32]>) -> StoredJob {
    StoredJob {
        step: AggregationJobStep(step),
        // A Helper job always has one; a missing hash matches no request.
        last_request_hash: RequestHash(last_request_hash.unwrap_or([0; 32])),
    }
}

/// The response last sent for each of `report_ids`, in that order: the
/// answer to a replayed request.
pub(crate) fn stored_response<'a>(
    stored: &[ReportAggregation],
    report_ids: impl IntoIterator<Item = &'a ReportId>,
) -> Result<AggregationJobResp, ApiError> {
    let mut responses = Vec::new();
    for report_id in report_ids {
        let response = stored
            .iter()
            .find(|r| r.report_id == *report_id)
            .and_then(|r| r.last_prep_resp.clone())
            .ok_or_else(|| {
                ApiError::internal(format!("no stored response for report {report_id}"))
            })?;
        responses.push(response);
    }
    Ok(AggregationJobResp::new(responses))
}

/// The batch a report counts in: its time-precision bucket for a
/// time-interval task, the job's batch for a fixed-size one.
pub(crate) fn batch_of(
    task: &Task,
    time: Time,
    selector: &PartialBatchSelector,
) -> Option<BatchIdentifier> {
    match selector {
        PartialBatchSelector::TimeInterval => {
            bucket_of(time, task.time_precision()).map(BatchIdentifier::TimeInterval)
        }
        PartialBatchSelector::FixedSize(batch_id) => Some(BatchIdentifier::FixedSize(*batch_id)),
    }
}

/// The selector a stored job's reports were aggregated under.
pub(crate) fn job_selector(
    batch_id: Option<dyad_messages::draft09::BatchId>,
) -> PartialBatchSelector {
    match batch_id {
        Some(batch_id) => PartialBatchSelector::FixedSize(batch_id),
        None => PartialBatchSelector::TimeInterval,
    }
}
