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

/// Callers that go away at any point (a client hanging up, a timeout) never
/// cut a transaction in half: each dropped transaction committed whole or
/// not at all, and afterwards the pool serves ordinary transactions at once
/// and closes promptly.
pub async fn dropped_callers_leave_no_half_transaction(h: TestDatastore) {
    let task = leader_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let task_id = *task.task_id();
    let mut pairs = Vec::new();
    let mut callers = Vec::new();
    for i in 0..400u64 {
        let pair = vec![
            report(&task_id, 3600 + i, (i % 250) as u8),
            report(&task_id, 3600 + i, (i % 250) as u8),
        ];
        pairs.push((*pair[0].report_id(), *pair[1].report_id()));
        let datastore = h.datastore.clone();
        // Dropped after 0 to ~2 ms: before BEGIN, inside it, between the
        // two writes, during COMMIT or after it.
        let patience = std::time::Duration::from_micros((i * 37) % 2000);
        callers.push(tokio::spawn(async move {
            let write = datastore.run_tx("dropped_write", move |tx| {
                let pair = pair.clone();
                Box::pin(async move {
                    tx.put_client_reports(&pair[..1]).await?;
                    tokio::task::yield_now().await;
                    tx.put_client_reports(&pair[1..]).await?;
                    Ok(())
                })
            });
            let read = datastore.run_read_tx("dropped_read", move |tx| {
                Box::pin(async move { Ok(tx.get_task(&task_id).await?) })
            });
            let _ = tokio::time::timeout(patience, write).await;
            let _ = tokio::time::timeout(patience, read).await;
        }));
    }
    for caller in callers {
        caller.await.unwrap();
    }
    // A wedged pool would hang here for good: the bound turns that into a
    // failure instead of a stuck test run.
    let bound = std::time::Duration::from_secs(60);
    let found = tokio::time::timeout(
        bound,
        h.datastore.run_read_tx("check", move |tx| {
            let pairs = pairs.clone();
            Box::pin(async move {
                let mut found = Vec::with_capacity(pairs.len());
                for (a, b) in pairs {
                    found.push((
                        tx.get_client_report(&task_id, &a).await?.is_some(),
                        tx.get_client_report(&task_id, &b).await?.is_some(),
                    ));
                }
                Ok(found)
            })
        }),
    )
    .await
    .expect("the datastore still answers after dropped callers")
    .unwrap();
    assert!(
        found.iter().all(|(a, b)| a == b),
        "a dropped transaction was half applied: {:?}",
        found.iter().filter(|(a, b)| a != b).count()
    );
    // Ordinary writes go through, and closing does not hang.
    let more = report(&task_id, 7200, 1);
    tokio::time::timeout(
        bound,
        h.datastore.run_tx("after", move |tx| {
            let more = more.clone();
            Box::pin(async move { Ok(tx.put_client_reports(&[more]).await?) })
        }),
    )
    .await
    .expect("writes go through after dropped callers")
    .unwrap();
    tokio::time::timeout(bound, h.datastore.close())
        .await
        .expect("closing is bounded");
}
