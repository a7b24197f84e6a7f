//! The handlers of `GET /`, `GET /task_ids`, `GET /tasks/{id}`,
//! `PATCH /tasks/{id}` (task expiration), `DELETE /tasks/{id}`,
//! `GET /tasks/{id}/metrics/uploads` and `.../metrics/aggregations`, and
//! what every handler shares: the
//! JSON answer ([`json`]), the body ([`parse_body`]) and the task ID of a
//! path ([`parse_task_id`]).

use super::error::{ManagementError, ManagementResult};
use super::models::{AggregationMetrics, AggregatorDescription, TaskIdsPage, UploadMetrics};
use super::state::ManagementState;
use super::task_json::TaskResponse;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use dyad_core::vdaf::VDAF_TYPES;
use dyad_datastore::{DatastoreError, DatastoreExt, LATEST_STORABLE_TIME};
use dyad_messages::draft09::{TaskId, Time};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Most task IDs on one page of `GET /task_ids`.
pub const TASK_IDS_PAGE_SIZE: u64 = 5000;

/// The optional parts of the aggregator API this server implements, as
/// `GET /` names them.
pub const FEATURES: &[&str] = &["UploadMetrics", "AggregationJobMetrics"];

/// `GET /`.
pub async fn describe(State(state): State<ManagementState>) -> ManagementResult<Response> {
    json(
        StatusCode::OK,
        &AggregatorDescription {
            protocol: "DAP-09".to_owned(),
            dap_url: state.dap_url.clone(),
            role: "Either".to_owned(),
            vdafs: VDAF_TYPES.iter().map(|name| (*name).to_owned()).collect(),
            query_types: vec!["TimeInterval".to_owned(), "FixedSize".to_owned()],
            features: FEATURES.iter().map(|name| (*name).to_owned()).collect(),
            software_name: "dyad".to_owned(),
            software_version: env!("CARGO_PKG_VERSION").to_owned(),
        },
    )
}

/// `GET /task_ids[?pagination_token=<task ID>]`: IDs ascending, those
/// after the token; the token of the next page is this page's last ID.
pub async fn task_ids(
    State(state): State<ManagementState>,
    uri: Uri,
) -> ManagementResult<Response> {
    let query = uri.query().unwrap_or_default();
    let after = url::form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "pagination_token")
        .map(|(_, value)| {
            value.parse::<TaskId>().map_err(|error| {
                ManagementError::bad_request(format!("malformed pagination_token: {error}"))
            })
        })
        .transpose()?;
    let task_ids = state
        .datastore
        .run_read_tx("management_task_ids", move |tx| {
            Box::pin(async move { Ok(tx.get_task_ids(after, TASK_IDS_PAGE_SIZE).await?) })
        })
        .await?;
    let pagination_token = task_ids.last().copied();
    json(
        StatusCode::OK,
        &TaskIdsPage {
            task_ids,
            pagination_token,
        },
    )
}

/// `GET /tasks/{id}`: the task in the API's form; 404 if unknown.
pub async fn get_task(
    State(state): State<ManagementState>,
    Path(task_id): Path<String>,
) -> ManagementResult<Response> {
    let task_id = parse_task_id(&task_id)?;
    let task = state
        .datastore
        .run_read_tx("management_get_task", move |tx| {
            Box::pin(async move { Ok(tx.get_task(&task_id).await?) })
        })
        .await?
        .ok_or_else(|| ManagementError::not_found(format!("no task with ID {task_id}")))?;
    json(StatusCode::OK, &TaskResponse::from_task(&task)?)
}

/// `PATCH /tasks/{id}` with `{"task_expiration": seconds | null}`: sets
/// or (with `null`) clears the task's expiration (DAP-09 section 4.2); an
/// absent member changes nothing. 200 with the task as now stored; 404 if
/// unknown.
pub async fn patch_task(
    State(state): State<ManagementState>,
    Path(task_id): Path<String>,
    body: Bytes,
) -> ManagementResult<Response> {
    let task_id = parse_task_id(&task_id)?;
    let patch: serde_json::Map<String, serde_json::Value> = parse_body(&body)?;
    let mut expiration = None;
    for (member, value) in patch {
        if member != "task_expiration" {
            return Err(ManagementError::bad_request(format!(
                "unknown member {member:?}: only task_expiration can be changed"
            )));
        }
        expiration = Some(match value {
            serde_json::Value::Null => None,
            value => Some(parse_expiration(&value)?),
        });
    }
    let task = state
        .datastore
        .run_tx("management_patch_task", move |tx| {
            Box::pin(async move {
                let Some(expiration) = expiration else {
                    return Ok(tx.get_task(&task_id).await?);
                };
                match tx.update_task_expiration(&task_id, expiration).await {
                    Ok(task) => Ok(Some(task)),
                    Err(DatastoreError::NotFound { .. }) => Ok(None),
                    Err(error) => Err(error.into()),
                }
            })
        })
        .await?
        .ok_or_else(|| ManagementError::not_found(format!("no task with ID {task_id}")))?;
    if let Some(expiration) = expiration {
        crate::task_cache::tasks_changed();
        tracing::info!(
            %task_id,
            task_expiration = expiration.map(|t| t.as_seconds_since_epoch()),
            "task expiration set over the management API"
        );
    }
    json(StatusCode::OK, &TaskResponse::from_task(&task)?)
}

