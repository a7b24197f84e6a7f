//! What only SQLite has (the conformance suite, `tests/conformance/`, runs
//! on it too): the file and
//! its pragmas, re-opening, busy retries, cancelled transactions, and rows
//! corrupted behind the datastore's back.

use super::{SqliteDatastore, READER_CACHE_SIZE, WAL_AUTOCHECKPOINT_PAGES};
use crate::datastore::RetryPolicy;
use crate::testing::fixtures::{self, aggregation_job, interval, leader_task, report};
use crate::testing::run_test;
use crate::{Datastore, DatastoreError, DatastoreExt, DatastoreKeys, DatastoreOptions, TxError};
use dyad_core::clock::MockClock;
use dyad_messages::draft09::{ReportMetadata, Time};
use sqlx::Connection;
use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration as StdDuration;

struct Fixture {
    dir: tempfile::TempDir,
    clock: MockClock,
    keys: DatastoreKeys,
}

impl Fixture {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            clock: MockClock::default(),
            keys: DatastoreKeys::generate(),
        }
    }

    fn url(&self) -> String {
        format!("sqlite://{}", self.dir.path().join("db.sqlite").display())
    }

    fn options(&self) -> DatastoreOptions {
        DatastoreOptions::new(self.keys.clone())
    }

    async fn open(&self, options: DatastoreOptions) -> SqliteDatastore {
        SqliteDatastore::open(&self.url(), Arc::new(self.clock.clone()), &options)
            .await
            .unwrap()
    }
}

#[test]
fn file_is_created_with_wal_and_foreign_keys() {
    run_test(async {
        let f = Fixture::new();
        let datastore = f.open(f.options()).await;
        assert!(f.dir.path().join("db.sqlite").exists());
        let mut conn = datastore.pool.acquire().await.unwrap();
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!((mode.as_str(), foreign_keys, synchronous), ("wal", 1, 1));
        // Statement journals in memory (2), and a longer log between
        // checkpoints than SQLite's default of 1000 pages.
        let temp_store: i64 = sqlx::query_scalar("PRAGMA temp_store")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        let autocheckpoint: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(
            (temp_store, autocheckpoint),
            (2, WAL_AUTOCHECKPOINT_PAGES.parse::<i64>().unwrap())
        );
    });
}

/// The database, its WAL and its shared-memory index hold report shares and
/// sealed secrets: none is readable by anyone but the owner, whatever the
/// process umask.
#[cfg(unix)]
#[test]
fn database_wal_and_shm_files_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt as _;
    run_test(async {
        let f = Fixture::new();
        let datastore = f.open(f.options()).await;
        fixtures::put_tasks(&datastore, &[&leader_task()]).await;
        // Written, not yet checkpointed: the -wal and -shm files exist.
        for name in ["db.sqlite", "db.sqlite-wal", "db.sqlite-shm"] {
            let path = f.dir.path().join(name);
            let mode = std::fs::metadata(&path)
                .unwrap_or_else(|e| panic!("{name}: {e}"))
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}: {:o}", mode & 0o777);
        }
        datastore.close().await;
        let url = format!(
            "sqlite://{}",
            f.dir.path().join("migrated.sqlite").display()
        );
        SqliteDatastore::migrate(&url).await.unwrap();
        let mode = std::fs::metadata(f.dir.path().join("migrated.sqlite"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "migrate: {:o}", mode & 0o777);
    });
}

#[test]
fn reopening_keeps_data_and_schema() {
    run_test(async {
        let f = Fixture::new();
        let task = leader_task();
        let first = f.open(f.options()).await;
        fixtures::put_tasks(&first, &[&task]).await;
        first.close().await;
        let second = f.open(f.options()).await;
        let id = *task.task_id();
        let found = second
            .run_read_tx("get", move |tx| {
                Box::pin(async move { Ok(tx.get_task(&id).await?) })
            })
            .await
            .unwrap();
        assert_eq!(found, Some(task));
    });
}

#[test]
fn bad_urls_are_refused() {
    run_test(async {
        let clock = Arc::new(MockClock::default());
        for url in ["postgres://localhost/db", "/tmp/no-scheme.sqlite"] {
            let result = SqliteDatastore::open(
                url,
                clock.clone(),
                &DatastoreOptions::new(DatastoreKeys::generate()),
            )
            .await;
            assert!(matches!(result, Err(DatastoreError::Config(_))), "{url}");
        }
    });
}

