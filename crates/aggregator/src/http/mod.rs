//! The DAP HTTP API (DAP-09 sections 4.3-4.6): an axum router, served by
//! [`crate::server`] with its connection and body limits.
//!
//! | method and path | who calls | handler |
//! |---|---|---|
//! | `GET /hpke_config?task_id=` | Clients | [`hpke_config`] (4.4.1) |
//! | `PUT /tasks/{task-id}/reports` | Clients → Leader | [`crate::upload`] (4.4.2) |
//! | `PUT/POST/DELETE /tasks/{task-id}/collection_jobs/{id}` | Collector → Leader | [`crate::collection_jobs`] (4.6.1) |
//! | `PUT/POST/DELETE /tasks/{task-id}/aggregation_jobs/{id}` | Leader → Helper | [`crate::helper`] (4.5) |
//! | `POST /tasks/{task-id}/aggregate_shares` | Leader → Helper | [`crate::helper`] (4.6.2) |
//!
//! Every failure goes through [`problem::ApiError`] (requests no route takes:
//! [`fallback`]; times a datastore cannot hold: [`storable_time`]); request
//! parsing, authentication and media types through [`request`]. One tracing
//! span per request ([`trace`]). The router itself is in [`mod@router`]; what the
//! handlers share is [`crate::state`], below both.
//!
//! ## Where is
//!
//! - the route table (method and path → handler) → [`router::build_router`]
//! - an identifier in the path or query is unpadded base64url (4.3) →
//!   [`request::parse_id`]
//! - the task's token, either header, compared in constant time (3.1) →
//!   [`request::authenticate`]
//! - the `Content-Type` a request must carry, 415 otherwise (8.1) →
//!   [`request::require_media_type`]
//! - a body over its limit is 413, a slow one 408, one past the server's
//!   byte budget 503 → [`request::read_body`]
//! - a message must fill the body exactly (`invalidMessage`) →
//!   [`request::decode`]
//! - a failure's status, type and document, with the task ID (3.2) →
//!   [`problem::ApiError::to_problem_document`],
//!   [`problem::ApiError::with_task_id`]
//! - a detail of an internal failure is logged, never sent →
//!   [`problem::ApiError::internal`]
//! - 404 for an unknown path, 405 with `Allow` for an unserved method →
//!   [`fallback::not_found`], [`fallback::method_not_allowed`]
//! - `GET /hpke_config` without a task: the active global keys, else
//!   `missingTaskID` (4.4.1) →
//!   [`hpke_config::get_hpke_config`]
//! - a batch interval ending after 2^63 - 1 is `batchInvalid` (4.6.5) →
//!   [`storable_time::check_batch_interval`]
//! - a report time the datastore cannot hold is too early (4.4.2, 4.5.1.4) →
//!   [`storable_time::with_storable_clock_skew`],
//!   [`storable_time::is_storable_report_time`]
//! - one span and an `X-Request-Id` per request; no body, query or header
//!   logged → [`trace::trace_request`]
//! - the state every handler gets → [`crate::state::AppState`]

#[cfg(test)]
mod bad_input_tests;
mod fallback;
pub mod hpke_config;
pub mod problem;
pub mod request;
mod router;
pub mod storable_time;
pub mod trace;

pub use crate::state::ApiConfig;
pub use router::{router, serve_on, HttpApi};
