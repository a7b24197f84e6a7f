//! Aborted requests against real `dyad serve` processes: a Leader with all
//! the Leader's roles and its Helper, on SQLite files and on PostgreSQL.
//!
//! Several raw TCP connections at a time send requests to every endpoint
//! (the Leader's `GET /hpke_config`, upload and collection job
//! `PUT`/`POST`/`DELETE`; the Helper's aggregation job `PUT`/`POST`/`DELETE`
//! and aggregate share `POST`, each with the right bearer token and with a
//! wrong one) and give up on them at varied points: inside the request line,
//! inside the headers, after the headers inside the body, after the whole
//! request before any answer, and after part of the answer; each after a
//! random 0-5 ms, by half-closing, closing, or resetting the connection. At
//! least [`ABORTS`] requests are aborted; one in ten runs to its end, and no
//! answer seen, whole or in part, may be a 5xx.
//!
//! Afterwards both processes must still be healthy: ordinary requests are
//! answered within [`PROMPT`], the background jobs aggregate and collect
//! [`REPORTS`] fresh reports to the exact sum, neither log shows a 5xx, a
//! panic or a wedged datastore, and each process exits within
//! [`SIGTERM_BOUND`] of SIGTERM.
//!
//! The aborted traffic stays out of the collected batch: aborted uploads and
//! the raw Helper jobs use reports three time-precision buckets back, the
//! raw collection jobs and aggregate share requests query that bucket, and
//! the fresh reports go into the previous bucket, which is collected.

use dyad_client::AnyVdaf;
use dyad_core::task::AuthenticationToken;
use dyad_core::vdaf::{plaintext_aggregate, random_measurement, AggregationParam};
use dyad_integration_tests::{
    assert_aggregate_eq, past_bucket_time, run_dyad, Dyad, TaskOptions, WAIT,
};
use dyad_messages::draft09::{
    AggregateShareReq, AggregationJobContinueReq, AggregationJobId, AggregationJobInitReq,
    AggregationJobStep, BatchSelector, CollectionJobId, CollectionReq, Duration, HpkeCiphertext,
    HpkeConfigId, HpkeConfigList, Interval, PartialBatchSelector, PrepareContinue, PrepareInit,
    Query, ReportId, ReportIdChecksum, ReportMetadata, ReportShare, TaskId,
};
use dyad_messages::{Decode as _, Encode as _};
use dyad_test_support::postgres::TestDatabase;
use rand::Rng as _;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

const PRECISION: u64 = 3600;
/// Requests given up on, at least.
const ABORTS: usize = 5000;
/// Connections open at once.
const PARALLEL: usize = 16;
/// Reports uploaded and collected after the aborts.
const REPORTS: usize = 30;
/// How long an ordinary request may take once the aborts are over.
const PROMPT: std::time::Duration = std::time::Duration::from_secs(1);
/// How long each process may take to exit after SIGTERM. The HTTP server
/// lets requests in flight finish (there are none left by then), the
/// report writer flushes, and closing the datastore waits at most 5 s for
/// connections still in use; 10 s leaves room for a slow machine.
const SIGTERM_BOUND: std::time::Duration = std::time::Duration::from_secs(10);
/// Distinct collection and aggregation job IDs the raw requests use, so
/// that later requests find the jobs earlier ones created.
const JOB_IDS: usize = 12;

/// One raw HTTP/1.1 request to one of the two processes.
struct RawRequest {
    /// What the request is, for the tally of answers.
    endpoint: &'static str,
    port: u16,
    /// Request line and headers, up to and including the blank line.
    head: Vec<u8>,
    body: Vec<u8>,
    /// The length of the request line (with its CRLF).
    request_line_len: usize,
}

