//! Faults injected between the parties, through [`FaultProxy`]: one Leader
//! and one Helper (`dyad serve` processes, on SQLite files or, when
//! `DYAD_TEST_DATABASE_URL` is set, on fresh PostgreSQL databases), and one
//! task per scenario and batch mode, all driven at once. Each task's Leader
//! reaches the Helper through its own proxy; each task's clients upload
//! through another proxy in front of the Leader.
//!
//! Leader -> Helper: aggregation job initialization (`PUT`) and aggregate
//! share (`POST`) requests answered 500/503 before and after the Helper
//! processed them, connection resets before and after, answers held past
//! the Leader's HTTP timeout (and requests held until after it), truncated
//! answers; and one job whose answers are lost until the Leader abandons it
//! (after `max_attempts`) and asks the Helper to delete it (`DELETE`): its
//! reports count zero times on both sides. Prio3 prepares in one round, so
//! no job is continued.
//!
//! Client -> Leader: uploads sent twice at once, answered 500/503, reset,
//! truncated or held past the client's timeout (the client retries: each
//! report counts once), and uploads aborted mid-body (the client is told
//! the upload failed: the report counts zero times). Collector -> Leader:
//! collection job creation and polls answered 5xx, reset or truncated after
//! the Leader processed them (the collector retries the same job).
//!
//! Each task's collection must be exact, every scripted fault must have
//! been injected, the proxies must have seen no 5xx from an aggregator, and
//! neither aggregator may have answered a 5xx, logged an error (other than
//! the scripted abandonments) or panicked.

use dyad_client::{AnyVdaf, Client};
use dyad_core::retry::RetryPolicy;
use dyad_core::vdaf::{plaintext_aggregate, random_measurement, AggregationParam, Measurement};
use dyad_integration_tests::fault_proxy::{Fault, FaultProxy, Rule};
use dyad_integration_tests::{
    assert_aggregate_eq, past_bucket_time, run_dyad, CollectorCredentials, Dyad, TaskOptions, WAIT,
};
use dyad_messages::draft09::{
    AggregationJobInitReq, Duration, FixedSizeQuery, Interval, Query, ReportId, Time,
};
use dyad_messages::Decode as _;
use dyad_test_support::postgres::TestDatabase;
use std::time::Instant;

const PRECISION: u64 = 3600;
/// Reports every task must count.
const REPORTS: usize = 12;
/// Most reports in an aggregation job.
const MAX_JOB_SIZE: usize = 4;
/// Failed attempts after which the Leader abandons an aggregation job.
const MAX_ATTEMPTS: usize = 6;
/// Uploads of the uploads scenario aborted mid-body.
const ABORTED: usize = 3;
/// The Leader's timeout for requests to the Helper, in seconds.
const HTTP_TIMEOUT_SECS: u64 = 2;
/// The client's timeout for uploads through the proxy.
const CLIENT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);
/// Longer than both timeouts.
const PAST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

const VDAF: &str = r#"{"type":"Prio3Sum","bits":"8"}"#;
const INIT: &str = "/tasks/*/aggregation_jobs/*";
const SHARES: &str = "/tasks/*/aggregate_shares";
const UPLOAD: &str = "/tasks/*/reports";
const COLLECTION: &str = "/tasks/*/collection_jobs/*";

/// One scenario: the faults on the Leader's requests to the Helper and on
/// the clients' uploads to the Leader.
struct Scenario {
    name: &'static str,
    helper_rules: Vec<Rule>,
    upload_rules: Vec<Rule>,
    /// Uploads aborted mid-body, on top of the [`REPORTS`] uploaded.
    aborted: usize,
    /// Whether the Leader abandons one aggregation job: its reports count
    /// zero times, and as many new ones are uploaded to fill the batch.
    abandons: bool,
}

