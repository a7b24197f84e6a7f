//! Interoperation with an independent DAP-09 client and collector: Janus's
//! `janus_client` and `janus_collector` 0.7 (dev-dependencies of this crate
//! only), against dyad's Leader and Helper running as two `dyad serve`
//! processes.
//!
//! Three pairings, each under both query types:
//!
//! - `janus_client` uploads, dyad's collector collects;
//! - dyad's client uploads, `janus_collector` collects;
//! - `janus_client` uploads and `janus_collector` collects (dyad is only the
//!   two aggregators).
//!
//! Each test starts one pair of aggregators and provisions on it one task per
//! VDAF (Prio3Count, Prio3Sum, Prio3SumVec, Prio3Histogram), which run
//! concurrently. Time-interval tasks get reports in two past buckets and
//! collect both as one batch interval; fixed-size tasks use the clients'
//! clocks and collect the current batch. The Leader makes aggregation jobs of
//! at most [`MAX_JOB_SIZE`] reports, so each task's [`REPORTS`] reports need
//! several jobs; the Helper logs each aggregation job it initializes (JSON),
//! and the test reads that log to check that it really saw more than one job
//! per task and exactly [`REPORTS`] reports in them. The collected aggregate
//! must equal the sum computed here from the plaintext measurements, and the
//! collection's interval the smallest one holding the reports.
//!
//! Two smaller tests check that `janus_collector` can delete a collection job
//! and that Janus reads dyad's problem documents as DAP problem types.
//!
//! `janus_interop/janus.rs` turns dyad's task parameters into Janus's own
//! types (Janus 0.7 uses the same `prio` 0.16 as dyad).

use anyhow::{bail, ensure, Context as _};
use dyad_core::vdaf::{random_measurement, AggregateResult, Measurement, VdafInstance};
use dyad_integration_tests::{past_bucket_time, CollectorCredentials, Dyad, TaskOptions, WAIT};
use dyad_messages::draft09 as d;
use futures::future::join_all;
use janus_messages as j;
use prio::vdaf::prio3::Prio3;
use std::time::{Duration, Instant};

#[path = "janus_interop/janus.rs"]
mod janus;
use janus::{janus_collect, janus_collector, janus_retry, janus_task_id, janus_upload};

/// The task's time precision, in seconds.
const PRECISION: u64 = 3600;
/// Reports per task: the batch's size (and its minimum size).
const REPORTS: usize = 40;
/// The Leader's largest aggregation job.
const MAX_JOB_SIZE: u64 = 10;
/// The VDAFs each test provisions a task for, as `dyad task add --vdaf` takes them.
const VDAFS: [&str; 4] = [
    r#"{"type":"Prio3Count"}"#,
    r#"{"type":"Prio3Sum","bits":"8"}"#,
    r#"{"type":"Prio3SumVec","bits":"4","length":"12","chunk_length":"7"}"#,
    r#"{"type":"Prio3Histogram","length":"6","chunk_length":"3"}"#,
];

/// Which implementation plays the client or the collector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Dyad,
    Janus,
}

/// The task's query type (DAP-09 section 4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    TimeInterval,
    FixedSize,
}

/// What a collector returned, in dyad's terms.
#[derive(Debug)]
struct Collected {
    report_count: u64,
    interval_start: u64,
    interval_duration: u64,
    result: AggregateResult,
}

