//! The three loops together, in real time: reports in, a collection out,
//! and a prompt stop on shutdown.

use super::fixtures::Env;
use super::*;
use crate::leader::{
    run_aggregation_job_creator, run_aggregation_job_driver, run_collection_job_driver,
};
use dyad_core::task::BatchMode;
use dyad_core::vdaf::{Measurement, VdafInstance};
use dyad_datastore::models::CollectionJobState;
use dyad_messages::draft09::CollectionJobId;
use std::time::Duration as StdDuration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loops_aggregate_and_collect_a_thousand_reports_then_stop() {
    let (env, id) = uploaded_and_asked_for(1000, 400).await;

    let shutdown = CancellationToken::new();
    let creator = spawn_creator(
        &env,
        JobCreatorConfig {
            interval_ms: 100,
            ..Default::default()
        },
        &shutdown,
    );
    let driver = spawn_driver(&env, 100, &shutdown);
    let collector = tokio::spawn(run_collection_job_driver(
        env.ds(),
        env.http.clone(),
        CollectionDriverConfig {
            interval_ms: 100,
            not_ready_retry_secs: 0,
            ..Default::default()
        },
        shutdown.clone(),
        StdDuration::from_secs(5),
    ));

    let finished = env
        .wait_until_collected(id, "collected within a minute")
        .await;
    assert_eq!(env.collected_result(&finished), ("400".to_owned(), 1000));

    stop(shutdown, [creator, driver, collector]).await;
}

/// A collection job whose batch was not ready is looked at again as soon
/// as the process's aggregation job driver finishes a job, not after
/// `not_ready_retry_secs` (an hour here): the collection is ready once its
/// aggregation is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_collection_is_collected_as_soon_as_its_aggregation_is_done() {
    let (env, id) = uploaded_and_asked_for(100, 30).await;

    // The collection job driver alone first: it finds the batch not ready
    // (no report aggregated yet) and puts the job back for an hour.
    let shutdown = CancellationToken::new();
    let collector = tokio::spawn(run_collection_job_driver(
        env.ds(),
        env.http.clone(),
        CollectionDriverConfig {
            interval_ms: 50,
            not_ready_retry_secs: 3600,
            ..Default::default()
        },
        shutdown.clone(),
        StdDuration::from_secs(5),
    ));
    tokio::time::sleep(StdDuration::from_millis(500)).await;
    assert!(matches!(
        env.collection_job(id).await.state,
        CollectionJobState::Start
    ));

    let creator = spawn_creator(
        &env,
        JobCreatorConfig {
            interval_ms: 50,
            max_job_size: 25,
            ..Default::default()
        },
        &shutdown,
    );
    let driver = spawn_driver(&env, 50, &shutdown);
    let finished = env
        .wait_until_collected(
            id,
            "collected within a minute, not after the hour the job was put back for",
        )
        .await;
    assert_eq!(env.collected_result(&finished), ("30".to_owned(), 100));

    stop(shutdown, [creator, driver, collector]).await;
}

#[tokio::test]
async fn invalid_configurations_are_refused_at_start() {
    let env = Env::new(VdafInstance::Prio3Count, BatchMode::TimeInterval, 1).await;
    let result = run_aggregation_job_creator(
        env.ds(),
        JobCreatorConfig {
            min_job_size: 0,
            ..Default::default()
        },
        CancellationToken::new(),
    )
    .await;
    assert!(result.unwrap_err().to_string().contains("min_job_size"));
}

/// A Prio3Count task with `reports` reports uploaded in one time bucket,
/// `ones` of them true, and a collection job for that bucket.
async fn uploaded_and_asked_for(reports: usize, ones: usize) -> (Env, CollectionJobId) {
    let min_batch_size = u64::try_from(reports).expect("a small test");
    let env = Env::new(
        VdafInstance::Prio3Count,
        BatchMode::TimeInterval,
        min_batch_size,
    )
    .await;
    let start = bucket_time(&env, 1);
    let mut measurements = vec![Measurement::Count(true); ones];
    measurements.extend(vec![Measurement::Count(false); reports - ones]);
    env.upload(&measurements, start).await;
    let id = env.put_interval_collection_job(interval(start, 1)).await;
    (env, id)
}

type LoopHandle = tokio::task::JoinHandle<anyhow::Result<()>>;

/// The job creator, running until `shutdown`.
fn spawn_creator(env: &Env, config: JobCreatorConfig, shutdown: &CancellationToken) -> LoopHandle {
    tokio::spawn(run_aggregation_job_creator(
        env.ds(),
        config,
        shutdown.clone(),
    ))
}

/// The aggregation job driver polling every `interval_ms`, running until
/// `shutdown`.
fn spawn_driver(env: &Env, interval_ms: u64, shutdown: &CancellationToken) -> LoopHandle {
    tokio::spawn(run_aggregation_job_driver(
        env.ds(),
        env.http.clone(),
        JobDriverConfig {
            interval_ms,
            ..Default::default()
        },
        shutdown.clone(),
        StdDuration::from_secs(5),
    ))
}

/// Cancels the loops and checks that each stops promptly, without a panic
/// or an error.
async fn stop<E: std::fmt::Debug>(
    shutdown: CancellationToken,
    loops: impl IntoIterator<Item = tokio::task::JoinHandle<Result<(), E>>>,
) {
    shutdown.cancel();
    for handle in loops {
        tokio::time::timeout(StdDuration::from_secs(10), handle)
            .await
            .expect("stops promptly")
            .expect("no panic")
            .expect("no error");
    }
}
