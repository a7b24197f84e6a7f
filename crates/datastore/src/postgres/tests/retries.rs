//! Retries on PostgreSQL: serialization failures (injected, and a real
//! write skew), deadlocks, statement timeouts and dropped connections rerun
//! the whole body; a body that keeps failing ends in `RetriesExhausted`;
//! other errors are not retried.

use super::with_database;
use crate::datastore::RetryPolicy;
use crate::models::{BatchAggregation, BatchIdentifier};
use crate::testing::fixtures::{self, helper_task, interval, leader_task};
use crate::{Datastore, DatastoreError, DatastoreExt, DatastoreOptions, TxError};
use dyad_core::task::Task;
use dyad_messages::draft09::{AggregationJobId, ReportIdChecksum};
use sqlx::PgConnection;
use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};
use tokio::sync::{Barrier, Notify};

/// Makes the next `times` inserts into `tasks` fail with SQLSTATE `code`
/// (a sequence counts them: sequences are not rolled back).
async fn fail_task_inserts(conn: &mut PgConnection, code: &str, times: u32) {
    sqlx::raw_sql(&format!(
        "DROP TRIGGER IF EXISTS dyad_test_fail ON tasks;
         DROP SEQUENCE IF EXISTS dyad_test_failures;
         CREATE SEQUENCE dyad_test_failures;
         CREATE OR REPLACE FUNCTION dyad_test_fail() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             IF nextval('dyad_test_failures') <= {times} THEN
                 RAISE EXCEPTION 'injected failure' USING ERRCODE = '{code}';
             END IF;
             RETURN NEW;
         END $$;
         CREATE TRIGGER dyad_test_fail BEFORE INSERT ON tasks
             FOR EACH ROW EXECUTE FUNCTION dyad_test_fail();"
    ))
    .execute(conn)
    .await
    .expect("install the failing trigger");
}

fn quick_retries(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        initial_backoff: StdDuration::from_millis(5),
        max_backoff: StdDuration::from_millis(20),
    }
}

/// Puts `task`, counting the runs of the body.
async fn put_counting(
    datastore: &dyn Datastore,
    task: &Task,
    runs: &Arc<AtomicU32>,
) -> Result<(), TxError> {
    let (task, runs) = (task.clone(), runs.clone());
    datastore
        .run_tx("put", move |tx| {
            let (task, runs) = (task.clone(), runs.clone());
            Box::pin(async move {
                runs.fetch_add(1, Ordering::SeqCst);
                Ok(tx.put_task(&task).await?)
            })
        })
        .await
}

async fn stored_tasks(datastore: &dyn Datastore) -> Vec<Task> {
    datastore
        .run_read_tx("list", |tx| {
            Box::pin(async move { Ok(tx.get_tasks().await?) })
        })
        .await
        .unwrap()
}

/// Serialization failures, deadlocks, statement cancellations and a server
/// going down rerun the body until it succeeds.
#[test]
fn transient_failures_are_retried() {
    with_database(|f| async move {
        let datastore = f
            .open(DatastoreOptions {
                retry: quick_retries(10),
                ..f.options()
            })
            .await;
        let mut conn = f.connect().await;
        let mut expected = Vec::new();
        for code in ["40001", "40P01", "57014", "08006", "57P01"] {
            fail_task_inserts(&mut conn, code, 2).await;
            let task = leader_task();
            let runs = Arc::new(AtomicU32::new(0));
            put_counting(&datastore, &task, &runs)
                .await
                .unwrap_or_else(|e| panic!("{code}: {e}"));
            assert_eq!(runs.load(Ordering::SeqCst), 3, "{code}");
            expected.push(task);
        }
        let mut stored = stored_tasks(&datastore).await;
        stored.sort_by_key(|t| *t.task_id());
        expected.sort_by_key(|t| *t.task_id());
        assert_eq!(stored, expected);
    });
}

/// A body that fails every time is run `max_attempts` times, then the
/// transaction fails with `RetriesExhausted`, leaving nothing behind.
#[test]
fn retries_are_given_up_after_max_attempts() {
    with_database(|f| async move {
        let datastore = f
            .open(DatastoreOptions {
                retry: quick_retries(3),
                ..f.options()
            })
            .await;
        fail_task_inserts(&mut f.connect().await, "40001", 1000).await;
        let runs = Arc::new(AtomicU32::new(0));
        let result = put_counting(&datastore, &leader_task(), &runs).await;
        assert!(
            matches!(
                result,
                Err(TxError::Datastore(DatastoreError::RetriesExhausted {
                    name: "put",
                    attempts: 3,
                    ..
                }))
            ),
            "{result:?}"
        );
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        assert!(stored_tasks(&datastore).await.is_empty());
    });
}

