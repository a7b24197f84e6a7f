//! Tests of the Helper's aggregate share endpoint: batch validation, the
//! count and checksum check, and that a refused request records nothing.

use crate::test_util::fixtures::{TaskPair, PRECISION};
use crate::test_util::helper_requests::{aggregate_share, init};
use crate::test_util::TestEnv;
use axum::http::StatusCode;
use dyad_core::clock::Clock;
use dyad_core::task::BatchMode;
use dyad_core::vdaf::{AggregateResult, Measurement, VdafInstance};
use dyad_datastore::models::BatchIdentifier;
use dyad_datastore::DatastoreExt;
use dyad_messages::draft09::{
    AggregateShareReq, AggregationJobId, AggregationJobResp, BatchId, BatchSelector, Duration,
    Interval, PartialBatchSelector, ReportIdChecksum, TaskId,
};
use dyad_messages::media_type::DapMediaType;
use dyad_messages::problem::DapProblemType;

/// A Helper with a finished Prio3Count job over `n` reports at the clock's
/// time; the Leader's share, count and checksum.
async fn aggregated(pair: &TaskPair, n: usize) -> (TestEnv, Vec<u8>, u64, ReportIdChecksum) {
    let env = TestEnv::with_tasks(&[&pair.helper]).await;
    let reports: Vec<_> = (0..n)
        .map(|i| pair.report(&Measurement::Count(i % 2 == 0), env.clock.now()))
        .collect();
    let selector = match pair.helper.batch_mode() {
        BatchMode::TimeInterval => PartialBatchSelector::TimeInterval,
        BatchMode::FixedSize { .. } => {
            PartialBatchSelector::FixedSize(BatchId::from_bytes([1; 32]))
        }
    };
    let (request, states) = pair.leader_init(&[], selector, &reports);
    let response = env
        .send(init(pair, AggregationJobId::random(), &request))
        .await;
    let resp: AggregationJobResp = response.message(DapMediaType::AggregationJobResp);
    let states = pair.leader_process(&[], &states, &resp);
    let (share, count, checksum) = pair.leader_aggregate(&[], &states);
    (env, share, count, checksum)
}

fn bucket(env: &TestEnv) -> Interval {
    Interval::new(
        env.clock.now().to_batch_interval_start(PRECISION),
        PRECISION,
    )
    .unwrap()
}

fn request(selector: BatchSelector, count: u64, checksum: ReportIdChecksum) -> AggregateShareReq {
    AggregateShareReq {
        batch_selector: selector,
        aggregation_parameter: vec![],
        report_count: count,
        checksum,
    }
}

