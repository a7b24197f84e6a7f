//! Conformance: what an operator does to a stored task (DAP-09 section
//! 4.2): counting its rows, deleting it with a count of what went, changing
//! its expiration.

use dyad_core::task::Task;
use dyad_datastore::models::{
    AggregateShareJob, BatchAggregation, BatchIdentifier, CollectionJob, ReportAggregation,
    ReportAggregationState, SeenReport, TaskCounters, TaskRowCounts,
};
use dyad_datastore::testing::fixtures::{
    self, aggregation_job, ciphertext, interval, leader_task, report, t,
};
use dyad_datastore::testing::TestDatastore;
use dyad_datastore::{Datastore, DatastoreError, DatastoreExt};
use dyad_messages::draft09::{
    AggregateShare, CollectionJobId, Query, ReportId, ReportIdChecksum, TaskId, Time,
};

/// Stores rows of every kind for the task: `reports` client reports, two
/// aggregation jobs holding `reports` report aggregations between them, one
/// batch aggregation per job, and one row of each other kind (two seen
/// reports, one statistics shard); the counts it stored.
async fn fill(datastore: &dyn Datastore, task_id: TaskId, reports: u64) -> TaskRowCounts {
    datastore
        .run_tx("fill", move |tx| {
            Box::pin(async move {
                let stored: Vec<_> = (0..reports)
                    .map(|i| report(&task_id, 3600 + i, i as u8))
                    .collect();
                tx.put_client_reports(&stored).await?;
                let jobs = [
                    aggregation_job(&task_id, b"", None, interval(3600, 3600)),
                    aggregation_job(&task_id, b"", None, interval(3600, 3600)),
                ];
                let batch = BatchIdentifier::TimeInterval(interval(3600, 3600));
                for job in &jobs {
                    tx.put_aggregation_job(job).await?;
                    tx.put_batch_aggregations(
                        &[BatchAggregation {
                            task_id,
                            batch_identifier: batch,
                            aggregation_parameter: Vec::new(),
                            aggregation_job_id: job.aggregation_job_id,
                            aggregate_share: vec![1; 4],
                            report_count: 1,
                            checksum: ReportIdChecksum([1; 32]),
                            client_timestamp_interval: interval(3600, 3600),
                        }],
                        None,
                    )
                    .await?;
                }
                let report_aggregations: Vec<_> = stored
                    .iter()
                    .enumerate()
                    .map(|(i, report)| {
                        let job = &jobs[i % 2];
                        ReportAggregation::new(
                            task_id,
                            job.aggregation_job_id,
                            i as u64,
                            *report.report_id(),
                            report.time(),
                            ReportAggregationState::Start,
                        )
                    })
                    .collect();
                tx.put_report_aggregations(&report_aggregations, None)
                    .await?;
                tx.put_collected_batch(&task_id, &batch, b"").await?;
                tx.put_collection_job(&CollectionJob::new(
                    task_id,
                    CollectionJobId::random(),
                    Query::TimeInterval(interval(3600, 3600)),
                    Vec::new(),
                    batch,
                    vec![1, 2, 3],
                ))
                .await?;
                tx.put_aggregate_share_job(&AggregateShareJob {
                    task_id,
                    batch_identifier: batch,
                    aggregation_parameter: Vec::new(),
                    report_count: 1,
                    checksum: ReportIdChecksum([2; 32]),
                    response: AggregateShare {
                        encrypted_aggregate_share: ciphertext(3),
                    },
                    created_at: t(0),
                })
                .await?;
                let seen = [
                    SeenReport {
                        report_id: ReportId::random(),
                        time: t(3600),
                    },
                    SeenReport {
                        report_id: ReportId::random(),
                        time: t(3601),
                    },
                ];
                tx.put_helper_seen_reports(&task_id, b"", &seen).await?;
                tx.reserve_outstanding_batch(&task_id, 1, 10).await?;
                let counted = TaskCounters {
                    reports_aggregated: 1,
                    ..TaskCounters::default()
                };
                tx.add_task_counters(&task_id, &counted).await?;
                Ok(())
            })
        })
        .await
        .expect("fill the task");
    TaskRowCounts {
        client_reports: reports,
        aggregation_jobs: 2,
        report_aggregations: reports,
        batch_aggregations: 2,
        collected_batches: 1,
        collection_jobs: 1,
        aggregate_share_jobs: 1,
        helper_seen_reports: 2,
        outstanding_batches: 1,
        task_counters: 1,
    }
}

async fn count(datastore: &dyn Datastore, task_id: TaskId) -> Option<TaskRowCounts> {
    datastore
        .run_read_tx("count", move |tx| {
            Box::pin(async move { Ok(tx.count_task_rows(&task_id).await?) })
        })
        .await
        .expect("count the task's rows")
}

