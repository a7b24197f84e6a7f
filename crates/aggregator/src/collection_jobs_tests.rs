//! Tests of the Leader's collection job endpoints.

use crate::test_util::fixtures::{TaskPair, PRECISION};
use crate::test_util::{TestEnv, TestRequest};
use axum::http::StatusCode;
use dyad_core::clock::Clock;
use dyad_core::task::BatchMode;
use dyad_core::vdaf::VdafInstance;
use dyad_datastore::models::CollectionJobState;
use dyad_datastore::DatastoreExt;
use dyad_messages::draft09::{
    BatchId, Collection, CollectionJobId, CollectionReq, Duration, FixedSizeQuery, HpkeCiphertext,
    HpkeConfigId, Interval, PartialBatchSelector, Query,
};
use dyad_messages::media_type::DapMediaType;
use dyad_messages::problem::DapProblemType;
use prio::codec::Encode as _;
use prio::idpf::IdpfInput;
use prio::vdaf::poplar1::Poplar1AggregationParam;

fn uri(pair: &TaskPair, job_id: CollectionJobId) -> String {
    format!("/tasks/{}/collection_jobs/{job_id}", pair.task_id())
}

fn put(pair: &TaskPair, job_id: CollectionJobId, request: &CollectionReq) -> TestRequest {
    TestRequest::put(uri(pair, job_id))
        .token(&pair.collector_token)
        .message(DapMediaType::CollectionReq, request)
}

fn poll(pair: &TaskPair, job_id: CollectionJobId) -> TestRequest {
    TestRequest::post(uri(pair, job_id)).token(&pair.collector_token)
}

fn delete(pair: &TaskPair, job_id: CollectionJobId) -> TestRequest {
    TestRequest::delete(uri(pair, job_id)).token(&pair.collector_token)
}

fn hour(env: &TestEnv, hours: u64) -> Interval {
    let start = env.clock.now().to_batch_interval_start(PRECISION);
    Interval::new(
        start,
        Duration::from_seconds(hours * PRECISION.as_seconds()),
    )
    .unwrap()
}

fn interval_query(interval: Interval) -> CollectionReq {
    CollectionReq::new(Query::TimeInterval(interval), vec![])
}

async fn setup() -> (TestEnv, TaskPair) {
    let pair = TaskPair::time_interval(VdafInstance::Prio3Count);
    let env = TestEnv::with_tasks(&[&pair.leader]).await;
    (env, pair)
}

fn ciphertext(byte: u8) -> HpkeCiphertext {
    HpkeCiphertext {
        config_id: HpkeConfigId(200),
        encapsulated_key: vec![byte; 32],
        payload: vec![byte; 48],
    }
}

