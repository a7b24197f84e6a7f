//! The interop test API (draft-dcook-ppm-dap-interop-test-design-07),
//! driven by the runner of `dyad_integration_tests::interop` against four
//! `dyad` processes: `interop-client`, two `interop-aggregator` (Leader and
//! Helper) and `interop-collector`.
//!
//! Each test starts the four processes once and runs its tasks on them,
//! concurrently where they are independent. The cases are those of the
//! draft's section 4.5, "Test Cases":
//!
//! - successful aggregations with each VDAF, and over thousands of reports
//!   (so that the Leader splits them into many aggregation jobs), under both
//!   query types: [`prio3_matrix_time_interval`], [`prio3_matrix_fixed_size`];
//! - a report far in the future is rejected:
//!   [`report_far_in_the_future_is_rejected`];
//! - wrong authentication tokens are rejected, Leader to Helper
//!   ([`wrong_aggregator_token_yields_no_result`]) and Collector to Leader
//!   ([`wrong_collector_token_is_rejected`]);
//! - `max_batch_query_count` is enforced on overlapping collections:
//!   [`max_batch_query_count_is_enforced`];
//! - a late report does not change a repeated collection:
//!   [`late_report_does_not_change_a_repeated_collection`];
//! - a canned report uploaded twice is counted once:
//!   [`replayed_report_is_counted_once`];
//! - Poplar1 (the VDAF object's `"Poplar1"`, measurements as arrays of
//!   booleans, the aggregation parameter on `collection_start`): a
//!   heavy-hitters walk, one collection per level, each level's counts
//!   exact: [`poplar1::poplar1_heavy_hitters_walk_is_exact_at_every_level`];
//!
//! and the API's own rules (404 for unknown commands, 200 with status
//! `"error"` for malformed ones): [`unknown_and_malformed_commands`].

use anyhow::{ensure, Context as _};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use dyad_core::vdaf::{
    plaintext_aggregate, random_measurement, AggregateResult, AggregationParam, Measurement,
};
use dyad_integration_tests::interop::{
    batch_id_query, current_batch_query, now, result_json, time_interval_query, CollectOutcome,
    Deployment, InteropTask, Mismatch, QueryConfig, TaskSpec,
};
use dyad_integration_tests::WAIT;
use dyad_messages::Encode as _;
use futures::future::try_join_all;
use serde_json::{json, Value};
use std::future::Future;
use std::time::{Duration, Instant};

mod poplar1;

/// The time precision of every task (seconds).
const PRECISION: u64 = 3600;
/// Uploads in flight at once.
const CONCURRENCY: usize = 32;
/// The most one test may take before it fails.
const TEST_TIMEOUT: Duration = Duration::from_secs(110);

/// Runs a test body with a deadline, so that it fails instead of hanging.
fn run(body: impl Future<Output = anyhow::Result<()>>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        tokio::time::timeout(TEST_TIMEOUT, body)
            .await
            .unwrap_or_else(|_| panic!("the test did not finish within {TEST_TIMEOUT:?}"))
            .unwrap_or_else(|error| panic!("{error:?}"))
    })
}

/// The start of the time-precision bucket `ago` buckets before the
/// current one.
fn bucket(ago: u64) -> u64 {
    (now() / PRECISION - ago) * PRECISION
}

fn measurements(task: &InteropTask, count: usize) -> Vec<Measurement> {
    let mut rng = rand::thread_rng();
    (0..count)
        .map(|_| random_measurement(&task.vdaf, &mut rng))
        .collect()
}

/// The result `collection_poll` must give for these measurements.
fn expected(task: &InteropTask, measurements: &[Measurement]) -> anyhow::Result<Value> {
    result_json(&plaintext_aggregate(
        &task.vdaf,
        &AggregationParam::Empty,
        measurements,
    )?)
}