/// Errors that are not transient are returned at once: a constraint the
/// body breaks, or the caller's own abort.
#[test]
fn other_errors_are_not_retried() {
    with_database(|f| async move {
        let datastore = f.open(f.options()).await;
        fail_task_inserts(&mut f.connect().await, "23514", 1000).await;
        let runs = Arc::new(AtomicU32::new(0));
        let result = put_counting(&datastore, &leader_task(), &runs).await;
        assert!(
            matches!(result, Err(TxError::Datastore(DatastoreError::Database(_)))),
            "{result:?}"
        );
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        let aborts = Arc::new(AtomicU32::new(0));
        let counter = aborts.clone();
        let result = datastore
            .run_tx("abort", move |_tx| {
                counter.fetch_add(1, Ordering::SeqCst);
                Box::pin(async move { Err::<(), _>(fixtures::abort()) })
            })
            .await;
        assert!(result.is_err());
        assert_eq!(aborts.load(Ordering::SeqCst), 1);
    });
}

/// Every connection has the configured statement timeout; a statement
/// that runs past it is cancelled, and the transaction is retried.
#[test]
fn statement_timeout_cancels_and_retries() {
    with_database(|f| async move {
        let datastore = f
            .open(DatastoreOptions {
                statement_timeout: StdDuration::from_millis(300),
                retry: quick_retries(5),
                ..f.options()
            })
            .await;
        sqlx::raw_sql(
            "CREATE SEQUENCE dyad_test_slow;
             CREATE FUNCTION dyad_test_slow() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
                 IF nextval('dyad_test_slow') <= 1 THEN PERFORM pg_sleep(5); END IF;
                 RETURN NEW;
             END $$;
             CREATE TRIGGER dyad_test_slow BEFORE INSERT ON tasks
                 FOR EACH ROW EXECUTE FUNCTION dyad_test_slow();",
        )
        .execute(&mut f.connect().await)
        .await
        .unwrap();
        let started = Instant::now();
        let runs = Arc::new(AtomicU32::new(0));
        put_counting(&datastore, &leader_task(), &runs)
            .await
            .unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert!(started.elapsed() < StdDuration::from_secs(4));
    });
}

/// The Helper's write skew: one transaction checks that a batch is not
/// collected and adds to its aggregations while another reads the
/// aggregations and marks the batch collected. Under SERIALIZABLE one of
/// them fails with a serialization failure and is rerun, and the rerun sees
/// the other's write.
#[test]
fn write_skew_is_caught_and_retried() {
    with_database(|f| async move {
        let datastore = Arc::new(f.open(f.options()).await);
        let task = helper_task();
        fixtures::put_tasks(datastore.as_ref(), &[&task]).await;
        let task_id = *task.task_id();
        let bucket = BatchIdentifier::TimeInterval(interval(3600, 3600));
        let barrier = Arc::new(Barrier::new(2));

        let aggregate = {
            let (datastore, barrier) = (datastore.clone(), barrier.clone());
            let runs = Arc::new(AtomicU32::new(0));
            tokio::spawn(async move {
                let counter = runs.clone();
                let result = datastore
                    .run_tx("aggregate", move |tx| {
                        let (barrier, counter) = (barrier.clone(), counter.clone());
                        Box::pin(async move {
                            let run = counter.fetch_add(1, Ordering::SeqCst);
                            let collected = tx.is_batch_collected(&task_id, &bucket, None).await?;
                            if run == 0 {
                                barrier.wait().await;
                            }
                            if !collected {
                                let row = BatchAggregation {
                                    task_id,
                                    batch_identifier: bucket,
                                    aggregation_parameter: vec![],
                                    aggregation_job_id: AggregationJobId::random(),
                                    aggregate_share: vec![1],
                                    report_count: 1,
                                    checksum: ReportIdChecksum([1; 32]),
                                    client_timestamp_interval: interval(3600, 1),
                                };
                                tx.put_batch_aggregations(&[row], None).await?;
                            }
                            Ok(collected)
                        })
                    })
                    .await;
                (result, runs.load(Ordering::SeqCst))
            })
        };
        let collect = {
            let (datastore, barrier) = (datastore.clone(), barrier.clone());
            let runs = Arc::new(AtomicU32::new(0));
            tokio::spawn(async move {
                let counter = runs.clone();
                let result = datastore
                    .run_tx("collect", move |tx| {
                        let (barrier, counter) = (barrier.clone(), counter.clone());
                        Box::pin(async move {
                            let run = counter.fetch_add(1, Ordering::SeqCst);
                            let rows = tx
                                .get_batch_aggregations_for_batch(&task_id, &bucket, &[])
                                .await?;
                            if run == 0 {
                                barrier.wait().await;
                            }
                            tx.put_collected_batch(&task_id, &bucket, &[]).await?;
                            Ok(rows.len())
                        })
                    })
                    .await;
                (result, runs.load(Ordering::SeqCst))
            })
        };
        let (aggregated, aggregate_runs) = aggregate.await.unwrap();
        let (collected_rows, collect_runs) = collect.await.unwrap();
        let (was_collected, collected_rows) = (aggregated.unwrap(), collected_rows.unwrap());
        assert!(aggregate_runs + collect_runs >= 3, "one of them was rerun");
        // The outcome of one running after the other: either the aggregation
        // saw the batch collected (and added nothing), or the collection saw
        // the aggregation. Never both blind to each other.
        assert!(
            (was_collected && collected_rows == 0) || (!was_collected && collected_rows == 1),
            "collected: {was_collected}, rows seen by the collection: {collected_rows}"
        );
    });
}

