//! Graceful shutdown of a Leader's aggregation job driver on PostgreSQL:
//! the Leader runs as three `dyad serve` processes on one database (the
//! HTTP API with the job creator and the collection job driver, and two
//! aggregation job drivers), with leases of 600 s and a 4 s shutdown
//! grace; its Helper (SQLite) sits behind a fault proxy that answers two
//! of the first driver's six aggregation job requests after 1.5 s and
//! holds the other four answers for 20 s.
//!
//! The first driver takes all six jobs; once their requests are in flight
//! the second driver starts and the first gets SIGTERM. It must finish the
//! two steps that end within the grace, cut the four others short before
//! the grace is over, give their leases back (logged), and exit within the
//! grace. The second driver then takes the four jobs at once (the Helper
//! answers their identical requests from what it stored): the collection
//! completes exactly, in seconds rather than the 600 s a lease would take
//! to run out.
//!
//! Needs `DYAD_TEST_DATABASE_URL` (a PostgreSQL server on which it may
//! create databases, as `scripts/postgres.sh` provides); without it the test
//! says it was skipped.

use dyad_core::vdaf::{AggregateResult, Measurement};
use dyad_integration_tests::fault_proxy::{Fault, FaultProxy, Rule};
use dyad_integration_tests::{
    datastore_key, past_bucket_time, provision_task_via, run_dyad, Server, TaskOptions,
};
use dyad_messages::draft09::{Duration, Interval, Query};
use dyad_test_support::postgres::TestDatabase;
use sqlx::Connection as _;
use std::time::{Duration as StdDuration, Instant};

const PRECISION: u64 = 3600;
const JOBS: usize = 6;
const JOB_SIZE: usize = 10;
const REPORTS: usize = JOBS * JOB_SIZE;
const GRACE: StdDuration = StdDuration::from_secs(4);
const LEASE_SECS: u64 = 600;

/// `SELECT COUNT(*) FROM {from}` in the database at `url`.
async fn count(url: &str, from: &str) -> i64 {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let (n,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*)::BIGINT FROM {from}"))
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let _ = conn.close().await;
    n
}

