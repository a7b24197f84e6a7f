//! The aggregation job creator under both batch modes.

use super::fixtures::Env;
use super::*;
use dyad_core::task::BatchMode;
use dyad_core::vdaf::{Measurement, VdafInstance};
use dyad_datastore::models::{AggregationJob, BatchIdentifier, ReportAggregation};
use dyad_messages::draft09::{ReportId, ReportMetadata};
use std::collections::{HashMap, HashSet};

fn counts(n: usize) -> Vec<Measurement> {
    (0..n).map(|i| Measurement::Count(i % 2 == 0)).collect()
}

/// A job's reports in job order. A job of the Prio3 tasks here lists them
/// on its row and stores no report aggregation.
fn held(job: &AggregationJob, ras: &[ReportAggregation]) -> Vec<ReportMetadata> {
    assert!(ras.is_empty(), "a listed job stores no report aggregation");
    job.report_list.clone().expect("the job lists its reports")
}

/// The number of reports of each job.
async fn sizes(env: &Env, ids: &[AggregationJobId]) -> Vec<usize> {
    env.jobs(ids)
        .await
        .iter()
        .map(|(job, ras)| held(job, ras).len())
        .collect()
}

/// Every report of the jobs, checking that none appears twice, that each
/// job is at step 0 and that its interval holds its reports.
async fn assigned(env: &Env, ids: &[AggregationJobId]) -> HashSet<ReportId> {
    let mut seen = HashSet::new();
    for (job, ras) in env.jobs(ids).await {
        assert_eq!(job.step, 0);
        for report in held(&job, &ras) {
            assert!(job.client_timestamp_interval.contains(report.time));
            assert!(seen.insert(report.id), "report in two jobs");
        }
    }
    seen
}

#[tokio::test]
async fn time_interval_jobs_respect_min_and_max_job_size() {
    let env = Env::new(VdafInstance::Prio3Count, BatchMode::TimeInterval, 1).await;
    let mut uploaded: HashSet<_> = env
        .upload(&counts(10), bucket_time(&env, 1))
        .await
        .into_iter()
        .collect();
    let cfg = JobCreatorConfig {
        max_report_wait_ms: 3_600_000,
        ..creator_config(3, 4)
    };
    let first = create_jobs(&env, cfg.clone()).await;
    assert_eq!(
        sizes(&env, &first).await,
        [4, 4],
        "the remainder of 2 waits for min_job_size"
    );
    assert_eq!(unaggregated(&env).await, 2);

    uploaded.extend(env.upload(&counts(1), bucket_time(&env, 0)).await);
    let second = create_jobs(&env, cfg).await;
    assert_eq!(sizes(&env, &second).await, [3]);
    assert_eq!(unaggregated(&env).await, 0);

    let all: Vec<_> = first.iter().chain(&second).copied().collect();
    assert_eq!(assigned(&env, &all).await, uploaded);
}

#[tokio::test]
async fn an_undersized_remainder_is_flushed_after_max_report_wait() {
    let env = Env::new(VdafInstance::Prio3Count, BatchMode::TimeInterval, 1).await;
    env.upload(&counts(2), bucket_time(&env, 0)).await;
    let creator = AggregationJobCreator::new(
        env.ds(),
        JobCreatorConfig {
            max_report_wait_ms: 0,
            ..creator_config(5, 10)
        },
    );
    let token = CancellationToken::new();
    assert_eq!(creator.run_once(&token).await.unwrap().jobs_created, 0);
    let summary = creator.run_once(&token).await.unwrap();
    assert_eq!((summary.jobs_created, summary.reports_assigned), (1, 2));
}

