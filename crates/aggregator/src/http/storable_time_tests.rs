//! Extreme times and intervals at every endpoint that takes one, through
//! the router: each gets the problem type DAP-09 names (or, for a report in
//! an aggregation job, its own `PrepareError`), never a 5xx; every problem
//! document carries the task ID; nothing is stored.

use crate::test_util::fixtures::{ClientReport, TaskPair, PRECISION};
use crate::test_util::helper_requests::{aggregate_share, init};
use crate::test_util::{TestEnv, TestRequest, TestResponse};
use axum::http::StatusCode;
use dyad_core::clock::Clock;
use dyad_core::task::{BatchMode, Task};
use dyad_core::vdaf::{Measurement, VdafInstance};
use dyad_datastore::models::{ReportAggregationState, TaskRowCounts};
use dyad_datastore::DatastoreExt;
use dyad_messages::draft09::{
    AggregateShareReq, AggregationJobId, AggregationJobResp, BatchId, BatchSelector,
    CollectionJobId, CollectionReq, Duration, Interval, PartialBatchSelector, PrepareError,
    PrepareStepResult, Query, ReportIdChecksum, TaskId, Time,
};
use dyad_messages::media_type::DapMediaType;
use dyad_messages::problem::DapProblemType;
use dyad_messages::Encode;

const MAX_I64: u64 = i64::MAX as u64;
const EXTREMES: [u64; 4] = [0, MAX_I64, 1 << 63, u64::MAX];

/// Markers put where an interval goes, then replaced by the raw values (an
/// `Interval` whose end overflows cannot be built, only encoded by hand).
const START_MARK: u64 = 0x5354_4152_545f_4d4b;
const DURATION_MARK: u64 = 0x0044_5552_5f4d_4b00;

fn marker_interval() -> Interval {
    Interval::new(
        Time::from_seconds_since_epoch(START_MARK),
        Duration::from_seconds(DURATION_MARK),
    )
    .unwrap()
}

/// `encoded` with the marker interval replaced by `(start, duration)`.
fn with_interval(encoded: Vec<u8>, start: u64, duration: u64) -> Vec<u8> {
    let mut marker = START_MARK.to_be_bytes().to_vec();
    marker.extend_from_slice(&DURATION_MARK.to_be_bytes());
    let at = encoded
        .windows(marker.len())
        .position(|w| w == marker.as_slice())
        .expect("marker interval in the encoding");
    let mut out = encoded;
    out[at..at + 8].copy_from_slice(&start.to_be_bytes());
    out[at + 8..at + 16].copy_from_slice(&duration.to_be_bytes());
    out
}

/// Every `(start, duration)` of the extremes, and two aligned intervals
/// that end after 2^63 - 1 without overflowing.
fn interval_cases() -> Vec<(u64, u64)> {
    let p = PRECISION.as_seconds();
    let mut cases: Vec<(u64, u64)> = EXTREMES
        .iter()
        .flat_map(|s| EXTREMES.iter().map(move |d| (*s, *d)))
        .collect();
    cases.push((MAX_I64 / p * p, p));
    cases.push((u64::MAX / p * p - p, p));
    cases.push((0, MAX_I64 / p * p + p));
    cases
}

/// What an interval gets: `invalidMessage` if its end overflows a `u64`
/// (it does not decode), `batchInvalid` otherwise (misaligned, or ending
/// after the latest storable time).
fn expected_interval_problem(start: u64, duration: u64) -> DapProblemType {
    match start.checked_add(duration) {
        None => DapProblemType::InvalidMessage,
        Some(_) => DapProblemType::BatchInvalid,
    }
}

async fn row_counts(env: &TestEnv, task_id: TaskId) -> TaskRowCounts {
    env.datastore
        .run_read_tx("test_counts", move |tx| {
            Box::pin(async move { Ok(tx.count_task_rows(&task_id).await?) })
        })
        .await
        .unwrap()
        .unwrap()
}

fn assert_refused(response: &TestResponse, expected: DapProblemType, task_id: TaskId, what: &str) {
    assert!(
        !response.status.is_server_error(),
        "{what}: {} {:?}",
        response.status,
        String::from_utf8_lossy(&response.body)
    );
    let document = response.problem();
    assert_eq!(document.dap_type(), Some(expected), "{what}: {document}");
    assert_eq!(document.taskid, Some(task_id), "{what}: {document}");
}

