//! Tests of the Helper's aggregation job initialization and deletion.

use crate::test_util::fixtures::{ClientReport, TaskPair, PRECISION};
use crate::test_util::helper_requests::{aggregate_share, delete_job, init};
use crate::test_util::{TestEnv, TestRequest};
use axum::http::StatusCode;
use dyad_core::clock::Clock;
use dyad_core::task::AuthenticationToken;
use dyad_core::vdaf::{AggregateResult, Measurement, VdafInstance};
use dyad_datastore::models::{AggregationJobState, BatchIdentifier};
use dyad_datastore::DatastoreExt;
use dyad_messages::draft09::{
    AggregateShareReq, AggregationJobId, AggregationJobResp, BatchSelector, Interval,
    PartialBatchSelector, PrepareError, PrepareStepResult,
};
use dyad_messages::media_type::DapMediaType;
use dyad_messages::problem::DapProblemType;

async fn setup(vdaf: VdafInstance) -> (TestEnv, TaskPair) {
    let pair = TaskPair::time_interval(vdaf);
    let env = TestEnv::with_tasks(&[&pair.helper]).await;
    (env, pair)
}

fn sums(env: &TestEnv, pair: &TaskPair, values: &[u128]) -> Vec<ClientReport> {
    values
        .iter()
        .map(|v| pair.report(&Measurement::Sum(*v), env.clock.now()))
        .collect()
}

fn batch_interval(env: &TestEnv) -> Interval {
    Interval::new(
        env.clock.now().to_batch_interval_start(PRECISION),
        PRECISION,
    )
    .unwrap()
}

#[tokio::test]
async fn init_and_aggregate_share_unshard_to_the_sum() {
    let (env, pair) = setup(VdafInstance::Prio3Sum { bits: 8 }).await;
    let values = [7u128, 100, 255];
    let reports = sums(&env, &pair, &values);
    let (request, leader_states) =
        pair.leader_init(&[], PartialBatchSelector::TimeInterval, &reports);
    let job_id = AggregationJobId::random();

    let response = env.send(init(&pair, job_id, &request)).await;
    assert_eq!(response.status, StatusCode::CREATED);
    let helper_response: AggregationJobResp = response.message(DapMediaType::AggregationJobResp);
    let leader_states = pair.leader_process(&[], &leader_states, &helper_response);
    let (leader_share, count, checksum) = pair.leader_aggregate(&[], &leader_states);
    assert_eq!(count, 3);

    let (job, stored, rows) = env.aggregation_job(pair.task_id(), job_id).await.unwrap();
    assert_eq!(job.state, AggregationJobState::Finished);
    assert_eq!(job.step, 0);
    // Finished in its initialization: its answer is kept on its row, byte
    // for byte, and its reports get no rows.
    assert_eq!(job.init_response.as_deref(), Some(&response.body[..]));
    assert!(stored.is_empty());
    assert_eq!(rows.iter().map(|r| r.report_count).sum::<u64>(), 3);

    let selector = BatchSelector::TimeInterval(batch_interval(&env));
    let share_request = AggregateShareReq {
        batch_selector: selector,
        aggregation_parameter: vec![],
        report_count: count,
        checksum,
    };
    let response = env.send(aggregate_share(&pair, &share_request)).await;
    assert_eq!(response.status, StatusCode::OK);
    let share = response.message(DapMediaType::AggregateShare);
    let result = pair.collect(&[], selector, &leader_share, &share, count);
    assert_eq!(result, AggregateResult::Sum(values.iter().sum()));

    // The identical request again: the same bytes, no second query.
    let again = env.send(aggregate_share(&pair, &share_request)).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body, response.body);
    let task_id = pair.task_id();
    let stored_batch = BatchIdentifier::TimeInterval(batch_interval(&env));
    let queries = env
        .datastore
        .run_read_tx("t", move |tx| {
            Box::pin(async move { Ok(tx.get_collected_batches(&task_id, &stored_batch).await?) })
        })
        .await
        .unwrap();
    assert_eq!(queries.len(), 1);
}

#[tokio::test]
async fn replayed_init_gets_the_same_bytes_and_changes_nothing() {
    let (env, pair) = setup(VdafInstance::Prio3Sum { bits: 8 }).await;
    let reports = sums(&env, &pair, &[1, 2]);
    let (request, _) = pair.leader_init(&[], PartialBatchSelector::TimeInterval, &reports);
    let job_id = AggregationJobId::random();
    let first = env.send(init(&pair, job_id, &request)).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let before = env.aggregation_job(pair.task_id(), job_id).await.unwrap();
    let second = env.send(init(&pair, job_id, &request)).await;
    assert_eq!(second.status, StatusCode::CREATED);
    assert_eq!(second.body, first.body);
    assert_eq!(
        env.aggregation_job(pair.task_id(), job_id).await.unwrap(),
        before
    );
}