async fn get(datastore: &dyn Datastore, task_id: TaskId) -> Option<Task> {
    datastore
        .run_read_tx("get", move |tx| {
            Box::pin(async move { Ok(tx.get_task(&task_id).await?) })
        })
        .await
        .expect("get the task")
}

/// The rows of a task are counted per kind, deleting it removes exactly
/// those (and says so), and another task's rows stay as they were.
pub async fn delete_counts_what_it_removes(h: TestDatastore) {
    let (task, other) = (leader_task(), leader_task());
    fixtures::put_tasks(h.datastore.as_ref(), &[&task, &other]).await;
    let (task_id, other_id) = (*task.task_id(), *other.task_id());
    let expected = fill(h.datastore.as_ref(), task_id, 5).await;
    let other_expected = fill(h.datastore.as_ref(), other_id, 3).await;

    assert_eq!(count(h.datastore.as_ref(), task_id).await, Some(expected));
    assert_eq!(expected.total(), 21);

    let deleted = h
        .datastore
        .run_tx("delete", move |tx| {
            Box::pin(async move { Ok(tx.delete_task(&task_id).await?) })
        })
        .await
        .unwrap();
    assert_eq!(deleted, Some(expected));

    assert_eq!(get(h.datastore.as_ref(), task_id).await, None);
    assert_eq!(count(h.datastore.as_ref(), task_id).await, None);
    assert_eq!(
        count(h.datastore.as_ref(), other_id).await,
        Some(other_expected)
    );
    assert_eq!(get(h.datastore.as_ref(), other_id).await, Some(other));
}

/// A task with nothing stored for it counts all zeros; an unknown task is
/// `None` both to count and to delete, and deleting it changes nothing.
pub async fn empty_and_unknown_tasks(h: TestDatastore) {
    let task = leader_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let task_id = *task.task_id();
    assert_eq!(
        count(h.datastore.as_ref(), task_id).await,
        Some(TaskRowCounts::default())
    );

    let unknown = TaskId::random();
    assert_eq!(count(h.datastore.as_ref(), unknown).await, None);
    let deleted = h
        .datastore
        .run_tx("delete unknown", move |tx| {
            Box::pin(async move { Ok(tx.delete_task(&unknown).await?) })
        })
        .await
        .unwrap();
    assert_eq!(deleted, None);
    assert_eq!(get(h.datastore.as_ref(), task_id).await, Some(task));
}

/// A rolled-back delete leaves the task and its rows in place.
pub async fn aborted_delete_keeps_everything(h: TestDatastore) {
    let task = leader_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let task_id = *task.task_id();
    let expected = fill(h.datastore.as_ref(), task_id, 2).await;
    let result = h
        .datastore
        .run_tx("delete then abort", move |tx| {
            Box::pin(async move {
                tx.delete_task(&task_id).await?;
                Err::<(), _>(fixtures::abort())
            })
        })
        .await;
    assert!(result.is_err());
    assert_eq!(count(h.datastore.as_ref(), task_id).await, Some(expected));
    assert_eq!(get(h.datastore.as_ref(), task_id).await, Some(task));
}

/// Changing the expiration changes only the expiration, as read back by
/// any later transaction; `None` removes it; an unknown task is
/// `NotFound`.
pub async fn update_expiration(h: TestDatastore) {
    let task = leader_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let task_id = *task.task_id();
    let later = Time::from_seconds_since_epoch(2_000_000_000);

    for expiration in [Some(later), None, Some(t(1))] {
        let returned = h
            .datastore
            .run_tx("update", move |tx| {
                Box::pin(async move { Ok(tx.update_task_expiration(&task_id, expiration).await?) })
            })
            .await
            .unwrap();
        let expected = task
            .to_builder()
            .task_expiration(expiration)
            .build()
            .unwrap();
        assert_eq!(returned, expected);
        assert_eq!(get(h.datastore.as_ref(), task_id).await, Some(expected));
    }

    let unknown = TaskId::random();
    let result = h
        .datastore
        .run_tx("update unknown", move |tx| {
            Box::pin(async move { Ok(tx.update_task_expiration(&unknown, Some(later)).await?) })
        })
        .await;
    crate::assert_not_found(&result);
}

/// A read-only transaction can count but not delete or update.
pub async fn read_only_transactions_cannot_delete_or_update(h: TestDatastore) {
    let task = leader_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let task_id = *task.task_id();
    let (delete, update) = h
        .datastore
        .run_read_tx("read only", move |tx| {
            Box::pin(async move {
                Ok((
                    tx.delete_task(&task_id).await,
                    tx.update_task_expiration(&task_id, None).await,
                ))
            })
        })
        .await
        .unwrap();
    assert!(
        matches!(delete, Err(DatastoreError::ReadOnly { .. })),
        "{delete:?}"
    );
    assert!(
        matches!(update, Err(DatastoreError::ReadOnly { .. })),
        "{update:?}"
    );
    assert_eq!(get(h.datastore.as_ref(), task_id).await, Some(task));
}
