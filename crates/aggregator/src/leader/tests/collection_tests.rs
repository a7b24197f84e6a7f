//! The collection job driver: waiting for the batch, validation, the
//! Helper's problems and transient failures, fixed-size batches.

use super::fixtures::Env;
use super::helper_stub::{Fault, Route};
use super::*;
use dyad_core::task::BatchMode;
use dyad_core::vdaf::{Measurement, VdafInstance};
use dyad_datastore::models::{BatchIdentifier, CollectionJobState};
use dyad_messages::draft09::{CollectionJobId, FixedSizeQuery, Query};
use dyad_messages::problem::DapProblemType;

fn counts(ones: usize, zeros: usize) -> Vec<Measurement> {
    let mut out = vec![Measurement::Count(true); ones];
    out.extend(vec![Measurement::Count(false); zeros]);
    out
}

async fn interval_job(env: &Env, start: Time, buckets: u64) -> CollectionJobId {
    let batch = interval(start, buckets);
    env.put_interval_collection_job(batch).await
}

async fn state(env: &Env, id: CollectionJobId) -> CollectionJobState {
    env.collection_job(id).await.state
}

#[tokio::test]
async fn the_job_waits_for_aggregation_and_min_batch_size() {
    let env = Env::new(VdafInstance::Prio3Count, BatchMode::TimeInterval, 5).await;
    let start = bucket_time(&env, 2);
    env.upload(&counts(2, 1), start).await;
    let id = interval_job(&env, start, 2).await;
    let driver = collection_driver(&env, &collection_config(2));

    // Reports not yet in jobs, then jobs not yet driven: wait.
    assert_eq!(driver.run_once().await.unwrap(), 1);
    assert_eq!(state(&env, id).await, CollectionJobState::Start);
    create_jobs(&env, creator_config(1, 10)).await;
    env.clock().advance(Duration::from_seconds(1));
    driver.run_once().await.unwrap();
    assert_eq!(state(&env, id).await, CollectionJobState::Start);
    // Aggregated, but 3 < min_batch_size 5: wait.
    drive_all(&env).await;
    env.clock().advance(Duration::from_seconds(1));
    driver.run_once().await.unwrap();
    assert_eq!(state(&env, id).await, CollectionJobState::Start);
    assert_eq!(env.stub().requests(Route::AggregateShare), 0);

    // Waiting never counted as an attempt (max_attempts is 2).
    env.upload(&counts(1, 1), bucket_time(&env, 1)).await;
    create_jobs(&env, creator_config(1, 10)).await;
    drive_all(&env).await;
    env.clock().advance(Duration::from_seconds(1));
    driver.run_once().await.unwrap();
    let job = env.collection_job(id).await;
    let CollectionJobState::Finished { interval: got, .. } = job.state else {
        panic!("not finished: {:?}", job.state)
    };
    assert_eq!(
        got,
        interval(start, 2),
        "the smallest aligned interval of the reports"
    );
    assert_eq!(env.collected_result(&job), ("3".to_owned(), 5));
}

#[tokio::test]
async fn later_reports_of_a_collected_interval_are_ignored() {
    let env = Env::new(VdafInstance::Prio3Count, BatchMode::TimeInterval, 2).await;
    let start = bucket_time(&env, 1);
    env.upload(&counts(2, 0), start).await;
    create_jobs(&env, creator_config(1, 10)).await;
    drive_all(&env).await;
    let id = interval_job(&env, start, 1).await;
    collection_driver(&env, &collection_config(2))
        .run_once()
        .await
        .unwrap();
    assert_eq!(env.collected_result(&env.collection_job(id).await).1, 2);

    env.upload(&counts(3, 0), start).await;
    let creator = AggregationJobCreator::new(env.ds(), creator_config(1, 10));
    let summary = creator.run_once(&CancellationToken::new()).await.unwrap();
    assert_eq!((summary.jobs_created, summary.reports_skipped), (0, 3));

    // Collecting the same interval again still gives the same batch.
    let again = interval_job(&env, start, 1).await;
    collection_driver(&env, &collection_config(2))
        .run_once()
        .await
        .unwrap();
    assert_eq!(
        env.collected_result(&env.collection_job(again).await),
        ("2".to_owned(), 2)
    );
}

