//! What an operator watches: health and readiness probes, metrics
//! (Prometheus text and OTLP export) and the instruments the code records.
//!
//! | module | what |
//! |---|---|
//! | [`config`] | the `metrics` section (`otlp`, sampling interval) |
//! | [`mod@install`] | the process-wide recorder: Prometheus, plus OTLP when configured |
//! | [`otlp`] | the bridge from the `metrics` facade to OpenTelemetry instruments |
//! | [`endpoints`] | `/healthz`, `/readyz` and `/metrics`, each on its own listener |
//! | [`instruments`] | every metric the aggregator records, with its labels |
//! | [`sampler`] | the Leader's queue-depth gauges, sampled periodically |
//!
//! ## Where is
//!
//! - readiness: the datastore answers and its schema is this binary's →
//!   [`endpoints::readiness`], `Datastore::check_ready`
//! - one set of instruments feeding Prometheus and OTLP →
//!   [`install::install`]
//! - label values bounded (no task or job IDs) → [`instruments`]

pub mod config;
pub mod endpoints;
pub mod install;
pub mod instruments;
pub mod otlp;
pub mod sampler;

pub use config::{MetricsConfig, OtlpConfig};
pub use install::{install, Telemetry};