async fn set_state(
    env: &TestEnv,
    pair: &TaskPair,
    job_id: CollectionJobId,
    state: CollectionJobState,
) {
    let mut job = env.collection_job(pair.task_id(), job_id).await.unwrap();
    job.state = state;
    env.datastore
        .run_tx("t", move |tx| {
            let job = job.clone();
            Box::pin(async move { Ok(tx.update_collection_job(&job, None).await?) })
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn job_lifecycle_pending_finished_deleted() {
    let (env, pair) = setup().await;
    let job_id = CollectionJobId::random();
    let request = interval_query(hour(&env, 1));
    assert_eq!(
        env.send(put(&pair, job_id, &request)).await.status,
        StatusCode::CREATED
    );
    // The same PUT again is fine.
    assert_eq!(
        env.send(put(&pair, job_id, &request)).await.status,
        StatusCode::CREATED
    );

    let pending = env.send(poll(&pair, job_id)).await;
    assert_eq!(pending.status, StatusCode::ACCEPTED);
    // Nothing left to aggregate: poll again in a second, not the configured
    // maximum of 5.
    assert_eq!(pending.header("retry-after"), Some("1"));

    let interval = hour(&env, 1);
    set_state(
        &env,
        &pair,
        job_id,
        CollectionJobState::Finished {
            report_count: 12,
            interval,
            leader_encrypted_agg_share: ciphertext(1),
            helper_encrypted_agg_share: ciphertext(2),
        },
    )
    .await;
    let finished = env.send(poll(&pair, job_id)).await;
    assert_eq!(finished.status, StatusCode::OK);
    let collection: Collection = finished.message(DapMediaType::Collection);
    assert_eq!(
        collection.partial_batch_selector,
        PartialBatchSelector::TimeInterval
    );
    assert_eq!(
        (collection.report_count, collection.interval),
        (12, interval)
    );
    assert_eq!(collection.leader_encrypted_agg_share, ciphertext(1));
    assert_eq!(collection.helper_encrypted_agg_share, ciphertext(2));

    assert_eq!(
        env.send(delete(&pair, job_id)).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        env.collection_job(pair.task_id(), job_id)
            .await
            .unwrap()
            .state,
        CollectionJobState::Deleted
    );
    let deleted = env.send(poll(&pair, job_id)).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert!(deleted.body.is_empty());
    assert_eq!(
        env.send(delete(&pair, job_id)).await.status,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn failed_job_answers_with_its_problem() {
    let (env, pair) = setup().await;
    let job_id = CollectionJobId::random();
    assert_eq!(
        env.send(put(&pair, job_id, &interval_query(hour(&env, 1))))
            .await
            .status,
        StatusCode::CREATED
    );
    set_state(
        &env,
        &pair,
        job_id,
        CollectionJobState::Failed {
            problem_type: DapProblemType::BatchMismatch,
            detail: "the Helper disagrees".into(),
        },
    )
    .await;
    let response = env.send(poll(&pair, job_id)).await;
    response.assert_problem(DapProblemType::BatchMismatch, Some(pair.task_id()));
    assert_eq!(
        response.problem().detail.as_deref(),
        Some("the Helper disagrees")
    );
}

#[tokio::test]
async fn changed_request_for_the_same_job_is_409() {
    let (env, pair) = setup().await;
    let job_id = CollectionJobId::random();
    let first = interval_query(hour(&env, 1));
    assert_eq!(
        env.send(put(&pair, job_id, &first)).await.status,
        StatusCode::CREATED
    );
    let before = env.collection_job(pair.task_id(), job_id).await.unwrap();
    let response = env
        .send(put(&pair, job_id, &interval_query(hour(&env, 2))))
        .await;
    assert_eq!(response.status, StatusCode::CONFLICT);
    assert_eq!(
        response.problem().dap_type(),
        Some(DapProblemType::InvalidMessage)
    );
    assert_eq!(
        env.collection_job(pair.task_id(), job_id).await.unwrap(),
        before
    );
}

#[tokio::test]
async fn missing_or_wrong_token_is_unauthorized() {
    let (env, pair) = setup().await;
    let job_id = CollectionJobId::random();
    let request = interval_query(hour(&env, 1));
    for attempt in [
        TestRequest::put(uri(&pair, job_id)).message(DapMediaType::CollectionReq, &request),
        TestRequest::put(uri(&pair, job_id))
            .token(&pair.leader_token)
            .message(DapMediaType::CollectionReq, &request),
        TestRequest::post(uri(&pair, job_id)),
        TestRequest::delete(uri(&pair, job_id)).token(&pair.leader_token),
    ] {
        let response = env.send(attempt).await;
        response.assert_problem(DapProblemType::UnauthorizedRequest, Some(pair.task_id()));
    }
    assert!(env.collection_job(pair.task_id(), job_id).await.is_none());
}

#[tokio::test]
async fn misaligned_interval_is_batch_invalid() {
    let (env, pair) = setup().await;
    let job_id = CollectionJobId::random();
    let interval = hour(&env, 1);
    for bad in [
        Interval::new(
            interval
                .start()
                .checked_add(Duration::from_seconds(60))
                .unwrap(),
            PRECISION,
        )
        .unwrap(),
        Interval::new(
            interval.start(),
            Duration::from_seconds(PRECISION.as_seconds() + 1),
        )
        .unwrap(),
        Interval::new(interval.start(), Duration::from_seconds(0)).unwrap(),
    ] {
        let response = env.send(put(&pair, job_id, &interval_query(bad))).await;
        response.assert_problem(DapProblemType::BatchInvalid, Some(pair.task_id()));
    }
    assert!(env.collection_job(pair.task_id(), job_id).await.is_none());
}

#[tokio::test]
async fn overlapping_interval_is_batch_overlap() {
    let (env, pair) = setup().await;
    let first = CollectionJobId::random();
    assert_eq!(
        env.send(put(&pair, first, &interval_query(hour(&env, 1))))
            .await
            .status,
        StatusCode::CREATED
    );
    let second = CollectionJobId::random();
    let response = env
        .send(put(&pair, second, &interval_query(hour(&env, 2))))
        .await;
    response.assert_problem(DapProblemType::BatchOverlap, Some(pair.task_id()));
    assert!(env.collection_job(pair.task_id(), second).await.is_none());
    // The identical interval is the same batch again: allowed.
    let third = CollectionJobId::random();
    assert_eq!(
        env.send(put(&pair, third, &interval_query(hour(&env, 1))))
            .await
            .status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn new_parameter_beyond_the_query_limit_is_refused() {
    let pair = TaskPair::time_interval(VdafInstance::Poplar1 { bits: 4 });
    let env = TestEnv::with_tasks(&[&pair.leader]).await;
    let param = |bit: bool| {
        Poplar1AggregationParam::try_from_prefixes(vec![IdpfInput::from_bools(&[bit])])
            .unwrap()
            .get_encoded()
            .unwrap()
    };
    let interval = hour(&env, 1);
    let request = |bit| CollectionReq::new(Query::TimeInterval(interval), param(bit));
    assert_eq!(
        env.send(put(&pair, CollectionJobId::random(), &request(false)))
            .await
            .status,
        StatusCode::CREATED
    );
    let refused = CollectionJobId::random();
    let response = env.send(put(&pair, refused, &request(true))).await;
    response.assert_problem(
        DapProblemType::BatchQueriedTooManyTimes,
        Some(pair.task_id()),
    );
    assert!(env.collection_job(pair.task_id(), refused).await.is_none());
    // The parameter already used does not count again.
    assert_eq!(
        env.send(put(&pair, CollectionJobId::random(), &request(false)))
            .await
            .status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn deleted_pending_job_frees_its_query() {
    let (env, pair) = setup().await;
    let first = CollectionJobId::random();
    assert_eq!(
        env.send(put(&pair, first, &interval_query(hour(&env, 1))))
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        env.send(delete(&pair, first)).await.status,
        StatusCode::NO_CONTENT
    );
    // Nothing was asked of the Helper for it: a wider interval no longer overlaps.
    let second = CollectionJobId::random();
    assert_eq!(
        env.send(put(&pair, second, &interval_query(hour(&env, 2))))
            .await
            .status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn unknown_job_is_404() {
    let (env, pair) = setup().await;
    for request in [
        poll(&pair, CollectionJobId::random()),
        delete(&pair, CollectionJobId::random()),
    ] {
        let response = env.send(request).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND);
        let problem = response.problem();
        assert_eq!(problem.type_uri, "about:blank");
        assert_eq!(problem.taskid, Some(pair.task_id()));
    }
}

#[tokio::test]
async fn wrong_query_type_or_parameter_is_invalid_message() {
    let (env, pair) = setup().await;
    let job_id = CollectionJobId::random();
    for request in [
        CollectionReq::new(Query::FixedSize(FixedSizeQuery::CurrentBatch), vec![]),
        CollectionReq::new(Query::TimeInterval(hour(&env, 1)), vec![1, 2, 3]),
    ] {
        let response = env.send(put(&pair, job_id, &request)).await;
        response.assert_problem(DapProblemType::InvalidMessage, Some(pair.task_id()));
    }
    let response = env
        .send(
            TestRequest::put(uri(&pair, job_id))
                .token(&pair.collector_token)
                .bytes(DapMediaType::CollectionReq, vec![9, 9]),
        )
        .await;
    response.assert_problem(DapProblemType::InvalidMessage, Some(pair.task_id()));
    assert!(env.collection_job(pair.task_id(), job_id).await.is_none());
}

#[tokio::test]
async fn fixed_size_queries_need_a_known_or_ready_batch() {
    let pair = TaskPair::new(
        VdafInstance::Prio3Count,
        BatchMode::FixedSize {
            max_batch_size: None,
        },
    );
    let env = TestEnv::with_tasks(&[&pair.leader]).await;
    let job_id = CollectionJobId::random();
    let by_id = CollectionReq::new(
        Query::FixedSize(FixedSizeQuery::ByBatchId(BatchId::random())),
        vec![],
    );
    let response = env.send(put(&pair, job_id, &by_id)).await;
    response.assert_problem(DapProblemType::BatchInvalid, Some(pair.task_id()));
    let current = CollectionReq::new(Query::FixedSize(FixedSizeQuery::CurrentBatch), vec![]);
    let response = env.send(put(&pair, job_id, &current)).await;
    response.assert_problem(DapProblemType::InvalidBatchSize, Some(pair.task_id()));
    assert!(env.collection_job(pair.task_id(), job_id).await.is_none());
}

#[tokio::test]
async fn helper_task_has_no_collection_jobs() {
    let pair = TaskPair::time_interval(VdafInstance::Prio3Count);
    let env = TestEnv::with_tasks(&[&pair.helper]).await;
    let response = env
        .send(put(
            &pair,
            CollectionJobId::random(),
            &interval_query(hour(&env, 1)),
        ))
        .await;
    response.assert_problem(DapProblemType::UnrecognizedTask, Some(pair.task_id()));
}

#[test]
fn retry_after_is_one_second_when_little_is_left_and_grows_with_the_work_up_to_the_maximum() {
    use super::{pending_retry_after, PendingWork};
    let max = std::time::Duration::from_secs(5);
    let secs = |unfinished_jobs, unaggregated_reports| {
        pending_retry_after(
            PendingWork {
                unfinished_jobs,
                unaggregated_reports,
            },
            max,
        )
        .as_secs()
    };
    assert_eq!(secs(0, 0), 1);
    assert_eq!(secs(3, 100), 1, "a few jobs left");
    assert_eq!(secs(16, 0), 3);
    assert_eq!(secs(0, 4000), 3);
    assert_eq!(secs(8, 2000), 3);
    assert_eq!(secs(1000, 1_000_000), 5, "capped at the configured maximum");
    assert_eq!(secs(u64::MAX, u64::MAX), 5);
    // A maximum of 0 still asks for a second, never a busy loop.
    assert_eq!(
        pending_retry_after(PendingWork::default(), std::time::Duration::ZERO).as_secs(),
        1
    );
}

/// A Poplar1 parameter as a careless Collector might encode it, without
/// `try_from_prefixes`' checks (VDAF-08 section 8.2.6.4: level, count, the
/// prefixes packed into one big-endian integer, the first in the lowest
/// bits).
fn raw_poplar1_param(level: u16, prefixes: &[u64]) -> Vec<u8> {
    let width = u32::from(level) + 1;
    let packed = prefixes.iter().enumerate().fold(0u128, |acc, (i, p)| {
        acc | u128::from(*p) << (i as u32 * width)
    });
    let len = (width as usize * prefixes.len()).div_ceil(8);
    let mut out = level.to_be_bytes().to_vec();
    out.extend((prefixes.len() as u32).to_be_bytes());
    out.extend(&packed.to_be_bytes()[16 - len..]);
    out
}

/// VDAF-08 sections 8.2.6.6 and 8.2.3 with DAP-09 section 4.6.5: a Poplar1
/// batch is collected once per level, in any order (a shallower level not
/// collected yet is taken), with well-formed parameters, at most
/// `max_batch_query_count` times. Each refusal is the spec's problem and
/// stores nothing.
#[tokio::test]
async fn poplar1_collections_of_a_batch_take_each_level_once_with_well_formed_parameters() {
    let mut pair = TaskPair::time_interval(VdafInstance::Poplar1 { bits: 4 });
    pair.leader = pair
        .leader
        .to_builder()
        .max_batch_query_count(3)
        .build()
        .unwrap();
    let env = TestEnv::with_tasks(&[&pair.leader]).await;
    let interval = hour(&env, 1);
    let request = |param: Vec<u8>| CollectionReq::new(Query::TimeInterval(interval), param);
    let level1 = raw_poplar1_param(1, &[0b10]);
    assert_eq!(
        Poplar1AggregationParam::try_from_prefixes(vec![IdpfInput::from_bools(&[true, false])])
            .unwrap()
            .get_encoded()
            .unwrap(),
        level1,
        "the raw encoding is prio's"
    );
    assert_eq!(
        env.send(put(
            &pair,
            CollectionJobId::random(),
            &request(level1.clone())
        ))
        .await
        .status,
        StatusCode::CREATED
    );
    let refusals = [
        ("repeated level", raw_poplar1_param(1, &[0b11])),
        ("unsorted prefixes", raw_poplar1_param(2, &[0b101, 0b100])),
        ("duplicated prefixes", raw_poplar1_param(2, &[0b100, 0b100])),
        ("level beyond the strings", raw_poplar1_param(4, &[0])),
    ];
    for (case, param) in refusals {
        let job_id = CollectionJobId::random();
        let response = env.send(put(&pair, job_id, &request(param))).await;
        assert_eq!(
            response.problem().dap_type(),
            Some(DapProblemType::InvalidMessage),
            "{case}"
        );
        assert!(
            env.collection_job(pair.task_id(), job_id).await.is_none(),
            "{case}"
        );
    }
    for (level, prefixes) in [(0, &[0, 1][..]), (2, &[0b100, 0b101][..])] {
        assert_eq!(
            env.send(put(
                &pair,
                CollectionJobId::random(),
                &request(raw_poplar1_param(level, prefixes))
            ))
            .await
            .status,
            StatusCode::CREATED,
            "level {level}"
        );
    }
    let refused = CollectionJobId::random();
    let response = env
        .send(put(
            &pair,
            refused,
            &request(raw_poplar1_param(3, &[0b1000])),
        ))
        .await;
    response.assert_problem(
        DapProblemType::BatchQueriedTooManyTimes,
        Some(pair.task_id()),
    );
    assert!(env.collection_job(pair.task_id(), refused).await.is_none());
    // The same level-1 collection again is not a new query.
    assert_eq!(
        env.send(put(&pair, CollectionJobId::random(), &request(level1)))
            .await
            .status,
        StatusCode::CREATED
    );
}

/// A parameter chosen at collection is aggregated per time-interval batch;
/// a fixed-size Poplar1 collection is refused with `invalidMessage`.
#[tokio::test]
async fn poplar1_fixed_size_collections_are_refused() {
    let pair = TaskPair::new(
        VdafInstance::Poplar1 { bits: 4 },
        BatchMode::FixedSize {
            max_batch_size: None,
        },
    );
    let env = TestEnv::with_tasks(&[&pair.leader]).await;
    let job_id = CollectionJobId::random();
    let request = CollectionReq::new(
        Query::FixedSize(FixedSizeQuery::CurrentBatch),
        raw_poplar1_param(0, &[0, 1]),
    );
    let response = env.send(put(&pair, job_id, &request)).await;
    response.assert_problem(DapProblemType::InvalidMessage, Some(pair.task_id()));
    assert!(env.collection_job(pair.task_id(), job_id).await.is_none());
}
