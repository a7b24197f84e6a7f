//! Conformance: transactions are all or nothing, read-only ones cannot
//! write, "now" comes from the injected clock, and concurrent writers all
//! get through.

use super::fixtures::{self, abort, leader_task, report, TestAbort};
use super::TestDatastore;
use crate::models::ReportWriteOutcome;
use crate::{DatastoreError, DatastoreExt, TxError};
use dyad_core::clock::Clock;
use dyad_messages::draft09::Duration;

/// The body's value comes back from a committed transaction.
pub async fn commit_returns_the_value(h: TestDatastore) {
    let value = h
        .datastore
        .run_tx("value", |_tx| Box::pin(async move { Ok(41 + 1) }))
        .await
        .unwrap();
    assert_eq!(value, 42);
}

/// A body that aborts after writing leaves nothing behind, and its error
/// comes back as the caller's.
pub async fn aborted_transaction_leaves_no_trace(h: TestDatastore) {
    let task = leader_task();
    let stored = report(task.task_id(), 1000, 1);
    let task_id = *task.task_id();
    let result = h
        .datastore
        .run_tx("abort", move |tx| {
            let (task, stored) = (task.clone(), stored.clone());
            Box::pin(async move {
                tx.put_task(&task).await?;
                tx.put_client_reports(&[stored]).await?;
                Err::<(), _>(abort())
            })
        })
        .await;
    let error = result.unwrap_err();
    assert!(error.downcast_aborted::<TestAbort>().is_ok());

    let found = h
        .datastore
        .run_read_tx("check", move |tx| {
            Box::pin(async move { Ok(tx.get_task(&task_id).await?) })
        })
        .await
        .unwrap();
    assert_eq!(found, None);
}

/// When an operation fails mid-way, the writes before it are rolled back
/// with the rest.
pub async fn failed_operation_rolls_back_everything(h: TestDatastore) {
    let task = leader_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let first = report(task.task_id(), 1000, 1);
    let job = fixtures::aggregation_job(task.task_id(), b"", None, fixtures::interval(0, 3600));
    put_job_twice(&h, first.clone(), job).await;

    let (task_id, report_id) = (first.task_id, *first.report_id());
    let found = h
        .datastore
        .run_read_tx("check", move |tx| {
            Box::pin(async move { Ok(tx.get_client_report(&task_id, &report_id).await?) })
        })
        .await
        .unwrap();
    assert_eq!(found, None);
}

async fn put_job_twice(
    h: &TestDatastore,
    first: crate::models::LeaderStoredReport,
    job: crate::models::AggregationJob,
) {
    let result = h
        .datastore
        .run_tx("fail", move |tx| {
            let (first, job) = (first.clone(), job.clone());
            Box::pin(async move {
                tx.put_client_reports(&[first]).await?;
                tx.put_aggregation_job(&job).await?;
                tx.put_aggregation_job(&job).await?;
                Ok(())
            })
        })
        .await;
    assert!(
        matches!(
            result,
            Err(TxError::Datastore(DatastoreError::AlreadyExists { .. }))
        ),
        "{result:?}"
    );
}

/// Every write fails in a read-only transaction.
pub async fn read_only_transaction_rejects_writes(h: TestDatastore) {
    let task = leader_task();
    let result = h
        .datastore
        .run_read_tx("write", move |tx| {
            let task = task.clone();
            Box::pin(async move { Ok(tx.put_task(&task).await?) })
        })
        .await;
    assert!(
        matches!(
            result,
            Err(TxError::Datastore(DatastoreError::ReadOnly { .. }))
        ),
        "{result:?}"
    );
    let tasks = h
        .datastore
        .run_read_tx("list", |tx| {
            Box::pin(async move { Ok(tx.get_tasks().await?) })
        })
        .await
        .unwrap();
    assert!(tasks.is_empty());
}

/// `now` is the injected clock's time when the transaction starts.
pub async fn now_comes_from_the_clock(h: TestDatastore) {
    let before = h
        .datastore
        .run_tx("now", |tx| Box::pin(async move { Ok(tx.now()) }))
        .await
        .unwrap();
    assert_eq!(before, h.clock.now());
    h.clock.advance(Duration::from_seconds(500));
    let after = h
        .datastore
        .run_read_tx("now", |tx| Box::pin(async move { Ok(tx.now()) }))
        .await
        .unwrap();
    assert_eq!(
        after.checked_difference(before),
        Some(Duration::from_seconds(500))
    );
}

/// Many writers at once all commit (the backend waits or retries on a busy
/// database) and lose nothing.
pub async fn concurrent_writers_all_commit(h: TestDatastore) {
    let task = leader_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let mut writers = Vec::new();
    for writer in 0..8u8 {
        let datastore = h.datastore.clone();
        let batch: Vec<_> = (0..25)
            .map(|i| report(task.task_id(), 3600 + u64::from(writer) * 100 + i, writer))
            .collect();
        writers.push(tokio::spawn(async move {
            datastore
                .run_tx("upload", move |tx| {
                    let batch = batch.clone();
                    Box::pin(async move { Ok(tx.put_client_reports(&batch).await?) })
                })
                .await
        }));
    }
    for writer in writers {
        let outcomes = writer.await.unwrap().unwrap();
        assert!(outcomes.iter().all(|o| *o == ReportWriteOutcome::Stored));
    }
    let task_id = *task.task_id();
    let count = h
        .datastore
        .run_read_tx("count", move |tx| {
            Box::pin(async move { Ok(tx.count_unaggregated_client_reports(&task_id, None).await?) })
        })
        .await
        .unwrap();
    assert_eq!(count, 200);
}