#[tokio::test]
async fn an_overlapping_query_fails_with_batch_overlap() {
    let env = Env::new(VdafInstance::Prio3Count, BatchMode::TimeInterval, 1).await;
    let start = bucket_time(&env, 2);
    env.upload(&counts(1, 0), start).await;
    env.upload(&counts(1, 0), bucket_time(&env, 1)).await;
    create_jobs(&env, creator_config(1, 10)).await;
    drive_all(&env).await;
    let first = interval_job(&env, start, 1).await;
    let driver = collection_driver(&env, &collection_config(2));
    driver.run_once().await.unwrap();
    assert!(matches!(
        state(&env, first).await,
        CollectionJobState::Finished { .. }
    ));

    let overlapping = interval_job(&env, start, 2).await;
    driver.run_once().await.unwrap();
    match state(&env, overlapping).await {
        CollectionJobState::Failed { problem_type, .. } => {
            assert_eq!(problem_type, DapProblemType::BatchOverlap)
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    assert_eq!(env.stub().requests(Route::AggregateShare), 1);
}

#[tokio::test]
async fn a_helper_problem_fails_the_job_with_that_problem() {
    let env = Env::new(VdafInstance::Prio3Count, BatchMode::TimeInterval, 1).await;
    let start = bucket_time(&env, 1);
    env.upload(&counts(1, 1), start).await;
    create_jobs(&env, creator_config(1, 10)).await;
    drive_all(&env).await;
    env.stub().inject(
        Route::AggregateShare,
        Fault::Status(400, Some(DapProblemType::BatchMismatch)),
    );
    let id = interval_job(&env, start, 1).await;
    collection_driver(&env, &collection_config(5))
        .run_once()
        .await
        .unwrap();
    match state(&env, id).await {
        CollectionJobState::Failed { problem_type, .. } => {
            assert_eq!(problem_type, DapProblemType::BatchMismatch)
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test]
async fn transient_helper_failures_are_retried_then_abandoned() {
    let env = Env::new(VdafInstance::Prio3Count, BatchMode::TimeInterval, 1).await;
    let start = bucket_time(&env, 1);
    env.upload(&counts(1, 0), start).await;
    create_jobs(&env, creator_config(1, 10)).await;
    drive_all(&env).await;
    let driver = collection_driver(&env, &collection_config(2));

    // One 503, then success.
    env.stub()
        .inject(Route::AggregateShare, Fault::Status(503, None));
    let id = interval_job(&env, start, 1).await;
    driver.run_once().await.unwrap();
    assert_eq!(state(&env, id).await, CollectionJobState::Start);
    env.clock().advance(Duration::from_seconds(1));
    driver.run_once().await.unwrap();
    assert_eq!(
        env.collected_result(&env.collection_job(id).await),
        ("1".to_owned(), 1)
    );

    // Failing every time: abandoned after max_attempts.
    env.upload(&counts(1, 0), bucket_time(&env, 0)).await;
    create_jobs(&env, creator_config(1, 10)).await;
    drive_all(&env).await;
    for _ in 0..2 {
        env.stub()
            .inject(Route::AggregateShare, Fault::Status(502, None));
    }
    let doomed = interval_job(&env, bucket_time(&env, 0), 1).await;
    driver.run_once().await.unwrap();
    env.clock().advance(Duration::from_seconds(1));
    driver.run_once().await.unwrap();
    assert_eq!(state(&env, doomed).await, CollectionJobState::Abandoned);
}

#[tokio::test]
async fn a_current_batch_query_collects_a_full_fixed_size_batch() {
    let mode = BatchMode::FixedSize {
        max_batch_size: Some(4),
    };
    let env = Env::new(VdafInstance::Prio3Count, mode, 3).await;
    env.upload(&counts(2, 1), bucket_time(&env, 1)).await;
    env.upload(&counts(0, 2), bucket_time(&env, 0)).await;
    create_jobs(&env, creator_config(1, 2)).await;
    drive_all(&env).await;
    let batch_id = take_current_batch(&env, 3)
        .await
        .expect("a batch reached 3 reports");
    let id = env
        .put_collection_job(
            Query::FixedSize(FixedSizeQuery::CurrentBatch),
            BatchIdentifier::FixedSize(batch_id),
            vec![],
        )
        .await;
    collection_driver(&env, &collection_config(2))
        .run_once()
        .await
        .unwrap();
    let job = env.collection_job(id).await;
    // The oldest reports went first into the batch: two ones and a zero.
    assert_eq!(env.collected_result(&job), ("2".to_owned(), 3));
    assert!(
        take_current_batch(&env, 3).await.is_none(),
        "the other batch has 2"
    );
}
