//! The operator's endpoints of real `dyad serve` processes: a Leader and a
//! Helper with health and metrics listeners run a known workload (accepted
//! uploads, duplicates, uploads refused with known problem types, one
//! collection); their `/metrics` pages, parsed as the Prometheus text
//! format, must count exactly that work, and `/healthz` and `/readyz`
//! answer 200. A Leader exporting over OTLP pushes the same counters to a
//! receiver that decodes the protobuf, at the latest when it stops.

use dyad_core::vdaf::{random_measurement, Measurement};
use dyad_integration_tests::{free_port, past_bucket_time, Dyad, TaskOptions, WAIT};
use dyad_messages::draft09::{Duration, Interval, Query, TaskId, Time};
use dyad_messages::problem::DapProblemType;
use dyad_messages::Encode as _;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use prometheus_parse::{Sample, Scrape, Value};
use prost::Message as _;
use std::collections::BTreeMap;

const PRECISION: u64 = 3600;
const ACCEPTED: usize = 6;
const DUPLICATES: usize = 2;

struct Endpoints {
    health: String,
    metrics: String,
}

fn endpoints() -> Endpoints {
    Endpoints {
        health: format!("127.0.0.1:{}", free_port()),
        metrics: format!("127.0.0.1:{}", free_port()),
    }
}

async fn scrape(address: &str) -> Scrape {
    let text = reqwest::get(format!("http://{address}/metrics"))
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .text()
        .await
        .unwrap();
    Scrape::parse(text.lines().map(|line| Ok(line.to_owned()))).expect("Prometheus text format")
}

/// The value of the sample `name` whose labels include `labels` (0 when
/// there is none: a counter never incremented is not rendered).
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    let matching: Vec<&Sample> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .collect();
    matching
        .iter()
        .map(|s| match &s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            Value::Histogram(_) | Value::Summary(_) => panic!("{name} is not a number"),
        })
        .sum()
}

/// Every sample of `name`, by its labels, for failure messages.
fn samples(scrape: &Scrape, name: &str) -> BTreeMap<String, f64> {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .map(|s| {
            let value = match &s.value {
                Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
                _ => f64::NAN,
            };
            (format!("{:?}", s.labels), value)
        })
        .collect()
}