#[tokio::test]
async fn collection_job_intervals_at_the_extremes_are_refused_with_the_spec_type() {
    let pair = TaskPair::time_interval(VdafInstance::Prio3Count);
    let env = TestEnv::with_tasks(&[&pair.leader]).await;
    let task_id = pair.task_id();
    let before = row_counts(&env, task_id).await;
    let template = CollectionReq {
        query: Query::TimeInterval(marker_interval()),
        aggregation_parameter: vec![],
    }
    .get_encoded()
    .unwrap();
    for (start, duration) in interval_cases() {
        let body = with_interval(template.clone(), start, duration);
        let job_id = CollectionJobId::random();
        let response = env
            .send(
                TestRequest::put(format!("/tasks/{task_id}/collection_jobs/{job_id}"))
                    .token(&pair.collector_token)
                    .bytes(DapMediaType::CollectionReq, body),
            )
            .await;
        let what = format!("collection job [{start}, +{duration})");
        assert_refused(
            &response,
            expected_interval_problem(start, duration),
            task_id,
            &what,
        );
        assert!(
            env.collection_job(task_id, job_id).await.is_none(),
            "{what}"
        );
    }
    assert_eq!(row_counts(&env, task_id).await, before);
}

#[tokio::test]
async fn aggregate_share_intervals_at_the_extremes_are_refused_with_the_spec_type() {
    let pair = TaskPair::time_interval(VdafInstance::Prio3Count);
    let env = TestEnv::with_tasks(&[&pair.helper]).await;
    let task_id = pair.task_id();
    let before = row_counts(&env, task_id).await;
    let template = AggregateShareReq {
        batch_selector: BatchSelector::TimeInterval(marker_interval()),
        aggregation_parameter: vec![],
        report_count: 0,
        checksum: ReportIdChecksum::default(),
    }
    .get_encoded()
    .unwrap();
    for (start, duration) in interval_cases() {
        let body = with_interval(template.clone(), start, duration);
        let response = env
            .send(
                TestRequest::post(format!("/tasks/{task_id}/aggregate_shares"))
                    .token(&pair.leader_token)
                    .bytes(DapMediaType::AggregateShareReq, body),
            )
            .await;
        assert_refused(
            &response,
            expected_interval_problem(start, duration),
            task_id,
            &format!("aggregate share [{start}, +{duration})"),
        );
    }
    assert_eq!(row_counts(&env, task_id).await, before);
    // The Helper still answers an ordinary request (here: too few reports).
    let interval = Interval::new(
        env.clock.now().to_batch_interval_start(PRECISION),
        PRECISION,
    )
    .unwrap();
    let request = AggregateShareReq {
        batch_selector: BatchSelector::TimeInterval(interval),
        aggregation_parameter: vec![],
        report_count: 0,
        checksum: ReportIdChecksum::default(),
    };
    let response = env.send(aggregate_share(&pair, &request)).await;
    assert_refused(
        &response,
        DapProblemType::InvalidBatchSize,
        task_id,
        "ordinary",
    );
}

fn upload(task_id: TaskId, report: &ClientReport) -> TestRequest {
    TestRequest::put(format!("/tasks/{task_id}/reports"))
        .message(DapMediaType::Report, &report.report)
}

/// A Leader task with the given clock skew tolerance.
fn with_skew(task: &Task, skew: Duration) -> Task {
    task.to_builder()
        .tolerable_clock_skew(skew)
        .build()
        .unwrap()
}

#[tokio::test]
async fn uploads_at_or_after_2_pow_63_are_too_early_even_with_unbounded_skew() {
    let pair = TaskPair::time_interval(VdafInstance::Prio3Count);
    let lenient = TaskPair::time_interval(VdafInstance::Prio3Count);
    let lenient_leader = with_skew(&lenient.leader, Duration::from_seconds(u64::MAX));
    let env = TestEnv::with_tasks(&[&pair.leader, &lenient_leader]).await;
    for (pair, task) in [(&pair, &pair.leader), (&lenient, &lenient_leader)] {
        let task_id = *task.task_id();
        for time in [MAX_I64, 1 << 63, u64::MAX] {
            let report = pair.report(
                &Measurement::Count(true),
                Time::from_seconds_since_epoch(time),
            );
            let response = env.send(upload(task_id, &report)).await;
            assert_refused(
                &response,
                DapProblemType::ReportTooEarly,
                task_id,
                &format!("upload at {time}, skew {}", task.tolerable_clock_skew()),
            );
        }
        assert_eq!(env.report_count(task_id).await, 0);
        // An ordinary report is still taken.
        let report = pair.report(&Measurement::Count(true), env.clock.now());
        assert_eq!(
            env.send(upload(task_id, &report)).await.status,
            StatusCode::CREATED
        );
        assert_eq!(env.report_count(task_id).await, 1);
    }
}

