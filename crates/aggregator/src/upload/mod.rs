//! The Leader's upload endpoint, `PUT /tasks/{task-id}/reports` (DAP-09
//! section 4.4.2).
//!
//! In order: the task must be one this aggregator leads (`unrecognizedTask`),
//! or one the request's `dap-taskprov` header advertises and this Leader
//! opts in to (draft-wang-ppm-dap-taskprov-06 section 5.1: see
//! [`crate::taskprov`]; such a task is stored only once its first report
//! has passed every check below, just before the report is written);
//! `Content-Type: application/dap-report` (415); the body at most
//! `max_upload_body_bytes` (413) and a `Report` (`invalidMessage`); then
//! [`dyad_protocol::upload::validate_upload`] (`reportTooEarly`,
//! `reportRejected` for an expired task or report or an undecryptable
//! share, `outdatedConfig`, `invalidMessage` for extensions; and
//! `reportTooEarly` for a time whose bucket ends after 2^63 - 1, whatever
//! the task's clock skew: see [`crate::http::storable_time`]), and
//! `check_report_shares`: the public share and the Leader's input share
//! must decode with the task's VDAF (`invalidMessage` naming the VDAF, so a
//! Client configured with another VDAF learns at once). The report is
//! then written by the batching [`writer`]; a report whose batch was already
//! collected is refused with `reportRejected` (the spec's MAY: the Client
//! learns its report will not count), a duplicate report ID is ignored and
//! still answered 201 Created, as is a stored report.
//!
//! ## Where is
//!
//! - the order of the checks above (4.4.2) → [`accept_report`]
//! - a taskprov task provisioned by its first accepted report →
//!   [`store_provisioned`]
//! - the shares must decode with the task's VDAF →
//!   [`crate::vdaf_ops::check_report_shares`]
//! - a report time the datastore cannot hold is `reportTooEarly` →
//!   [`crate::http::storable_time::with_storable_clock_skew`],
//!   [`crate::http::storable_time::is_storable_report_time`]
//! - 201 only once the report's transaction committed → [`writer::ReportWriter::write`]
//! - a full queue is 503 with `Retry-After` → [`writer::reserve_slot`]
//! - a batch of reports in one transaction; a failed batch written report by
//!   report → [`writer::flush`]
//! - a duplicate report ID counted once; a report of a collected batch left
//!   out → [`writer::write_reports`]
//! - every upload of a known task counted by outcome (`dyad task stats`):
//!   refusals in memory → [`rejections::RejectionCounts`], the writer's
//!   outcomes in its transaction → [`writer::write_reports`]

pub mod rejections;
pub mod writer;

use crate::http::problem::{ApiError, ApiResult};
use crate::http::request::{parse_id, read_message, DapPath};
use crate::http::storable_time::{is_storable_report_time, with_storable_clock_skew};
use crate::state::AppState;
use crate::taskprov::Provisioning;
use crate::telemetry::instruments;
use crate::vdaf_ops::check_report_shares;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use dyad_core::task::{BatchMode, Task};
use dyad_datastore::models::{BatchIdentifier, LeaderStoredReport};
use dyad_datastore::DatastoreExt as _;
use dyad_messages::draft09::{Report, Role, TaskId};
use dyad_messages::media_type::DapMediaType;
use dyad_messages::problem::DapProblemType;
use dyad_protocol::batch::bucket_of;
use dyad_protocol::upload::{validate_upload, NO_EXTENSIONS};
use rejections::Rejection;
use std::sync::Arc;
use writer::UploadOutcome;