impl RawRequest {
    fn new(
        endpoint: &'static str,
        port: u16,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        token: Option<&AuthenticationToken>,
        body: Vec<u8>,
    ) -> Self {
        let request_line = format!("{method} {path} HTTP/1.1\r\n");
        let mut head = format!("{request_line}Host: 127.0.0.1:{port}\r\n");
        if let Some(content_type) = content_type {
            head.push_str(&format!("Content-Type: {content_type}\r\n"));
        }
        if method != "GET" {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        if let Some(token) = token {
            head.push_str(&format!(
                "{}: {}\r\n",
                token.header_name(),
                token.header_value().as_str()
            ));
        }
        head.push_str("\r\n");
        Self {
            endpoint,
            port,
            head: head.into_bytes(),
            body,
            request_line_len: request_line.len(),
        }
    }

    /// The same request, asking the server to close the connection after
    /// its answer (for requests read to their end).
    fn head_with_close(&self) -> Vec<u8> {
        let mut head = self.head[..self.head.len() - 2].to_vec();
        head.extend_from_slice(b"Connection: close\r\n\r\n");
        head
    }
}

/// Where a request is given up on.
#[derive(Clone, Copy, Debug)]
enum AbortPoint {
    RequestLine,
    Headers,
    Body,
    BeforeResponse,
    MidResponse,
}

/// How a connection is given up.
#[derive(Clone, Copy, Debug)]
enum Hangup {
    /// `shutdown(SHUT_WR)`, then close.
    HalfClose,
    /// Close (FIN).
    Close,
    /// Close with `SO_LINGER` 0 (RST).
    Reset,
}

/// The status code at the start of an HTTP/1.1 answer, if that much of it
/// was read.
fn status_of(answer: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(answer.get(..12)?).ok()?;
    text.strip_prefix("HTTP/1.1 ")?.parse().ok()
}

/// Sends `request`, gives up on it at `point` after a random 0-5 ms, and
/// returns the answer's status when enough of the answer was read.
async fn abort(request: &RawRequest, point: AbortPoint, hangup: Hangup) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", request.port)).await.ok()?;
    stream.set_nodelay(true).ok()?;
    let (head, body) = (&request.head, &request.body);
    let mut status = None;
    let sent = match point {
        AbortPoint::RequestLine => {
            let cut = rand::thread_rng().gen_range(1..request.request_line_len);
            stream.write_all(&head[..cut]).await
        }
        AbortPoint::Headers => {
            let cut = rand::thread_rng().gen_range(request.request_line_len..head.len() - 1);
            stream.write_all(&head[..cut]).await
        }
        AbortPoint::Body => {
            let cut = rand::thread_rng().gen_range(0..body.len().max(1));
            match stream.write_all(head).await {
                Ok(()) => stream.write_all(&body[..cut.min(body.len())]).await,
                error => error,
            }
        }
        AbortPoint::BeforeResponse | AbortPoint::MidResponse => {
            let whole = [head.as_slice(), body.as_slice()].concat();
            stream.write_all(&whole).await
        }
    };
    if sent.is_err() {
        return None;
    }
    if let AbortPoint::MidResponse = point {
        let mut answer = vec![0; rand::thread_rng().gen_range(1..=64)];
        let mut read = 0;
        // Read a part of the answer: at least its first byte.
        if let Ok(Ok(n)) = tokio::time::timeout(WAIT, stream.read(&mut answer)).await {
            read = n;
        }
        status = status_of(&answer[..read]);
    }
    let delay = rand::thread_rng().gen_range(0..=5000);
    tokio::time::sleep(std::time::Duration::from_micros(delay)).await;
    match hangup {
        Hangup::HalfClose => {
            let _ = stream.shutdown().await;
        }
        Hangup::Close => {}
        Hangup::Reset => {
            let _ = stream.set_zero_linger();
        }
    }
    drop(stream);
    status
}

/// Sends `request` and reads its whole answer; returns its status.
async fn complete(request: &RawRequest) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", request.port)).await.ok()?;
    let whole = [
        request.head_with_close().as_slice(),
        request.body.as_slice(),
    ]
    .concat();
    stream.write_all(&whole).await.ok()?;
    let mut answer = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut answer))
        .await
        .ok()?
        .ok()?;
    status_of(&answer)
}

/// Every raw request of the storm, built once.
struct Requests {
    all: Vec<RawRequest>,
    /// Indexes into `all` per endpoint.
    by_endpoint: Vec<Vec<usize>>,
}

/// The Leader→Helper token, from the `helper-task.yaml` the Leader's
/// `task add` wrote.
fn leader_token(dyad: &Dyad) -> AuthenticationToken {
    let path = dyad.dir().join("provision/leader/helper-task.yaml");
    let file: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    serde_yaml::from_value(file["aggregator_auth_token"].clone()).unwrap()
}

