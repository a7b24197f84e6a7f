//! The Leader's drivers against this crate's own Helper endpoints
//! (`crate::http` over a second datastore): the two halves of the
//! aggregation and collection sub-protocols, end to end over HTTP.

use super::fixtures::{Env, HelperKind};
use super::*;
use crate::leader::aggregation_step::{self, StepRequest};
use crate::leader::HelperClient;
use dyad_core::task::BatchMode;
use dyad_core::vdaf::{Measurement, VdafInstance};
use dyad_datastore::models::{AggregationJobState, BatchIdentifier};
use dyad_messages::draft09::{FixedSizeQuery, Query};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_interval_histogram_against_the_real_helper() {
    let vdaf = VdafInstance::Prio3Histogram {
        length: 4,
        chunk_length: 2,
    };
    let env = Env::with_helper(HelperKind::Real, vdaf, BatchMode::TimeInterval, 6).await;
    let start = bucket_time(&env, 2);
    let buckets = [0, 1, 1, 3, 3, 3];
    let measurements: Vec<_> = buckets.iter().map(|b| Measurement::Histogram(*b)).collect();
    env.upload(&measurements[..3], start).await;
    env.upload(&measurements[3..], bucket_time(&env, 1)).await;
    let ids = create_jobs(&env, creator_config(1, 4)).await;
    drive_all(&env).await;
    for (job, _) in env.jobs(&ids).await {
        assert_eq!(job.state, AggregationJobState::Finished);
    }
    let batch = interval(start, 2);
    let id = env.put_interval_collection_job(batch).await;
    collection_driver(&env, &collection_config(2))
        .run_once()
        .await
        .unwrap();
    assert_eq!(
        env.collected_result(&env.collection_job(id).await),
        ("[1, 2, 0, 3]".to_owned(), 6)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_init_is_answered_identically_by_the_real_helper() {
    let mode = BatchMode::FixedSize {
        max_batch_size: Some(5),
    };
    let env = Env::with_helper(
        HelperKind::Real,
        VdafInstance::Prio3Sum { bits: 4 },
        mode,
        4,
    )
    .await;
    let values = [3u128, 5, 7, 11];
    let measurements: Vec<_> = values.iter().map(|v| Measurement::Sum(*v)).collect();
    env.upload(&measurements, bucket_time(&env, 1)).await;
    let ids = create_jobs(&env, creator_config(1, 10)).await;

    // The Leader sends the init request but "crashes" before recording the
    // answer: nothing of it is stored.
    let loaded = aggregation_step::load(env.ds().as_ref(), env.task_id(), ids[0])
        .await
        .unwrap()
        .unwrap();
    let Some(StepRequest::Init(request)) = aggregation_step::prepare(&loaded).unwrap().request
    else {
        panic!("a fresh job starts with an init request")
    };
    HelperClient::new(env.http.clone(), std::time::Duration::from_secs(30))
        .init_aggregation_job(&loaded.task, &ids[0], &request)
        .await
        .unwrap();

    // The driver rebuilds the same request; the Helper replays its answer.
    drive_all(&env).await;
    assert_eq!(
        env.jobs(&ids).await[0].0.state,
        AggregationJobState::Finished
    );
    let batch_id = take_current_batch(&env, 4)
        .await
        .expect("the batch is full");
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
    assert_eq!(
        env.collected_result(&env.collection_job(id).await),
        ("26".to_owned(), 4)
    );
}