/// Initializes a job over good reports with extreme ones among them, on a
/// Helper holding `helper`; checks each report's answer and what was
/// stored.
async fn init_with_extreme_reports(pair: &TaskPair, helper: &Task, selector: PartialBatchSelector) {
    let env = TestEnv::with_tasks(&[helper]).await;
    let now = env.clock.now();
    let t = Time::from_seconds_since_epoch;
    let times = [now, t(1 << 63), now, t(u64::MAX), t(MAX_I64), now];
    let reports: Vec<ClientReport> = times
        .iter()
        .map(|time| pair.report(&Measurement::Count(true), *time))
        .collect();
    let (request, _) = pair.leader_init(&[], selector, &reports);
    let job_id = AggregationJobId::random();
    let response = env.send(init(pair, job_id, &request)).await;
    assert_eq!(
        response.status,
        StatusCode::CREATED,
        "{:?}",
        String::from_utf8_lossy(&response.body)
    );
    let answer: AggregationJobResp = response.message(DapMediaType::AggregationJobResp);
    let (_, stored, rows) = env.aggregation_job(pair.task_id(), job_id).await.unwrap();
    assert_eq!(answer.prepare_resps.len(), times.len());
    for ((time, resp), stored) in times.iter().zip(&answer.prepare_resps).zip(&stored) {
        assert_eq!(stored.report_id, resp.report_id);
        if *time == now {
            assert!(
                matches!(resp.result, PrepareStepResult::Continue { .. }),
                "good report at {time}: {:?}",
                resp.result
            );
            assert_eq!(stored.time, now);
        } else {
            assert_eq!(
                resp.result,
                PrepareStepResult::Reject(PrepareError::ReportTooEarly),
                "report at {time}"
            );
            assert_eq!(
                stored.state,
                ReportAggregationState::Failed(PrepareError::ReportTooEarly)
            );
        }
    }
    // The three good reports were aggregated, nothing else.
    assert_eq!(rows.iter().map(|r| r.report_count).sum::<u64>(), 3);
    // The same request again is answered the same, byte for byte.
    let again = env.send(init(pair, job_id, &request)).await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.body, response.body);
}

#[tokio::test]
async fn init_rejects_only_the_reports_at_or_after_2_pow_63_minus_1() {
    let pair = TaskPair::time_interval(VdafInstance::Prio3Count);
    init_with_extreme_reports(&pair, &pair.helper, PartialBatchSelector::TimeInterval).await;
}

#[tokio::test]
async fn fixed_size_init_rejects_only_the_reports_at_or_after_2_pow_63_minus_1() {
    // Room for exactly the three good reports: none of the others may take
    // a place in the batch.
    let mode = BatchMode::FixedSize {
        max_batch_size: Some(3),
    };
    let pair = TaskPair::new(VdafInstance::Prio3Count, mode);
    let selector = PartialBatchSelector::FixedSize(BatchId::random());
    init_with_extreme_reports(&pair, &pair.helper, selector).await;
}

#[tokio::test]
async fn init_rejects_unstorable_report_times_even_with_unbounded_skew() {
    let pair = TaskPair::time_interval(VdafInstance::Prio3Count);
    let helper = with_skew(&pair.helper, Duration::from_seconds(u64::MAX));
    init_with_extreme_reports(&pair, &helper, PartialBatchSelector::TimeInterval).await;
}

#[tokio::test]
async fn fixed_size_init_rejects_unstorable_report_times_even_with_unbounded_skew() {
    let mode = BatchMode::FixedSize {
        max_batch_size: Some(3),
    };
    let pair = TaskPair::new(VdafInstance::Prio3Count, mode);
    let helper = with_skew(&pair.helper, Duration::from_seconds(u64::MAX));
    let selector = PartialBatchSelector::FixedSize(BatchId::random());
    init_with_extreme_reports(&pair, &helper, selector).await;
}

#[tokio::test]
async fn init_with_a_report_at_time_zero_fails_that_report_at_most() {
    let pair = TaskPair::time_interval(VdafInstance::Prio3Count);
    let env = TestEnv::with_tasks(&[&pair.helper]).await;
    let reports = [
        pair.report(&Measurement::Count(true), Time::from_seconds_since_epoch(0)),
        pair.report(&Measurement::Count(true), env.clock.now()),
    ];
    let (request, _) = pair.leader_init(&[], PartialBatchSelector::TimeInterval, &reports);
    let response = env
        .send(init(&pair, AggregationJobId::random(), &request))
        .await;
    assert_eq!(response.status, StatusCode::CREATED);
    let answer: AggregationJobResp = response.message(DapMediaType::AggregationJobResp);
    assert!(matches!(
        answer.prepare_resps[1].result,
        PrepareStepResult::Continue { .. }
    ));
}
