//! Tests of the Leader's background work: a temporary SQLite datastore on a
//! `MockClock`, reports made like a client makes them, and a stand-in
//! Helper ([`helper_stub`]) running the protocol's Helper side for real,
//! with faults to inject.

mod collection_tests;
mod creator_tests;
mod driver_tests;
pub(crate) mod fixtures;
mod helper_stub;
mod loop_tests;
mod oversize_tests;
mod param_job_tests;
mod real_helper_tests;

use super::{
    AggregationJobCreator, AggregationJobDriver, CollectionDriverConfig, CollectionJobDriver,
    JobCreatorConfig, JobDriverConfig,
};
use dyad_datastore::DatastoreExt;
use dyad_messages::draft09::{AggregationJobId, BatchId, Duration, Interval, Time};
use fixtures::{Env, PRECISION};
use tokio_util::sync::CancellationToken;

/// A creator configuration with the given job sizes.
fn creator_config(min_job_size: u64, max_job_size: u64) -> JobCreatorConfig {
    JobCreatorConfig {
        min_job_size,
        max_job_size,
        ..Default::default()
    }
}

/// A driver configuration with short, exact retry delays.
fn driver_config(max_attempts: u32) -> JobDriverConfig {
    JobDriverConfig {
        max_attempts,
        retry_initial_delay_secs: 1,
        retry_max_delay_secs: 1,
        ..Default::default()
    }
}

fn collection_config(max_attempts: u32) -> CollectionDriverConfig {
    CollectionDriverConfig {
        max_attempts,
        retry_initial_delay_secs: 1,
        retry_max_delay_secs: 1,
        ..Default::default()
    }
}

/// A time at the start of a `time_precision` bucket, a few buckets before
/// the clock's "now" (reports are uploaded with rounded timestamps).
fn bucket_time(env: &Env, buckets_ago: u64) -> Time {
    let now = env.clock().now_rounded();
    Time::from_seconds_since_epoch(now.as_seconds_since_epoch() - buckets_ago * PRECISION)
}

/// The aligned interval of `buckets` buckets starting at `start`.
fn interval(start: Time, buckets: u64) -> Interval {
    Interval::new(start, Duration::from_seconds(buckets * PRECISION)).expect("interval")
}

/// Runs the creator once; the IDs of the jobs it made.
async fn create_jobs(env: &Env, cfg: JobCreatorConfig) -> Vec<AggregationJobId> {
    let creator = AggregationJobCreator::new(env.ds(), cfg);
    let summary = creator
        .run_once(&CancellationToken::new())
        .await
        .expect("creator run");
    summary.job_ids.into_iter().map(|(_, id)| id).collect()
}

fn job_driver(env: &Env, cfg: &JobDriverConfig) -> AggregationJobDriver {
    AggregationJobDriver::new(env.ds(), env.http.clone(), cfg, CancellationToken::new())
}

fn collection_driver(env: &Env, cfg: &CollectionDriverConfig) -> CollectionJobDriver {
    CollectionJobDriver::new(env.ds(), env.http.clone(), cfg)
}

/// Drives aggregation jobs until none is left to acquire now.
async fn drive_all(env: &Env) {
    let driver = job_driver(env, &driver_config(3));
    while driver.run_once().await.expect("driver run") > 0 {}
}

/// The reports not yet in any job.
async fn unaggregated(env: &Env) -> u64 {
    let task_id = env.task_id();
    env.ds()
        .run_read_tx("count", move |tx| {
            Box::pin(async move { Ok(tx.count_unaggregated_client_reports(&task_id, None).await?) })
        })
        .await
        .expect("count")
}

/// Takes the oldest batch that reached `min_batch_size`, as the HTTP
/// handler does for a `current_batch` query.
async fn take_current_batch(env: &Env, min_batch_size: u64) -> Option<BatchId> {
    let task_id = env.task_id();
    env.ds()
        .run_tx("take", move |tx| {
            Box::pin(async move { Ok(tx.take_current_batch(&task_id, &[], min_batch_size).await?) })
        })
        .await
        .expect("take current batch")
}

/// Rounding the mock clock down to a bucket start.
trait NowRounded {
    fn now_rounded(&self) -> Time;
}

impl NowRounded for dyad_core::clock::MockClock {
    fn now_rounded(&self) -> Time {
        use dyad_core::clock::Clock;
        self.now()
            .to_batch_interval_start(Duration::from_seconds(PRECISION))
    }
}
