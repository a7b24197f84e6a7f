//! The garbage collector end to end: a Leader and a Helper (`dyad serve`,
//! each also running the `garbage-collector` role every second) with a task
//! whose reports expire after a few seconds go through several rounds of
//! upload and collection. Every collection is exact; after the last round
//! each table of both aggregators holds only what the last round's
//! unexpired data needs, then nothing once that expired too; the SQLite
//! files stop growing across rounds (their sizes are printed); and a task
//! past its expiration (with no grace period) is deleted whole.
//!
//! Runs on SQLite files, and on fresh PostgreSQL databases when
//! `DYAD_TEST_DATABASE_URL` is set (as `scripts/postgres.sh` provides).

use dyad_core::clock::RealClock;
use dyad_core::vdaf::{plaintext_aggregate, random_measurement, AggregationParam, Measurement};
use dyad_datastore::models::TaskRowCounts;
use dyad_datastore::{DatastoreExt, DatastoreKeys, DatastoreOptions};
use dyad_integration_tests::{assert_aggregate_eq, run_dyad, Dyad, Server, TaskOptions, WAIT};
use dyad_messages::draft09::{Duration, Interval, Query, TaskId, Time};
use dyad_test_support::postgres::TestDatabase;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// The task's time precision: one second, so that each round's reports
/// share a bucket of their own.
const PRECISION: u64 = 1;
/// The task's report expiry age, in seconds.
const EXPIRY: u64 = 15;
/// Seconds from one round's start to the next.
const ROUND_SECS: u64 = 10;
const ROUNDS: usize = 5;
const REPORTS: usize = 60;
/// Large enough shares that a round's rows weigh a few hundred KiB.
const VDAF: &str = r#"{"type":"Prio3Histogram","length":"100","chunk_length":"10"}"#;

fn now_secs() -> u64 {
    dyad_client::system_time().as_seconds_since_epoch()
}

/// Reads the datastore URL and key from a server's configuration file.
fn datastore_of(server: &Server) -> (String, String) {
    let config: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(server.config_path()).unwrap()).unwrap();
    let url = config["datastore"].as_str().unwrap().to_owned();
    let key = config["datastore_keys"][0].as_str().unwrap().to_owned();
    (url, key)
}

/// The rows stored for the task on a server's datastore (`None`: no such
/// task), read through the datastore as a second process would.
async fn count_rows(server: &Server, task_id: TaskId) -> Option<TaskRowCounts> {
    let (url, key) = datastore_of(server);
    let mut options = DatastoreOptions::new(DatastoreKeys::from_encoded(&[key]).unwrap());
    options.apply_migrations = false;
    let datastore = dyad_datastore::open(&url, Arc::new(RealClock), &options)
        .await
        .unwrap();
    let counts = datastore
        .run_read_tx("count", move |tx| {
            Box::pin(async move { Ok(tx.count_task_rows(&task_id).await?) })
        })
        .await
        .unwrap();
    datastore.close().await;
    // The task's statistics are kept as long as the task (at most one row
    // per shard, whatever the traffic): they go only with the task, which
    // the end of the test checks.
    counts.map(|counts| {
        assert!(counts.task_counters <= 32, "{counts:?}");
        TaskRowCounts {
            task_counters: 0,
            ..counts
        }
    })
}

/// The size of a SQLite file and of its write-ahead log, in bytes, after a
/// checkpoint has copied the log into the file (SQLite does so by itself
/// once the log reaches 1000 pages; the test's rounds write less), so that
/// the file's size is what the database holds.
async fn sqlite_size(path: &Path) -> (u64, u64) {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .busy_timeout(std::time::Duration::from_secs(10));
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect_with(&options)
        .await
        .unwrap();
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut conn)
        .await
        .unwrap();
    let mode: i64 = sqlx::query_scalar("PRAGMA auto_vacuum")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        mode,
        2,
        "{} is in incremental auto-vacuum mode",
        path.display()
    );
    <sqlx::SqliteConnection as sqlx::Connection>::close(conn)
        .await
        .unwrap();
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    (size(path), size(Path::new(&wal)))
}