fn scenarios() -> Vec<Scenario> {
    use Fault::*;
    let helper = |name, rules| Scenario {
        name,
        helper_rules: rules,
        upload_rules: vec![],
        aborted: 0,
        abandons: false,
    };
    vec![
        helper(
            "init answered 5xx before and after the Helper processed it",
            vec![Rule::new(
                "PUT",
                INIT,
                [
                    StatusBefore(500),
                    StatusAfter(503),
                    StatusBefore(503),
                    StatusAfter(500),
                ],
            )],
        ),
        helper(
            "init reset before and after, answers truncated",
            vec![Rule::new(
                "PUT",
                INIT,
                [ResetBefore, ResetAfter, TruncateAfter, TruncateAfter],
            )],
        ),
        helper(
            "init held past the Leader's timeout",
            vec![Rule::new(
                "PUT",
                INIT,
                [DelayBefore(PAST_TIMEOUT), DelayAfter(PAST_TIMEOUT)],
            )],
        ),
        helper(
            "aggregate share: 5xx, resets, truncation, timeout",
            vec![Rule::new(
                "POST",
                SHARES,
                [
                    StatusBefore(500),
                    StatusAfter(503),
                    ResetBefore,
                    ResetAfter,
                    TruncateAfter,
                    DelayAfter(PAST_TIMEOUT),
                    DelayBefore(PAST_TIMEOUT),
                ],
            )],
        ),
        Scenario {
            name: "uploads duplicated, failed, retried and aborted; collection requests lost",
            helper_rules: vec![],
            upload_rules: vec![
                Rule::new("PUT", COLLECTION, [ResetAfter, StatusBefore(503)]),
                Rule::new(
                    "POST",
                    COLLECTION,
                    [ResetAfter, TruncateAfter, StatusAfter(500)],
                ),
                Rule::new(
                    "PUT",
                    UPLOAD,
                    [
                        Duplicate,
                        StatusBefore(503),
                        Duplicate,
                        ResetAfter,
                        StatusAfter(500),
                        TruncateAfter,
                        ResetBefore,
                        DelayAfter(PAST_TIMEOUT),
                        Duplicate,
                        DelayBefore(PAST_TIMEOUT),
                    ],
                ),
            ],
            aborted: ABORTED,
            abandons: false,
        },
        Scenario {
            name: "init answers lost until the Leader abandons the job, its DELETE lost too",
            helper_rules: vec![
                Rule::new("PUT", INIT, vec![ResetAfter; MAX_ATTEMPTS]).pinned(),
                Rule::new("DELETE", INIT, [ResetBefore]),
            ],
            upload_rules: vec![],
            aborted: 0,
            abandons: true,
        },
        Scenario {
            name: "init answers lost until the Leader abandons the job and deletes it",
            helper_rules: vec![Rule::new("PUT", INIT, vec![ResetAfter; MAX_ATTEMPTS]).pinned()],
            upload_rules: vec![],
            aborted: 0,
            abandons: true,
        },
    ]
}

/// A provisioned scenario task with its proxies.
struct Case {
    label: String,
    credentials: CollectorCredentials,
    fixed_size: bool,
    helper_proxy: FaultProxy,
    upload_proxy: FaultProxy,
    abort_proxy: FaultProxy,
    aborted: usize,
    abandons: bool,
    /// Time-interval: the reports' time, in the previous time bucket (taken
    /// once, so that the uploads and the collection agree on the bucket even
    /// when the test runs across a bucket boundary).
    time: Time,
}

/// The Leader's and the Helper's PostgreSQL databases (dropped at the end).
struct Databases {
    leader: TestDatabase,
    helper: TestDatabase,
}

/// Starts the pair, with short driver intervals, timeouts and backoffs and
/// JSON logs that record every answered status.
async fn start_pair(databases: Option<&Databases>) -> Dyad {
    let options = TaskOptions::time_interval(VDAF, REPORTS as u64);
    Dyad::start_prepared(&options, |_, leader, helper| {
        for server in [&*leader, &*helper] {
            server.set_config(
                "log",
                "{level: \"warn,dyad_aggregator::http::trace=debug,dyad_aggregator::helper=info\", \
                 format: json}",
            )?;
        }
        leader.set_config(
            "aggregation_job_creator",
            &format!(
                "{{interval_ms: 100, min_job_size: 1, max_job_size: {MAX_JOB_SIZE}, \
                 max_report_wait_ms: 100}}"
            ),
        )?;
        leader.set_config(
            "aggregation_job_driver",
            &format!(
                "{{interval_ms: 100, max_concurrent_jobs: 16, lease_duration_secs: 8, \
                 max_attempts: {MAX_ATTEMPTS}, retry_initial_delay_secs: 1, \
                 retry_max_delay_secs: 1, http_timeout_secs: {HTTP_TIMEOUT_SECS}}}"
            ),
        )?;
        leader.set_config(
            "collection_job_driver",
            &format!(
                "{{interval_ms: 100, max_concurrent_jobs: 16, lease_duration_secs: 8, \
                 max_attempts: 20, retry_initial_delay_secs: 1, retry_max_delay_secs: 1, \
                 not_ready_retry_secs: 1, http_timeout_secs: {HTTP_TIMEOUT_SECS}}}"
            ),
        )?;
        if let Some(databases) = databases {
            leader.set_config("datastore", &format!("{:?}", databases.leader.url()))?;
            helper.set_config("datastore", &format!("{:?}", databases.helper.url()))?;
        }
        Ok(())
    })
    .await
    .unwrap()
}