/// Starts a pair, provisions one task per VDAF in [`VDAFS`], runs every task
/// with `uploader` and `collector`, and fails listing every task that went
/// wrong.
async fn interoperate(uploader: Side, collector: Side, mode: Mode) {
    let options = |vdaf: &str| match mode {
        Mode::TimeInterval => TaskOptions::time_interval(vdaf, REPORTS as u64),
        Mode::FixedSize => TaskOptions::fixed_size(vdaf, REPORTS as u64, REPORTS as u64),
    };
    let job_creator = format!("{{interval_ms: 200, max_job_size: {MAX_JOB_SIZE}}}");
    let mut dyad = Dyad::start_with(
        &options(VDAFS[0]),
        &[("aggregation_job_creator", &job_creator)],
        &[(
            "log",
            r#"{level: "warn,dyad_aggregator::helper::init=info", format: json}"#,
        )],
    )
    .await
    .expect("starting the aggregators");
    let mut tasks = vec![dyad.credentials.clone()];
    for vdaf in &VDAFS[1..] {
        tasks.push(dyad.add_task(&options(vdaf)).await.expect("adding a task"));
    }
    let outcomes = join_all(
        tasks
            .iter()
            .map(|task| run_task(&dyad, task, uploader, collector, mode)),
    )
    .await;
    let failures: Vec<String> = tasks
        .iter()
        .zip(outcomes)
        .filter_map(|(task, outcome)| {
            outcome
                .err()
                .map(|error| format!("{:?}: {error:#}", task.vdaf))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{uploader:?} client, {collector:?} collector, {mode:?}:\n{}\n{}",
        failures.join("\n"),
        dyad.logs()
    );
}

/// Uploads [`REPORTS`] random measurements to `task`, collects them and
/// checks the result, the report count, the interval and the Helper's jobs.
async fn run_task(
    dyad: &Dyad,
    task: &CollectorCredentials,
    uploader: Side,
    collector: Side,
    mode: Mode,
) -> anyhow::Result<()> {
    let measurements: Vec<Measurement> = {
        let mut rng = rand::thread_rng();
        (0..REPORTS)
            .map(|_| random_measurement(&task.vdaf, &mut rng))
            .collect()
    };
    // Time-interval tasks get reports timestamped alternately in the two
    // buckets before the current one, and collect both (one batch interval
    // of two time precisions); fixed-size tasks get each client's clock.
    let times = match mode {
        Mode::TimeInterval => {
            let earlier = past_bucket_time(PRECISION, 2);
            let later =
                d::Time::from_seconds_since_epoch(earlier.as_seconds_since_epoch() + PRECISION);
            Some([earlier, later])
        }
        Mode::FixedSize => None,
    };
    let before = times.map_or_else(dyad_client::system_time, |times| times[0]);
    match uploader {
        Side::Dyad => dyad_upload(task, &measurements, times).await,
        Side::Janus => janus_upload(task, &measurements, times).await,
    }
    .context("uploading")?;
    let after = times.map_or_else(dyad_client::system_time, |times| times[1]);
    let first = before.as_seconds_since_epoch() / PRECISION * PRECISION;
    let last = after.as_seconds_since_epoch() / PRECISION * PRECISION;
    let batch_interval = (first, last + PRECISION - first);
    let collected = match collector {
        Side::Dyad => dyad_collect(dyad, task, mode, batch_interval).await,
        Side::Janus => janus_collect(task, mode, batch_interval).await,
    }
    .context("collecting")?;

    let expected = sum_of(&task.vdaf, &measurements)?;
    ensure!(
        collected.report_count == REPORTS as u64,
        "collected {} reports, uploaded {REPORTS}",
        collected.report_count
    );
    ensure!(
        collected.result == expected,
        "collected {:?}, expected {expected:?}",
        collected.result
    );
    // DAP-09 section 4.6.1: the smallest aligned interval holding every
    // report's timestamp: exactly both buckets for time-interval tasks; for
    // fixed-size ones the bucket of `before` (or, if the clock crossed a
    // bucket boundary during the uploads, that of `after`, or both).
    let (starts, ends) = match times {
        Some(_) => (first..=first, last + PRECISION..=last + PRECISION),
        None => (first..=last, first + PRECISION..=last + PRECISION),
    };
    let end = collected.interval_start + collected.interval_duration;
    ensure!(
        starts.contains(&collected.interval_start)
            && ends.contains(&end)
            && collected.interval_start % PRECISION == 0
            && collected.interval_duration % PRECISION == 0,
        "the collection's interval {}+{} is not the smallest aligned interval holding \
         the reports' times (buckets {first}..={last})",
        collected.interval_start,
        collected.interval_duration
    );

    let jobs = helper_initialized_jobs(&dyad.helper.log_text(), &task.task_id)?;
    let reports: u64 = jobs.iter().map(|(_, reports)| reports).sum();
    ensure!(
        jobs.len() > 1,
        "the Helper logged {} aggregation job(s); expected several of at most {MAX_JOB_SIZE} \
         reports (a RUST_LOG without info for dyad_aggregator::helper::init hides them)",
        jobs.len()
    );
    ensure!(
        reports == REPORTS as u64,
        "the Helper's aggregation jobs held {reports} reports, expected {REPORTS}"
    );
    Ok(())
}

/// The aggregate of `measurements`, computed here from the plaintext (not by
/// dyad's code): a count of `true`s, a sum, an element-wise sum, a count per
/// bucket.
fn sum_of(vdaf: &VdafInstance, measurements: &[Measurement]) -> anyhow::Result<AggregateResult> {
    let mut result = match *vdaf {
        VdafInstance::Prio3Count => AggregateResult::Count(0),
        VdafInstance::Prio3Sum { .. } => AggregateResult::Sum(0),
        VdafInstance::Prio3SumVec { length, .. } => {
            AggregateResult::SumVec(vec![0; usize::try_from(length)?])
        }
        VdafInstance::Prio3Histogram { length, .. } => {
            AggregateResult::Histogram(vec![0; usize::try_from(length)?])
        }
        ref other => bail!("no plaintext sum for {other:?}"),
    };
    for measurement in measurements {
        match (&mut result, measurement) {
            (AggregateResult::Count(total), Measurement::Count(value)) => {
                *total += u64::from(*value)
            }
            (AggregateResult::Sum(total), Measurement::Sum(value)) => *total += value,
            (AggregateResult::SumVec(totals), Measurement::SumVec(values)) => {
                ensure!(totals.len() == values.len(), "measurement length");
                for (total, value) in totals.iter_mut().zip(values) {
                    *total += value;
                }
            }
            (AggregateResult::Histogram(counts), Measurement::Histogram(bucket)) => {
                *counts.get_mut(*bucket).context("bucket out of range")? += 1;
            }
            (_, other) => bail!("measurement {other:?} does not fit {vdaf:?}"),
        }
    }
    Ok(result)
}

/// The aggregation jobs the Helper logged as initialized for `task_id`:
/// (job ID, number of reports). Replays are logged differently and so are
/// not counted twice.
fn helper_initialized_jobs(log: &str, task_id: &d::TaskId) -> anyhow::Result<Vec<(String, u64)>> {
    let task_id = task_id.to_string();
    let mut jobs = Vec::new();
    // Only whole lines: the Helper may be writing another task's event.
    let lines = log
        .split_inclusive('\n')
        .filter_map(|line| line.strip_suffix('\n'));
    for line in lines.filter(|line| line.starts_with('{')) {
        let event: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("log line {line:?}"))?;
        let fields = &event;
        if fields["message"] == "initialized aggregation job" && fields["task_id"] == *task_id {
            let job = fields["aggregation_job_id"]
                .as_str()
                .context("aggregation_job_id")?;
            let reports = fields["reports"].as_u64().context("reports")?;
            jobs.push((job.to_owned(), reports));
        }
    }
    Ok(jobs)
}