/// A writer waits out another connection's write lock (retrying), and gives
/// up with `RetriesExhausted` if the lock is never released.
#[test]
fn busy_database_is_retried_then_given_up() {
    run_test(async {
        let f = Fixture::new();
        let config = DatastoreOptions {
            statement_timeout: StdDuration::from_millis(20),
            retry: RetryPolicy {
                max_attempts: 4,
                initial_backoff: StdDuration::from_millis(10),
                max_backoff: StdDuration::from_millis(20),
            },
            ..f.options()
        };
        let datastore = Arc::new(f.open(config).await);
        let task = leader_task();

        let mut blocker = sqlx::SqliteConnection::connect(&f.url()).await.unwrap();
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut blocker)
            .await
            .unwrap();
        let put = |datastore: Arc<SqliteDatastore>, task: dyad_core::task::Task| async move {
            datastore
                .run_tx("put", move |tx| {
                    let task = task.clone();
                    Box::pin(async move { Ok(tx.put_task(&task).await?) })
                })
                .await
        };
        let result = put(datastore.clone(), task.clone()).await;
        assert!(
            matches!(
                result,
                Err(TxError::Datastore(DatastoreError::RetriesExhausted {
                    attempts: 4,
                    ..
                }))
            ),
            "{result:?}"
        );

        let waiting = tokio::spawn(put(datastore.clone(), task.clone()));
        tokio::time::sleep(StdDuration::from_millis(30)).await;
        sqlx::query("ROLLBACK").execute(&mut blocker).await.unwrap();
        waiting.await.unwrap().unwrap();
    });
}

/// Writers of one process take turns in the process (the datastore's
/// queue) rather than in SQLite's busy handler: eight writers that each
/// hold the write lock far longer than the busy timeout all commit at
/// their first attempt, where SQLite alone would have answered all but one
/// `SQLITE_BUSY`.
#[test]
fn writers_of_one_process_queue_for_the_write_lock() {
    run_test(async {
        let f = Fixture::new();
        let config = DatastoreOptions {
            statement_timeout: StdDuration::from_millis(1),
            retry: RetryPolicy {
                max_attempts: 1,
                initial_backoff: StdDuration::from_millis(1),
                max_backoff: StdDuration::from_millis(1),
            },
            ..f.options()
        };
        let datastore = Arc::new(f.open(config).await);
        let writers = (0..8).map(|_| {
            let datastore = datastore.clone();
            tokio::spawn(async move {
                datastore
                    .run_tx("slow_writer", |tx| {
                        Box::pin(async move {
                            tx.put_task(&leader_task()).await?;
                            tokio::time::sleep(StdDuration::from_millis(20)).await;
                            Ok(())
                        })
                    })
                    .await
            })
        });
        for written in futures::future::join_all(writers).await {
            written.unwrap().unwrap();
        }
        // Readers are not queued: one runs while a writer holds the lock.
        let (writer, unlock) = hold_write_lock(datastore.clone()).await;
        let tasks = datastore
            .run_read_tx("reader", |tx| {
                Box::pin(async move { Ok(tx.get_tasks().await?) })
            })
            .await
            .unwrap();
        assert!(!tasks.is_empty());
        unlock.notify_one();
        writer.await.unwrap().unwrap();
    });
}

/// Starts a read-write transaction that has written and then waits, holding
/// the write lock, until the returned `Notify` is notified; returns once it
/// holds the lock.
async fn hold_write_lock(
    datastore: Arc<SqliteDatastore>,
) -> (
    tokio::task::JoinHandle<Result<(), TxError>>,
    Arc<tokio::sync::Notify>,
) {
    let (locked, unlock) = (
        Arc::new(tokio::sync::Notify::new()),
        Arc::new(tokio::sync::Notify::new()),
    );
    let (locked2, unlock2) = (locked.clone(), unlock.clone());
    let writer = tokio::spawn(async move {
        datastore
            .run_tx("holding_writer", move |tx| {
                let (locked, unlock) = (locked2.clone(), unlock2.clone());
                Box::pin(async move {
                    tx.put_task(&leader_task()).await?;
                    locked.notify_one();
                    unlock.notified().await;
                    Ok(())
                })
            })
            .await
    });
    locked.notified().await;
    (writer, unlock)
}