/// The ID of the Helper's HPKE configuration for the task.
async fn helper_config_id(dyad: &Dyad) -> HpkeConfigId {
    let url = format!(
        "{}hpke_config?task_id={}",
        dyad.helper.url(),
        dyad.credentials.task_id
    );
    let body = reqwest::get(url).await.unwrap().bytes().await.unwrap();
    HpkeConfigList::get_decoded(&body).unwrap().0[0].id
}

fn random_bytes(len: usize) -> Vec<u8> {
    (0..len).map(|_| rand::random()).collect()
}

impl Requests {
    async fn build(dyad: &Dyad, abort_interval: Interval) -> Self {
        let task_id: TaskId = dyad.credentials.task_id;
        let (leader, helper) = (dyad.leader.port(), dyad.helper.port());
        let collector = dyad.credentials.token().unwrap();
        let aggregator = leader_token(dyad);
        let wrong_collector = AuthenticationToken::random(collector.kind());
        let wrong_aggregator = AuthenticationToken::random(aggregator.kind());
        let mut all = Vec::new();

        all.push(RawRequest::new(
            "leader GET hpke_config",
            leader,
            "GET",
            &format!("/hpke_config?task_id={task_id}"),
            None,
            None,
            Vec::new(),
        ));
        // Real reports, sealed to both aggregators, in the aborted bucket.
        let client = dyad.client_builder().build(AnyVdaf(*dyad.vdaf())).unwrap();
        for _ in 0..48 {
            let measurement = random_measurement(dyad.vdaf(), &mut rand::thread_rng());
            let report = client
                .prepare_report(&measurement, abort_interval.start())
                .await
                .unwrap();
            all.push(RawRequest::new(
                "leader PUT report",
                leader,
                "PUT",
                &format!("/tasks/{task_id}/reports"),
                Some("application/dap-report"),
                None,
                report.get_encoded().unwrap(),
            ));
        }

        let collect_req = CollectionReq::new(Query::TimeInterval(abort_interval), Vec::new())
            .get_encoded()
            .unwrap();
        for _ in 0..JOB_IDS {
            let path = format!(
                "/tasks/{task_id}/collection_jobs/{}",
                CollectionJobId::random()
            );
            for (token, suffix) in [(&collector, "right"), (&wrong_collector, "wrong")] {
                let name = |method| -> &'static str {
                    match (method, suffix) {
                        ("PUT", "right") => "leader PUT collection job, right token",
                        ("PUT", _) => "leader PUT collection job, wrong token",
                        ("POST", "right") => "leader POST collection job, right token",
                        ("POST", _) => "leader POST collection job, wrong token",
                        (_, "right") => "leader DELETE collection job, right token",
                        _ => "leader DELETE collection job, wrong token",
                    }
                };
                all.push(RawRequest::new(
                    name("PUT"),
                    leader,
                    "PUT",
                    &path,
                    Some("application/dap-collect-req"),
                    Some(token),
                    collect_req.clone(),
                ));
                all.push(RawRequest::new(
                    name("POST"),
                    leader,
                    "POST",
                    &path,
                    None,
                    Some(token),
                    Vec::new(),
                ));
                all.push(RawRequest::new(
                    name("DELETE"),
                    leader,
                    "DELETE",
                    &path,
                    None,
                    Some(token),
                    Vec::new(),
                ));
            }
        }

