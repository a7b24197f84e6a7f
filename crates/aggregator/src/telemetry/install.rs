//! Installing the process's metrics recorder ([`install`]): the Prometheus
//! recorder (rendered by `GET /metrics`, see [`super::endpoints`]) and,
//! when `metrics.otlp` is configured, the OTLP bridge
//! ([`super::otlp::OtlpRecorder`]) beside it, both fed by one
//! `metrics-util` fanout, so every instrument reaches both.
//!
//! The recorder is process-wide and set once: a second [`install`] in the
//! same process (tests running several aggregators) gets the first one's
//! [`Telemetry`].

use super::config::MetricsConfig;
use super::otlp::{meter_provider, OtlpRecorder, SECONDS_BUCKETS};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use metrics_util::layers::FanoutBuilder;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use std::sync::OnceLock;
use std::time::Duration;

/// What [`install`] set up.
#[derive(Clone)]
pub struct Telemetry {
    /// Renders the Prometheus text format.
    pub prometheus: PrometheusHandle,
    /// The OTLP meter provider, when configured (flushed at shutdown).
    otlp: Option<SdkMeterProvider>,
}

static INSTALLED: OnceLock<Telemetry> = OnceLock::new();

/// Installs the recorder once per process (see the module documentation)
/// and starts the Prometheus recorder's upkeep on the current runtime.
pub fn install(config: &MetricsConfig) -> anyhow::Result<Telemetry> {
    if let Some(installed) = INSTALLED.get() {
        return Ok(installed.clone());
    }
    let prometheus = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
        .map_err(|error| anyhow::anyhow!("metrics: {error}"))?
        .build_recorder();
    let handle = prometheus.handle();
    let otlp = match &config.otlp {
        Some(otlp) => Some(meter_provider(otlp)?),
        None => None,
    };
    let installed = match &otlp {
        Some(provider) => metrics::set_global_recorder(
            FanoutBuilder::default()
                .add_recorder(prometheus)
                .add_recorder(OtlpRecorder::new(provider))
                .build(),
        )
        .is_ok(),
        None => metrics::set_global_recorder(prometheus).is_ok(),
    };
    if !installed {
        // Another recorder won a race or was set elsewhere: keep it.
        tracing::warn!("a metrics recorder was already installed; using it");
    }
    let telemetry = Telemetry {
        prometheus: handle.clone(),
        otlp,
    };
    let telemetry = INSTALLED.get_or_init(|| telemetry).clone();
    // Histograms accumulate between renders; upkeep bounds what they hold
    // when nobody scrapes.
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            handle.run_upkeep();
        }
    });
    if let Some(otlp) = &config.otlp {
        tracing::info!(
            endpoint = %otlp.endpoint,
            interval_secs = otlp.interval_secs,
            "exporting metrics over OTLP"
        );
    }
    Ok(telemetry)
}

impl Telemetry {
    /// Pushes what the OTLP exporter has not sent yet (at shutdown), at
    /// most `bound` long; a no-op without OTLP.
    pub async fn flush(&self, bound: Duration) {
        let Some(provider) = self.otlp.clone() else {
            return;
        };
        let flushed = tokio::task::spawn_blocking(move || provider.force_flush());
        match tokio::time::timeout(bound, flushed).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(error))) => tracing::warn!(%error, "the last OTLP metrics push failed"),
            Ok(Err(_)) | Err(_) => {
                tracing::warn!("the last OTLP metrics push did not finish in time")
            }
        }
    }
}
