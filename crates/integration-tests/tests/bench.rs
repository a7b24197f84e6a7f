//! `dyad bench` as a user runs it, tiny (a few reports): the Leader and the
//! Helper are real `dyad serve` processes, uploads go over HTTP, and the
//! JSON answer has every figure. Timings are not checked, only that each
//! is there and positive (CPU times and memory where Linux tells them),
//! that the ratios are the rates' quotients, and that the collected result
//! matched.

use dyad_integration_tests::dyad_binary;
use serde_json::Value;
use std::process::Command;

/// Runs `dyad bench --format json` tiny with `extra` arguments; its JSON.
fn bench(extra: &[&str]) -> Value {
    let output = Command::new(dyad_binary())
        .args([
            "bench",
            "--reports",
            "12",
            "--crypto-reports",
            "4",
            "--connections",
            "3",
            "--format",
            "json",
        ])
        .args(extra)
        .output()
        .expect("running dyad bench");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "bench failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}"))
}

fn positive(json: &Value, path: &[&str]) -> f64 {
    let value = path
        .iter()
        .fold(json, |v, key| &v[*key])
        .as_f64()
        .unwrap_or_else(|| panic!("{path:?} is not a number in {json:#}"));
    assert!(value > 0.0, "{path:?} = {value}");
    value
}

fn check_shape(json: &Value, datastore: &str) {
    assert_eq!(json["reports"], 12, "{json:#}");
    assert_eq!(json["connections"], 3);
    assert_eq!(json["datastore"], datastore);
    assert_eq!(json["result_matches"], true);
    assert_eq!(json["crypto_limit"]["reports"], 4);
    let per_core = positive(json, &["crypto_limit", "per_core_reports_per_sec"]);
    let all = positive(json, &["crypto_limit", "all_cores_reports_per_sec"]);
    let cores = json["cores"].as_f64().unwrap();
    assert!((all - per_core * cores).abs() < 1e-6 * all, "{json:#}");
    let latency: Vec<f64> = ["p50", "p90", "p99", "max"]
        .iter()
        .map(|p| positive(json, &["upload_latency_ms", p]))
        .collect();
    assert!(latency.windows(2).all(|w| w[0] <= w[1]), "{json:#}");
    for phase in ["upload", "aggregation", "end_to_end"] {
        positive(json, &[phase, "secs"]);
        let rate = positive(json, &[phase, "reports_per_sec"]);
        let ratio = positive(json, &[phase, "ratio_of_limit"]);
        assert!(
            (ratio - rate / all).abs() < 1e-6 * ratio.max(1e-9),
            "{phase}: {json:#}"
        );
    }
    if cfg!(target_os = "linux") {
        for part in ["leader", "helper"] {
            let peak = positive(json, &["peak_rss_bytes", part]);
            let anon = positive(json, &["peak_rss_split_bytes", part, "anon"]);
            positive(json, &["peak_rss_split_bytes", part, "file"]);
            assert!(anon <= peak, "{part}: {json:#}");
        }
        // CPU time: the crypto limit's thread, and each process over the
        // whole run (a phase of a tiny run may take less than one clock
        // tick of a process, never of all three together).
        // The limit per CPU-second is, like the one per second, the
        // median of timed parts: the thread's CPU time in a part is at most
        // its wall time (but for the clocks' reads), so it is not below.
        let cpu = positive(json, &["crypto_limit", "cpu_secs"]);
        let secs = positive(json, &["crypto_limit", "secs"]);
        assert!(cpu <= secs + 0.01, "{json:#}");
        let per_cpu_sec = positive(json, &["crypto_limit", "reports_per_cpu_sec"]);
        assert!(per_cpu_sec >= 0.95 * per_core, "{json:#}");
        let end_to_end = &json["end_to_end"];
        let spent: f64 = ["leader", "helper", "loader"]
            .iter()
            .map(|part| {
                end_to_end["cpu_secs"][part]
                    .as_f64()
                    .unwrap_or_else(|| panic!("no CPU time of the {part}: {json:#}"))
            })
            .sum();
        assert!(spent > 0.0, "{json:#}");
        // The rest of the machine's time: other programs' and idle. All
        // five together are the cores' time over the phase (the process
        // times tick in hundredths of a second; the machine may have more
        // cores than this process may use).
        let rest: f64 = ["others", "idle"]
            .iter()
            .map(|part| {
                let secs = end_to_end["cpu_secs"][part]
                    .as_f64()
                    .unwrap_or_else(|| panic!("no {part} CPU time: {json:#}"));
                assert!(secs >= 0.0, "{json:#}");
                secs
            })
            .sum();
        let wall = positive(json, &["end_to_end", "secs"]);
        assert!(spent + rest >= 0.9 * wall - 0.05, "{json:#}");
        for phase in ["upload", "aggregation", "end_to_end"] {
            let cpu = &json[phase]["cpu_secs"];
            let aggregators = cpu["leader"].as_f64().unwrap() + cpu["helper"].as_f64().unwrap();
            if aggregators > 0.0 {
                let rate = positive(json, &[phase, "reports_per_aggregator_cpu_sec"]);
                assert!((rate - 12.0 / aggregators).abs() < 1e-6 * rate, "{json:#}");
                let ratio = positive(json, &[phase, "cpu_ratio_of_limit"]);
                assert!(
                    (ratio - rate / per_cpu_sec).abs() < 1e-6 * ratio,
                    "{json:#}"
                );
            }
        }
    }
}

#[test]
fn bench_on_sqlite_reports_every_figure_as_json() {
    check_shape(&bench(&["--vdaf", r#"{"type":"Prio3Count"}"#]), "sqlite");
}

#[test]
fn bench_on_postgres_reports_every_figure_as_json() {
    let Ok(server) = std::env::var("DYAD_TEST_DATABASE_URL") else {
        eprintln!("skipped: DYAD_TEST_DATABASE_URL is not set");
        return;
    };
    check_shape(&bench(&["--datastore", &server]), "postgres");
}

/// Three rounds: each on fresh datastores (a round that found the last
/// one's reports would not collect exactly 12), the median's figures shown
/// with every round's end to end.
#[test]
fn bench_rounds_each_run_afresh_and_the_median_round_is_shown() {
    let json = bench(&["--rounds", "3"]);
    check_shape(&json, "sqlite");
    let ratios: Vec<f64> = json["rounds"]["end_to_end_ratio_of_limit"]
        .as_array()
        .expect("every round's end to end")
        .iter()
        .map(|ratio| ratio.as_f64().expect("a number"))
        .collect();
    assert_eq!(ratios.len(), 3, "{json:#}");
    let shown = json["rounds"]["shown"].as_u64().expect("the round shown") as usize;
    let mut sorted = ratios.clone();
    sorted.sort_by(f64::total_cmp);
    assert_eq!(ratios[shown - 1], sorted[1], "{json:#}");
    assert_eq!(json["end_to_end"]["ratio_of_limit"], ratios[shown - 1]);
}

/// `dyad bench` with `flag` at 0: refused, the flag named once.
fn refuses_zero(flag: &str) {
    let output = Command::new(dyad_binary())
        .args(["bench", flag, "0"])
        .output()
        .expect("running dyad bench");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.matches(flag).count(), 1, "{stderr}");
}

#[test]
fn bench_refuses_zero_connections_with_one_clear_error() {
    refuses_zero("--connections");
}

#[test]
fn bench_refuses_zero_rounds_with_one_clear_error() {
    refuses_zero("--rounds");
}