        // Aggregation jobs of reports the Helper cannot decrypt (each fails
        // with its own PrepareError; the job itself is stored).
        let config_id = helper_config_id(dyad).await;
        for _ in 0..JOB_IDS {
            let path = format!(
                "/tasks/{task_id}/aggregation_jobs/{}",
                AggregationJobId::random()
            );
            let report_ids: Vec<ReportId> = (0..3).map(|_| ReportId::random()).collect();
            let inits = report_ids
                .iter()
                .map(|id| {
                    PrepareInit::new(
                        ReportShare::new(
                            ReportMetadata::new(*id, abort_interval.start()),
                            random_bytes(16),
                            HpkeCiphertext {
                                config_id,
                                encapsulated_key: random_bytes(32),
                                payload: random_bytes(64),
                            },
                        ),
                        random_bytes(32),
                    )
                })
                .collect();
            let init =
                AggregationJobInitReq::new(Vec::new(), PartialBatchSelector::TimeInterval, inits)
                    .get_encoded()
                    .unwrap();
            let continues = report_ids
                .iter()
                .map(|id| PrepareContinue::new(*id, random_bytes(32)))
                .collect();
            let cont = AggregationJobContinueReq::new(AggregationJobStep(1), continues)
                .get_encoded()
                .unwrap();
            for (token, right) in [(&aggregator, true), (&wrong_aggregator, false)] {
                let pick = |right_name, wrong_name| if right { right_name } else { wrong_name };
                all.push(RawRequest::new(
                    pick(
                        "helper PUT aggregation job, right token",
                        "helper PUT aggregation job, wrong token",
                    ),
                    helper,
                    "PUT",
                    &path,
                    Some("application/dap-aggregation-job-init-req"),
                    Some(token),
                    init.clone(),
                ));
                all.push(RawRequest::new(
                    pick(
                        "helper POST aggregation job, right token",
                        "helper POST aggregation job, wrong token",
                    ),
                    helper,
                    "POST",
                    &path,
                    Some("application/dap-aggregation-job-continue-req"),
                    Some(token),
                    cont.clone(),
                ));
                all.push(RawRequest::new(
                    pick(
                        "helper DELETE aggregation job, right token",
                        "helper DELETE aggregation job, wrong token",
                    ),
                    helper,
                    "DELETE",
                    &path,
                    None,
                    Some(token),
                    Vec::new(),
                ));
            }
        }
        let share_req = AggregateShareReq {
            batch_selector: BatchSelector::TimeInterval(abort_interval),
            aggregation_parameter: Vec::new(),
            report_count: 0,
            checksum: ReportIdChecksum([0; 32]),
        }
        .get_encoded()
        .unwrap();
        for (token, endpoint) in [
            (&aggregator, "helper POST aggregate share, right token"),
            (
                &wrong_aggregator,
                "helper POST aggregate share, wrong token",
            ),
        ] {
            for _ in 0..JOB_IDS {
                all.push(RawRequest::new(
                    endpoint,
                    helper,
                    "POST",
                    &format!("/tasks/{task_id}/aggregate_shares"),
                    Some("application/dap-aggregate-share-req"),
                    Some(token),
                    share_req.clone(),
                ));
            }
        }
        let mut by_endpoint: BTreeMap<&'static str, Vec<usize>> = BTreeMap::new();
        for (i, request) in all.iter().enumerate() {
            by_endpoint.entry(request.endpoint).or_default().push(i);
        }
        Self {
            all,
            by_endpoint: by_endpoint.into_values().collect(),
        }
    }

    /// A random request, every endpoint equally likely.
    fn pick(&self) -> &RawRequest {
        let mut rng = rand::thread_rng();
        let endpoint = &self.by_endpoint[rng.gen_range(0..self.by_endpoint.len())];
        &self.all[endpoint[rng.gen_range(0..endpoint.len())]]
    }
}