/// A connection the pool opens while a writer holds the write lock opens at
/// once: it asks for nothing that needs the lock (asking for the file's
/// auto-vacuum mode did, and such a connection waited in SQLite's busy
/// handler until the writer committed).
#[test]
fn connections_open_while_a_writer_holds_the_lock() {
    run_test(async {
        let f = Fixture::new();
        let config = DatastoreOptions {
            statement_timeout: StdDuration::from_secs(30),
            ..f.options()
        };
        let datastore = Arc::new(f.open(config).await);
        let options = datastore.pool.connect_options();
        let (writer, unlock) = hold_write_lock(datastore.clone()).await;
        let opened = tokio::time::timeout(
            StdDuration::from_secs(5),
            sqlx::SqliteConnection::connect_with(&options),
        )
        .await;
        let mut conn = opened
            .expect("the connection waited for the writer")
            .unwrap();
        let auto_vacuum: i64 = sqlx::query_scalar("PRAGMA auto_vacuum")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(auto_vacuum, 2, "the file stays INCREMENTAL");
        unlock.notify_one();
        writer.await.unwrap().unwrap();
    });
}

/// Read-write transactions all run on the writers' one connection, whose
/// page cache is SQLite's default where a reader's is smaller: while one
/// holds it, the writers' pool has no connection to give, and readers still
/// get theirs.
#[test]
fn writers_run_on_one_connection_with_a_larger_page_cache() {
    run_test(async {
        let f = Fixture::new();
        let datastore = Arc::new(f.open(f.options()).await);
        let writer_pool = datastore.writer_pool.clone().expect("a writers' pool");
        let cache_size = |pool: sqlx::SqlitePool| async move {
            let mut conn = pool.acquire().await.unwrap();
            sqlx::query_scalar::<_, i64>("PRAGMA cache_size")
                .fetch_one(&mut *conn)
                .await
                .unwrap()
        };
        assert_eq!(
            (
                cache_size(writer_pool.clone()).await,
                cache_size(datastore.pool.clone()).await
            ),
            (-2000, READER_CACHE_SIZE.parse::<i64>().unwrap())
        );

        let (writer, unlock) = hold_write_lock(datastore.clone()).await;
        let busy = tokio::time::timeout(StdDuration::from_millis(200), writer_pool.acquire()).await;
        assert!(busy.is_err(), "the writers' connection is the one in use");
        datastore.pool.acquire().await.expect("readers have theirs");
        unlock.notify_one();
        writer.await.unwrap().unwrap();
        let again = tokio::time::timeout(StdDuration::from_secs(5), writer_pool.acquire()).await;
        assert!(again.is_ok(), "given back once the transaction ended");
    });
}

/// A transaction whose caller goes away mid-way still runs to its end on
/// its own task (here: commits), then frees the write lock for the next
/// writer; nothing is left half-done on the connection.
#[test]
fn transaction_outlives_a_dropped_caller_and_frees_the_write_lock() {
    run_test(async {
        let f = Fixture::new();
        let datastore = f.open(f.options()).await;
        let task = leader_task();
        let id = *task.task_id();
        let slow = datastore.run_tx("slow", move |tx| {
            let task = task.clone();
            Box::pin(async move {
                tx.put_task(&task).await?;
                tokio::time::sleep(StdDuration::from_millis(200)).await;
                Ok(())
            })
        });
        assert!(tokio::time::timeout(StdDuration::from_millis(20), slow)
            .await
            .is_err());
        let other = leader_task();
        fixtures::put_tasks(&datastore, &[&other]).await;
        let found = datastore
            .run_read_tx("get", move |tx| {
                Box::pin(async move { Ok(tx.get_task(&id).await?) })
            })
            .await
            .unwrap();
        assert_eq!(found.as_ref().map(|t| *t.task_id()), Some(id));
    });
}