/// Checks a `"complete"` reply: count, result, and the interval and batch
/// ID the query type calls for.
fn check_complete(
    task: &InteropTask,
    reply: &Value,
    count: usize,
    result: &Value,
    interval: Option<(u64, u64)>,
) -> anyhow::Result<()> {
    let context = || format!("task {} ({}): {reply}", task.task_id, task.spec.vdaf);
    ensure!(reply["status"] == "complete", "not complete: {}", context());
    ensure!(
        reply["report_count"] == json!(count),
        "report_count: want {count}, {}",
        context()
    );
    ensure!(
        &reply["result"] == result,
        "result: want {result}, {}",
        context()
    );
    let start = reply["interval_start"]
        .as_u64()
        .with_context(|| format!("interval_start is not a number: {}", context()))?;
    let duration = reply["interval_duration"]
        .as_u64()
        .with_context(|| format!("interval_duration is not a number: {}", context()))?;
    ensure!(
        start % PRECISION == 0 && duration % PRECISION == 0 && duration > 0,
        "the interval is not aligned to the time precision: {}",
        context()
    );
    match interval {
        Some(want) => ensure!(
            (start, duration) == want,
            "interval: want {want:?}, {}",
            context()
        ),
        // Fixed-size: reports timestamped now, rounded down.
        None => ensure!(
            start <= now() && now() < start + duration + PRECISION,
            "the interval does not hold the reports' time: {}",
            context()
        ),
    }
    if matches!(task.spec.query, QueryConfig::FixedSize { .. }) {
        let batch_id = reply["batch_id"]
            .as_str()
            .with_context(|| format!("no batch_id: {}", context()))?;
        let bytes = URL_SAFE_NO_PAD
            .decode(batch_id)
            .with_context(|| format!("batch_id is not base64url: {}", context()))?;
        ensure!(bytes.len() == 32, "batch_id is not 32 bytes: {}", context());
    }
    Ok(())
}

/// Every (VDAF, report count) of the matrix.
fn matrix() -> Vec<(Value, usize)> {
    vec![
        (json!({"type": "Prio3Count"}), 10),
        (json!({"type": "Prio3Count"}), 250),
        (json!({"type": "Prio3Count"}), 5000),
        (json!({"type": "Prio3Sum", "bits": "1"}), 20),
        (json!({"type": "Prio3Sum", "bits": "8"}), 20),
        (json!({"type": "Prio3Sum", "bits": "64"}), 20),
        (
            json!({"type": "Prio3SumVec", "bits": "8", "length": "10", "chunk_length": "12"}),
            20,
        ),
        (
            json!({"type": "Prio3Histogram", "length": "5", "chunk_length": "2"}),
            20,
        ),
        (
            json!({"type": "Prio3Histogram", "length": "12", "chunk_length": "4"}),
            20,
        ),
    ]
}

