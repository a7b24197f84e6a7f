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
//! `fallback`; times a datastore cannot hold: [`times`]); request parsing,
//! authentication and media types through [`request`]. One tracing span per
//! request ([`trace`]).

#[cfg(test)]
mod bad_input_tests;
mod fallback;
pub mod hpke_config;
pub mod problem;
pub mod request;
mod router;
pub mod times;
pub mod trace;

pub use crate::state::ApiConfig;
pub use router::{router, serve_on, HttpApi};
