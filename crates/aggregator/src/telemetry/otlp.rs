//! The bridge from the `metrics` facade to OpenTelemetry: [`OtlpRecorder`]
//! is a `metrics::Recorder` whose counters, gauges and histograms are
//! OpenTelemetry instruments of a meter provider that pushes them to an
//! OTLP/HTTP collector (protobuf bodies) every `interval_secs`.
//!
//! Each metric name becomes one instrument (counters `u64`, gauges and
//! histograms `f64`; names ending in `_seconds` get unit `s` and the same
//! bucket boundaries as the Prometheus histograms); each label set becomes
//! the attributes of its data points. Handles are cached per key, so a
//! gauge's increments add up and a call site pays one lookup.
//!
//! Why our own: no bridge from this facade to the OpenTelemetry SDK is
//! both maintained by either project and on the SDK's current version,
//! and the mapping is this small.

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};
use opentelemetry::metrics::{Meter, MeterProvider as _};
use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::config::OtlpConfig;

/// Bucket boundaries of every `_seconds` histogram, in seconds.
pub const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// A meter provider exporting to `config.endpoint` (nothing is sent
/// before the first interval ends).
pub fn meter_provider(config: &OtlpConfig) -> anyhow::Result<SdkMeterProvider> {
    use opentelemetry_otlp::WithExportConfig as _;
    let exporter = opentelemetry_otlp::MetricExporter::builder()
        .with_http()
        .with_endpoint(config.endpoint.as_str())
        .with_timeout(std::time::Duration::from_secs(config.timeout_secs))
        .build()
        .map_err(|error| anyhow::anyhow!("metrics.otlp: building the exporter: {error}"))?;
    let reader = opentelemetry_sdk::metrics::PeriodicReader::builder(exporter)
        .with_interval(std::time::Duration::from_secs(config.interval_secs))
        .build();
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name("dyad")
        .build();
    Ok(SdkMeterProvider::builder()
        .with_reader(reader)
        .with_resource(resource)
        .build())
}

/// Forwards every instrument of the facade to a [`Meter`].
pub struct OtlpRecorder {
    meter: Meter,
    counters: Mutex<HashMap<Key, Arc<OtelCounter>>>,
    gauges: Mutex<HashMap<Key, Arc<OtelGauge>>>,
    histograms: Mutex<HashMap<Key, Arc<OtelHistogram>>>,
}

impl OtlpRecorder {
    /// A recorder on `provider`'s meter `dyad`.
    pub fn new(provider: &SdkMeterProvider) -> Self {
        Self {
            meter: provider.meter("dyad"),
            counters: Mutex::default(),
            gauges: Mutex::default(),
            histograms: Mutex::default(),
        }
    }
}

fn attributes(key: &Key) -> Vec<KeyValue> {
    key.labels()
        .map(|label| KeyValue::new(label.key().to_owned(), label.value().to_owned()))
        .collect()
}

fn cached<T>(map: &Mutex<HashMap<Key, Arc<T>>>, key: &Key, make: impl FnOnce() -> T) -> Arc<T> {
    let mut map = map.lock().unwrap_or_else(PoisonError::into_inner);
    map.entry(key.clone())
        .or_insert_with(|| Arc::new(make()))
        .clone()
}

fn is_seconds(name: &str) -> bool {
    name.ends_with("_seconds")
}

struct OtelCounter {
    counter: opentelemetry::metrics::Counter<u64>,
    attributes: Vec<KeyValue>,
}

impl CounterFn for OtelCounter {
    fn increment(&self, value: u64) {
        self.counter.add(value, &self.attributes);
    }

    /// OpenTelemetry counters only add; dyad never sets a counter's
    /// absolute value, so this is not forwarded.
    fn absolute(&self, _value: u64) {}
}

struct OtelGauge {
    gauge: opentelemetry::metrics::Gauge<f64>,
    attributes: Vec<KeyValue>,
    /// The value, for increments and decrements (`f64` bits).
    value: Mutex<f64>,
}

impl OtelGauge {
    fn update(&self, change: impl FnOnce(f64) -> f64) {
        let mut value = self.value.lock().unwrap_or_else(PoisonError::into_inner);
        *value = change(*value);
        self.gauge.record(*value, &self.attributes);
    }
}

impl GaugeFn for OtelGauge {
    fn increment(&self, value: f64) {
        self.update(|current| current + value);
    }

    fn decrement(&self, value: f64) {
        self.update(|current| current - value);
    }

    fn set(&self, value: f64) {
        self.update(|_| value);
    }
}

struct OtelHistogram {
    histogram: opentelemetry::metrics::Histogram<f64>,
    attributes: Vec<KeyValue>,
}

impl HistogramFn for OtelHistogram {
    fn record(&self, value: f64) {
        self.histogram.record(value, &self.attributes);
    }
}

impl Recorder for OtlpRecorder {
    // Descriptions are optional in both worlds; dyad's are in the docs.
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let handle = cached(&self.counters, key, || {
            let mut builder = self.meter.u64_counter(key.name().to_owned());
            if is_seconds(key.name()) {
                builder = builder.with_unit("s");
            }
            OtelCounter {
                counter: builder.build(),
                attributes: attributes(key),
            }
        });
        Counter::from_arc(handle)
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        let handle = cached(&self.gauges, key, || OtelGauge {
            gauge: self.meter.f64_gauge(key.name().to_owned()).build(),
            attributes: attributes(key),
            value: Mutex::new(0.0),
        });
        Gauge::from_arc(handle)
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        let handle = cached(&self.histograms, key, || {
            let mut builder = self.meter.f64_histogram(key.name().to_owned());
            if is_seconds(key.name()) {
                builder = builder
                    .with_unit("s")
                    .with_boundaries(SECONDS_BUCKETS.to_vec());
            }
            OtelHistogram {
                histogram: builder.build(),
                attributes: attributes(key),
            }
        });
        Histogram::from_arc(handle)
    }
}

#[cfg(test)]
#[path = "otlp_tests.rs"]
mod tests;
