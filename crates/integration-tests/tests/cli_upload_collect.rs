//! `dyad upload` and `dyad collect` as an operator runs them against a
//! Leader and a Helper in their own `dyad serve` processes: the task and key
//! files instead of secrets in flags, measurements from stdin, the
//! collection printed as JSON, and an unreachable Leader reported at each
//! retry and given up on in bounded time.

use dyad_core::vdaf::{plaintext_aggregate, AggregateResult, AggregationParam, Measurement};
use dyad_integration_tests::{dyad_binary, Dyad, TaskOptions};
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The files the three parties hold once [`Dyad::start`] provisioned the
/// task: the Leader's `client-task.yaml` and `collector-task.yaml`, and the
/// Collector's own `collector-key.yaml`; their paths.
fn task_files(dyad: &Dyad) -> [std::path::PathBuf; 3] {
    let provision = dyad.dir().join("provision");
    let paths = [
        provision.join("leader/client-task.yaml"),
        provision.join("leader/collector-task.yaml"),
        provision.join("collector/collector-key.yaml"),
    ];
    for path in &paths {
        assert!(path.exists(), "{} was written", path.display());
    }
    paths
}

fn run(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(dyad_binary())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running dyad");
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn upload_and_collect_read_the_task_files_and_print_json() {
    let vdaf = r#"{"type":"Prio3Histogram","length":"4","chunk_length":"2"}"#;
    let dyad = Dyad::start(&TaskOptions::time_interval(vdaf, 6))
        .await
        .unwrap();
    let [client_task, collector_task, collector_key] = task_files(&dyad);
    let buckets = [0u128, 3, 3, 1, 2, 3, 0];
    let input: String = buckets.iter().map(|b| format!("{b}\n")).collect();
    let path = |p: &Path| p.display().to_string();

    let (client_task, collector_task, collector_key) = (
        path(&client_task),
        path(&collector_task),
        path(&collector_key),
    );
    let uploaded = tokio::task::spawn_blocking(move || {
        run(
            &["upload", "--task-file", &client_task, "--input", "-"],
            Some(&input),
        )
    })
    .await
    .unwrap();
    assert!(
        uploaded.status.success(),
        "{}\n{}\n{}",
        text(&uploaded.stdout),
        text(&uploaded.stderr),
        dyad.logs()
    );
    assert_eq!(text(&uploaded.stdout), "ACCEPTED  FAILED\n7         0\n");

    // The current hour: reports are timestamped now.
    let now = dyad_client::system_time().as_seconds_since_epoch();
    let start = (now / 3600 * 3600).to_string();
    dyad_binary();
    let started = Instant::now();
    let collected = tokio::task::spawn_blocking(move || {
        run(
            &[
                "collect",
                "--credentials",
                &collector_task,
                "--hpke-key",
                &collector_key,
                "--batch-interval-start",
                &start,
                "--batch-interval-duration",
                "3600",
                "--timeout",
                "60",
                "--format",
                "json",
            ],
            None,
        )
    })
    .await
    .unwrap();
    let took = started.elapsed();
    let stderr = text(&collected.stderr);
    assert!(
        collected.status.success(),
        "{}\n{stderr}\n{}",
        text(&collected.stdout),
        dyad.logs()
    );
    // The hour is not over: the collector is warned.
    assert!(
        stderr.contains("warning: the batch interval ends at"),
        "{stderr}"
    );
    let json: serde_json::Value = serde_json::from_slice(&collected.stdout).unwrap();
    let measurements: Vec<Measurement> = buckets
        .iter()
        .map(|b| Measurement::Histogram(*b as usize))
        .collect();
    let AggregateResult::Histogram(expected) =
        plaintext_aggregate(dyad.vdaf(), &AggregationParam::Empty, &measurements).unwrap()
    else {
        unreachable!()
    };
    assert_eq!(json["report_count"], 7, "{json}");
    assert_eq!(
        json["result"],
        serde_json::json!(expected.iter().map(|n| *n as u64).collect::<Vec<_>>())
    );
    eprintln!("collect took {took:?}");
    assert!(took < Duration::from_secs(30), "collect took {took:?}");
}

#[tokio::test]
async fn a_collection_below_min_batch_size_times_out_with_a_hint() {
    let vdaf = r#"{"type":"Prio3Count"}"#;
    let dyad = Dyad::start(&TaskOptions::time_interval(vdaf, 100))
        .await
        .unwrap();
    let [_, collector_task, collector_key] = task_files(&dyad);
    let (collector_task, collector_key) = (
        collector_task.display().to_string(),
        collector_key.display().to_string(),
    );
    let collected = tokio::task::spawn_blocking(move || {
        run(
            &[
                "collect",
                "--credentials",
                &collector_task,
                "--hpke-key",
                &collector_key,
                "--batch-interval-start",
                "2023-11-14T22:00:00Z",
                "--batch-interval-duration",
                "3600",
                "--timeout",
                "3",
            ],
            None,
        )
    })
    .await
    .unwrap();
    assert!(!collected.status.success());
    let stderr = text(&collected.stderr);
    assert!(stderr.contains("still pending after 3 s"), "{stderr}");
    assert!(stderr.contains("hint: "), "{stderr}");
    assert!(stderr.contains("min_batch_size = 100 reports"), "{stderr}");
}

#[test]
fn an_unreachable_leader_is_reported_at_each_retry_and_given_up_on() {
    // A socket bound but not listening holds the port (no other test can
    // take it) and refuses every connection.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("http://{}/", socket.local_addr().unwrap());
    // Built (if need be) before the clock starts.
    dyad_binary();
    let started = Instant::now();
    let output = run(
        &[
            "upload",
            "--task-id",
            "8BY0RzZMzxvA46_8ymhzycOB9krN-QIGYvg_RsByGec",
            "--leader",
            &url,
            "--helper",
            &url,
            "--vdaf",
            r#"{"type":"Prio3Count"}"#,
            "--time-precision",
            "3600",
            "--give-up-after",
            "3",
            "1",
        ],
        None,
    );
    let took = started.elapsed();
    let stderr = text(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(took < Duration::from_secs(20), "took {took:?}");
    assert!(
        stderr.contains("leader: fetch HPKE config failed: Connection refused"),
        "{stderr}"
    );
    assert!(stderr.contains("retrying in"), "{stderr}");
    assert!(stderr.contains("error: gave up after 3 s"), "{stderr}");
}