/// A task's `updated_at` is its storing time, then the time its expiration
/// last changed; `created_at` stays.
#[test]
fn task_updated_at_follows_changes() {
    run_test(async {
        let f = Fixture::new();
        let datastore = f.open(f.options()).await;
        f.clock.set(Time::from_seconds_since_epoch(1_000));
        let task = leader_task();
        let id = *task.task_id();
        fixtures::put_tasks(&datastore, &[&task]).await;
        let times = || async {
            let mut conn = datastore.pool.acquire().await.unwrap();
            sqlx::query_as::<_, (i64, i64)>(
                "SELECT created_at, updated_at FROM tasks WHERE task_id = ?",
            )
            .bind(id.as_bytes().as_slice())
            .fetch_one(&mut *conn)
            .await
            .unwrap()
        };
        assert_eq!(times().await, (1_000, 1_000));
        f.clock.set(Time::from_seconds_since_epoch(2_000));
        datastore
            .run_tx("expire", move |tx| {
                Box::pin(async move {
                    let expiration = Some(Time::from_seconds_since_epoch(9_000));
                    Ok(tx.update_task_expiration(&id, expiration).await?)
                })
            })
            .await
            .unwrap();
        assert_eq!(times().await, (1_000, 2_000));
    });
}

/// Rows that do not convert back are `Corrupt` errors, not panics.
#[test]
fn corrupt_rows_are_errors() {
    run_test(async {
        let f = Fixture::new();
        let datastore = f.open(f.options()).await;
        let task = leader_task();
        fixtures::put_tasks(&datastore, &[&task]).await;
        let job = aggregation_job(task.task_id(), b"", None, interval(0, 10));
        fixtures::put_aggregation_jobs(&datastore, std::slice::from_ref(&job)).await;
        let stored = report(task.task_id(), 100, 1);
        let put = stored.clone();
        datastore
            .run_tx("put", move |tx| {
                let put = put.clone();
                Box::pin(async move { Ok(tx.put_client_reports(&[put]).await?) })
            })
            .await
            .unwrap();

        let mut conn = datastore.pool.acquire().await.unwrap();
        for sql in [
            "UPDATE aggregation_jobs SET state = 99",
            "UPDATE client_reports SET helper_encrypted_input_share = x'01'",
            "UPDATE tasks SET task_document = x'7b7d'",
        ] {
            sqlx::query(sql).execute(&mut *conn).await.unwrap();
        }
        drop(conn);

        let (task_id, job_id, report_id) =
            (job.task_id, job.aggregation_job_id, *stored.report_id());
        let results = datastore
            .run_read_tx("read", move |tx| {
                Box::pin(async move {
                    Ok([
                        tx.get_aggregation_job(&task_id, &job_id).await.err(),
                        tx.get_client_report(&task_id, &report_id).await.err(),
                        tx.get_task(&task_id).await.err(),
                    ])
                })
            })
            .await
            .unwrap();
        for (error, column) in
            results
                .iter()
                .zip(["state", "helper_encrypted_input_share", "task_document"])
        {
            match error {
                Some(DatastoreError::Corrupt { column: c, .. }) => assert_eq!(*c, column),
                other => panic!("expected a corrupt {column}, got {other:?}"),
            }
        }
    });
}

/// Values beyond what SQLite integers hold are refused, not wrapped.
#[test]
fn out_of_range_values_are_refused() {
    run_test(async {
        let f = Fixture::new();
        let datastore = f.open(f.options()).await;
        let task = leader_task();
        fixtures::put_tasks(&datastore, &[&task]).await;
        let mut far = report(task.task_id(), 0, 1);
        far.metadata =
            ReportMetadata::new(*far.report_id(), Time::from_seconds_since_epoch(u64::MAX));
        let result = datastore
            .run_tx("put", move |tx| {
                let far = far.clone();
                Box::pin(async move { Ok(tx.put_client_reports(&[far]).await?) })
            })
            .await;
        assert!(
            matches!(
                result,
                Err(TxError::Datastore(DatastoreError::InvalidValue { .. }))
            ),
            "{result:?}"
        );
    });
}

