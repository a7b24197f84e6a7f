//! Tests of the Helper's aggregation job continuation, with Poplar1 (two
//! rounds of preparation, so one continuation step).

use crate::test_util::fixtures::{ClientReport, TaskPair, PRECISION};
use crate::test_util::helper_requests::{aggregate_share, continue_job, init};
use crate::test_util::TestEnv;
use axum::http::StatusCode;
use dyad_core::clock::Clock;
use dyad_core::vdaf::{AggregateResult, Measurement, VdafInstance};
use dyad_datastore::models::AggregationJobState;
use dyad_messages::draft09::{
    AggregateShareReq, AggregationJobContinueReq, AggregationJobId, AggregationJobResp,
    AggregationJobStep, BatchSelector, Interval, PartialBatchSelector, PrepareStepResult,
};
use dyad_messages::media_type::DapMediaType;
use dyad_messages::problem::DapProblemType;
use dyad_protocol::leader_prepare::{build_continue_request, LeaderReportAggregation};
use prio::codec::Encode;
use prio::idpf::IdpfInput;
use prio::vdaf::poplar1::Poplar1AggregationParam;

const POPLAR: VdafInstance = VdafInstance::Poplar1 { bits: 4 };

fn level0_param() -> Vec<u8> {
    Poplar1AggregationParam::try_from_prefixes(vec![
        IdpfInput::from_bools(&[false]),
        IdpfInput::from_bools(&[true]),
    ])
    .unwrap()
    .get_encoded()
    .unwrap()
}

fn measurements(env: &TestEnv, pair: &TaskPair) -> Vec<ClientReport> {
    [
        [false, true, true, false],
        [true, false, false, false],
        [true, true, false, true],
    ]
    .iter()
    .map(|bits| pair.report(&Measurement::Poplar1(bits.to_vec()), env.clock.now()))
    .collect()
}

/// A Poplar1 job initialized at the Helper: its ID, the Leader's states
/// after the Helper's response, and the first continuation request.
async fn initialized(
    env: &TestEnv,
    pair: &TaskPair,
) -> (
    AggregationJobId,
    Vec<LeaderReportAggregation>,
    AggregationJobContinueReq,
) {
    let param = level0_param();
    let reports = measurements(env, pair);
    let (request, states) = pair.leader_init(&param, PartialBatchSelector::TimeInterval, &reports);
    let job_id = AggregationJobId::random();
    let response = env.send(init(pair, job_id, &request)).await;
    assert_eq!(response.status, StatusCode::CREATED);
    let resp: AggregationJobResp = response.message(DapMediaType::AggregationJobResp);
    let states = pair.leader_process(&param, &states, &resp);
    let next = build_continue_request(AggregationJobStep(1), &states).unwrap();
    (job_id, states, next)
}

async fn setup() -> (TestEnv, TaskPair) {
    let pair = TaskPair::time_interval(POPLAR);
    let env = TestEnv::with_tasks(&[&pair.helper]).await;
    (env, pair)
}

#[tokio::test]
async fn two_round_job_finishes_replays_and_unshards() {
    let (env, pair) = setup().await;
    let param = level0_param();
    let (job_id, states, next) = initialized(&env, &pair).await;
    let (job, stored, _) = env.aggregation_job(pair.task_id(), job_id).await.unwrap();
    assert_eq!(job.state, AggregationJobState::InProgress);
    // A job that goes on keeps its reports' states and answers in rows.
    assert_eq!(job.init_response, None);
    assert_eq!(stored.len(), 3);

    let response = env.send(continue_job(&pair, job_id, &next)).await;
    assert_eq!(response.status, StatusCode::OK);
    let resp: AggregationJobResp = response.message(DapMediaType::AggregationJobResp);
    assert!(resp
        .prepare_resps
        .iter()
        .all(|r| r.result == PrepareStepResult::Finished));
    let (job, _, rows) = env.aggregation_job(pair.task_id(), job_id).await.unwrap();
    assert_eq!((job.step, job.state), (1, AggregationJobState::Finished));
    assert_eq!(rows.iter().map(|r| r.report_count).sum::<u64>(), 3);

    // The Leader resends the same request (its response was lost).
    let replay = env.send(continue_job(&pair, job_id, &next)).await;
    assert_eq!(replay.status, StatusCode::OK);
    assert_eq!(replay.body, response.body);
    let (again, _, rows_again) = env.aggregation_job(pair.task_id(), job_id).await.unwrap();
    assert_eq!((again, rows_again), (job, rows));

    let states = pair.leader_process(&param, &states, &resp);
    let (leader_share, count, checksum) = pair.leader_aggregate(&param, &states);
    let interval = Interval::new(
        env.clock.now().to_batch_interval_start(PRECISION),
        PRECISION,
    )
    .unwrap();
    let request = AggregateShareReq {
        batch_selector: BatchSelector::TimeInterval(interval),
        aggregation_parameter: param.clone(),
        report_count: count,
        checksum,
    };
    let response = env.send(aggregate_share(&pair, &request)).await;
    assert_eq!(response.status, StatusCode::OK);
    let share = response.message(DapMediaType::AggregateShare);
    let result = pair.collect(&param, request.batch_selector, &leader_share, &share, count);
    // One measurement starts with 0, two with 1.
    assert_eq!(result, AggregateResult::Poplar1(vec![1, 2]));
}