/// Provisions every scenario under both batch modes, each task behind its
/// own proxies.
async fn provision(dyad: &mut Dyad) -> Vec<Case> {
    let mut cases = Vec::new();
    for fixed_size in [false, true] {
        for scenario in scenarios() {
            let options = if fixed_size {
                TaskOptions::fixed_size(VDAF, REPORTS as u64, REPORTS as u64)
            } else {
                TaskOptions::time_interval(VDAF, REPORTS as u64)
            };
            let helper_proxy = FaultProxy::start(dyad.helper.url(), scenario.helper_rules)
                .await
                .unwrap();
            let upload_proxy = FaultProxy::start(dyad.leader.url(), scenario.upload_rules)
                .await
                .unwrap();
            let abort_proxy = FaultProxy::start(
                dyad.leader.url(),
                vec![Rule::new(
                    "PUT",
                    UPLOAD,
                    vec![Fault::AbortUpstream; scenario.aborted],
                )],
            )
            .await
            .unwrap();
            let credentials = dyad
                .add_task_via(&options, helper_proxy.url())
                .await
                .unwrap();
            let mode = if fixed_size {
                "fixed-size"
            } else {
                "time-interval"
            };
            cases.push(Case {
                label: format!("{} ({mode})", scenario.name),
                credentials,
                fixed_size,
                helper_proxy,
                upload_proxy,
                abort_proxy,
                aborted: scenario.aborted,
                abandons: scenario.abandons,
                time: past_bucket_time(PRECISION, 1),
            });
        }
    }
    cases
}

/// A client uploading through `proxy`, with a short timeout and the given
/// retries.
fn client(case: &Case, proxy: &FaultProxy, retry: RetryPolicy) -> Client<AnyVdaf> {
    let credentials = &case.credentials;
    let mut builder = dyad_client::ClientBuilder::new(
        credentials.task_id,
        proxy.url().clone(),
        credentials.helper.clone(),
        credentials.time_precision,
    )
    .http_client(
        reqwest::Client::builder()
            .no_proxy()
            .timeout(CLIENT_TIMEOUT)
            .build()
            .unwrap(),
    )
    .retry_policy(retry);
    if !case.fixed_size {
        builder = builder.fixed_time(case.time);
    }
    builder.build(AnyVdaf(credentials.vdaf)).unwrap()
}