async fn get_status(url: String) -> u16 {
    reqwest::get(url).await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_exactly_the_uploads_preparations_and_requests_done() {
    let (leader, helper) = (endpoints(), endpoints());
    let dyad = Dyad::start_with(
        &TaskOptions::time_interval(r#"{"type":"Prio3Count"}"#, ACCEPTED as u64),
        &[
            ("health_listen_address", &format!("\"{}\"", leader.health)),
            ("metrics_listen_address", &format!("\"{}\"", leader.metrics)),
            ("metrics", "{queue_depth_interval_secs: 1}"),
        ],
        &[
            ("health_listen_address", &format!("\"{}\"", helper.health)),
            ("metrics_listen_address", &format!("\"{}\"", helper.metrics)),
        ],
    )
    .await
    .unwrap();

    for server in [&leader, &helper] {
        assert_eq!(
            get_status(format!("http://{}/healthz", server.health)).await,
            200
        );
        assert_eq!(
            get_status(format!("http://{}/readyz", server.health)).await,
            200
        );
    }

    // The workload.
    let time = past_bucket_time(PRECISION, 1);
    let client = dyad.client_at(time);
    let mut rng = rand::thread_rng();
    let mut reports = Vec::new();
    for _ in 0..ACCEPTED {
        let measurement: Measurement = random_measurement(dyad.vdaf(), &mut rng);
        let report = client.prepare_report(&measurement, time).await.unwrap();
        client.upload_report(&report).await.unwrap();
        reports.push(report);
    }
    for report in &reports[..DUPLICATES] {
        client.upload_report(report).await.unwrap();
    }
    // Refused: a report from the future, a body that is no report, a task
    // the Leader does not know.
    let future = Time::from_seconds_since_epoch(
        dyad_client::system_time().as_seconds_since_epoch() + 10 * PRECISION,
    );
    let measurement = random_measurement(dyad.vdaf(), &mut rng);
    let refused = dyad
        .client_at(future)
        .upload(&measurement)
        .await
        .unwrap_err();
    assert_eq!(
        refused.problem_type(),
        Some(DapProblemType::ReportTooEarly),
        "{refused}"
    );
    let http = reqwest::Client::new();
    let reports_url = format!(
        "{}tasks/{}/reports",
        dyad.leader.url(),
        dyad.credentials.task_id
    );
    let garbage = http
        .put(&reports_url)
        .header("content-type", "application/dap-report")
        .body(vec![1u8, 2, 3])
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 400);
    let unknown_task = TaskId::from_bytes([7u8; 32]);
    let unknown = http
        .put(format!("{}tasks/{unknown_task}/reports", dyad.leader.url()))
        .header("content-type", "application/dap-report")
        .body(reports[0].get_encoded().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 400);

    let interval = Interval::new(
        time.to_batch_interval_start(Duration::from_seconds(PRECISION)),
        Duration::from_seconds(PRECISION),
    )
    .unwrap();
    let collection = dyad.collect(Query::TimeInterval(interval)).await.unwrap();
    assert_eq!(collection.report_count, ACCEPTED as u64);

    // What the Leader counted.
    let scraped = scrape(&leader.metrics).await;
    let uploads = |outcome: &str| value(&scraped, "dyad_uploads_total", &[("outcome", outcome)]);
    let all_uploads = samples(&scraped, "dyad_uploads_total");
    assert_eq!(uploads("accepted"), ACCEPTED as f64, "{all_uploads:?}");
    assert_eq!(uploads("duplicate"), DUPLICATES as f64, "{all_uploads:?}");
    assert_eq!(uploads("reportTooEarly"), 1.0, "{all_uploads:?}");
    assert_eq!(uploads("invalidMessage"), 1.0, "{all_uploads:?}");
    assert_eq!(uploads("unrecognizedTask"), 1.0, "{all_uploads:?}");
    assert_eq!(all_uploads.len(), 5, "no other outcome: {all_uploads:?}");

    let reports_route = [("route", "/tasks/:task_id/reports"), ("method", "PUT")];
    let http_requests = |scrape: &Scrape, extra: &[(&str, &str)]| {
        let labels: Vec<_> = reports_route.iter().chain(extra).copied().collect();
        value(scrape, "dyad_http_requests_total", &labels)
    };
    assert_eq!(
        http_requests(&scraped, &[("status", "201")]),
        (ACCEPTED + DUPLICATES) as f64,
        "{:?}",
        samples(&scraped, "dyad_http_requests_total")
    );
    assert_eq!(http_requests(&scraped, &[("status", "400")]), 3.0);
    // The histogram saw every request the counter did.
    assert_eq!(
        value(
            &scraped,
            "dyad_http_request_duration_seconds_count",
            &[reports_route[0], reports_route[1], ("status", "201")]
        ),
        (ACCEPTED + DUPLICATES) as f64
    );
    assert_eq!(
        value(
            &scraped,
            "dyad_reports_prepared_total",
            &[("role", "leader"), ("outcome", "finished")]
        ),
        ACCEPTED as f64,
        "{:?}",
        samples(&scraped, "dyad_reports_prepared_total")
    );
    let aggregation_steps = value(
        &scraped,
        "dyad_job_steps_total",
        &[("job", "aggregation"), ("result", "finished")],
    );
    assert!(aggregation_steps >= 1.0);
    assert_eq!(
        value(
            &scraped,
            "dyad_job_steps_total",
            &[("job", "collection"), ("result", "finished")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &scraped,
            "dyad_http_requests_total",
            &[
                (
                    "route",
                    "/tasks/:task_id/collection_jobs/:collection_job_id"
                ),
                ("method", "PUT"),
                ("status", "201")
            ]
        ),
        1.0
    );
    // Every job taken was taken once (nothing ran out here).
    let taken = value(&scraped, "dyad_leases_total", &[("event", "taken")]);
    assert!(taken >= aggregation_steps + 1.0, "{taken}");
    assert_eq!(
        value(&scraped, "dyad_leases_total", &[("event", "expired")]),
        0.0
    );
    assert!(
        value(
            &scraped,
            "dyad_datastore_transactions_total",
            &[("tx", "aggregation_jobs_acquire"), ("outcome", "committed")]
        ) >= 1.0
    );

    // What the Helper counted: the same jobs and reports, seen from its side.
    let helper_scraped = scrape(&helper.metrics).await;
    assert_eq!(
        value(
            &helper_scraped,
            "dyad_reports_prepared_total",
            &[("role", "helper"), ("outcome", "finished")]
        ),
        ACCEPTED as f64,
        "{:?}",
        samples(&helper_scraped, "dyad_reports_prepared_total")
    );
    assert_eq!(
        value(
            &helper_scraped,
            "dyad_http_requests_total",
            &[
                (
                    "route",
                    "/tasks/:task_id/aggregation_jobs/:aggregation_job_id"
                ),
                ("method", "PUT"),
                ("status", "201")
            ]
        ),
        aggregation_steps
    );
    assert_eq!(
        value(
            &helper_scraped,
            "dyad_http_requests_total",
            &[
                ("route", "/tasks/:task_id/aggregate_shares"),
                ("method", "POST"),
                ("status", "200")
            ]
        ),
        1.0
    );
    assert_eq!(value(&helper_scraped, "dyad_uploads_total", &[]), 0.0);

    // The queues drained: the sampler (every second) reports them empty.
    let start = std::time::Instant::now();
    loop {
        let scraped = scrape(&leader.metrics).await;
        let depths = (
            value(&scraped, "dyad_unaggregated_reports", &[]),
            value(&scraped, "dyad_pending_collection_jobs", &[]),
            scraped
                .samples
                .iter()
                .any(|s| s.metric == "dyad_unaggregated_reports"),
        );
        if depths == (0.0, 0.0, true) {
            break;
        }
        assert!(
            start.elapsed() < WAIT,
            "queues never sampled empty: {depths:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// A minimal OTLP/HTTP receiver on a raw socket: every request body
/// POSTed to it, decoded, is sent on the channel; each is answered 200.
async fn otlp_receiver() -> (
    String,
    tokio::sync::mpsc::UnboundedReceiver<ExportMetricsServiceRequest>,
) {
    use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (sender, received) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let sender = sender.clone();
            tokio::spawn(async move {
                let mut stream = BufReader::new(stream);
                // One connection may carry many requests (keep-alive).
                loop {
                    let mut length = 0usize;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let lower = line.to_ascii_lowercase();
                        if let Some(value) = lower.strip_prefix("content-length:") {
                            length = value.trim().parse().unwrap();
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0u8; length];
                    stream.read_exact(&mut body).await.unwrap();
                    let request = ExportMetricsServiceRequest::decode(body.as_slice())
                        .expect("an OTLP metrics request in protobuf");
                    let _ = sender.send(request);
                    let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                    if stream.get_mut().write_all(answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (format!("http://{address}/v1/metrics"), received)
}

/// The value of the `outcome` data point of the sum `name` in `request`.
fn otlp_sum(request: &ExportMetricsServiceRequest, name: &str, outcome: &str) -> Option<f64> {
    use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as Number;
    let metric = request
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .find(|m| m.name == name)?;
    let Some(Data::Sum(sum)) = &metric.data else {
        return None;
    };
    sum.data_points
        .iter()
        .find(|p| {
            p.attributes.iter().any(|kv| {
                kv.key == "outcome"
                    && matches!(
                        kv.value.as_ref().and_then(|v| v.value.as_ref()),
                        Some(Any::StringValue(v)) if v == outcome
                    )
            })
        })
        .and_then(|p| match p.value {
            Some(Number::AsInt(i)) => Some(i as f64),
            Some(Number::AsDouble(d)) => Some(d),
            None => None,
        })
}

#[tokio::test(flavor = "multi_thread")]
async fn otlp_export_pushes_the_counters_and_flushes_them_at_shutdown() {
    let (endpoint, mut received) = otlp_receiver().await;
    // Pushed hourly: what arrives comes from the flush at SIGTERM.
    let otlp = format!("{{otlp: {{endpoint: \"{endpoint}\", interval_secs: 3600}}}}");
    let mut dyad = Dyad::start_with(
        &TaskOptions::time_interval(r#"{"type":"Prio3Count"}"#, 1),
        &[("metrics", &otlp)],
        &[],
    )
    .await
    .unwrap();
    let time = past_bucket_time(PRECISION, 1);
    let client = dyad.client_at(time);
    let mut rng = rand::thread_rng();
    for _ in 0..3 {
        let measurement: Measurement = random_measurement(dyad.vdaf(), &mut rng);
        client.upload(&measurement).await.unwrap();
    }
    assert!(
        received.try_recv().is_err(),
        "nothing pushed before the interval"
    );

    let (_, status) = dyad
        .leader
        .terminate(std::time::Duration::from_secs(30))
        .await
        .unwrap();
    assert!(status.success(), "{status}");
    let mut accepted = None;
    while let Ok(Some(request)) =
        tokio::time::timeout(std::time::Duration::from_secs(5), received.recv()).await
    {
        accepted = otlp_sum(&request, "dyad_uploads_total", "accepted").or(accepted);
    }
    assert_eq!(accepted, Some(3.0), "{}", dyad.logs());
}