// --- dyad's client and collector -------------------------------------------

async fn dyad_upload(
    task: &CollectorCredentials,
    measurements: &[Measurement],
    times: Option<[d::Time; 2]>,
) -> anyhow::Result<()> {
    let client = task
        .client_builder()
        .build(dyad_client::AnyVdaf(task.vdaf))?;
    let uploads = async {
        match times {
            Some(times) => {
                join_all(
                    measurements
                        .iter()
                        .enumerate()
                        .map(|(i, measurement)| client.upload_at(measurement, times[i % 2])),
                )
                .await
            }
            None => client.upload_batch(measurements, 4).await,
        }
    };
    let results = tokio::time::timeout(WAIT, uploads)
        .await
        .context("uploads timed out")?;
    for result in results {
        result?;
    }
    Ok(())
}

async fn dyad_collect(
    dyad: &Dyad,
    task: &CollectorCredentials,
    mode: Mode,
    (start, duration): (u64, u64),
) -> anyhow::Result<Collected> {
    let query = match mode {
        Mode::TimeInterval => d::Query::TimeInterval(d::Interval::new(
            d::Time::from_seconds_since_epoch(start),
            d::Duration::from_seconds(duration),
        )?),
        Mode::FixedSize => d::Query::FixedSize(d::FixedSizeQuery::CurrentBatch),
    };
    // A Leader may answer invalidBatchSize until the batch is big enough
    // (DAP-09 section 4.6.1): retry, bounded.
    let began = Instant::now();
    let collection = loop {
        match dyad.collect_task(task, query).await {
            Ok(collection) => break collection,
            Err(error)
                if error.to_string().contains("invalidBatchSize") && began.elapsed() < WAIT =>
            {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Err(error) => return Err(error),
        }
    };
    Ok(Collected {
        report_count: collection.report_count,
        interval_start: collection.interval.start().as_seconds_since_epoch(),
        interval_duration: collection.interval.duration().as_seconds(),
        result: collection.aggregate_result,
    })
}

#[tokio::test]
async fn janus_client_uploads_are_collected_by_dyad_collector_time_interval() {
    interoperate(Side::Janus, Side::Dyad, Mode::TimeInterval).await;
}

#[tokio::test]
async fn janus_client_uploads_are_collected_by_dyad_collector_fixed_size() {
    interoperate(Side::Janus, Side::Dyad, Mode::FixedSize).await;
}

#[tokio::test]
async fn janus_collector_collects_dyad_client_uploads_time_interval() {
    interoperate(Side::Dyad, Side::Janus, Mode::TimeInterval).await;
}

#[tokio::test]
async fn janus_collector_collects_dyad_client_uploads_fixed_size() {
    interoperate(Side::Dyad, Side::Janus, Mode::FixedSize).await;
}

#[tokio::test]
async fn janus_client_and_collector_through_dyad_aggregators_time_interval() {
    interoperate(Side::Janus, Side::Janus, Mode::TimeInterval).await;
}

#[tokio::test]
async fn janus_client_and_collector_through_dyad_aggregators_fixed_size() {
    interoperate(Side::Janus, Side::Janus, Mode::FixedSize).await;
}

/// `janus_collector` creates a collection job, deletes it (DAP-09 section
/// 4.6.1: the Leader may then discard it), and afterwards gets no result
/// from it.
#[tokio::test]
async fn janus_collector_deletes_a_collection_job() {
    let dyad = Dyad::start(&TaskOptions::time_interval(VDAFS[0], 1))
        .await
        .expect("starting the aggregators");
    let task = &dyad.credentials;
    let collector = janus_collector(task, Prio3::new_count(2).unwrap()).unwrap();
    let start = past_bucket_time(PRECISION, 1).as_seconds_since_epoch() / PRECISION * PRECISION;
    let query = j::Query::new_time_interval(
        j::Interval::new(
            j::Time::from_seconds_since_epoch(start),
            j::Duration::from_seconds(PRECISION),
        )
        .unwrap(),
    );
    let job = collector
        .start_collection(query, &())
        .await
        .unwrap_or_else(|error| panic!("creating the job: {error}\n{}", dyad.logs()));
    collector
        .delete_collection_job(&job)
        .await
        .unwrap_or_else(|error| panic!("deleting the job: {error}\n{}", dyad.logs()));
    match collector.poll_once(&job).await {
        Err(janus_collector::Error::Http(response)) => {
            assert_eq!(response.status(), 204, "{response:?}")
        }
        Ok(janus_collector::PollResult::NotReady(_)) => panic!("the deleted job is still pending"),
        Ok(janus_collector::PollResult::CollectionResult(_)) => {
            panic!("the deleted job has a result")
        }
        Err(error) => panic!("polling the deleted job: {error}"),
    }
}

/// dyad's problem documents (DAP-09 section 3.2) reach Janus's client and
/// collector as DAP problem types: a report from too far in the future is
/// `reportTooEarly`, a collection request with the wrong token
/// `unauthorizedRequest`.
#[tokio::test]
async fn janus_client_and_collector_read_dyad_problem_types() {
    let dyad = Dyad::start(&TaskOptions::time_interval(VDAFS[0], 1))
        .await
        .expect("starting the aggregators");
    let task = &dyad.credentials;

    let client = janus_client::Client::builder(
        janus_task_id(task),
        task.leader.clone(),
        task.helper.clone(),
        j::Duration::from_seconds(task.time_precision.as_seconds()),
        Prio3::new_count(2).unwrap(),
    )
    .with_backoff(janus_retry())
    .build()
    .await
    .unwrap();
    let next_week = dyad_client::system_time().as_seconds_since_epoch() + 7 * 24 * 3600;
    match client
        .upload_with_time(&true, j::Time::from_seconds_since_epoch(next_week))
        .await
    {
        Err(janus_client::Error::Http(response)) => assert_eq!(
            response.dap_problem_type(),
            Some(&janus_messages::problem_type::DapProblemType::ReportTooEarly),
            "{response:?}"
        ),
        other => panic!("a report from next week: {other:?}\n{}", dyad.logs()),
    }

    let mut wrong_token = task.clone();
    wrong_token.collector_bearer_token = "not-the-collectors-token".to_owned();
    let collector = janus_collector(&wrong_token, Prio3::new_count(2).unwrap()).unwrap();
    let start = past_bucket_time(PRECISION, 1).as_seconds_since_epoch() / PRECISION * PRECISION;
    let query = j::Query::new_time_interval(
        j::Interval::new(
            j::Time::from_seconds_since_epoch(start),
            j::Duration::from_seconds(PRECISION),
        )
        .unwrap(),
    );
    match collector.start_collection(query, &()).await {
        Err(janus_collector::Error::Http(response)) => assert_eq!(
            response.dap_problem_type(),
            Some(&janus_messages::problem_type::DapProblemType::UnauthorizedRequest),
            "{response:?}"
        ),
        other => panic!(
            "a collection with the wrong token: {other:?}\n{}",
            dyad.logs()
        ),
    }
}