/// Runs one case: aborted uploads, then the counted ones (one at a time, so
/// that each scripted fault meets an upload), then the collection; checks
/// the result and the proxies. Returns the proxies' summaries.
async fn run_case(dyad: &Dyad, case: &Case) -> String {
    let vdaf = case.credentials.vdaf;
    let mut rng = rand::thread_rng();
    let no_retries = client(case, &case.abort_proxy, RetryPolicy::no_retries());
    for _ in 0..case.aborted {
        let measurement = random_measurement(&vdaf, &mut rng);
        let result = no_retries.upload(&measurement).await;
        assert!(
            result.is_err(),
            "{}: an upload aborted mid-body succeeded",
            case.label
        );
    }
    let retrying = client(
        case,
        &case.upload_proxy,
        RetryPolicy::new(
            std::time::Duration::from_millis(100),
            std::time::Duration::from_millis(500),
        )
        .with_max_elapsed(WAIT),
    );
    let mut measurements: Vec<(ReportId, Measurement)> = Vec::new();
    let mut to_upload = REPORTS;
    let mut refilled = false;
    loop {
        for _ in 0..to_upload {
            let measurement = random_measurement(&vdaf, &mut rng);
            match retrying.upload(&measurement).await {
                Ok(id) => measurements.push((id, measurement)),
                Err(error) => panic!("{}: upload failed: {error}\n{}", case.label, dyad.logs()),
            }
        }
        if !case.abandons || refilled {
            break;
        }
        refilled = true;
        // The abandoned job's reports are lost: as many new ones fill the
        // batch again (a fixed-size batch has room for them once more).
        let dropped = abandoned_reports(case).await;
        assert!(!dropped.is_empty(), "{}: no report abandoned", case.label);
        measurements.retain(|(id, _)| !dropped.contains(id));
        to_upload = dropped.len();
    }
    let measurements: Vec<Measurement> = measurements.into_iter().map(|(_, m)| m).collect();

    let collection = collect(dyad, case).await;
    let want = plaintext_aggregate(&vdaf, &AggregationParam::Empty, &measurements).unwrap();
    assert_eq!(
        collection.report_count,
        measurements.len() as u64,
        "{}: report count",
        case.label
    );
    assert_aggregate_eq(&collection.aggregate_result, &want);

    // A request held by a fault may outlive the collection briefly; none
    // may hang.
    let start = Instant::now();
    while start.elapsed() < 2 * PAST_TIMEOUT
        && [&case.helper_proxy, &case.upload_proxy, &case.abort_proxy]
            .iter()
            .any(|proxy| !proxy.in_flight().is_empty())
    {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let mut summary = format!("{}:", case.label);
    for (side, proxy) in [
        ("leader->helper", &case.helper_proxy),
        ("client->leader", &case.upload_proxy),
        ("aborts", &case.abort_proxy),
    ] {
        assert_eq!(
            proxy.unused_faults(),
            vec![],
            "{}: {side}: faults never injected",
            case.label
        );
        assert_eq!(
            proxy.upstream_server_errors(),
            Vec::<String>::new(),
            "{}: {side}: 5xx from an aggregator\n{}",
            case.label,
            dyad.logs()
        );
        assert_eq!(
            proxy.in_flight(),
            Vec::<String>::new(),
            "{}: {side}: requests still held",
            case.label
        );
        assert_eq!(
            proxy.failures(),
            Vec::<String>::new(),
            "{}: {side}: proxy failures",
            case.label
        );
        summary.push_str(&format!("\n  {side}: {:?}", proxy.summary()));
        let slow: Vec<String> = proxy
            .handled()
            .iter()
            .filter(|h| {
                h.elapsed
                    .is_some_and(|e| e > std::time::Duration::from_secs(2))
            })
            .map(|h| format!("{} {} {:?} {:?}", h.method, h.path, h.fault, h.elapsed))
            .collect();
        if !slow.is_empty() {
            summary.push_str(&format!("\n  {side} slow: {slow:?}"));
        }
    }
    summary
}

/// Waits until the Leader has abandoned the case's job (its `DELETE`
/// answered 204 by the Helper) and every other job of the task has been
/// initialized; returns the abandoned job's reports (from the Leader's
/// initialization request, as the proxy saw it).
async fn abandoned_reports(case: &Case) -> Vec<ReportId> {
    let start = Instant::now();
    loop {
        let handled = case.helper_proxy.handled();
        let deleted = handled
            .iter()
            .find(|h| h.method == "DELETE" && h.upstream_statuses == [204]);
        let init = Rule::new("PUT", INIT, []);
        let jobs: std::collections::BTreeSet<&str> = handled
            .iter()
            .filter(|h| init.matches(&h.method, &h.path))
            .map(|h| h.path.as_str())
            .collect();
        let initialized = |path: &str| {
            handled
                .iter()
                .any(|h| h.path == path && h.fault.is_none() && h.upstream_statuses == [201])
        };
        if let Some(deleted) = deleted {
            if jobs
                .iter()
                .all(|path| *path == deleted.path || initialized(path))
            {
                let request = handled
                    .iter()
                    .find(|h| h.method == "PUT" && h.path == deleted.path)
                    .expect("the abandoned job's initialization");
                let request = AggregationJobInitReq::get_decoded(&request.request_body).unwrap();
                return request
                    .prepare_inits
                    .iter()
                    .map(|init| init.report_share.metadata.id)
                    .collect();
            }
        }
        assert!(
            start.elapsed() < WAIT,
            "{}: no job abandoned and deleted: {:?}",
            case.label,
            case.helper_proxy.summary()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Collects the case's batch: the previous time bucket, or the current
/// fixed-size batch (retried while it is not yet full).
async fn collect(
    dyad: &Dyad,
    case: &Case,
) -> dyad_collector::Collection<dyad_core::vdaf::AggregateResult> {
    let query = if case.fixed_size {
        Query::FixedSize(FixedSizeQuery::CurrentBatch)
    } else {
        let time = case.time;
        Query::TimeInterval(
            Interval::new(
                time.to_batch_interval_start(Duration::from_seconds(PRECISION)),
                Duration::from_seconds(PRECISION),
            )
            .unwrap(),
        )
    };
    let start = Instant::now();
    // Through the proxy in front of the Leader, like the uploads.
    let credentials = CollectorCredentials {
        leader: case.upload_proxy.url().clone(),
        ..case.credentials.clone()
    };
    loop {
        match dyad.collect_task(&credentials, query).await {
            Ok(collection) => return collection,
            Err(error)
                if error.to_string().contains("invalidBatchSize") && start.elapsed() < WAIT =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            }
            Err(error) => panic!("{}: collection failed: {error}", case.label),
        }
    }
}

/// Fails on any 5xx an aggregator answered, any error it logged (but
/// exactly `abandoned` scripted job abandonments) and any panic, in the
/// JSON log of `name`; requires that its answers were logged at all (so
/// that the check cannot pass on an empty log).
fn assert_clean_log(name: &str, log: &str, abandoned: usize) {
    let mut answered = 0;
    let mut abandonments = 0;
    let mut problems = Vec::new();
    for line in log.lines() {
        if line.contains("panicked") {
            problems.push(line.to_owned());
            continue;
        }
        let Ok(event) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if event["level"] == "ERROR" {
            if event["message"] == "aggregation job abandoned" {
                abandonments += 1;
            } else {
                problems.push(line.to_owned());
            }
        }
        if event["message"] == "answered" {
            answered += 1;
            if event["status"].as_u64().is_some_and(|s| s >= 500) {
                problems.push(line.to_owned());
            }
        }
    }
    assert!(
        answered > 0,
        "the {name} logged no answered request: is RUST_LOG overriding the log level?"
    );
    assert_eq!(abandonments, abandoned, "the {name}'s job abandonments");
    assert!(
        problems.is_empty(),
        "the {name} answered 5xx, logged errors or panicked:\n{}",
        problems.join("\n")
    );
}

/// Requests the Helper processed but whose answer the Leader never got must
/// have been answered again, from what the Helper stored (DAP-09 sections
/// 4.5.1 and 4.6.2: initialization and aggregate share requests are
/// idempotent): at least one replay in the Helper's log per such fault.
fn assert_replays(cases: &[Case], helper_log: &str) {
    let lost_answers = |pattern: &str| {
        let method = if pattern == INIT { "PUT" } else { "POST" };
        let rule = Rule::new(method, pattern, []);
        // An abandoned job's last lost answer is never asked again.
        cases
            .iter()
            .filter(|case| !case.abandons)
            .flat_map(|case| case.helper_proxy.handled())
            .filter(|h| rule.matches(&h.method, &h.path))
            .filter(|h| {
                matches!(
                    h.fault,
                    Some(
                        Fault::StatusAfter(_)
                            | Fault::ResetAfter
                            | Fault::TruncateAfter
                            | Fault::DelayAfter(_)
                    )
                )
            })
            .count()
    };
    let replays = |message: &str| {
        helper_log
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|event| event["message"] == message)
            .count()
    };
    for (pattern, message) in [
        (INIT, "replayed aggregation job initialization"),
        (SHARES, "replayed aggregate share request"),
    ] {
        let (lost, replayed) = (lost_answers(pattern), replays(message));
        println!("{pattern}: {lost} answers lost after the Helper processed the request, {replayed} replays");
        assert!(
            lost > 0,
            "no {pattern} answer was lost: the scenarios changed?"
        );
        assert!(
            replayed >= lost,
            "{pattern}: {lost} answers lost but only {replayed} replays by the Helper"
        );
    }
}

async fn run_matrix(databases: Option<Databases>) {
    let started = Instant::now();
    let mut dyad = start_pair(databases.as_ref()).await;
    println!("pair started in {:?}", started.elapsed());
    let cases = provision(&mut dyad).await;
    println!(
        "{} tasks provisioned in {:?}",
        cases.len(),
        started.elapsed()
    );
    let summaries = futures::future::join_all(cases.iter().map(|case| run_case(&dyad, case))).await;
    for summary in &summaries {
        println!("{summary}");
    }
    let abandoned = cases.iter().filter(|case| case.abandons).count();
    assert_clean_log("leader", &dyad.leader.log_text(), abandoned);
    assert_clean_log("helper", &dyad.helper.log_text(), 0);
    assert_replays(&cases, &dyad.helper.log_text());
    let injected: usize = cases
        .iter()
        .map(|case| {
            case.helper_proxy.injected().len()
                + case.upload_proxy.injected().len()
                + case.abort_proxy.injected().len()
        })
        .sum();
    println!(
        "{} tasks, {injected} faults injected, all exact, in {:?}",
        cases.len(),
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_between_the_parties_leave_every_result_exact_on_sqlite() {
    run_matrix(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_between_the_parties_leave_every_result_exact_on_postgres() {
    // Built before the databases exist, so that they are used at once.
    dyad_integration_tests::dyad_binary();
    let (Some(leader), Some(helper)) = (TestDatabase::create().await, TestDatabase::create().await)
    else {
        eprintln!("skipped: DYAD_TEST_DATABASE_URL is not set");
        return;
    };
    for url in [leader.url(), helper.url()] {
        run_dyad(["migrate", "--database", url]).unwrap();
    }
    run_matrix(Some(Databases { leader, helper })).await;
}
