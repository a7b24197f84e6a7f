use super::*;
use axum::body::Bytes;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as Number;
use opentelemetry_proto::tonic::metrics::v1::{Metric, NumberDataPoint};
use prost::Message as _;
use tokio::sync::mpsc;

/// A tiny OTLP/HTTP receiver: every POSTed body, decoded.
async fn receiver() -> (
    url::Url,
    mpsc::UnboundedReceiver<ExportMetricsServiceRequest>,
) {
    let (sender, received) = mpsc::unbounded_channel();
    let router = axum::Router::new().route(
        "/v1/metrics",
        post(move |body: Bytes| {
            let sender = sender.clone();
            async move {
                let request = ExportMetricsServiceRequest::decode(body).expect("OTLP protobuf");
                let _ = sender.send(request);
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let url = format!("http://{address}/v1/metrics").parse().unwrap();
    (url, received)
}

fn metric<'a>(request: &'a ExportMetricsServiceRequest, name: &str) -> &'a Metric {
    request
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no metric {name} in {request:?}"))
}

fn label(
    point_attributes: &[opentelemetry_proto::tonic::common::v1::KeyValue],
    key: &str,
) -> String {
    point_attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| match &v.value {
            Some(AnyValue::StringValue(s)) => Some(s.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

fn number(point: &NumberDataPoint) -> f64 {
    match point.value {
        Some(Number::AsInt(i)) => i as f64,
        Some(Number::AsDouble(d)) => d,
        None => f64::NAN,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_gauges_and_histograms_reach_an_otlp_receiver_with_their_labels() {
    let (endpoint, mut received) = receiver().await;
    let provider = meter_provider(&OtlpConfig {
        endpoint,
        // Only the explicit flush below exports.
        interval_secs: 3600,
        timeout_secs: 5,
    })
    .unwrap();
    let recorder = OtlpRecorder::new(&provider);
    metrics::with_local_recorder(&recorder, || {
        metrics::counter!("dyad_uploads_total", "outcome" => "accepted").increment(2);
        metrics::counter!("dyad_uploads_total", "outcome" => "accepted").increment(1);
        metrics::counter!("dyad_uploads_total", "outcome" => "reportTooEarly").increment(1);
        metrics::gauge!("dyad_unaggregated_reports").set(5.0);
        metrics::gauge!("dyad_unaggregated_reports").increment(2.0);
        metrics::histogram!("dyad_job_step_duration_seconds", "job" => "aggregation").record(0.2);
        metrics::histogram!("dyad_job_step_duration_seconds", "job" => "aggregation").record(7.0);
    });
    let flushing = provider.clone();
    tokio::task::spawn_blocking(move || flushing.force_flush())
        .await
        .unwrap()
        .unwrap();
    let request = tokio::time::timeout(std::time::Duration::from_secs(10), received.recv())
        .await
        .expect("an export within 10 s")
        .unwrap();

    let Some(Data::Sum(uploads)) = &metric(&request, "dyad_uploads_total").data else {
        panic!("uploads is not a sum");
    };
    assert!(uploads.is_monotonic);
    let mut by_outcome: Vec<(String, f64)> = uploads
        .data_points
        .iter()
        .map(|p| (label(&p.attributes, "outcome"), number(p)))
        .collect();
    by_outcome.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        by_outcome,
        vec![("accepted".into(), 3.0), ("reportTooEarly".into(), 1.0)]
    );

    let Some(Data::Gauge(gauge)) = &metric(&request, "dyad_unaggregated_reports").data else {
        panic!("queue depth is not a gauge");
    };
    assert_eq!(number(&gauge.data_points[0]), 7.0);

    let steps = metric(&request, "dyad_job_step_duration_seconds");
    assert_eq!(steps.unit, "s");
    let Some(Data::Histogram(histogram)) = &steps.data else {
        panic!("step durations are not a histogram");
    };
    let point = &histogram.data_points[0];
    assert_eq!(label(&point.attributes, "job"), "aggregation");
    assert_eq!(point.count, 2);
    assert_eq!(point.sum, Some(7.2));
    assert_eq!(point.explicit_bounds, SECONDS_BUCKETS);
    // 0.2 s falls in (0.1, 0.25], 7 s in (5, 10].
    let bucket = |le: f64| {
        let i = SECONDS_BUCKETS.iter().position(|b| *b == le).unwrap();
        point.bucket_counts[i]
    };
    assert_eq!((bucket(0.25), bucket(10.0)), (1, 1));

    tokio::task::spawn_blocking(move || provider.shutdown())
        .await
        .unwrap()
        .unwrap();
}