/// What the rows of one collected round of `REPORTS` reports in one job
/// are, on the Leader and on the Helper.
fn one_round() -> (TaskRowCounts, TaskRowCounts) {
    let reports = REPORTS as u64;
    // The Leader's job lists its reports on its row (a VDAF of one round):
    // they have no report aggregations either.
    let leader = TaskRowCounts {
        client_reports: reports,
        aggregation_jobs: 1,
        batch_aggregations: 1,
        collected_batches: 1,
        collection_jobs: 1,
        ..TaskRowCounts::default()
    };
    // The Helper's job finishes in its initialization (Prio3): its answer
    // is kept on the job's row, and its reports have no rows.
    let helper = TaskRowCounts {
        aggregation_jobs: 1,
        batch_aggregations: 1,
        collected_batches: 1,
        aggregate_share_jobs: 1,
        helper_seen_reports: reports,
        ..TaskRowCounts::default()
    };
    (leader, helper)
}

/// Polls both aggregators' row counts until they are `want`, failing with
/// the last counts seen once `deadline` (seconds since the epoch) passes.
async fn wait_for_counts(
    dyad: &Dyad,
    task_id: TaskId,
    want: (Option<TaskRowCounts>, Option<TaskRowCounts>),
    deadline: u64,
    what: &str,
) {
    loop {
        let got = (
            count_rows(&dyad.leader, task_id).await,
            count_rows(&dyad.helper, task_id).await,
        );
        if got == want {
            println!(
                "{what}: reached at {} s before the deadline",
                deadline.saturating_sub(now_secs())
            );
            return;
        }
        if now_secs() >= deadline {
            panic!(
                "{what}: rows per table (leader, helper) are\n{got:#?}\nwant\n{want:#?}\n{}",
                dyad.logs()
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

/// Starts the pair with the garbage collector on both, on SQLite files or
/// (with `postgres`) on the given databases.
async fn start(postgres: Option<(&TestDatabase, &TestDatabase)>) -> Dyad {
    let options = TaskOptions {
        time_precision: PRECISION,
        report_expiry_age: Some(EXPIRY),
        ..TaskOptions::time_interval(VDAF, REPORTS as u64)
    };
    let job_size = REPORTS.to_string();
    Dyad::start_prepared(&options, |_, leader, helper| {
        leader.set_config(
            "roles",
            "[aggregator, aggregation-job-creator, aggregation-job-driver, \
             collection-job-driver, garbage-collector]",
        )?;
        helper.set_config("roles", "[aggregator, garbage-collector]")?;
        // One job per round: it waits for the round's reports.
        leader.set_config(
            "aggregation_job_creator",
            &format!("{{interval_ms: 100, min_job_size: {job_size}, max_job_size: {job_size}}}"),
        )?;
        for server in [&*leader, &*helper] {
            server.set_config(
                "garbage_collector",
                "{interval_secs: 1, max_rows_per_transaction: 25, task_expiration_grace_secs: 0, \
                 clock_skew_margin_secs: 0}",
            )?;
        }
        if let Some((leader_db, helper_db)) = postgres {
            for (server, db) in [(&*leader, leader_db), (&*helper, helper_db)] {
                server.set_config("datastore", &format!("{:?}", db.url()))?;
                server.set_config("datastore_apply_migrations", "true")?;
            }
        }
        Ok(())
    })
    .await
    .unwrap()
}

/// One round: `REPORTS` reports timestamped `time`, then the collection of
/// their bucket, which must be exact.
async fn round(dyad: &Dyad, time: Time) {
    let mut rng = rand::thread_rng();
    let measurements: Vec<Measurement> = (0..REPORTS)
        .map(|_| random_measurement(dyad.vdaf(), &mut rng))
        .collect();
    let client = dyad.client_at(time);
    let results = tokio::time::timeout(WAIT, client.upload_batch(&measurements, 8))
        .await
        .expect("uploads timed out");
    for result in results {
        if let Err(error) = result {
            panic!("upload failed: {error}\n{}", dyad.logs());
        }
    }
    let batch = Interval::new(time, Duration::from_seconds(PRECISION)).unwrap();
    let collection = dyad.collect(Query::TimeInterval(batch)).await.unwrap();
    assert_eq!(collection.report_count, REPORTS as u64);
    let want = plaintext_aggregate(dyad.vdaf(), &AggregationParam::Empty, &measurements).unwrap();
    assert_aggregate_eq(&collection.aggregate_result, &want);
}

async fn expired_data_is_collected(dyad: Dyad, sqlite: bool) {
    let task_id = dyad.credentials.task_id;
    let files = [
        dyad.dir().join("leader.sqlite"),
        dyad.dir().join("helper.sqlite"),
    ];
    let mut sizes = Vec::new();
    let mut last_time = 0;
    for number in 1..=ROUNDS {
        let started = Instant::now();
        last_time = now_secs();
        round(&dyad, Time::from_seconds_since_epoch(last_time)).await;
        if sqlite {
            let size = [sqlite_size(&files[0]).await, sqlite_size(&files[1]).await];
            println!(
                "round {number}: leader file {} + WAL {} bytes, helper file {} + WAL {} bytes",
                size[0].0, size[0].1, size[1].0, size[1].1
            );
            sizes.push(size);
        }
        if number < ROUNDS {
            let round_time = std::time::Duration::from_secs(ROUND_SECS);
            tokio::time::sleep(round_time.saturating_sub(started.elapsed())).await;
        }
    }
    // The earlier rounds go (each ROUND_SECS before the last, so gone about
    // EXPIRY - ROUND_SECS + 3 s after the last round), while the last
    // round's reports stay until EXPIRY after their time.
    let (leader, helper) = one_round();
    wait_for_counts(
        &dyad,
        task_id,
        (Some(leader), Some(helper)),
        last_time + EXPIRY - 1,
        "only the last round left",
    )
    .await;
    // Then the last round goes too.
    wait_for_counts(
        &dyad,
        task_id,
        (
            Some(TaskRowCounts::default()),
            Some(TaskRowCounts::default()),
        ),
        last_time + EXPIRY + 15,
        "nothing left",
    )
    .await;

    if sqlite {
        // The files hold a round or two of data at most: from round 2 on
        // (when the first round's rows were gone and their pages given
        // back) they do not grow.
        for (which, index) in [("leader", 0), ("helper", 1)] {
            let (second, last) = (sizes[1][index].0, sizes[ROUNDS - 1][index].0);
            assert!(
                last <= second + second / 4 + 64 * 1024,
                "{which}: {second} bytes after round 2, {last} after round {ROUNDS}: {sizes:?}"
            );
        }
        let after = [sqlite_size(&files[0]).await, sqlite_size(&files[1]).await];
        println!(
            "all expired: leader file {} bytes, helper file {} bytes",
            after[0].0, after[1].0
        );
    }

    // A task past its expiration (no grace period here) goes whole.
    for server in [&dyad.leader, &dyad.helper] {
        run_dyad([
            "task".as_ref(),
            "update".as_ref(),
            "--config".as_ref(),
            server.config_path().as_os_str(),
            task_id.to_string().as_ref(),
            "--task-expiration".as_ref(),
            (now_secs() - 1).to_string().as_ref(),
        ])
        .unwrap();
    }
    wait_for_counts(
        &dyad,
        task_id,
        (None, None),
        now_secs() + 15,
        "the expired task deleted",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_collector_keeps_only_unexpired_data_on_sqlite() {
    let dyad = start(None).await;
    expired_data_is_collected(dyad, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_collector_keeps_only_unexpired_data_on_postgres() {
    let (Some(leader_db), Some(helper_db)) =
        (TestDatabase::create().await, TestDatabase::create().await)
    else {
        eprintln!("DYAD_TEST_DATABASE_URL is not set: skipped");
        return;
    };
    let dyad = start(Some((&leader_db, &helper_db))).await;
    expired_data_is_collected(dyad, false).await;
}
