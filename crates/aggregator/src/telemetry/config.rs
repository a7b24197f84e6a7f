//! The `metrics` section of the configuration (the listen addresses of
//! the health and metrics endpoints are top-level keys, beside
//! `listen_address`).
//!
//! ```yaml
//! health_listen_address: "0.0.0.0:9001"   # GET /healthz, /readyz; none when absent
//! metrics_listen_address: "0.0.0.0:9464"  # GET /metrics (Prometheus text); none when absent
//! metrics:
//!   queue_depth_interval_secs: 30         # how often the Leader's queue gauges are sampled
//!   otlp:                                 # OTLP/HTTP (protobuf) export; none when absent
//!     endpoint: "http://otel-collector:4318/v1/metrics"
//!     interval_secs: 60
//!     timeout_secs: 10
//! ```

use serde::Deserialize;
use std::time::Duration;

/// The `metrics` section. Every field has a default.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// How often a process running the `aggregation-job-creator` role
    /// counts the Leader's queues for the gauges.
    pub queue_depth_interval_secs: u64,
    /// Export to an OpenTelemetry collector as well.
    pub otlp: Option<OtlpConfig>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            queue_depth_interval_secs: 30,
            otlp: None,
        }
    }
}

/// OTLP export over HTTP with protobuf bodies.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtlpConfig {
    /// The collector's metrics URL, path included (usually
    /// `http://HOST:4318/v1/metrics`).
    pub endpoint: url::Url,
    /// How often the metrics are pushed.
    #[serde(default = "default_otlp_interval_secs")]
    pub interval_secs: u64,
    /// How long one push may take.
    #[serde(default = "default_otlp_timeout_secs")]
    pub timeout_secs: u64,
}

fn default_otlp_interval_secs() -> u64 {
    60
}

fn default_otlp_timeout_secs() -> u64 {
    10
}

impl MetricsConfig {
    /// The sampling interval of the queue gauges.
    pub fn queue_depth_interval(&self) -> Duration {
        Duration::from_secs(self.queue_depth_interval_secs)
    }

    /// What serde cannot check: `(field, reason)` of the first problem.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.queue_depth_interval_secs == 0 {
            return Err((
                "metrics.queue_depth_interval_secs",
                "must be positive".into(),
            ));
        }
        if let Some(otlp) = &self.otlp {
            if !matches!(otlp.endpoint.scheme(), "http" | "https") {
                return Err((
                    "metrics.otlp.endpoint",
                    format!(
                        "must be an http:// or https:// URL, not {}://",
                        otlp.endpoint.scheme()
                    ),
                ));
            }
            if otlp.endpoint.password().is_some() || !otlp.endpoint.username().is_empty() {
                return Err((
                    "metrics.otlp.endpoint",
                    "must not carry credentials (they would end up in logs)".into(),
                ));
            }
            for (field, value) in [
                ("metrics.otlp.interval_secs", otlp.interval_secs),
                ("metrics.otlp.timeout_secs", otlp.timeout_secs),
            ] {
                if value == 0 || value > 86_400 {
                    return Err((field, "must be between 1 and 86400".into()));
                }
            }
        }
        Ok(())
    }
}
