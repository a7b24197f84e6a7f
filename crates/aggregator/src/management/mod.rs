//! The management API: tasks and global HPKE keys over HTTP, for operators
//! and consoles, without database credentials. It speaks the wire interface
//! of the "aggregator API" that DAP consoles already drive (its media type,
//! bearer tokens, JSON forms and status codes), on a listener of its own
//! (`management_listen_address`, the `management-api` role) or, when
//! `management_api.path_prefix` is set, under that prefix on the DAP
//! listener ([`mount`]).
//!
//! | method and path | what | handler |
//! |---|---|---|
//! | `GET /` | protocol, DAP URL, VDAFs, batch modes, features | [`routes::describe`] |
//! | `GET /openapi.json` | this API's OpenAPI 3.1 document | [`openapi::document`] |
//! | `GET /task_ids[?pagination_token=]` | task IDs, 5000 a page | [`routes::task_ids`] |
//! | `POST /tasks` | a new task (ID from its verify key; a Helper answers its token) | [`task_create::post_task`] |
//! | `GET /tasks/{id}` | the task (no secret but the verify key) | [`routes::get_task`] |
//! | `PATCH /tasks/{id}` | its expiration (`task_expiration`, `null` clears) | [`routes::patch_task`] |
//! | `DELETE /tasks/{id}` | the task and its data (204 also if unknown) | [`routes::delete_task`] |
//! | `GET /tasks/{id}/metrics/uploads` | the task's upload outcomes | [`routes::upload_metrics`] |
//! | `GET /tasks/{id}/metrics/aggregations` | how its reports came out of preparation | [`routes::aggregation_metrics`] |
//! | `GET /hpke_configs` | the global HPKE keys and states | [`hpke_configs::list`] |
//! | `GET /hpke_configs/{id}` | one of them | [`hpke_configs::get`] |
//! | `PUT /hpke_configs` | a new pending key (201) | [`hpke_configs::put`] |
//! | `PATCH /hpke_configs/{id}` | its state | [`hpke_configs::patch`] |
//! | `DELETE /hpke_configs/{id}` | delete it (204 also if unknown) | [`hpke_configs::delete`] |
//! | `GET /taskprov/peer_aggregators` | taskprov's peer aggregators, no secret | [`taskprov_peers::list`] |
//! | `POST /taskprov/peer_aggregators` | add one (201; 409 if its endpoint and role exist) | [`taskprov_peers::post`] |
//! | `DELETE /taskprov/peer_aggregators` | delete one named in the body (204 also if unknown) | [`taskprov_peers::delete`] |
//!
//! Every request first passes [`mod@guard`] (bearer token, then media types);
//! every failure is a [`error::ManagementError`]; the JSON forms are in
//! [`models`].
//!
//! ## Where is
//!
//! - the route table → [`router`]
//! - 401 / 406 / 415, tokens compared in constant time → [`guard::guard`]
//! - the versioned media type on every response → [`guard::guard`],
//!   [`MEDIA_TYPE`]
//! - what the handlers share, tokens hidden from `Debug` → [`ManagementState`]
//! - a failure's status and problem document → [`error::ManagementError`]
//! - task IDs in the path, base64url; bodies as JSON →
//!   [`routes::parse_task_id`], [`routes::parse_body`]
//! - dyad's upload counters under the API's names →
//!   [`models::UploadMetrics::from_counters`]
//! - dyad's preparation counters under the API's names →
//!   [`models::AggregationMetrics::from_counters`]
//! - a task in the API's form, VDAF and batch mode spelled its way →
//!   [`task_json::TaskResponse::from_task`]
//! - a task from `POST /tasks`, its ID, tokens, keypair and defaults;
//!   idempotent, 409 on a different task → [`task_create`]
//! - the API's VDAF and query type read into dyad's →
//!   [`task_request::vdaf_from_json`], [`task_request::batch_mode_from_json`]
//! - the lowest free config ID for a new global key → [`hpke_configs::put`]
//! - the API's OpenAPI document → `openapi.json` ([`openapi::DOCUMENT`]);
//!   every answer the tests see is validated against it →
//!   `openapi_contract` (tests only)

pub mod error;
pub mod guard;
pub mod hpke_configs;
pub mod media_type;
pub mod models;
pub mod mount;
pub mod openapi;
pub mod routes;
pub mod state;
pub mod task_create;
pub mod task_json;
pub mod task_request;
pub mod taskprov_peers;

pub use media_type::MEDIA_TYPE;
pub use state::ManagementState;

use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;

/// The management API's routes, behind [`guard::guard`].
pub fn router(state: ManagementState) -> Router {
    Router::new()
        .route("/", get(routes::describe))
        .route("/openapi.json", get(openapi::document))
        .route("/task_ids", get(routes::task_ids))
        .route("/tasks", post(task_create::post_task))
        .route(
            "/tasks/{task_id}",
            get(routes::get_task)
                .patch(routes::patch_task)
                .delete(routes::delete_task),
        )
        .route(
            "/tasks/{task_id}/metrics/uploads",
            get(routes::upload_metrics),
        )
        .route(
            "/tasks/{task_id}/metrics/aggregations",
            get(routes::aggregation_metrics),
        )
        .route(
            "/hpke_configs",
            get(hpke_configs::list).put(hpke_configs::put),
        )
        .route(
            "/taskprov/peer_aggregators",
            get(taskprov_peers::list)
                .post(taskprov_peers::post)
                .delete(taskprov_peers::delete),
        )
        .route(
            "/hpke_configs/{config_id}",
            get(hpke_configs::get)
                .patch(hpke_configs::patch)
                .delete(hpke_configs::delete),
        )
        .fallback(|| async { error::ManagementError::new(StatusCode::NOT_FOUND, "no such route") })
        .method_not_allowed_fallback(|| async {
            error::ManagementError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "this path does not take that method (see GET /openapi.json)",
            )
        })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::guard,
        ))
        .with_state(state)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod openapi_contract;

#[cfg(test)]
mod openapi_tests;

#[cfg(test)]
mod task_patch_tests;

#[cfg(test)]
mod task_create_tests;

#[cfg(test)]
mod janus_forms_tests;

#[cfg(test)]
mod taskprov_peer_tests;