#[tokio::test]
async fn conflicting_init_is_409_and_changes_nothing() {
    let (env, pair) = setup(VdafInstance::Prio3Sum { bits: 8 }).await;
    let reports = sums(&env, &pair, &[1, 2]);
    let (request, _) = pair.leader_init(&[], PartialBatchSelector::TimeInterval, &reports);
    let job_id = AggregationJobId::random();
    assert_eq!(
        env.send(init(&pair, job_id, &request)).await.status,
        StatusCode::CREATED
    );
    let before = env.aggregation_job(pair.task_id(), job_id).await.unwrap();

    let (changed, _) = pair.leader_init(&[], PartialBatchSelector::TimeInterval, &reports[..1]);
    let response = env.send(init(&pair, job_id, &changed)).await;
    assert_eq!(response.status, StatusCode::CONFLICT);
    let problem = response.problem();
    assert_eq!(problem.dap_type(), Some(DapProblemType::InvalidMessage));
    assert_eq!(problem.taskid, Some(pair.task_id()));
    assert_eq!(
        env.aggregation_job(pair.task_id(), job_id).await.unwrap(),
        before
    );
}

#[tokio::test]
async fn report_aggregated_in_two_jobs_is_replayed_in_the_second() {
    let (env, pair) = setup(VdafInstance::Prio3Sum { bits: 8 }).await;
    let reports = sums(&env, &pair, &[5, 6]);
    let (first, _) = pair.leader_init(&[], PartialBatchSelector::TimeInterval, &reports);
    let first_job = AggregationJobId::random();
    assert_eq!(
        env.send(init(&pair, first_job, &first)).await.status,
        StatusCode::CREATED
    );

    let fresh = sums(&env, &pair, &[9]);
    let mixed = vec![reports[0].clone(), fresh[0].clone()];
    let (second, _) = pair.leader_init(&[], PartialBatchSelector::TimeInterval, &mixed);
    let second_job = AggregationJobId::random();
    let response = env.send(init(&pair, second_job, &second)).await;
    assert_eq!(response.status, StatusCode::CREATED);
    let resp: AggregationJobResp = response.message(DapMediaType::AggregationJobResp);
    assert_eq!(
        resp.prepare_resps[0].result,
        PrepareStepResult::Reject(PrepareError::ReportReplayed)
    );
    assert!(matches!(
        resp.prepare_resps[1].result,
        PrepareStepResult::Continue { .. }
    ));
    // Only the fresh report counts in the second job.
    let (_, _, rows) = env
        .aggregation_job(pair.task_id(), second_job)
        .await
        .unwrap();
    assert_eq!(rows.iter().map(|r| r.report_count).sum::<u64>(), 1);
}

#[tokio::test]
async fn report_in_a_collected_batch_is_rejected() {
    let (env, pair) = setup(VdafInstance::Prio3Sum { bits: 8 }).await;
    let task_id = pair.task_id();
    let collected = BatchIdentifier::TimeInterval(batch_interval(&env));
    env.datastore
        .run_tx("t", move |tx| {
            Box::pin(async move { Ok(tx.put_collected_batch(&task_id, &collected, &[]).await?) })
        })
        .await
        .unwrap();
    let reports = sums(&env, &pair, &[1]);
    let (request, _) = pair.leader_init(&[], PartialBatchSelector::TimeInterval, &reports);
    let response = env
        .send(init(&pair, AggregationJobId::random(), &request))
        .await;
    let resp: AggregationJobResp = response.message(DapMediaType::AggregationJobResp);
    assert_eq!(
        resp.prepare_resps[0].result,
        PrepareStepResult::Reject(PrepareError::BatchCollected)
    );
}

#[tokio::test]
async fn missing_or_wrong_token_is_unauthorized_and_stores_nothing() {
    let (env, pair) = setup(VdafInstance::Prio3Sum { bits: 8 }).await;
    let reports = sums(&env, &pair, &[1]);
    let (request, _) = pair.leader_init(&[], PartialBatchSelector::TimeInterval, &reports);
    let job_id = AggregationJobId::random();
    let uri = crate::test_util::helper_requests::job_uri(&pair, job_id);
    let wrong = AuthenticationToken::new_dap_auth("not-the-token").unwrap();
    for request in [
        TestRequest::put(&uri).message(DapMediaType::AggregationJobInitReq, &request),
        TestRequest::put(&uri)
            .token(&wrong)
            .message(DapMediaType::AggregationJobInitReq, &request),
        // The Collector's token is not the Leader's.
        TestRequest::put(&uri)
            .token(&pair.collector_token)
            .message(DapMediaType::AggregationJobInitReq, &request),
    ] {
        let response = env.send(request).await;
        assert_eq!(response.status, StatusCode::FORBIDDEN);
        response.assert_problem(DapProblemType::UnauthorizedRequest, Some(pair.task_id()));
    }
    assert!(env.aggregation_job(pair.task_id(), job_id).await.is_none());
}