/// What lies in the file is sealed: neither the auth token nor the task's
/// JSON form can be found in the stored task document.
#[test]
fn task_secrets_are_not_stored_in_the_clear() {
    run_test(async {
        let f = Fixture::new();
        let datastore = f.open(f.options()).await;
        let task = leader_task();
        let token = task
            .aggregator_auth_token()
            .token()
            .expect("the fixture stores its token")
            .as_str()
            .to_owned();
        let stored = task.clone();
        datastore
            .run_tx("put", move |tx| {
                let stored = stored.clone();
                Box::pin(async move { Ok(tx.put_task(&stored).await?) })
            })
            .await
            .unwrap();
        let raw: Vec<u8> = sqlx::query_scalar("SELECT task_document FROM tasks")
            .fetch_one(&datastore.pool)
            .await
            .unwrap();
        let contains = |needle: &[u8]| raw.windows(needle.len()).any(|w| w == needle);
        assert!(
            !contains(token.as_bytes()),
            "the token is stored in the clear"
        );
        // (Long needles: random ciphertext bytes cannot match them by chance.)
        assert!(!contains(b"vdaf_verify_key"));
        assert!(serde_json::from_slice::<serde_json::Value>(&raw).is_err());
    });
}

/// A new file is in incremental auto-vacuum mode, so that the pages of deleted rows are given back to the file
/// system by `reclaim_free_space` and the file shrinks.
#[test]
fn deleted_rows_pages_are_given_back() {
    run_test(async {
        let f = Fixture::new();
        let datastore = f.open(f.options()).await;
        let mut conn = datastore.pool.acquire().await.unwrap();
        let auto_vacuum: i64 = sqlx::query_scalar("PRAGMA auto_vacuum")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(auto_vacuum, 2, "INCREMENTAL");
        drop(conn);
        let task = leader_task();
        let task_id = *task.task_id();
        fixtures::put_tasks(&datastore, &[&task]).await;
        let mut reports: Vec<_> = (0..2000).map(|i| report(&task_id, 100 + i, 7)).collect();
        for stored in &mut reports {
            stored.leader_input_share = vec![7; 2000];
        }
        datastore
            .run_tx("put", move |tx| {
                let reports = reports.clone();
                Box::pin(async move {
                    tx.put_client_reports(&reports).await?;
                    Ok(())
                })
            })
            .await
            .unwrap();
        let checkpoint = |datastore: &SqliteDatastore| {
            let pool = datastore.pool.clone();
            async move {
                sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(&pool)
                    .await
                    .unwrap();
            }
        };
        checkpoint(&datastore).await;
        let file = f.dir.path().join("db.sqlite");
        let full = std::fs::metadata(&file).unwrap().len();
        let (deleted, reclaimed, again) = datastore
            .run_tx("gc", move |tx| {
                Box::pin(async move {
                    let deleted = tx
                        .delete_client_reports_before(
                            &task_id,
                            Time::from_seconds_since_epoch(10_000),
                            5000,
                        )
                        .await?;
                    let reclaimed = tx.reclaim_free_space(1_000_000).await?;
                    let again = tx.reclaim_free_space(1_000_000).await?;
                    Ok((deleted, reclaimed, again))
                })
            })
            .await
            .unwrap();
        checkpoint(&datastore).await;
        let after = std::fs::metadata(&file).unwrap().len();
        assert_eq!(deleted, 2000);
        assert!(reclaimed > 500, "{reclaimed} pages");
        assert_eq!(again, 0);
        assert!(after < full / 4, "file {full} bytes, then {after}");
    });
}

/// A file made without incremental auto-vacuum (by an earlier version) is
/// switched to it when opened to migrate.
#[test]
fn older_file_is_switched_to_incremental_auto_vacuum() {
    run_test(async {
        let f = Fixture::new();
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(&f.url())
            .unwrap()
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
        let mut conn = sqlx::SqliteConnection::connect_with(&options)
            .await
            .unwrap();
        sqlx::query("CREATE TABLE earlier (x INTEGER)")
            .execute(&mut conn)
            .await
            .unwrap();
        let before: i64 = sqlx::query_scalar("PRAGMA auto_vacuum")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        assert_eq!(before, 0, "NONE");
        let datastore = f.open(f.options()).await;
        let after: i64 = sqlx::query_scalar("PRAGMA auto_vacuum")
            .fetch_one(&datastore.pool)
            .await
            .unwrap();
        assert_eq!(after, 2, "INCREMENTAL");
        let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&datastore.pool)
            .await
            .unwrap();
        assert_eq!(journal, "wal");
    });
}