#[tokio::test]
async fn wrong_step_is_a_step_mismatch_and_changes_nothing() {
    let (env, pair) = setup().await;
    let (job_id, _, next) = initialized(&env, &pair).await;
    let before = env.aggregation_job(pair.task_id(), job_id).await.unwrap();
    for step in [2u16, 7] {
        let skewed = AggregationJobContinueReq::new(
            AggregationJobStep(step),
            next.prepare_continues.clone(),
        );
        let response = env.send(continue_job(&pair, job_id, &skewed)).await;
        response.assert_problem(DapProblemType::StepMismatch, Some(pair.task_id()));
    }
    let zero =
        AggregationJobContinueReq::new(AggregationJobStep(0), next.prepare_continues.clone());
    let response = env.send(continue_job(&pair, job_id, &zero)).await;
    response.assert_problem(DapProblemType::InvalidMessage, Some(pair.task_id()));
    assert_eq!(
        env.aggregation_job(pair.task_id(), job_id).await.unwrap(),
        before
    );

    // After step 1, a different request for step 1 is a mismatch too.
    assert_eq!(
        env.send(continue_job(&pair, job_id, &next)).await.status,
        StatusCode::OK
    );
    let after = env.aggregation_job(pair.task_id(), job_id).await.unwrap();
    let fewer =
        AggregationJobContinueReq::new(AggregationJobStep(1), next.prepare_continues[1..].to_vec());
    let response = env.send(continue_job(&pair, job_id, &fewer)).await;
    response.assert_problem(DapProblemType::StepMismatch, Some(pair.task_id()));
    assert_eq!(
        env.aggregation_job(pair.task_id(), job_id).await.unwrap(),
        after
    );
}

#[tokio::test]
async fn report_left_out_by_the_leader_is_dropped() {
    let (env, pair) = setup().await;
    let (job_id, _, next) = initialized(&env, &pair).await;
    let fewer =
        AggregationJobContinueReq::new(AggregationJobStep(1), next.prepare_continues[1..].to_vec());
    let response = env.send(continue_job(&pair, job_id, &fewer)).await;
    assert_eq!(response.status, StatusCode::OK);
    let resp: AggregationJobResp = response.message(DapMediaType::AggregationJobResp);
    assert_eq!(resp.prepare_resps.len(), 2);
    let (job, _, rows) = env.aggregation_job(pair.task_id(), job_id).await.unwrap();
    assert_eq!(job.state, AggregationJobState::Finished);
    assert_eq!(rows.iter().map(|r| r.report_count).sum::<u64>(), 2);
}

#[tokio::test]
async fn unknown_job_or_unknown_report_is_refused() {
    let (env, pair) = setup().await;
    let (job_id, _, next) = initialized(&env, &pair).await;
    let response = env
        .send(continue_job(&pair, AggregationJobId::random(), &next))
        .await;
    response.assert_problem(
        DapProblemType::UnrecognizedAggregationJob,
        Some(pair.task_id()),
    );

    let mut reordered = next.prepare_continues.clone();
    reordered.swap(0, 1);
    let request = AggregationJobContinueReq::new(AggregationJobStep(1), reordered);
    let response = env.send(continue_job(&pair, job_id, &request)).await;
    response.assert_problem(DapProblemType::InvalidMessage, Some(pair.task_id()));
}