/// One task per matrix cell on one deployment: all uploads, then all
/// collections, concurrently. Time-interval tasks collect the bucket their
/// reports were timestamped in; fixed-size tasks (batches of exactly the
/// task's reports) collect the current batch.
async fn run_matrix(query: QueryConfig) -> anyhow::Result<()> {
    let deployment = Deployment::start().await?;
    let mut tasks = Vec::new();
    for (vdaf, count) in matrix() {
        let count_u64 = count as u64;
        let query = match query {
            QueryConfig::TimeInterval => QueryConfig::TimeInterval,
            QueryConfig::FixedSize { .. } => QueryConfig::FixedSize {
                max_batch_size: Some(count_u64),
            },
        };
        let task = deployment
            .provision(&TaskSpec::new(vdaf, query, count_u64))
            .await?;
        tasks.push((task, count));
    }
    let measured: Vec<(&InteropTask, Vec<Measurement>)> = tasks
        .iter()
        .map(|(task, count)| (task, measurements(task, *count)))
        .collect();
    let uploads: Vec<(&InteropTask, Measurement)> = measured
        .iter()
        .flat_map(|(task, ms)| ms.iter().map(move |m| (*task, m.clone())))
        .collect();
    let bucket_start = bucket(1);
    let time = |_: &InteropTask| match query {
        QueryConfig::TimeInterval => Some(bucket_start + PRECISION / 2),
        QueryConfig::FixedSize { .. } => None,
    };
    let started = Instant::now();
    deployment
        .upload_all(&uploads, time, CONCURRENCY)
        .await
        .with_context(|| deployment.logs())?;
    eprintln!(
        "{} uploads in {:.1} s",
        uploads.len(),
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    try_join_all(measured.iter().map(|(task, ms)| {
        let deployment = &deployment;
        async move {
            let (query, interval) = match query {
                QueryConfig::TimeInterval => (
                    time_interval_query(bucket_start, PRECISION),
                    Some((bucket_start, PRECISION)),
                ),
                QueryConfig::FixedSize { .. } => (current_batch_query(), None),
            };
            let reply = deployment
                .collect(task, &query, WAIT)
                .await?
                .complete()
                .with_context(|| format!("task {}\n{}", task.spec.vdaf, deployment.logs()))?;
            check_complete(task, &reply, ms.len(), &expected(task, ms)?, interval)
        }
    }))
    .await?;
    eprintln!(
        "{} collections in {:.1} s",
        measured.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

#[test]
fn prio3_matrix_time_interval() {
    run(run_matrix(QueryConfig::TimeInterval));
}

#[test]
fn prio3_matrix_fixed_size() {
    run(run_matrix(QueryConfig::FixedSize {
        max_batch_size: None,
    }));
}

/// A report timestamped a month ahead is refused (DAP-09 section 4.4.2,
/// `reportTooEarly`: beyond the tolerated clock skew), while one timestamped
/// now is taken; only the latter is collected.
#[test]
fn report_far_in_the_future_is_rejected() {
    run(async {
        let deployment = Deployment::start().await?;
        let mut spec = TaskSpec::new(json!({"type": "Prio3Count"}), QueryConfig::TimeInterval, 1);
        // Far beyond the report: only its time can be the reason to refuse it.
        spec.task_expiration = now() + 10 * 365 * 86_400;
        let task = deployment.provision(&spec).await?;
        let future = deployment
            .upload(&task, &Measurement::Count(true), Some(now() + 30 * 86_400))
            .await?;
        ensure!(
            future["status"] == "error",
            "a report a month ahead was accepted: {future}"
        );
        let bucket_start = bucket(1);
        let past = deployment
            .upload(
                &task,
                &Measurement::Count(true),
                Some(bucket_start + PRECISION / 2),
            )
            .await?;
        ensure!(past["status"] == "success", "{past}");
        let reply = deployment
            .collect(&task, &time_interval_query(bucket_start, PRECISION), WAIT)
            .await?
            .complete()?;
        check_complete(
            &task,
            &reply,
            1,
            &json!("1"),
            Some((bucket_start, PRECISION)),
        )
    });
}

/// The Helper is given another Leader token than the Leader sends: it must
/// refuse the Leader's aggregation requests, so the task never yields a
/// result. A correctly provisioned task with the same reports, collected at
/// the same time, shows how long a collection takes; the wrong one is
/// watched for three seconds longer than that.
#[test]
fn wrong_aggregator_token_yields_no_result() {
    run(async {
        let deployment = Deployment::start().await?;
        let vdaf = json!({"type": "Prio3Sum", "bits": "8"});
        let good = deployment
            .provision(&TaskSpec::new(vdaf.clone(), QueryConfig::TimeInterval, 10))
            .await?;
        let mut spec = TaskSpec::new(vdaf, QueryConfig::TimeInterval, 10);
        spec.mismatch = Some(Mismatch::AggregatorToken);
        let bad = deployment.provision(&spec).await?;
        let bucket_start = bucket(1);
        let ms = measurements(&good, 10);
        let uploads: Vec<_> = [&good, &bad]
            .into_iter()
            .flat_map(|task| ms.iter().map(move |m| (task, m.clone())))
            .collect();
        deployment
            .upload_all(
                &uploads,
                |_| Some(bucket_start + PRECISION / 2),
                CONCURRENCY,
            )
            .await?;
        let query = time_interval_query(bucket_start, PRECISION);
        let bad_start = deployment.collection_start(&bad, &query).await?;
        let good_result = deployment.collect(&good, &query, WAIT).await?.complete()?;
        check_complete(
            &good,
            &good_result,
            10,
            &expected(&good, &ms)?,
            Some((bucket_start, PRECISION)),
        )?;
        if bad_start["status"] != "success" {
            // Refused at once: no result either.
            return Ok(());
        }
        let handle = bad_start["handle"].as_str().context("no handle")?;
        let watch_until = Instant::now() + Duration::from_secs(3);
        while Instant::now() < watch_until {
            let reply = deployment.collection_poll(handle).await?;
            match reply["status"].as_str() {
                Some("in progress") => {}
                Some("error") => return Ok(()),
                _ => anyhow::bail!(
                    "a task whose Helper has another token yielded {reply}\n{}",
                    deployment.logs()
                ),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(())
    });
}

/// The Collector is given another token than the Leader expects: the
/// Leader must refuse its collection request. A correctly provisioned task
/// on the same deployment is collected, to show the refusal is the
/// token's doing.
#[test]
fn wrong_collector_token_is_rejected() {
    run(async {
        let deployment = Deployment::start().await?;
        let vdaf = json!({"type": "Prio3Count"});
        let good = deployment
            .provision(&TaskSpec::new(vdaf.clone(), QueryConfig::TimeInterval, 5))
            .await?;
        let mut spec = TaskSpec::new(vdaf, QueryConfig::TimeInterval, 5);
        spec.mismatch = Some(Mismatch::CollectorToken);
        let bad = deployment.provision(&spec).await?;
        let bucket_start = bucket(1);
        let ms = measurements(&good, 5);
        let uploads: Vec<_> = [&good, &bad]
            .into_iter()
            .flat_map(|task| ms.iter().map(move |m| (task, m.clone())))
            .collect();
        deployment
            .upload_all(
                &uploads,
                |_| Some(bucket_start + PRECISION / 2),
                CONCURRENCY,
            )
            .await?;
        let query = time_interval_query(bucket_start, PRECISION);
        match deployment
            .collect(&bad, &query, Duration::from_secs(10))
            .await?
        {
            CollectOutcome::StartRefused(why) | CollectOutcome::Failed(why) => {
                eprintln!("wrong collector token refused: {why}");
            }
            other => anyhow::bail!("the Leader took a wrong collector token: {other:?}"),
        }
        let reply = deployment.collect(&good, &query, WAIT).await?.complete()?;
        check_complete(
            &good,
            &reply,
            5,
            &expected(&good, &ms)?,
            Some((bucket_start, PRECISION)),
        )
    });
}

/// With `max_batch_query_count` 1 (section 4.3.3: "the maximum number of
/// batches any report may be included in"), a collection whose interval
/// overlaps one already collected, and so would put its reports in a
/// second batch, must fail; a disjoint one still succeeds.
#[test]
fn max_batch_query_count_is_enforced() {
    run(async {
        let deployment = Deployment::start().await?;
        let task = deployment
            .provision(&TaskSpec::new(
                json!({"type": "Prio3Histogram", "length": "5", "chunk_length": "2"}),
                QueryConfig::TimeInterval,
                5,
            ))
            .await?;
        let (first, second) = (bucket(2), bucket(1));
        let first_ms = measurements(&task, 5);
        let second_ms = measurements(&task, 5);
        for (bucket_start, ms) in [(first, &first_ms), (second, &second_ms)] {
            let pairs: Vec<_> = ms.iter().map(|m| (&task, m.clone())).collect();
            deployment
                .upload_all(&pairs, |_| Some(bucket_start + PRECISION / 2), CONCURRENCY)
                .await?;
        }
        let reply = deployment
            .collect(&task, &time_interval_query(first, PRECISION), WAIT)
            .await?
            .complete()?;
        check_complete(
            &task,
            &reply,
            5,
            &expected(&task, &first_ms)?,
            Some((first, PRECISION)),
        )?;
        // Both buckets: the first bucket's reports would be in two batches.
        match deployment
            .collect(
                &task,
                &time_interval_query(first, 2 * PRECISION),
                Duration::from_secs(15),
            )
            .await?
        {
            CollectOutcome::StartRefused(why) | CollectOutcome::Failed(why) => {
                eprintln!("overlapping collection refused: {why}");
            }
            other => anyhow::bail!(
                "an overlapping collection was not refused: {other:?}\n{}",
                deployment.logs()
            ),
        }
        let reply = deployment
            .collect(&task, &time_interval_query(second, PRECISION), WAIT)
            .await?
            .complete()?;
        check_complete(
            &task,
            &reply,
            5,
            &expected(&task, &second_ms)?,
            Some((second, PRECISION)),
        )
    });
}

/// Section 4.5: collect, upload a late report into the collected batch, and
/// collect the same batch again (allowed: `max_batch_query_count` 2): the
/// result must not change. For a time-interval task the late report is
/// timestamped in the collected interval (the Leader may refuse it at
/// upload or drop it later); for a fixed-size task it is uploaded after the
/// batch was collected and the batch is asked for again by its ID.
#[test]
fn late_report_does_not_change_a_repeated_collection() {
    run(async {
        let deployment = Deployment::start().await?;
        let vdaf = json!({"type": "Prio3Sum", "bits": "8"});
        let mut time_interval = TaskSpec::new(vdaf.clone(), QueryConfig::TimeInterval, 5);
        time_interval.max_batch_query_count = 2;
        let mut fixed_size = TaskSpec::new(
            vdaf,
            QueryConfig::FixedSize {
                max_batch_size: Some(5),
            },
            5,
        );
        fixed_size.max_batch_query_count = 2;
        let ti = deployment.provision(&time_interval).await?;
        let fs = deployment.provision(&fixed_size).await?;
        let bucket_start = bucket(1);
        let time = Some(bucket_start + PRECISION / 2);
        let ti_query = time_interval_query(bucket_start, PRECISION);
        let check_task = |task: InteropTask, query: Value| {
            let deployment = &deployment;
            async move {
                let ms = measurements(&task, 5);
                let pairs: Vec<_> = ms.iter().map(|m| (&task, m.clone())).collect();
                deployment.upload_all(&pairs, |_| time, CONCURRENCY).await?;
                let first = deployment.collect(&task, &query, WAIT).await?.complete()?;
                let interval = query
                    .get("batch_interval_start")
                    .map(|_| (bucket_start, PRECISION));
                check_complete(&task, &first, 5, &expected(&task, &ms)?, interval)?;
                // The late report: accepted or refused, it must not count.
                let late = deployment
                    .upload(&task, &Measurement::Sum(200), time)
                    .await?;
                eprintln!("late report into a collected batch: {late}");
                // Give the Leader time to aggregate it, were it to.
                tokio::time::sleep(Duration::from_secs(1)).await;
                let again_query = match first.get("batch_id").and_then(Value::as_str) {
                    Some(batch_id) => batch_id_query(batch_id),
                    None => query.clone(),
                };
                let again = deployment
                    .collect(&task, &again_query, WAIT)
                    .await?
                    .complete()
                    .with_context(|| deployment.logs())?;
                ensure!(
                    again["result"] == first["result"]
                        && again["report_count"] == first["report_count"],
                    "the repeated collection changed: {first} then {again}"
                );
                anyhow::Ok(())
            }
        };
        tokio::try_join!(
            check_task(ti, ti_query),
            check_task(fs, current_batch_query())
        )?;
        Ok(())
    });
}

/// Section 4.5: a canned report, built by the runner, is uploaded twice. The
/// interop `upload` command cannot send one report twice (the Client makes
/// a fresh report, with a fresh ID, each time), so the runner seals the
/// report itself with the `dyad-client` library (fetching the aggregators'
/// HPKE configurations from their DAP endpoints) and `PUT`s the identical
/// bytes to the Leader's `tasks/{task-id}/reports` directly, twice: for the
/// time-interval task once before the other reports are uploaded through
/// the Client and once after they (and it) had time to be aggregated; for
/// the fixed-size task twice before them. DAP-09 section 4.4.2: the Leader
/// "MUST ignore" a report ID it has seen (and may answer
/// `reportRejected`). The collection must count it once. The fixed-size
/// batch holds exactly six reports, so a duplicate kept would push one of
/// the others out and change the result.
#[test]
fn replayed_report_is_counted_once() {
    run(async {
        let deployment = Deployment::start().await?;
        let vdaf =
            json!({"type": "Prio3SumVec", "bits": "8", "length": "10", "chunk_length": "12"});
        let ti = deployment
            .provision(&TaskSpec::new(vdaf.clone(), QueryConfig::TimeInterval, 6))
            .await?;
        let fs = deployment
            .provision(&TaskSpec::new(
                vdaf,
                QueryConfig::FixedSize {
                    max_batch_size: Some(6),
                },
                6,
            ))
            .await?;
        let bucket_start = bucket(1);
        let http = reqwest::Client::new();
        let check_task = |task: InteropTask, time: Option<u64>, query: Value, replay_late: bool| {
            let deployment = &deployment;
            let http = &http;
            async move {
                let client = dyad_client::ClientBuilder::new(
                    task.task_id,
                    task.leader.clone(),
                    task.helper.clone(),
                    dyad_messages::draft09::Duration::from_seconds(PRECISION),
                )
                .build(dyad_client::AnyVdaf(task.vdaf))?;
                let canned_measurement = measurements(&task, 1).remove(0);
                let report_time = dyad_messages::draft09::Time::from_seconds_since_epoch(
                    time.unwrap_or_else(now),
                );
                let canned = client
                    .prepare_report(&canned_measurement, report_time)
                    .await?
                    .get_encoded()?;
                let url = task
                    .leader
                    .join(&format!("tasks/{}/reports", task.task_id))?;
                let put = || async {
                    let response = http
                        .put(url.clone())
                        .header("content-type", "application/dap-report")
                        .body(canned.clone())
                        .send()
                        .await?;
                    anyhow::Ok(response.status())
                };
                let replay = || async {
                    let status = put().await?;
                    ensure!(
                        status.is_success() || status.is_client_error(),
                        "the replayed report got {status}"
                    );
                    anyhow::Ok(())
                };
                let first = put().await?;
                ensure!(first.is_success(), "the canned report was refused: {first}");
                if !replay_late {
                    replay().await?;
                }
                let ms = measurements(&task, 5);
                let pairs: Vec<_> = ms.iter().map(|m| (&task, m.clone())).collect();
                deployment.upload_all(&pairs, |_| time, CONCURRENCY).await?;
                if replay_late {
                    // Once the reports (the canned one too) had time to be
                    // aggregated: anti-replay must hold past the upload.
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    replay().await?;
                }

                let mut all = ms.clone();
                all.push(canned_measurement);
                let reply = deployment
                    .collect(&task, &query, WAIT)
                    .await?
                    .complete()
                    .with_context(|| deployment.logs())?;
                let interval = time.map(|_| (bucket_start, PRECISION));
                check_complete(&task, &reply, 6, &expected(&task, &all)?, interval)
            }
        };
        tokio::try_join!(
            check_task(
                ti,
                Some(bucket_start + PRECISION / 2),
                time_interval_query(bucket_start, PRECISION),
                true,
            ),
            // Replayed at once, so that a duplicate kept would compete for
            // the batch's six places.
            check_task(fs, None, current_batch_query(), false),
        )?;
        Ok(())
    });
}

/// Section 4: an unknown command under `/internal/test/` is 404 on every
/// role; a recognised command with a malformed body is 200 with status
/// `"error"` and a message.
#[test]
fn unknown_and_malformed_commands() {
    run(async {
        let deployment = Deployment::start().await?;
        for process in [
            &deployment.client,
            &deployment.leader,
            &deployment.helper,
            &deployment.collector,
        ] {
            let (status, _) = deployment
                .raw_command(process, "no_such_command", &json!({}))
                .await?;
            ensure!(status == 404, "{}: {status}", process.name());
        }
        let (status, _) = deployment
            .raw_command(
                &deployment.client,
                "collection_poll",
                &json!({"handle": "x"}),
            )
            .await?;
        ensure!(status == 404, "the Client has no collection_poll: {status}");
        for (process, command, body) in [
            (&deployment.client, "upload", json!({"task_id": "%%%"})),
            (
                &deployment.leader,
                "add_task",
                json!({"task_id": "AAAA", "role": "leader"}),
            ),
            (&deployment.helper, "endpoint_for_task", json!([])),
            (
                &deployment.collector,
                "collection_poll",
                json!({"handle": "unknown"}),
            ),
            (
                &deployment.collector,
                "collection_start",
                json!({"task_id": "AAAA", "query": {"type": 1}}),
            ),
        ] {
            let reply = deployment.command(process, command, &body).await?;
            ensure!(
                reply["status"] == "error" && reply["error"].is_string(),
                "{} {command} {body}: {reply}",
                process.name()
            );
        }
        Ok(())
    });
}