#[tokio::test]
async fn fixed_size_jobs_fill_batches_up_to_their_size_and_never_beyond() {
    let mode = BatchMode::FixedSize {
        max_batch_size: Some(5),
    };
    let env = Env::new(VdafInstance::Prio3Count, mode, 4).await;
    let uploaded: HashSet<_> = env
        .upload(&counts(10), bucket_time(&env, 0))
        .await
        .into_iter()
        .collect();
    let ids = create_jobs(&env, creator_config(1, 3)).await;
    let jobs = env.jobs(&ids).await;
    let mut per_batch: HashMap<_, u64> = HashMap::new();
    for (job, ras) in &jobs {
        let batch_id = job.batch_id.expect("fixed-size jobs name their batch");
        let size = held(job, ras).len() as u64;
        assert!(size <= 3, "max_job_size");
        *per_batch.entry(batch_id).or_default() += size;
    }
    // Batches are filled to min_batch_size (the target), below max_batch_size.
    let mut sizes: Vec<u64> = per_batch.values().copied().collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [2, 4, 4]);
    assert_eq!(assigned(&env, &ids).await, uploaded);

    let task_id = env.task_id();
    let outstanding = env
        .ds()
        .run_read_tx("outstanding", move |tx| {
            Box::pin(async move { Ok(tx.get_outstanding_batches(&task_id).await?) })
        })
        .await
        .unwrap();
    assert_eq!(outstanding.len(), 3);
    assert_eq!(outstanding.iter().filter(|b| b.filled).count(), 2);
}

#[tokio::test]
async fn reports_of_collected_buckets_are_ignored() {
    let env = Env::new(VdafInstance::Prio3Count, BatchMode::TimeInterval, 1).await;
    let collected_bucket = bucket_time(&env, 2);
    env.upload(&counts(3), collected_bucket).await;
    let fresh: HashSet<_> = env
        .upload(&counts(2), bucket_time(&env, 1))
        .await
        .into_iter()
        .collect();
    let task_id = env.task_id();
    let batch = BatchIdentifier::TimeInterval(interval(collected_bucket, 1));
    env.ds()
        .run_tx("collected", move |tx| {
            Box::pin(async move { Ok(tx.put_collected_batch(&task_id, &batch, &[]).await?) })
        })
        .await
        .unwrap();

    let creator = AggregationJobCreator::new(env.ds(), creator_config(1, 10));
    let summary = creator.run_once(&CancellationToken::new()).await.unwrap();
    assert_eq!(summary.reports_skipped, 3);
    let ids: Vec<_> = summary.job_ids.iter().map(|(_, id)| *id).collect();
    assert_eq!(assigned(&env, &ids).await, fresh);
    assert_eq!(
        unaggregated(&env).await,
        0,
        "ignored reports are not retried"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creators_never_put_a_report_in_two_jobs() {
    let env = Env::new(VdafInstance::Prio3Count, BatchMode::TimeInterval, 1).await;
    let uploaded: HashSet<_> = env
        .upload(&counts(60), bucket_time(&env, 0))
        .await
        .into_iter()
        .collect();
    let cfg = JobCreatorConfig {
        max_jobs_per_task: 2,
        ..creator_config(1, 7)
    };
    let a = AggregationJobCreator::new(env.ds(), cfg.clone());
    let b = AggregationJobCreator::new(env.ds(), cfg);
    let token = CancellationToken::new();
    let mut ids = Vec::new();
    for _ in 0..10 {
        let (x, y) = tokio::join!(a.run_once(&token), b.run_once(&token));
        for summary in [x.unwrap(), y.unwrap()] {
            ids.extend(summary.job_ids.into_iter().map(|(_, id)| id));
        }
    }
    assert_eq!(assigned(&env, &ids).await, uploaded);
}

#[tokio::test]
async fn tasks_without_an_eager_aggregation_parameter_get_no_jobs() {
    let env = Env::new(
        VdafInstance::Poplar1 { bits: 2 },
        BatchMode::TimeInterval,
        1,
    )
    .await;
    env.upload(
        &[Measurement::Poplar1(vec![true, false])],
        bucket_time(&env, 0),
    )
    .await;
    assert!(create_jobs(&env, creator_config(1, 10)).await.is_empty());
    assert_eq!(unaggregated(&env).await, 1);
}

#[tokio::test]
async fn out_of_range_sizes_are_brought_into_range() {
    let env = Env::new(VdafInstance::Prio3Count, BatchMode::TimeInterval, 1).await;
    env.upload(&counts(3), bucket_time(&env, 0)).await;
    let creator = AggregationJobCreator::new(
        env.ds(),
        JobCreatorConfig {
            min_job_size: 0,
            max_job_size: 0,
            max_jobs_per_task: 0,
            ..Default::default()
        },
    );
    let summary = creator.run_once(&CancellationToken::new()).await.unwrap();
    assert_eq!((summary.jobs_created, summary.reports_assigned), (1, 1));
}
