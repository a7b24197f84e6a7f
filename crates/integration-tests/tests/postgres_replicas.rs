//! Many replicas on one PostgreSQL database, with crashes: the Leader runs
//! as five `dyad serve` processes sharing one database (the HTTP API with
//! the aggregation job creator, two aggregation job drivers, two collection
//! job drivers), the Helper as one more on its own database. 5,000 reports
//! are uploaded and put into aggregation jobs; then the aggregation job
//! drivers start, and one of them is SIGKILLed and restarted again and again,
//! each time while it holds jobs in progress (and one collection job driver
//! once while the collection is pending). The collected result must be exact
//! (no report lost, none counted twice) and every aggregation and collection
//! job must end finished.
//!
//! Needs `DYAD_TEST_DATABASE_URL` (a PostgreSQL server on which it may
//! create databases, as `scripts/postgres.sh` provides); without it the test
//! says it was skipped.

use dyad_core::vdaf::{AggregateResult, Measurement};
use dyad_integration_tests::{
    datastore_key, past_bucket_time, provision_task, run_dyad, Server, TaskOptions,
};
use dyad_messages::draft09::{Duration, Interval, Query, Time};
use dyad_test_support::postgres::TestDatabase;
use rand::Rng as _;
use sqlx::Connection as _;
use std::time::Instant;

const REPORTS: usize = 5000;
const PRECISION: u64 = 3600;

/// The roles of the Leader's processes, by name.
const LEADER_PROCESSES: [(&str, &[&str]); 5] = [
    ("leader", &["aggregator", "aggregation-job-creator"]),
    ("agg-driver-1", &["aggregation-job-driver"]),
    ("agg-driver-2", &["aggregation-job-driver"]),
    ("coll-driver-1", &["collection-job-driver"]),
    ("coll-driver-2", &["collection-job-driver"]),
];

/// Points a configured server at a shared PostgreSQL database and key, with
/// small jobs and short leases so that crashes cost seconds.
fn use_database(server: &Server, url: &str, key: &str) {
    server.set_config("datastore", &format!("{url:?}")).unwrap();
    server
        .set_config("datastore_keys", &format!("[{key:?}]"))
        .unwrap();
    server
        .set_config(
            "aggregation_job_creator",
            "{interval_ms: 100, min_job_size: 10, max_job_size: 50, max_report_wait_ms: 200}",
        )
        .unwrap();
    server
        .set_config(
            "aggregation_job_driver",
            "{interval_ms: 100, max_concurrent_jobs: 4, lease_duration_secs: 4, http_timeout_secs: 2, \
             retry_initial_delay_secs: 1, retry_max_delay_secs: 1}",
        )
        .unwrap();
    server
        .set_config(
            "collection_job_driver",
            "{interval_ms: 100, lease_duration_secs: 4, http_timeout_secs: 2, not_ready_retry_secs: 1}",
        )
        .unwrap();
}

/// Indexes into `LEADER_PROCESSES` of the aggregation job drivers.
const AGGREGATION_DRIVERS: [usize; 2] = [1, 2];

/// The rows `sql` returns from the database at `url`.
async fn rows<T>(url: &str, sql: &str) -> Vec<T>
where
    T: Send + Unpin + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
{
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let rows = sqlx::query_as(sql).fetch_all(&mut conn).await.unwrap();
    let _ = conn.close().await;
    rows
}

/// `SELECT COUNT(*) FROM {from}` in the database at `url`.
async fn count(url: &str, from: &str) -> i64 {
    let (n,) = rows::<(i64,)>(url, &format!("SELECT COUNT(*)::BIGINT FROM {from}")).await[0];
    n
}