/// A task expiration: seconds since the epoch that the datastore can hold.
fn parse_expiration(value: &serde_json::Value) -> ManagementResult<Time> {
    let seconds = value.as_u64().ok_or_else(|| {
        ManagementError::bad_request(
            "task_expiration must be seconds since the epoch (a non-negative integer) or null",
        )
    })?;
    let time = Time::from_seconds_since_epoch(seconds);
    if time > LATEST_STORABLE_TIME {
        return Err(ManagementError::bad_request(format!(
            "task_expiration {seconds} is past the latest time dyad can store ({})",
            LATEST_STORABLE_TIME.as_seconds_since_epoch()
        )));
    }
    Ok(time)
}

/// `DELETE /tasks/{id}`: the task and everything stored for it; 204 also
/// when there was no such task.
pub async fn delete_task(
    State(state): State<ManagementState>,
    Path(task_id): Path<String>,
) -> ManagementResult<Response> {
    let task_id = parse_task_id(&task_id)?;
    let deleted = state
        .datastore
        .run_tx("management_delete_task", move |tx| {
            Box::pin(async move { Ok(tx.delete_task(&task_id).await?) })
        })
        .await?;
    crate::task_cache::tasks_changed();
    if let Some(rows) = deleted {
        tracing::info!(%task_id, rows = rows.total(), "task deleted over the management API");
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /tasks/{id}/metrics/uploads`.
pub async fn upload_metrics(
    State(state): State<ManagementState>,
    Path(task_id): Path<String>,
) -> ManagementResult<Response> {
    let task_id = parse_task_id(&task_id)?;
    let counters = state
        .datastore
        .run_read_tx("management_upload_metrics", move |tx| {
            Box::pin(async move { Ok(tx.get_task_counters(&task_id).await?) })
        })
        .await?
        .ok_or_else(|| ManagementError::not_found(format!("no task with ID {task_id}")))?;
    json(StatusCode::OK, &UploadMetrics::from_counters(&counters))
}

/// `GET /tasks/{id}/metrics/aggregations`: the task's preparation
/// outcomes; see [`AggregationMetrics::from_counters`] for what each field
/// counts in dyad (the `helper_*` fields count a failure whichever
/// aggregator found it). 404 if the task is unknown.
pub async fn aggregation_metrics(
    State(state): State<ManagementState>,
    Path(task_id): Path<String>,
) -> ManagementResult<Response> {
    let task_id = parse_task_id(&task_id)?;
    let counters = state
        .datastore
        .run_read_tx("management_aggregation_metrics", move |tx| {
            Box::pin(async move { Ok(tx.get_task_counters(&task_id).await?) })
        })
        .await?
        .ok_or_else(|| ManagementError::not_found(format!("no task with ID {task_id}")))?;
    json(
        StatusCode::OK,
        &AggregationMetrics::from_counters(&counters),
    )
}

/// A task ID of a path: unpadded base64url of 32 bytes, else 400.
pub fn parse_task_id(text: &str) -> ManagementResult<TaskId> {
    text.parse()
        .map_err(|error| ManagementError::bad_request(format!("malformed task ID: {error}")))
}

/// A JSON request body; 400 saying what is wrong otherwise.
pub fn parse_body<T: DeserializeOwned>(body: &Bytes) -> ManagementResult<T> {
    serde_json::from_slice(body)
        .map_err(|error| ManagementError::bad_request(format!("invalid request body: {error}")))
}

/// `value` as the JSON body of a `status` response (the guard sets the
/// content type).
pub fn json(status: StatusCode, value: &impl Serialize) -> ManagementResult<Response> {
    let body = serde_json::to_vec(value).map_err(ManagementError::internal)?;
    Ok((status, body).into_response())
}