/// Migration 0008 moves the flag `aggregation_started` to the table of
/// reports no job has taken: a file whose reports are half taken keeps
/// exactly the others waiting.
#[test]
fn reports_waiting_for_a_job_stay_waiting_across_migration_0008() {
    run_test(async {
        let f = Fixture::new();
        let connect = sqlx::sqlite::SqliteConnectOptions::from_str(&f.url())
            .unwrap()
            .create_if_missing(true)
            .foreign_keys(false);
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(connect)
            .await
            .unwrap();
        let all = sqlx::migrate!("./migrations/sqlite");
        let mut before = sqlx::migrate!("./migrations/sqlite");
        before.migrations = std::borrow::Cow::Owned(
            all.migrations
                .iter()
                .filter(|m| m.version < 8)
                .cloned()
                .collect(),
        );
        before.run(&pool).await.unwrap();
        for (id, started) in [(1u8, 0), (2, 1), (3, 0)] {
            sqlx::query(
                "INSERT INTO client_reports (task_id, report_id, client_time, public_share,
                     leader_extensions, leader_input_share, helper_encrypted_input_share,
                     aggregation_started, created_at)
                 VALUES (X'00', ?, ?, X'', X'', X'', X'', ?, 0)",
            )
            .bind(vec![id; 16])
            .bind(3600 * i64::from(id))
            .bind(started)
            .execute(&pool)
            .await
            .unwrap();
        }
        all.run(&pool).await.unwrap();
        let waiting: Vec<(Vec<u8>, i64)> = sqlx::query_as(
            "SELECT report_id, client_time FROM unaggregated_reports ORDER BY client_time",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        assert_eq!(waiting, [(vec![1; 16], 3600), (vec![3; 16], 3 * 3600)]);
        let flag: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pragma_table_info('client_reports')
             WHERE name = 'aggregation_started'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(flag, 0, "the flag's column is gone");
    });
}

/// A process whose schema is older than the database's (a newer release
/// migrated it while this one still runs) takes no job, and takes them
/// again once the database is back at its schema.
#[test]
fn a_database_migrated_by_a_newer_release_gives_this_process_no_job() {
    run_test(async {
        let f = Fixture::new();
        let datastore = f.open(f.options()).await;
        let task = leader_task();
        fixtures::put_tasks(&datastore, &[&task]).await;
        let job = aggregation_job(task.task_id(), b"", None, interval(0, 3600));
        fixtures::put_aggregation_jobs(&datastore, &[job]).await;
        let acquire = || async {
            datastore
                .run_tx("acquire", |tx| {
                    Box::pin(async move {
                        Ok(tx
                            .acquire_aggregation_jobs(
                                dyad_messages::draft09::Duration::from_seconds(60),
                                10,
                            )
                            .await?)
                    })
                })
                .await
                .unwrap()
                .len()
        };
        let newer = crate::schema_version() + 1;
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum,
                 execution_time) VALUES (?, 'a newer release', 1, x'00', 0)",
        )
        .bind(newer)
        .execute(&datastore.pool)
        .await
        .unwrap();
        assert_eq!(acquire().await, 0);
        sqlx::query("DELETE FROM _sqlx_migrations WHERE version = ?")
            .bind(newer)
            .execute(&datastore.pool)
            .await
            .unwrap();
        assert_eq!(acquire().await, 1);
    });
}

/// The garbage collector's read of the earliest in-progress job that lists
/// its reports goes through the partial index of just those jobs
/// (migration 0014), not through every job of the task.
#[test]
fn the_earliest_listed_job_in_progress_is_read_from_its_own_index() {
    run_test(async {
        let f = Fixture::new();
        let datastore = f.open(f.options()).await;
        let query = format!(
            "EXPLAIN QUERY PLAN {}",
            crate::tables::client_reports::EARLIEST_LISTED_JOB_IN_PROGRESS
        );
        let plan = sqlx::query(&query)
            .bind(vec![0u8; 32])
            .bind(0i64)
            .fetch_all(&datastore.pool)
            .await
            .unwrap()
            .iter()
            .map(|row| sqlx::Row::get::<String, _>(row, "detail"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            plan.contains("aggregation_jobs_listed_in_progress"),
            "{plan}"
        );
    });
}
