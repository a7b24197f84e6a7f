//! `dyad task stats` after a real run: a Leader and a Helper (`dyad serve`
//! each, SQLite) take accepted, duplicate, too-early, undecryptable and
//! Helper-undecryptable reports, aggregate and collect, then take a report
//! for the collected batch; the real binary's `task stats` (JSON and table)
//! must show each count exactly on both aggregators, and name an unknown
//! task with a hint.

use dyad_client::{AnyVdaf, Client};
use dyad_core::vdaf::{AggregateResult, Measurement};
use dyad_integration_tests::{dyad_binary, past_bucket_time, Dyad, Server, TaskOptions, WAIT};
use dyad_messages::draft09::{Duration, Interval, Query, Report, TaskId, Time};
use dyad_messages::problem::DapProblemType;
use std::collections::BTreeMap;
use std::process::{Command, Output};

const PRECISION: u64 = 3600;

fn stats(server: &Server, task_id: &str, format: &str) -> Output {
    Command::new(dyad_binary())
        .args(["task", "stats", "--config"])
        .arg(server.config_path())
        .args([task_id, "--format", format])
        .output()
        .expect("running dyad task stats")
}

/// The counters `dyad task stats --format json` prints (only those not zero).
fn counters(server: &Server, task_id: &TaskId) -> BTreeMap<String, u64> {
    let output = stats(server, &task_id.to_string(), "json");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(document["task_id"], task_id.to_string());
    document["counters"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, value)| (name.clone(), value.as_u64().unwrap()))
        .filter(|(_, value)| *value > 0)
        .collect()
}

fn expect(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

async fn report(client: &Client<AnyVdaf>, time: Time) -> Report {
    client
        .prepare_report(&Measurement::Count(true), time)
        .await
        .unwrap()
}

async fn refused(client: &Client<AnyVdaf>, report: &Report) -> Option<DapProblemType> {
    client
        .upload_report(report)
        .await
        .unwrap_err()
        .problem_type()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_stats_counts_every_upload_outcome_and_prepared_report_on_both_aggregators() {
    let dyad = Dyad::start(&TaskOptions::time_interval(r#"{"type":"Prio3Count"}"#, 6))
        .await
        .unwrap();
    let task_id = dyad.credentials.task_id;
    let time = past_bucket_time(PRECISION, 1);
    let client = dyad.client_at(time);

    // Accepted: 5 plain reports, one whose Helper share does not decrypt
    // (accepted by the Leader, refused by the Helper in preparation), and
    // one sent twice (the second copy is a duplicate).
    for _ in 0..5 {
        client.upload(&Measurement::Count(true)).await.unwrap();
    }
    let mut helper_corrupt = report(&client, time).await;
    helper_corrupt.helper_encrypted_input_share.payload[0] ^= 1;
    client.upload_report(&helper_corrupt).await.unwrap();
    let twice = report(&client, time).await;
    client.upload_report(&twice).await.unwrap();
    client.upload_report(&twice).await.unwrap();

    // Refused: 2 too early (a day ahead), 3 whose Leader share does not
    // decrypt.
    let far = Time::from_seconds_since_epoch(
        dyad_client::system_time().as_seconds_since_epoch() + 86_400,
    );
    for _ in 0..2 {
        let early = report(&client, far).await;
        assert_eq!(
            refused(&client, &early).await,
            Some(DapProblemType::ReportTooEarly)
        );
    }
    for _ in 0..3 {
        let mut corrupt = report(&client, time).await;
        corrupt.leader_encrypted_input_share.payload[0] ^= 1;
        assert_eq!(
            refused(&client, &corrupt).await,
            Some(DapProblemType::ReportRejected)
        );
    }

    let start = time.to_batch_interval_start(Duration::from_seconds(PRECISION));
    let query =
        Query::TimeInterval(Interval::new(start, Duration::from_seconds(PRECISION)).unwrap());
    let collection = dyad
        .collect(query)
        .await
        .unwrap_or_else(|e| panic!("collection failed: {e}\n{}", dyad.logs()));
    assert_eq!(collection.report_count, 6);
    assert_eq!(collection.aggregate_result, AggregateResult::Count(6));

    // A report for the collected batch is refused.
    let late = report(&client, time).await;
    assert_eq!(
        refused(&client, &late).await,
        Some(DapProblemType::ReportRejected)
    );

    let leader_expected = expect(&[
        ("uploads_accepted", 7),
        ("uploads_duplicate", 1),
        ("uploads_too_early", 2),
        ("uploads_decrypt_failed", 3),
        ("uploads_batch_collected", 1),
        ("reports_aggregated", 6),
        ("prepare_failed_hpke_decrypt_error", 1),
    ]);
    // Refusals are written within a second of their upload: wait for them.
    let deadline = std::time::Instant::now() + WAIT;
    let mut leader = counters(&dyad.leader, &task_id);
    while leader != leader_expected && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        leader = counters(&dyad.leader, &task_id);
    }
    assert_eq!(leader, leader_expected, "{}", dyad.logs());
    let helper = counters(&dyad.helper, &task_id);
    assert_eq!(
        helper,
        expect(&[
            ("reports_aggregated", 6),
            ("prepare_failed_hpke_decrypt_error", 1),
        ])
    );

    // The table: one row per counter with its count and meaning; a Helper
    // has no upload rows.
    let table = stats(&dyad.leader, &task_id.to_string(), "table");
    assert!(table.status.success());
    let table = String::from_utf8(table.stdout).unwrap();
    let row = |label: &str| {
        table
            .lines()
            .find(|line| line.starts_with(label))
            .unwrap_or_else(|| panic!("no row {label:?} in\n{table}"))
            .split_whitespace()
            .find_map(|word| word.parse::<u64>().ok())
            .unwrap()
    };
    assert!(table.starts_with("COUNTER"), "{table}");
    assert_eq!(row("uploads accepted"), 7);
    assert_eq!(row("uploads duplicate"), 1);
    assert_eq!(row("uploads too early"), 2);
    assert_eq!(row("uploads undecryptable"), 3);
    assert_eq!(row("reports aggregated"), 6);
    assert_eq!(row("prepare failed: hpke_decrypt_error"), 1);
    let helper_table = stats(&dyad.helper, &task_id.to_string(), "table");
    let helper_table = String::from_utf8(helper_table.stdout).unwrap();
    assert!(!helper_table.contains("uploads"), "{helper_table}");
    assert!(
        helper_table.contains("reports aggregated"),
        "{helper_table}"
    );

    // An unknown task: one error line naming it, and a hint.
    let unknown = TaskId::random().to_string();
    let output = stats(&dyad.leader, &unknown, "table");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&unknown) && stderr.contains("dyad task list"),
        "{stderr}"
    );
}