#[tokio::test]
async fn malformed_init_is_invalid_message_and_stores_nothing() {
    let (env, pair) = setup(VdafInstance::Prio3Sum { bits: 8 }).await;
    let job_id = AggregationJobId::random();
    let uri = crate::test_util::helper_requests::job_uri(&pair, job_id);
    let response = env
        .send(
            TestRequest::put(&uri)
                .token(&pair.leader_token)
                .bytes(DapMediaType::AggregationJobInitReq, vec![0, 0, 0, 9, 1]),
        )
        .await;
    response.assert_problem(DapProblemType::InvalidMessage, Some(pair.task_id()));
    // A query type other than the task's.
    let reports = sums(&env, &pair, &[1]);
    let selector = PartialBatchSelector::FixedSize(dyad_messages::draft09::BatchId::random());
    let (request, _) = pair.leader_init(&[], selector, &reports);
    let response = env.send(init(&pair, job_id, &request)).await;
    response.assert_problem(DapProblemType::InvalidMessage, Some(pair.task_id()));
    assert!(env.aggregation_job(pair.task_id(), job_id).await.is_none());
}

#[tokio::test]
async fn unknown_task_is_unrecognized() {
    let (env, pair) = setup(VdafInstance::Prio3Sum { bits: 8 }).await;
    let other = TaskPair::time_interval(VdafInstance::Prio3Sum { bits: 8 });
    let reports = sums(&env, &other, &[1]);
    let (request, _) = other.leader_init(&[], PartialBatchSelector::TimeInterval, &reports);
    let response = env
        .send(init(&other, AggregationJobId::random(), &request))
        .await;
    response.assert_problem(DapProblemType::UnrecognizedTask, Some(other.task_id()));
    let _ = pair;
}

#[tokio::test]
async fn delete_withdraws_the_jobs_contribution() {
    let (env, pair) = setup(VdafInstance::Prio3Sum { bits: 8 }).await;
    let reports = sums(&env, &pair, &[3, 4]);
    let (request, _) = pair.leader_init(&[], PartialBatchSelector::TimeInterval, &reports);
    let job_id = AggregationJobId::random();
    assert_eq!(
        env.send(init(&pair, job_id, &request)).await.status,
        StatusCode::CREATED
    );

    let response = env.send(delete_job(&pair, job_id)).await;
    assert_eq!(response.status, StatusCode::NO_CONTENT);
    let (job, _, rows) = env.aggregation_job(pair.task_id(), job_id).await.unwrap();
    assert_eq!(job.state, AggregationJobState::Deleted);
    assert!(rows.iter().all(|r| r.report_count == 0));
    // Deleting again is fine; initializing again is not.
    assert_eq!(
        env.send(delete_job(&pair, job_id)).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        env.send(init(&pair, job_id, &request)).await.status,
        StatusCode::CONFLICT
    );
    // Its reports stay seen.
    let (again, _) = pair.leader_init(&[], PartialBatchSelector::TimeInterval, &reports);
    let response = env
        .send(init(&pair, AggregationJobId::random(), &again))
        .await;
    let resp: AggregationJobResp = response.message(DapMediaType::AggregationJobResp);
    assert!(resp
        .prepare_resps
        .iter()
        .all(|r| r.result == PrepareStepResult::Reject(PrepareError::ReportReplayed)));

    let unknown = env
        .send(delete_job(&pair, AggregationJobId::random()))
        .await;
    unknown.assert_problem(
        DapProblemType::UnrecognizedAggregationJob,
        Some(pair.task_id()),
    );
}

/// A Helper task without keys of its own opens input shares with the
/// global keys, pending ones included (a key every replica holds before any
/// advertises it); a config ID no key has is `hpke_unknown_config_id` for
/// that report alone.
#[tokio::test]
async fn global_keys_open_input_shares_of_a_task_without_keys() {
    use dyad_datastore::models::HpkeKeyState;
    use dyad_messages::draft09::HpkeConfigId;
    let pair = TaskPair::time_interval(VdafInstance::Prio3Sum { bits: 8 });
    let env = TestEnv::new().await;
    env.put_task(&TaskPair::without_keys(&pair.helper)).await;
    env.put_global_key(&pair.helper.hpke_keys()[0], HpkeKeyState::Pending)
        .await;
    let mut reports = sums(&env, &pair, &[3, 4]);
    reports[1]
        .leader_share
        .helper_encrypted_input_share
        .config_id = HpkeConfigId(99);
    let (request, _) = pair.leader_init(&[], PartialBatchSelector::TimeInterval, &reports);
    let response = env
        .send(init(&pair, AggregationJobId::random(), &request))
        .await;
    assert_eq!(response.status, StatusCode::CREATED);
    let resp: AggregationJobResp = response.message(DapMediaType::AggregationJobResp);
    assert!(
        matches!(
            resp.prepare_resps[0].result,
            PrepareStepResult::Continue { .. }
        ),
        "{:?}",
        resp.prepare_resps[0].result
    );
    assert_eq!(
        resp.prepare_resps[1].result,
        PrepareStepResult::Reject(PrepareError::HpkeUnknownConfigId)
    );
}
