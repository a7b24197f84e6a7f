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
//! | [`http`] | router, problem documents, authentication, media types, `GET /hpke_config` |
//! | [`upload`] | `PUT /tasks/{id}/reports` and the batching report writer |
//! | [`collection_jobs`] | the Leader's collection job endpoints (DAP-09 4.6.1) |
//! | [`helper`] | the Helper's aggregation job and aggregate share endpoints (4.5, 4.6.2) |
//! | [`leader`] | the Leader's background jobs: job creator and drivers |
//! | [`server`] | the HTTP/1.1 server: accept loop, connection and body limits, timeouts, graceful shutdown |
//! | [`logging`] | installing the `tracing` subscriber |
//! | [`tls`] | HTTPS for the API (certificate reload on SIGHUP) and extra root certificates for clients |
//!
//! Protocol rules come from `dyad-protocol` and storage from
//! `dyad-datastore`; this crate is the adapter between them and HTTP.

pub mod collection_jobs;
pub mod config;
pub(crate) mod convert;
pub mod helper;
pub mod http;
pub mod leader;
pub mod logging;
pub mod runtime;
pub mod server;
pub mod startup;
pub mod state;
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