async fn queries(env: &TestEnv, task_id: TaskId, batch: BatchIdentifier) -> usize {
    env.datastore
        .run_read_tx("t", move |tx| {
            Box::pin(async move { Ok(tx.get_collected_batches(&task_id, &batch).await?.len()) })
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn misaligned_interval_is_batch_invalid() {
    let pair = TaskPair::time_interval(VdafInstance::Prio3Count);
    let (env, _, count, checksum) = aggregated(&pair, 2).await;
    let start = bucket(&env)
        .start()
        .checked_add(Duration::from_seconds(1))
        .unwrap();
    let misaligned = Interval::new(start, PRECISION).unwrap();
    let response = env
        .send(aggregate_share(
            &pair,
            &request(BatchSelector::TimeInterval(misaligned), count, checksum),
        ))
        .await;
    response.assert_problem(DapProblemType::BatchInvalid, Some(pair.task_id()));
    assert_eq!(
        queries(
            &env,
            pair.task_id(),
            BatchIdentifier::TimeInterval(misaligned)
        )
        .await,
        0
    );
}

#[tokio::test]
async fn too_few_reports_is_invalid_batch_size() {
    let pair = TaskPair::time_interval(VdafInstance::Prio3Count);
    let (env, _, count, checksum) = aggregated(&pair, 1).await;
    let selector = BatchSelector::TimeInterval(bucket(&env));
    let response = env
        .send(aggregate_share(&pair, &request(selector, count, checksum)))
        .await;
    response.assert_problem(DapProblemType::InvalidBatchSize, Some(pair.task_id()));
    assert_eq!(
        queries(
            &env,
            pair.task_id(),
            BatchIdentifier::TimeInterval(bucket(&env))
        )
        .await,
        0
    );
}

#[tokio::test]
async fn other_count_or_checksum_is_batch_mismatch() {
    let pair = TaskPair::time_interval(VdafInstance::Prio3Count);
    let (env, leader_share, count, checksum) = aggregated(&pair, 3).await;
    let selector = BatchSelector::TimeInterval(bucket(&env));
    for wrong in [
        request(selector, count - 1, checksum),
        request(selector, count, ReportIdChecksum([7; 32])),
    ] {
        let response = env.send(aggregate_share(&pair, &wrong)).await;
        response.assert_problem(DapProblemType::BatchMismatch, Some(pair.task_id()));
    }
    let batch = BatchIdentifier::TimeInterval(bucket(&env));
    assert_eq!(queries(&env, pair.task_id(), batch).await, 0);
    // The right request still works, and one with other numbers after it
    // is a mismatch too.
    let right = request(selector, count, checksum);
    let response = env.send(aggregate_share(&pair, &right)).await;
    assert_eq!(response.status, StatusCode::OK);
    let share = response.message(DapMediaType::AggregateShare);
    assert_eq!(
        pair.collect(&[], selector, &leader_share, &share, count),
        AggregateResult::Count(2)
    );
    let response = env
        .send(aggregate_share(
            &pair,
            &request(selector, count + 1, checksum),
        ))
        .await;
    response.assert_problem(DapProblemType::BatchMismatch, Some(pair.task_id()));
}

#[tokio::test]
async fn overlapping_interval_is_batch_overlap() {
    let pair = TaskPair::time_interval(VdafInstance::Prio3Count);
    let (env, _, count, checksum) = aggregated(&pair, 2).await;
    let first = BatchSelector::TimeInterval(bucket(&env));
    assert_eq!(
        env.send(aggregate_share(&pair, &request(first, count, checksum)))
            .await
            .status,
        StatusCode::OK
    );
    let wider = Interval::new(
        bucket(&env).start(),
        Duration::from_seconds(2 * PRECISION.as_seconds()),
    )
    .unwrap();
    let response = env
        .send(aggregate_share(
            &pair,
            &request(BatchSelector::TimeInterval(wider), count, checksum),
        ))
        .await;
    response.assert_problem(DapProblemType::BatchOverlap, Some(pair.task_id()));
    assert_eq!(
        queries(&env, pair.task_id(), BatchIdentifier::TimeInterval(wider)).await,
        1
    );
}

#[tokio::test]
async fn query_type_of_another_task_kind_is_invalid_message() {
    let pair = TaskPair::time_interval(VdafInstance::Prio3Count);
    let (env, _, count, checksum) = aggregated(&pair, 2).await;
    let selector = BatchSelector::FixedSize(BatchId::random());
    let response = env
        .send(aggregate_share(&pair, &request(selector, count, checksum)))
        .await;
    response.assert_problem(DapProblemType::InvalidMessage, Some(pair.task_id()));
}

#[tokio::test]
async fn fixed_size_batch_is_shared_and_unknown_batch_is_invalid() {
    let pair = TaskPair::new(
        VdafInstance::Prio3Count,
        BatchMode::FixedSize {
            max_batch_size: Some(10),
        },
    );
    let (env, leader_share, count, checksum) = aggregated(&pair, 3).await;
    let unknown = BatchSelector::FixedSize(BatchId::from_bytes([2; 32]));
    let response = env
        .send(aggregate_share(&pair, &request(unknown, count, checksum)))
        .await;
    response.assert_problem(DapProblemType::BatchInvalid, Some(pair.task_id()));
    let known = BatchSelector::FixedSize(BatchId::from_bytes([1; 32]));
    let response = env
        .send(aggregate_share(&pair, &request(known, count, checksum)))
        .await;
    assert_eq!(response.status, StatusCode::OK);
    let share = response.message(DapMediaType::AggregateShare);
    assert_eq!(
        pair.collect(&[], known, &leader_share, &share, count),
        AggregateResult::Count(2)
    );
}

#[tokio::test]
async fn a_noised_task_answers_a_noisy_share_once_and_replays_it_unchanged() {
    use dyad_core::vdaf::{unshard_noised, DpStrategy, NoisedResult};
    use dyad_messages::draft09::{AggregateShare, Role};
    const BUCKETS: u32 = 20;
    let mut pair = TaskPair::time_interval(VdafInstance::Prio3Histogram {
        length: BUCKETS,
        chunk_length: 4,
    });
    let strategy: DpStrategy = "PureDpDiscreteLaplace:1/2".parse().unwrap();
    for task in [&mut pair.leader, &mut pair.helper] {
        *task = task
            .to_builder()
            .dp_strategy(strategy.clone())
            .build()
            .unwrap();
    }
    let env = TestEnv::with_tasks(&[&pair.helper]).await;
    let buckets = [0usize, 3, 3, 7];
    let reports: Vec<_> = buckets
        .iter()
        .map(|b| pair.report(&Measurement::Histogram(*b), env.clock.now()))
        .collect();
    let (init_request, states) =
        pair.leader_init(&[], PartialBatchSelector::TimeInterval, &reports);
    let response = env
        .send(init(&pair, AggregationJobId::random(), &init_request))
        .await;
    let resp: AggregationJobResp = response.message(DapMediaType::AggregationJobResp);
    let states = pair.leader_process(&[], &states, &resp);
    // The Leader's share without noise: what the Collector gets back is the
    // true count plus the Helper's noise alone.
    let (leader_share, count, checksum) = pair.leader_aggregate(&[], &states);
    let selector = BatchSelector::TimeInterval(bucket(&env));
    let req = request(selector, count, checksum);

    let first = env.send(aggregate_share(&pair, &req)).await;
    assert_eq!(first.status, StatusCode::OK);
    let first: AggregateShare = first.message(DapMediaType::AggregateShare);
    // A retried request gets the stored answer: the same ciphertext, not a
    // new draw of noise.
    let again: AggregateShare = env
        .send(aggregate_share(&pair, &req))
        .await
        .message(DapMediaType::AggregateShare);
    assert_eq!(again, first);

    let helper_share = pair.open_share(
        Role::Helper,
        &[],
        selector,
        &first.encrypted_aggregate_share,
    );
    let NoisedResult::Integers(noisy) =
        unshard_noised(pair.helper.vdaf(), &leader_share, &helper_share, count).unwrap()
    else {
        panic!("not integers")
    };
    let mut truth = vec![0i128; BUCKETS as usize];
    for b in buckets {
        truth[b] += 1;
    }
    // Discrete Laplace of scale 4: |noise| >= 120 has probability
    // 2 e^-30 / 1.78 = 1e-13 per bucket; no noise in all 20 buckets has
    // probability 0.124^20 = 7e-19.
    for (i, (n, t)) in noisy.iter().zip(&truth).enumerate() {
        assert!((n - t).abs() < 120, "bucket {i}: {n} vs {t}");
    }
    assert_ne!(noisy, truth, "the Helper added no noise");
}