fn use_database(server: &Server, url: &str, key: &str) {
    server.set_config("datastore", &format!("{url:?}")).unwrap();
    server
        .set_config("datastore_keys", &format!("[{key:?}]"))
        .unwrap();
    server
        .set_config(
            "server",
            &format!("{{shutdown_grace_secs: {}}}", GRACE.as_secs()),
        )
        .unwrap();
    server.set_config("log", "{level: info}").unwrap();
    server
        .set_config(
            "aggregation_job_creator",
            &format!(
                "{{interval_ms: 100, min_job_size: {JOB_SIZE}, max_job_size: {JOB_SIZE}, \
                 max_report_wait_ms: 60000}}"
            ),
        )
        .unwrap();
    server
        .set_config(
            "aggregation_job_driver",
            &format!(
                "{{interval_ms: 100, max_concurrent_jobs: {JOBS}, lease_duration_secs: {LEASE_SECS}, \
                 http_timeout_secs: 30}}"
            ),
        )
        .unwrap();
    server
        .set_config(
            "collection_job_driver",
            "{interval_ms: 100, lease_duration_secs: 600, http_timeout_secs: 30, not_ready_retry_secs: 1}",
        )
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_steps_in_flight_and_gives_leases_back_to_another_replica() {
    let Some(leader_db) = TestDatabase::create().await else {
        return;
    };
    run_dyad(["migrate", "--database", leader_db.url()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = datastore_key();
    let mut api = Server::configure(
        dir.path(),
        "leader",
        &[
            "aggregator",
            "aggregation-job-creator",
            "collection-job-driver",
        ],
    )
    .unwrap();
    let mut first = Server::configure(dir.path(), "driver-1", &["aggregation-job-driver"]).unwrap();
    let mut second =
        Server::configure(dir.path(), "driver-2", &["aggregation-job-driver"]).unwrap();
    for server in [&api, &first, &second] {
        use_database(server, leader_db.url(), &key);
    }
    let mut helper = Server::configure(dir.path(), "helper", &["aggregator"]).unwrap();
    let slow = |secs: f64| Fault::DelayAfter(StdDuration::from_secs_f64(secs));
    let proxy = FaultProxy::start(
        helper.url(),
        vec![Rule::new(
            "PUT",
            "/tasks/*/aggregation_jobs/*",
            [
                slow(1.5),
                slow(1.5),
                slow(20.0),
                slow(20.0),
                slow(20.0),
                slow(20.0),
            ],
        )],
    )
    .await
    .unwrap();
    let credentials = provision_task_via(
        &api,
        &helper,
        proxy.url(),
        &TaskOptions::time_interval(r#"{"type":"Prio3Sum","bits":"8"}"#, REPORTS as u64),
        &dir.path().join("provision"),
    )
    .unwrap();
    api.start().unwrap();
    helper.start().unwrap();
    api.wait_ready(&credentials.task_id).await.unwrap();
    helper.wait_ready(&credentials.task_id).await.unwrap();

    let time = past_bucket_time(PRECISION, 1);
    let values: Vec<u128> = (0..REPORTS as u128).map(|i| (i * 7) % 256).collect();
    let client = credentials
        .client_builder()
        .fixed_time(time)
        .build(dyad_client::AnyVdaf(credentials.vdaf))
        .unwrap();
    let measurements: Vec<Measurement> = values.iter().map(|v| Measurement::Sum(*v)).collect();
    for outcome in client.upload_batch(&measurements, 8).await {
        outcome.unwrap();
    }
    let give_up = Instant::now() + StdDuration::from_secs(60);
    while count(leader_db.url(), "aggregation_jobs").await < JOBS as i64 {
        assert!(Instant::now() < give_up, "the jobs were never created");
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }

    // The first driver takes every job and sends every request.
    first.start().unwrap();
    let give_up = Instant::now() + StdDuration::from_secs(60);
    while proxy.handled().len() < JOBS {
        assert!(
            Instant::now() < give_up,
            "driver-1 never sent its requests\n{}",
            first.log_text()
        );
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
    // Every job is held by driver-1 (its lease runs for 600 s).
    assert_eq!(
        count(
            leader_db.url(),
            "aggregation_jobs WHERE lease_token IS NOT NULL AND state = 0"
        )
        .await,
        JOBS as i64,
    );
    // Driver-2 starts as driver-1 gets SIGTERM: only released leases let it
    // take any of the jobs.
    second.start().unwrap();
    let (exited_in, status) = first.terminate(GRACE * 3).await.unwrap();
    let terminated = Instant::now();
    let log = first.log_text();
    assert!(status.success(), "driver-1 exited with {status}\n{log}");
    assert!(
        exited_in <= GRACE + StdDuration::from_millis(500),
        "driver-1 took {exited_in:?} to exit (grace {GRACE:?})\n{log}"
    );
    let after_sigterm = &log[log.find("shutting down").expect("the shutdown is logged")..];
    assert_eq!(
        after_sigterm.matches("aggregation job step done").count(),
        2,
        "the two steps answered within the grace were recorded\n{log}"
    );
    assert_eq!(
        after_sigterm
            .matches("gave the aggregation job's lease back")
            .count(),
        JOBS - 2,
        "the other steps were cut short and their leases given back\n{log}"
    );

    // The released jobs are free at once; driver-2 finishes them and the
    // collection is exact, long before a lease would have run out.
    let start = time.to_batch_interval_start(Duration::from_seconds(PRECISION));
    let query =
        Query::TimeInterval(Interval::new(start, Duration::from_seconds(PRECISION)).unwrap());
    let collection = tokio::time::timeout(
        StdDuration::from_secs(60),
        credentials
            .collector()
            .collect(query, &dyad_core::vdaf::AggregationParam::Empty),
    )
    .await
    .unwrap_or_else(|_| panic!("collection timed out\n{}", second.log_text()))
    .unwrap_or_else(|e| panic!("collection failed: {e}\n{}", second.log_text()));
    let collected_in = terminated.elapsed();
    assert_eq!(collection.report_count, REPORTS as u64);
    assert_eq!(
        collection.aggregate_result,
        AggregateResult::Sum(values.iter().sum())
    );
    assert!(
        collected_in < StdDuration::from_secs(60),
        "{collected_in:?}"
    );
    assert_eq!(
        second
            .log_text()
            .matches("aggregation job step done")
            .count(),
        JOBS - 2,
        "driver-2 drove the released jobs\n{}",
        second.log_text()
    );
    assert_eq!(
        count(leader_db.url(), "aggregation_jobs WHERE state = 1").await,
        JOBS as i64
    );
    eprintln!(
        "driver-1 exited {exited_in:?} after SIGTERM (grace {GRACE:?}); \
         collected {collected_in:?} after it exited (lease {LEASE_SECS} s)"
    );
    for server in [&mut api, &mut second, &mut helper] {
        server.kill();
    }
}