/// A connection killed in the middle of a transaction (the server
/// restarted, a proxy dropped it) fails the body, which is run again on a
/// fresh connection; the first run's writes are gone.
#[test]
fn dropped_connection_is_retried() {
    with_database(|f| async move {
        let datastore = Arc::new(f.open(f.options()).await);
        let task = leader_task();
        let other = leader_task();
        let (paused, resume) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        let runs = Arc::new(AtomicU32::new(0));
        let body = {
            let (datastore, paused, resume, runs) = (
                datastore.clone(),
                paused.clone(),
                resume.clone(),
                runs.clone(),
            );
            let (task, other) = (task.clone(), other.clone());
            tokio::spawn(async move {
                datastore
                    .run_tx("interrupted", move |tx| {
                        let (paused, resume, runs) = (paused.clone(), resume.clone(), runs.clone());
                        let (task, other) = (task.clone(), other.clone());
                        Box::pin(async move {
                            let run = runs.fetch_add(1, Ordering::SeqCst);
                            tx.put_task(&task).await?;
                            if run == 0 {
                                paused.notify_one();
                                resume.notified().await;
                            }
                            tx.put_task(&other).await?;
                            Ok(())
                        })
                    })
                    .await
            })
        };
        paused.notified().await;
        let mut admin = f.connect().await;
        let killed: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = $1 AND application_name = 'dyad' AND pid <> pg_backend_pid()",
        )
        .bind(f.db.name())
        .fetch_all(&mut admin)
        .await
        .unwrap();
        assert!(!killed.is_empty());
        resume.notify_one();
        body.await.unwrap().unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        let mut stored = stored_tasks(datastore.as_ref()).await;
        stored.sort_by_key(|t| *t.task_id());
        let mut expected = vec![task, other];
        expected.sort_by_key(|t| *t.task_id());
        assert_eq!(stored, expected);
    });
}

/// A connection lost while the COMMIT is under way leaves the outcome
/// unknown: the transaction fails with `CommitInDoubt` and the body is not
/// run again (it could apply twice).
#[test]
fn connection_lost_while_committing_is_in_doubt() {
    with_database(|f| async move {
        let datastore = f.open(f.options()).await;
        let mut admin = f.connect().await;
        // A deferred trigger runs inside COMMIT: make it slow enough to
        // kill the connection meanwhile.
        sqlx::raw_sql(
            "CREATE FUNCTION dyad_test_slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN PERFORM pg_sleep(10); RETURN NULL; END $$;
             CREATE CONSTRAINT TRIGGER dyad_test_slow_commit AFTER INSERT ON tasks
                 DEFERRABLE INITIALLY DEFERRED
                 FOR EACH ROW EXECUTE FUNCTION dyad_test_slow_commit();",
        )
        .execute(&mut admin)
        .await
        .unwrap();
        let runs = Arc::new(AtomicU32::new(0));
        let committing = {
            let (task, runs) = (leader_task(), runs.clone());
            async move { put_counting(&datastore, &task, &runs).await }
        };
        let killer = async {
            for _ in 0..200 {
                let killed: Vec<bool> = sqlx::query_scalar(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                     WHERE datname = $1 AND application_name = 'dyad'
                       AND wait_event = 'PgSleep'",
                )
                .bind(f.db.name())
                .fetch_all(&mut admin)
                .await
                .unwrap();
                if !killed.is_empty() {
                    return;
                }
                tokio::time::sleep(StdDuration::from_millis(25)).await;
            }
            panic!("the commit never started");
        };
        let (result, ()) = tokio::join!(committing, killer);
        assert!(
            matches!(
                result,
                Err(TxError::Datastore(DatastoreError::CommitInDoubt {
                    name: "put",
                    ..
                }))
            ),
            "{result:?}"
        );
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    });
}

/// Which driver errors are transient: connection failures and pool
/// timeouts are, protocol errors are not, and a commit whose outcome is
/// unknown never is.
#[test]
fn retry_classification_of_driver_errors() {
    let io = || sqlx::Error::Io(io::Error::from(io::ErrorKind::ConnectionReset));
    let dropped = DatastoreError::Database(io());
    assert!(dropped.is_retryable() && dropped.is_connection_failure());
    assert!(DatastoreError::Database(sqlx::Error::PoolTimedOut).is_retryable());
    for permanent in [
        sqlx::Error::Protocol("bad message".into()),
        sqlx::Error::PoolClosed,
        sqlx::Error::RowNotFound,
    ] {
        assert!(!DatastoreError::Database(permanent).is_retryable());
    }
    let in_doubt = DatastoreError::CommitInDoubt {
        name: "commit",
        source: io(),
    };
    assert!(!in_doubt.is_retryable());
    assert!(in_doubt.to_string().contains("outcome unknown"));
}
