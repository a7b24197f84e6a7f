//! The running aggregator: the DAP HTTP API (axum), the Leader's upload
//! path with its batching writer, the Helper's aggregation and aggregate
//! share handlers, the Leader's collection job endpoints, and the process
//! runtime that serves the API and runs the Leader's background jobs.
//!
//! | module | what |
//! |---|---|
//! | [`config`] | the YAML configuration file |
//! | [`runtime`] | [`runtime::run`]: datastore, HTTP API and roles until shutdown |
//! | [`startup`] | before serving: datastore open errors with advice, the keys check, the startup line |
//! | [`state`] | [`state::AppState`] and [`state::ApiConfig`]: what every handler shares |
//! | [`task_cache`] | the tasks the handlers read, kept a few seconds, invalidated by this process's changes |
//! | [`http`] | router, problem documents, authentication, media types, `GET /hpke_config` |
//! | [`upload`] | `PUT /tasks/{id}/reports` and the batching report writer |
//! | [`collection_jobs`] | the Leader's collection job endpoints (DAP-09 4.6.1) |
//! | [`helper`] | the Helper's aggregation job and aggregate share endpoints (4.5, 4.6.2) |
//! | [`leader`] | the Leader's background jobs: job creator and drivers |
//! | [`hpke_keys`] | each replica's copy of the global HPKE keys, refreshed |
//! | [`key_rotator`] | the `key-rotator` role: global HPKE keys made, promoted, expired, deleted |
//! | [`garbage_collector`] | the `garbage-collector` role: deletes expired reports, jobs and batches, and expired tasks |
//! | [`server`] | the HTTP/1.1 server: accept loop, connection and body limits, timeouts, graceful shutdown |
//! | [`management`] | the `management-api` role: tasks and global HPKE keys over the aggregator API's wire interface, on its own listener |
//! | [`logging`] | installing the `tracing` subscriber |
//! | [`telemetry`] | health and readiness probes, metrics (Prometheus, OTLP) and the instruments |
//! | [`tls`] | HTTPS for the API (certificate reload on SIGHUP) and extra root certificates for clients |
//!
//! Protocol rules come from `dyad-protocol` and storage from
//! `dyad-datastore`; this crate is the adapter between them and HTTP.
//!
//! ## Where is
//!
//! Each module's documentation has its own index; the rules most often looked
//! for:
//!
//! - a request's token checked against the task's, in constant time (DAP-09
//!   section 3.1) → [`http::request::authenticate`]
//! - a task run in the other role is `unrecognizedTask` (3.2) →
//!   [`state::AppState::task_in_role`]
//! - every failure as a problem document carrying the task ID (3.2) →
//!   [`http::problem::ApiError`], [`http::problem::ApiError::with_task_id`]
//! - the order of an upload's checks (4.4.2) → [`upload::accept_report`]
//! - 201 Created only once the report is committed (4.4.2) →
//!   [`upload::writer::ReportWriter::write`]
//! - a Helper aggregation job PUT repeated with the same body gets the same
//!   answer (4.5.1.2) → [`helper::init::stored_answer`]
//! - a report replayed or in a collected batch is rejected alone (4.5.1.4) →
//!   [`helper::facts::gather`], [`helper::init::store_in_tx`]
//! - a Helper continuation: replay of the previous step, `stepMismatch`
//!   (4.5.2.2, 4.5.2.3) → [`helper::continue_job::continue_job`]
//! - the Helper's aggregate share: idempotent, `batchMismatch`, batch
//!   validation (4.6.2, 4.6.5) → [`helper::aggregate_share_req::answer`]
//! - a collection job's eager batch validation (4.6.5) →
//!   [`collection_jobs::check_earlier_queries`]
//! - the Leader's job creation, stepping, lease renewal and collection →
//!   [`leader`] (its index)
//! - the configuration file's checks → [`config::AggregatorConfig::validate`]
//! - a wrong datastore key stops the process before it serves →
//!   [`startup::check_keys`]
//! - the management API's bearer token, compared in constant time, before
//!   its media types → [`management::guard::guard`]

// The "Where is" indexes of the module documentation name the private
// functions that carry each rule: read them with
// `cargo doc --document-private-items`. A link that names nothing still
// fails the documentation build (`rustdoc::broken_intra_doc_links`).
#![allow(rustdoc::private_intra_doc_links)]

pub mod batch_facts;
pub mod collection_jobs;
pub mod config;
pub(crate) mod convert;
pub mod garbage_collector;
pub mod helper;
pub mod hpke_keys;
pub mod http;
pub mod key_rotator;
pub mod leader;
pub mod logging;
pub mod management;
pub mod runtime;
pub mod server;
pub mod startup;
pub mod state;
pub mod task_cache;
pub mod taskprov;
pub mod telemetry;
pub mod tls;
pub mod upload;
pub(crate) mod vdaf_ops;

#[cfg(test)]
mod end_to_end_tests;
#[cfg(test)]
pub(crate) mod test_util;

pub use config::{AggregatorConfig, ProcessRole};
pub use http::{router, serve_on, ApiConfig, HttpApi};
pub use runtime::run;