/// The handler.
pub async fn put_report(
    State(state): State<AppState>,
    DapPath(task_id): DapPath<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<StatusCode> {
    let answered = match parse_id::<TaskId>(&task_id, "task ID") {
        Ok(task_id) => accept_report(&state, task_id, &headers, body)
            .await
            .map_err(|e| e.with_task_id(task_id)),
        Err(error) => Err(error),
    };
    // Every answer counted once, by what it told the Client.
    match &answered {
        Ok(UploadOutcome::Duplicate) => instruments::upload("duplicate"),
        Ok(_) => instruments::upload("accepted"),
        Err(error) => instruments::upload(instruments::upload_outcome_of_error(error)),
    }
    answered.map(|_| StatusCode::CREATED)
}

pub(crate) async fn accept_report(
    state: &AppState,
    task_id: TaskId,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult<UploadOutcome> {
    let (task, provisioning) =
        crate::taskprov::task_to_provision(state, task_id, Role::Leader, headers).await?;
    // A task not stored yet has no counters to count a refusal in.
    let stored = provisioning.is_none();
    match accept_for_task(state, &task, provisioning, headers, body).await {
        Ok(status) => Ok(status),
        Err(Refused { error, rejection }) => {
            // Counted in memory, written by the writer within a second
            // (see `rejections`): no transaction per refused upload.
            if let Some(rejection) = rejection.filter(|_| stored) {
                state.reports.count_rejection(task_id, rejection);
            }
            Err(error)
        }
    }
}

/// An upload of a known task that was not stored, and its counter
/// (`None`: already counted, in the writer's transaction).
struct Refused {
    error: ApiError,
    rejection: Option<Rejection>,
}

impl From<ApiError> for Refused {
    fn from(error: ApiError) -> Self {
        let rejection = Some(Rejection::of_api_error(&error));
        Self { error, rejection }
    }
}

async fn accept_for_task(
    state: &AppState,
    task: &Arc<Task>,
    provisioning: Option<Provisioning>,
    headers: &HeaderMap,
    body: Body,
) -> Result<UploadOutcome, Refused> {
    let task_id = *task.task_id();
    let (report, _): (Report, _) = read_message(
        task_id,
        headers,
        DapMediaType::Report,
        body,
        state.config.max_upload_body_bytes,
    )
    .await?;
    let report_id = report.metadata.id;
    let now = state.now();
    // Reports later than the latest storable time are too early, in the
    // spec's order of checks (see `http::storable_time`).
    let checked = with_storable_clock_skew(task, now);
    // The task's keys first, then the global ones (DAP-09 section 4.4.2:
    // an unknown config ID is `outdatedConfig`).
    let global = state
        .global_keys_for(task, [report.leader_encrypted_input_share.config_id])
        .await?;
    // The HPKE open (one X25519 scalar multiplication, about 30 us here)
    // and the shares' decoding run on the executor's thread, between two
    // awaits: on the blocking pool each report cost two thread hand-offs
    // (a futex wake and a context switch each way), which took more CPU
    // than the open itself and a quarter of the Leader's upload time.
    let keys = (task.as_ref(), global.keypairs.as_slice());
    let validated = validate_upload(checked.as_ref(), &keys, &report, now, NO_EXTENSIONS)
        .and_then(|validated| check_report_shares(task, &validated).map(|()| validated))
        .map_err(|e| Refused {
            rejection: Some(Rejection::of_upload_error(&e)),
            error: ApiError::from(e.into_protocol_error(task)),
        })?;
    // The guarantee: nothing unstorable reaches the writer.
    if !is_storable_report_time(task, validated.metadata.time) {
        return Err(ApiError::dap(
            DapProblemType::ReportTooEarly,
            format!(
                "report time {} is after the latest time an aggregator can hold",
                validated.metadata.time
            ),
        )
        .into());
    }

    let collected_check = match task.batch_mode() {
        BatchMode::TimeInterval => bucket_of(validated.metadata.time, task.time_precision())
            .map(BatchIdentifier::TimeInterval),
        // A fixed-size report joins a batch only when aggregated.
        BatchMode::FixedSize { .. } => None,
    };
    let stored = LeaderStoredReport {
        task_id,
        metadata: validated.metadata,
        public_share: validated.public_share,
        leader_extensions: validated.leader_input_share.extensions,
        leader_input_share: validated.leader_input_share.payload,
        helper_encrypted_input_share: validated.helper_encrypted_input_share,
    };
    if let Some(provisioning) = provisioning {
        store_provisioned(state, provisioning).await?;
    }
    // Its outcome is counted in the transaction that stores it.
    let outcome = state.reports.write(stored, collected_check).await?;
    tracing::debug!(task_id = %task_id, report_id = %report_id, ?outcome, "upload");
    match outcome {
        UploadOutcome::Stored | UploadOutcome::Duplicate => Ok(outcome),
        UploadOutcome::BatchCollected => Err(Refused {
            error: ApiError::dap(
                DapProblemType::ReportRejected,
                "the report's batch was already collected",
            ),
            rejection: None,
        }),
    }
}

/// Stores the taskprov task the upload advertised, which its report was
/// just validated with, before the report is written (taskprov-06 section
/// 5.1: the Leader has opted in). Of two first uploads racing, one stores
/// the task and the other finds it stored.
async fn store_provisioned(state: &AppState, provisioning: Provisioning) -> ApiResult<()> {
    let task_id = *provisioning.task().task_id();
    let provisioning = std::sync::Arc::new(provisioning);
    state
        .datastore
        .run_tx("taskprov_provision", move |tx| {
            let provisioning = std::sync::Arc::clone(&provisioning);
            Box::pin(async move { provisioning.store(tx).await })
        })
        .await
        .map_err(|e| ApiError::from(e).with_task_id(task_id))?;
    tracing::info!(task_id = %task_id, "taskprov task provisioned by its first report");
    Ok(())
}

#[cfg(test)]
#[path = "upload_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "taskprov_tests.rs"]
mod taskprov_tests;