/// `(state, count)` of the rows of `table` in the database at `url`.
async fn states(url: &str, table: &str) -> Vec<(i64, i64)> {
    rows(
        url,
        &format!(
            "SELECT state::BIGINT, COUNT(*)::BIGINT FROM {table} GROUP BY state ORDER BY state"
        ),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_on_postgres_survive_driver_crashes_and_count_exactly() {
    let (Some(leader_db), Some(helper_db)) =
        (TestDatabase::create().await, TestDatabase::create().await)
    else {
        return;
    };
    for url in [leader_db.url(), helper_db.url()] {
        run_dyad(["migrate", "--database", url]).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let leader_key = datastore_key();
    let mut leader: Vec<Server> = LEADER_PROCESSES
        .iter()
        .map(|(name, roles)| {
            let server = Server::configure(dir.path(), name, roles).unwrap();
            use_database(&server, leader_db.url(), &leader_key);
            server
        })
        .collect();
    // The killed driver logs its steps: the test reads them to time its kills.
    leader[AGGREGATION_DRIVERS[0]]
        .set_config("log", "{level: info}")
        .unwrap();
    let mut helper = Server::configure(dir.path(), "helper", &["aggregator"]).unwrap();
    use_database(&helper, helper_db.url(), &datastore_key());

    let credentials = provision_task(
        &leader[0],
        &helper,
        &TaskOptions {
            vdaf: r#"{"type":"Prio3Sum","bits":"8"}"#.into(),
            fixed_size: None,
            min_batch_size: REPORTS as u64,
            time_precision: PRECISION,
            report_expiry_age: None,
        },
        &dir.path().join("provision"),
    )
    .unwrap();
    // Everything but the aggregation job drivers starts now; they start once
    // every report waits in an aggregation job, so that aggregation has a
    // known amount of work to be interrupted in, however fast the machine.
    for (i, server) in leader.iter_mut().enumerate() {
        if !AGGREGATION_DRIVERS.contains(&i) {
            server.start().unwrap();
        }
    }
    helper.start().unwrap();
    leader[0].wait_ready(&credentials.task_id).await.unwrap();
    helper.wait_ready(&credentials.task_id).await.unwrap();

    let time = past_bucket_time(PRECISION, 1);
    let values: Vec<u128> = {
        let mut rng = rand::thread_rng();
        (0..REPORTS).map(|_| rng.gen_range(0..256)).collect()
    };
    let client = credentials
        .client_builder()
        .fixed_time(time)
        .build(dyad_client::AnyVdaf(credentials.vdaf))
        .unwrap();
    let measurements: Vec<Measurement> = values.iter().map(|v| Measurement::Sum(*v)).collect();
    let started = Instant::now();
    let outcomes = client.upload_batch(&measurements, 32).await;
    assert_eq!(
        outcomes.iter().filter(|o| o.is_err()).count(),
        0,
        "every upload is accepted"
    );
    let uploaded_in = started.elapsed();
    let give_up = Instant::now() + std::time::Duration::from_secs(60);
    while count(leader_db.url(), "unaggregated_reports").await > 0 {
        assert!(Instant::now() < give_up, "reports never went into jobs");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        count(leader_db.url(), "client_reports").await,
        REPORTS as i64
    );

    // Both drivers start; the first is SIGKILLed each time it has finished
    // a step since it (re)started, which means it holds leases on jobs still
    // in progress, and restarted at once. Its leased jobs wait for their
    // leases to expire, so the other driver cannot finish everything between
    // two kills.
    let aggregation_started = Instant::now();
    for i in AGGREGATION_DRIVERS {
        leader[i].start().unwrap();
    }
    let victim = AGGREGATION_DRIVERS[0];
    let mut kills = Vec::new();
    let mut seen = leader[victim].log_text().len();
    let give_up = Instant::now() + std::time::Duration::from_secs(90);
    while kills.len() < 4 && Instant::now() < give_up {
        let in_progress = count(leader_db.url(), "aggregation_jobs WHERE state = 0").await;
        if in_progress == 0 {
            break;
        }
        let log = leader[victim].log_text();
        if log[seen.min(log.len())..].contains("aggregation job step done") {
            leader[victim].kill();
            kills.push((
                aggregation_started.elapsed(),
                states(leader_db.url(), "aggregation_jobs").await,
            ));
            seen = leader[victim].log_text().len();
            leader[victim].start().unwrap();
        } else {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    let start =
        Time::from_seconds_since_epoch(time.as_seconds_since_epoch() / PRECISION * PRECISION);
    let query =
        Query::TimeInterval(Interval::new(start, Duration::from_seconds(PRECISION)).unwrap());
    let collector = credentials.collector();
    let collect = tokio::spawn(async move {
        collector
            .collect(query, &dyad_core::vdaf::AggregationParam::Empty)
            .await
    });
    // A collection job driver dies while the collection is pending.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    leader[3].kill();
    leader[3].start().unwrap();

    let logs = || {
        leader
            .iter()
            .chain(std::iter::once(&helper))
            .map(|s| s.log_text())
            .collect::<Vec<_>>()
            .join("\n----\n")
    };
    let collection = match tokio::time::timeout(std::time::Duration::from_secs(120), collect).await
    {
        Ok(joined) => joined
            .unwrap()
            .unwrap_or_else(|e| panic!("collection failed: {e:?}\n{}", logs())),
        Err(_) => panic!("collection timed out\n{}", logs()),
    };
    let collected_in = started.elapsed();
    assert_eq!(collection.report_count, REPORTS as u64);
    assert_eq!(
        collection.aggregate_result,
        AggregateResult::Sum(values.iter().sum())
    );

    // Every job ended finished (code 1), none abandoned or left running.
    let aggregation_jobs = states(leader_db.url(), "aggregation_jobs").await;
    assert_eq!(aggregation_jobs.len(), 1, "{aggregation_jobs:?}");
    assert_eq!(aggregation_jobs[0].0, 1, "{aggregation_jobs:?}");
    assert!(aggregation_jobs[0].1 >= (REPORTS / 50) as i64);
    assert_eq!(
        states(leader_db.url(), "collection_jobs").await,
        vec![(1, 1)]
    );
    // Several kills landed during aggregation (each after the killed driver
    // had stepped a job, with jobs still in progress).
    assert!(
        kills.len() >= 3,
        "too few kills landed mid-aggregation: {kills:?}"
    );
    eprintln!(
        "uploaded {REPORTS} in {uploaded_in:?}, collected after {collected_in:?}; \
         {} aggregation jobs; job states at each kill: {kills:?}",
        aggregation_jobs[0].1
    );
    for server in leader.iter_mut().chain(std::iter::once(&mut helper)) {
        server.kill();
    }
}
