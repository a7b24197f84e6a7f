//! Conformance: transactions are all or nothing, read-only ones cannot
//! write, "now" comes from the injected clock, and concurrent writers all
//! get through.

use dyad_core::clock::Clock;
use dyad_datastore::models::ReportWriteOutcome;
use dyad_datastore::testing::fixtures::{self, abort, leader_task, report, TestAbort};
use dyad_datastore::testing::TestDatastore;
use dyad_datastore::{DatastoreError, DatastoreExt, TxError};
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
    first: dyad_datastore::models::LeaderStoredReport,
    job: dyad_datastore::models::AggregationJob,
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

/// A body that never ends (it awaits something that never comes) is cut at
/// the maximum transaction duration: the caller gets
/// `TransactionTimedOut`, nothing it wrote is committed, its connection
/// is rolled back or closed (never returned in doubt), so a pool of one
/// connection serves the next transactions at once (on SQLite: the write
/// lock is free again), and closing is prompt.
pub async fn hanging_body_is_cut_at_the_bound(h: TestDatastore) {
    let limit = std::time::Duration::from_millis(400);
    // One connection: a connection kept by the hung body would starve
    // every later transaction.
    let mut options = one_connection(&h);
    options.max_transaction_duration = limit;
    let bounded = h.reopen_with.as_ref()(options).await.unwrap();
    let task = leader_task();
    let task_id = *task.task_id();
    let stored_task = task.clone();
    // Far past the bound: a body that is not cut fails the test here
    // instead of hanging it.
    let patience = std::time::Duration::from_secs(30);

    let started = std::time::Instant::now();
    let hung = tokio::time::timeout(
        patience,
        bounded.run_tx("hangs_writing", move |tx| {
            let task = task.clone();
            Box::pin(async move {
                tx.put_task(&task).await?;
                std::future::pending::<()>().await;
                Ok(())
            })
        }),
    )
    .await
    .expect("the hanging writer is cut at the bound");
    let elapsed = started.elapsed();
    match hung {
        Err(TxError::Datastore(DatastoreError::TransactionTimedOut {
            name: "hangs_writing",
            limit: reported,
            elapsed: reported_elapsed,
        })) => {
            assert_eq!(reported, limit);
            assert!(reported_elapsed >= limit, "{reported_elapsed:?}");
        }
        other => panic!("expected TransactionTimedOut, got {other:?}"),
    }
    assert!(
        elapsed >= limit && elapsed < limit + std::time::Duration::from_secs(5),
        "cut after {elapsed:?} with a bound of {limit:?}"
    );
    let message = hung.unwrap_err().to_string();
    assert!(
        message.contains("hangs_writing") && message.contains("maximum transaction duration"),
        "{message}"
    );

    // A hanging reader is cut the same way, and is not run again.
    let runs = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counted = runs.clone();
    let read = tokio::time::timeout(
        patience,
        bounded.run_read_tx("hangs_reading", move |tx| {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Box::pin(async move {
                tx.get_tasks().await?;
                std::future::pending::<()>().await;
                Ok(())
            })
        }),
    )
    .await
    .expect("the hanging reader is cut at the bound");
    assert!(
        matches!(
            read,
            Err(TxError::Datastore(
                DatastoreError::TransactionTimedOut { .. }
            ))
        ),
        "{read:?}"
    );
    assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 1);

    // Nothing the hung writer did was committed, and the only connection
    // serves again at once: reads and writes through this handle and
    // through the test's own (on SQLite, the write lock was released).
    let quick = std::time::Duration::from_secs(5);
    let found = task_read_within(
        &bounded,
        task_id,
        quick,
        "the pool serves after a body was cut",
    )
    .await;
    assert_eq!(found, None);
    for (i, datastore) in [&bounded, &h.datastore, &bounded].into_iter().enumerate() {
        let (task, more) = (
            stored_task.clone(),
            report(&task_id, 3600 + i as u64, i as u8),
        );
        let stored = tokio::time::timeout(
            quick,
            datastore.run_tx("after", move |tx| {
                let (task, more) = (task.clone(), more.clone());
                Box::pin(async move {
                    tx.put_task(&task).await?;
                    Ok(tx.put_client_reports(&[more]).await?)
                })
            }),
        )
        .await
        .expect("the pool serves after a body was cut")
        .unwrap();
        assert_eq!(stored, vec![ReportWriteOutcome::Stored]);
    }

    // No connection is left in use: closing does not wait out its bound.
    let closing = std::time::Instant::now();
    bounded.close().await;
    assert!(
        closing.elapsed() < std::time::Duration::from_secs(2),
        "closing took {:?}",
        closing.elapsed()
    );
}

/// A body that panics after writing commits nothing, and the panic reaches
/// the caller; the connection it ran on is never handed out still inside
/// its transaction, so a pool of one connection serves the next writer at
/// once (on SQLite: the write lock is free again).
pub async fn a_panicking_body_leaves_no_half_transaction(h: TestDatastore) {
    // One connection: one left inside the panicked transaction would
    // fail or block every later one.
    let bounded = h.reopen_with.as_ref()(one_connection(&h)).await.unwrap();
    let task = leader_task();
    let task_id = *task.task_id();
    let stored_task = task.clone();

    let datastore = bounded.clone();
    let panicked = tokio::spawn(async move {
        datastore
            .run_tx("panics_writing", move |tx| {
                let task = task.clone();
                Box::pin(async move {
                    tx.put_task(&task).await?;
                    panic!("the body fails half-way");
                    #[allow(unreachable_code)]
                    Ok(())
                })
            })
            .await
    })
    .await;
    assert!(panicked.unwrap_err().is_panic());

    let quick = std::time::Duration::from_secs(10);
    let found = task_read_within(
        &bounded,
        task_id,
        quick,
        "the pool serves after a body panicked",
    )
    .await;
    assert_eq!(found, None, "the panicked body's write was committed");
    tokio::time::timeout(
        quick,
        bounded.run_tx("after", move |tx| {
            let task = stored_task.clone();
            Box::pin(async move { Ok(tx.put_task(&task).await?) })
        }),
    )
    .await
    .expect("a writer gets through after a body panicked")
    .unwrap();
    let found = h
        .datastore
        .run_read_tx("check_again", move |tx| {
            Box::pin(async move { Ok(tx.get_task(&task_id).await?) })
        })
        .await
        .unwrap();
    assert!(found.is_some());
}

/// The options of a pool of one connection, waiting at most 5 s for it.
fn one_connection(h: &TestDatastore) -> dyad_datastore::DatastoreOptions {
    let mut options = dyad_datastore::DatastoreOptions::new(h.keys.clone());
    options.max_connections = 1;
    options.acquire_timeout = std::time::Duration::from_secs(5);
    options
}

/// Task `task_id` as `datastore` reads it, within `bound` (else the test
/// fails with `serves`).
async fn task_read_within(
    datastore: &std::sync::Arc<dyn dyad_datastore::Datastore>,
    task_id: dyad_messages::draft09::TaskId,
    bound: std::time::Duration,
    serves: &str,
) -> Option<dyad_core::task::Task> {
    tokio::time::timeout(
        bound,
        datastore.run_read_tx("check", move |tx| {
            Box::pin(async move { Ok(tx.get_task(&task_id).await?) })
        }),
    )
    .await
    .expect(serves)
    .unwrap()
}