/// What the storm did: aborts per point, answers seen per endpoint.
#[derive(Default)]
struct Tally {
    aborted: BTreeMap<String, usize>,
    statuses: BTreeMap<(&'static str, u16), usize>,
}

/// Runs the storm: [`PARALLEL`] connections at a time until [`ABORTS`]
/// requests were aborted.
async fn storm(requests: Arc<Requests>) -> Tally {
    let aborted = Arc::new(AtomicUsize::new(0));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let mut workers = Vec::new();
    for _ in 0..PARALLEL {
        let (requests, aborted, tally) = (requests.clone(), aborted.clone(), tally.clone());
        workers.push(tokio::spawn(async move {
            while aborted.load(Ordering::SeqCst) < ABORTS {
                let request = requests.pick();
                let choice = rand::thread_rng().gen_range(0..10);
                let hangup = match rand::thread_rng().gen_range(0..3) {
                    0 => Hangup::HalfClose,
                    1 => Hangup::Close,
                    _ => Hangup::Reset,
                };
                let (point, status) = if choice == 0 {
                    (None, complete(request).await)
                } else {
                    let point = match choice {
                        1 | 2 => AbortPoint::RequestLine,
                        3 | 4 => AbortPoint::Headers,
                        5 => AbortPoint::Body,
                        6 | 7 => AbortPoint::BeforeResponse,
                        _ => AbortPoint::MidResponse,
                    };
                    (Some(point), abort(request, point, hangup).await)
                };
                let mut tally = tally.lock().unwrap();
                if let Some(point) = point {
                    aborted.fetch_add(1, Ordering::SeqCst);
                    *tally.aborted.entry(format!("{point:?}")).or_default() += 1;
                }
                if let Some(status) = status {
                    *tally
                        .statuses
                        .entry((request.endpoint, status))
                        .or_default() += 1;
                }
            }
        }));
    }
    for worker in workers {
        worker.await.unwrap();
    }
    Arc::try_unwrap(tally)
        .ok()
        .expect("workers done")
        .into_inner()
        .unwrap()
}

/// Runs `request` once, failing if it takes longer than [`PROMPT`];
/// returns its status.
async fn timed(what: &str, request: reqwest::RequestBuilder) -> u16 {
    let started = Instant::now();
    let response = tokio::time::timeout(PROMPT, request.send())
        .await
        .unwrap_or_else(|_| panic!("{what} not answered within {PROMPT:?}"))
        .unwrap_or_else(|error| panic!("{what}: {error}"));
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    assert!(elapsed < PROMPT, "{what} took {elapsed:?}");
    eprintln!("after the aborts: {what} answered {status} in {elapsed:?}");
    status
}

/// What must not appear in either process's log.
const UNHEALTHY: [&str; 6] = [
    "panicked",
    "request failed",
    "transaction depth",
    "crashed background worker",
    "pool timed out",
    "ran past the maximum transaction duration",
];

/// The whole scenario on a started pair.
async fn aborted_requests_leave_both_aggregators_healthy(mut dyad: Dyad) {
    // Read once: the buckets must not move if the hour turns mid-test.
    let fresh_time = past_bucket_time(PRECISION, 1);
    let abort_time = fresh_time
        .checked_sub(Duration::from_seconds(2 * PRECISION))
        .unwrap();
    let precision = Duration::from_seconds(PRECISION);
    let abort_interval =
        Interval::new(abort_time.to_batch_interval_start(precision), precision).unwrap();
    let requests = Arc::new(Requests::build(&dyad, abort_interval).await);

    let started = Instant::now();
    let tally = storm(requests).await;
    let total: usize = tally.aborted.values().sum();
    eprintln!(
        "aborted {total} requests in {:?}: {:?}",
        started.elapsed(),
        tally.aborted
    );
    for ((endpoint, status), count) in &tally.statuses {
        eprintln!("  {endpoint}: {status} x{count}");
    }
    assert!(total >= ABORTS, "only {total} requests aborted");
    let server_errors: Vec<_> = tally
        .statuses
        .iter()
        .filter(|((_, status), _)| *status >= 500)
        .collect();
    assert!(
        server_errors.is_empty(),
        "5xx answers: {server_errors:?}\n{}",
        dyad.logs()
    );
    // The right requests got through to the handlers (and their
    // transactions); the wrong tokens were refused.
    for endpoint in [
        "leader GET hpke_config",
        "leader PUT report",
        "leader PUT collection job, right token",
        "helper PUT aggregation job, right token",
    ] {
        assert!(
            tally
                .statuses
                .keys()
                .any(|(e, status)| *e == endpoint && (200..300).contains(status)),
            "no 2xx seen for {endpoint}: {:?}",
            tally.statuses
        );
    }
    for (endpoint, status) in tally.statuses.keys() {
        if endpoint.ends_with("wrong token") {
            assert!((400..500).contains(status), "{endpoint} answered {status}");
        }
    }

    // Ordinary requests are answered promptly.
    let http = reqwest::Client::new();
    let task_id = dyad.credentials.task_id;
    for server in [&dyad.leader, &dyad.helper] {
        let url = format!("{}hpke_config?task_id={task_id}", server.url());
        let status = timed("GET hpke_config", http.get(url)).await;
        assert_eq!(status, 200);
    }
    let client = dyad.client_at(fresh_time);
    let mut measurements = vec![random_measurement(dyad.vdaf(), &mut rand::thread_rng())];
    let report = client
        .prepare_report(&measurements[0], fresh_time)
        .await
        .unwrap();
    let status = timed(
        "PUT report",
        http.put(format!("{}tasks/{task_id}/reports", dyad.leader.url()))
            .header("content-type", "application/dap-report")
            .body(report.get_encoded().unwrap()),
    )
    .await;
    assert!((200..300).contains(&status), "upload answered {status}");
    let token = leader_token(&dyad);
    let status = timed(
        "DELETE aggregation job (Helper)",
        http.delete(format!(
            "{}tasks/{task_id}/aggregation_jobs/{}",
            dyad.helper.url(),
            AggregationJobId::random()
        ))
        .header(token.header_name(), token.header_value().as_str()),
    )
    .await;
    assert!(status < 500, "DELETE answered {status}");
    drop(http);

    // The background jobs still run: the fresh reports are aggregated and
    // collected to the exact sum.
    for _ in 1..REPORTS {
        measurements.push(random_measurement(dyad.vdaf(), &mut rand::thread_rng()));
    }
    let results = tokio::time::timeout(WAIT, client.upload_batch(&measurements[1..], 8))
        .await
        .expect("uploads timed out");
    for result in results {
        if let Err(error) = result {
            panic!("upload failed: {error}\n{}", dyad.logs());
        }
    }
    drop(client);
    let fresh = fresh_time.to_batch_interval_start(precision);
    let collection = dyad
        .collect(Query::TimeInterval(
            Interval::new(fresh, precision).unwrap(),
        ))
        .await
        .unwrap();
    assert_eq!(collection.report_count, REPORTS as u64);
    assert_aggregate_eq(
        &collection.aggregate_result,
        &plaintext_aggregate(dyad.vdaf(), &AggregationParam::Empty, &measurements).unwrap(),
    );

    // Neither log shows a 5xx, a panic or a wedged datastore.
    for (name, log) in [
        ("leader", dyad.leader.log_text()),
        ("helper", dyad.helper.log_text()),
    ] {
        for line in log.lines() {
            assert!(
                !UNHEALTHY.iter().any(|bad| line.contains(bad)),
                "{name} log: {line}"
            );
        }
    }

    // SIGTERM: the Leader first (its drivers hold connections to the
    // Helper), then the Helper.
    let (leader_took, leader_status) = dyad.leader.terminate(SIGTERM_BOUND).await.unwrap();
    let (helper_took, helper_status) = dyad.helper.terminate(SIGTERM_BOUND).await.unwrap();
    eprintln!(
        "SIGTERM: leader exited in {leader_took:?} ({leader_status}), helper in \
         {helper_took:?} ({helper_status})"
    );
    assert!(leader_status.success(), "{}", dyad.logs());
    assert!(helper_status.success(), "{}", dyad.logs());
}

fn task() -> TaskOptions {
    TaskOptions::time_interval(r#"{"type":"Prio3Sum","bits":"8"}"#, REPORTS as u64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aborted_requests_on_sqlite_leave_both_aggregators_healthy() {
    let dyad = Dyad::start(&task()).await.unwrap();
    aborted_requests_leave_both_aggregators_healthy(dyad).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aborted_requests_on_postgres_leave_both_aggregators_healthy() {
    let (Some(leader_db), Some(helper_db)) =
        (TestDatabase::create().await, TestDatabase::create().await)
    else {
        return;
    };
    let dyad = Dyad::start_prepared(&task(), |_, leader, helper| {
        for (server, db) in [(leader, &leader_db), (helper, &helper_db)] {
            run_dyad(["migrate", "--database", db.url()])?;
            server.set_config("datastore", &format!("{:?}", db.url()))?;
        }
        Ok(())
    })
    .await
    .unwrap();
    aborted_requests_leave_both_aggregators_healthy(dyad).await;
    drop((leader_db, helper_db));
}

/// The status parser reads only a whole status line's start.
#[test]
fn status_of_reads_the_status_code() {
    assert_eq!(
        status_of(b"HTTP/1.1 503 Service Unavailable\r\n"),
        Some(503)
    );
    assert_eq!(status_of(b"HTTP/1.1 201 "), Some(201));
    assert_eq!(status_of(b"HTTP/1.1 2"), None);
    assert_eq!(status_of(b"garbage garbage"), None);
}
