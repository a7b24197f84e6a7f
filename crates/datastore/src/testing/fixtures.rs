//! Values the conformance tests build: tasks of both roles and batch modes,
//! reports, jobs, and short helpers for times and intervals.

use crate::models::{AggregationJob, CollectionJob, LeaderStoredReport};
use crate::{Datastore, DatastoreExt, TxError};
use dyad_core::hpke::HpkeKeypair;
use dyad_core::task::{AuthenticationToken, AuthenticationTokenType, BatchMode, Task, VerifyKey};
use dyad_core::vdaf::VdafInstance;
use dyad_messages::draft09::{
    AggregationJobId, BatchId, Duration, Extension, ExtensionType, HpkeCiphertext, HpkeConfigId,
    Interval, ReportId, ReportMetadata, Role, TaskId, Time,
};

/// The task's time precision: one hour.
pub const PRECISION: u64 = 3600;

/// A time, in seconds since the epoch.
pub fn t(seconds: u64) -> Time {
    Time::from_seconds_since_epoch(seconds)
}

/// A duration, in seconds.
pub fn d(seconds: u64) -> Duration {
    Duration::from_seconds(seconds)
}

/// The interval `[start, start + duration)`.
pub fn interval(start: u64, duration: u64) -> Interval {
    Interval::new(t(start), d(duration)).expect("interval")
}

/// A task of the given role and batch mode, with a random ID and every
/// secret set.
pub fn task(role: Role, batch_mode: BatchMode) -> Task {
    let aggregator_token = AuthenticationToken::random(AuthenticationTokenType::DapAuth);
    let builder = Task::builder()
        .task_id(TaskId::random())
        .role(role)
        .leader_aggregator_endpoint("https://leader.example/".parse().expect("url"))
        .helper_aggregator_endpoint("https://helper.example/".parse().expect("url"))
        .vdaf(VdafInstance::Prio3Count)
        .vdaf_verify_key(VerifyKey::random(16))
        .batch_mode(batch_mode)
        .min_batch_size(10)
        .time_precision(d(PRECISION))
        .max_batch_query_count(1)
        .collector_hpke_config(
            HpkeKeypair::generate_default(HpkeConfigId(1))
                .config()
                .clone(),
        )
        .hpke_keys(vec![HpkeKeypair::generate_default(HpkeConfigId(2))]);
    let builder = match role {
        Role::Leader => builder
            .aggregator_auth_token(aggregator_token)
            .collector_auth_token(
                AuthenticationToken::random(AuthenticationTokenType::Bearer).hash(),
            ),
        _ => builder.aggregator_auth_token(aggregator_token.hash()),
    };
    builder.build().expect("valid task")
}

/// A Leader time-interval task.
pub fn leader_task() -> Task {
    task(Role::Leader, BatchMode::TimeInterval)
}

/// A Helper time-interval task.
pub fn helper_task() -> Task {
    task(Role::Helper, BatchMode::TimeInterval)
}

/// A Leader fixed-size task.
pub fn fixed_size_leader_task() -> Task {
    task(
        Role::Leader,
        BatchMode::FixedSize {
            max_batch_size: Some(20),
        },
    )
}

/// Stores the tasks.
pub async fn put_tasks(datastore: &dyn Datastore, tasks: &[&Task]) {
    let tasks: Vec<Task> = tasks.iter().map(|task| (*task).clone()).collect();
    datastore
        .run_tx("put_tasks", move |tx| {
            let tasks = tasks.clone();
            Box::pin(async move {
                for task in &tasks {
                    tx.put_task(task).await?;
                }
                Ok(())
            })
        })
        .await
        .expect("put tasks");
}

/// A sealed share with recognizable contents.
pub fn ciphertext(fill: u8) -> HpkeCiphertext {
    HpkeCiphertext {
        config_id: HpkeConfigId(fill),
        encapsulated_key: vec![fill; 32],
        payload: vec![fill; 48],
    }
}

/// A Leader report with a random ID at `time`, with contents derived from `fill`.
pub fn report(task_id: &TaskId, time: u64, fill: u8) -> LeaderStoredReport {
    LeaderStoredReport {
        task_id: *task_id,
        metadata: ReportMetadata::new(ReportId::random(), t(time)),
        public_share: vec![fill; 5],
        leader_extensions: vec![Extension::new(ExtensionType::Tbd, vec![fill])],
        leader_input_share: vec![fill; 9],
        helper_encrypted_input_share: ciphertext(fill),
    }
}

/// A new in-progress aggregation job over `client_interval`.
pub fn aggregation_job(
    task_id: &TaskId,
    aggregation_parameter: &[u8],
    batch_id: Option<BatchId>,
    client_interval: Interval,
) -> AggregationJob {
    AggregationJob::new(
        *task_id,
        AggregationJobId::random(),
        aggregation_parameter.to_vec(),
        batch_id,
        client_interval,
    )
}

/// Stores the aggregation jobs.
pub async fn put_aggregation_jobs(datastore: &dyn Datastore, jobs: &[AggregationJob]) {
    let jobs = jobs.to_vec();
    datastore
        .run_tx("put_aggregation_jobs", move |tx| {
            let jobs = jobs.clone();
            Box::pin(async move {
                for job in &jobs {
                    tx.put_aggregation_job(job).await?;
                }
                Ok(())
            })
        })
        .await
        .expect("put aggregation jobs");
}

/// Stores the collection jobs.
pub async fn put_collection_jobs(datastore: &dyn Datastore, jobs: &[CollectionJob]) {
    let jobs = jobs.to_vec();
    datastore
        .run_tx("put_collection_jobs", move |tx| {
            let jobs = jobs.clone();
            Box::pin(async move {
                for job in &jobs {
                    tx.put_collection_job(job).await?;
                }
                Ok(())
            })
        })
        .await
        .expect("put collection jobs");
}

/// An error for aborting test transactions.
#[derive(Debug, thiserror::Error)]
#[error("test abort")]
pub struct TestAbort;

/// Shorthand: the abort error as a transaction error.
pub fn abort() -> TxError {
    TxError::abort(TestAbort)
}
