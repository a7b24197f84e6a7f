//! `DELETE /tasks/{task-id}/aggregation_jobs/{aggregation-job-id}` (DAP-09
//! section 4.5.2.2: the Leader "SHOULD send an HTTP DELETE request to the
//! aggregation job URI" when it abandons a job), answered 204 No Content.
//!
//! The job is marked deleted: later requests for it are
//! `unrecognizedAggregationJob` (continuation) or a conflict
//! (initialization). Since the Leader abandoned the job, none of its reports
//! count on the Leader's side; so that the two aggregators' batches still
//! agree (and no `batchMismatch` follows), the job's contributions to
//! batches not yet collected are withdrawn. Its reports stay in the
//! anti-replay set: they can never be aggregated (with the same parameter)
//! again. Deleting a deleted job succeeds; an unknown job is
//! `unrecognizedAggregationJob`.

use crate::http::problem::{ApiError, ApiResult};
use crate::http::request::{authenticate, parse_id, DapPath, Requester};
use crate::state::AppState;
use crate::vdaf_ops::emptied_row;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use dyad_datastore::models::AggregationJobState;
use dyad_datastore::{DatastoreExt, TxError};
use dyad_messages::draft09::{AggregationJobId, Role, TaskId};
use dyad_messages::problem::DapProblemType;

/// The handler.
pub async fn delete_aggregation_job(
    State(state): State<AppState>,
    DapPath((task_id, job_id)): DapPath<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let task_id: TaskId = parse_id(&task_id, "task ID")?;
    // Every error of a request naming a task carries its ID (DAP-09
    // section 3.2).
    delete_job(state, task_id, job_id, headers)
        .await
        .map_err(|e| e.with_task_id(task_id))
}

pub(super) async fn delete_job(
    state: AppState,
    task_id: TaskId,
    job_id: String,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let job_id: AggregationJobId = parse_id(&job_id, "aggregation job ID")?;
    let task = state.task_in_role(task_id, Role::Helper).await?;
    authenticate(&task, &headers, Requester::Leader)?;
    let withdrawn = state
        .datastore
        .run_tx("helper_delete_aggregation_job", move |tx| {
            let task = task.clone();
            Box::pin(async move {
                let Some(mut job) = tx.get_aggregation_job(&task_id, &job_id).await? else {
                    return Err(TxError::abort(
                        ApiError::dap(
                            DapProblemType::UnrecognizedAggregationJob,
                            format!("unknown aggregation job {job_id}"),
                        )
                        .with_task_id(task_id),
                    ));
                };
                if job.state == AggregationJobState::Deleted {
                    return Ok(0);
                }
                job.state = AggregationJobState::Deleted;
                tx.update_aggregation_job(&job, None).await?;
                let mut emptied = Vec::new();
                for row in tx.get_batch_aggregations_for_job(&task_id, &job_id).await? {
                    if row.report_count == 0
                        || tx
                            .is_batch_collected(&task_id, &row.batch_identifier, None)
                            .await?
                    {
                        continue;
                    }
                    emptied.push(
                        emptied_row(&task, &row).map_err(|e| TxError::abort(ApiError::from(e)))?,
                    );
                }
                if !emptied.is_empty() {
                    tx.put_batch_aggregations(&emptied, None).await?;
                }
                Ok(emptied.len())
            })
        })
        .await?;
    tracing::info!(task_id = %task_id, aggregation_job_id = %job_id, withdrawn_batches = withdrawn, "deleted aggregation job");
    Ok(StatusCode::NO_CONTENT)
}
