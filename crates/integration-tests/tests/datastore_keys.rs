//! Datastore keys through the real binary: `dyad serve` refuses to start
//! with keys that cannot open its stored tasks, naming the task; `dyad
//! datastore-key reseal` ends a rotation, after which the old key can go
//! and the aggregator serves the task with the new key alone.

use dyad_integration_tests::{datastore_key, dyad_binary, run_dyad, CollectorCredentials, Server};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `dyad serve --config CONFIG` (no keys from the environment) and
/// waits for it to exit; `None` if it still runs after the wait (it is then
/// killed). Returns the exit success and stderr.
fn serve_until_exit(config: &std::path::Path) -> Option<(bool, String)> {
    let dir = tempfile::tempdir().unwrap();
    let stderr_path = dir.path().join("stderr");
    let mut child = Command::new(dyad_binary())
        .args(["serve", "--config"])
        .arg(config)
        .env_remove("DYAD_DATASTORE_KEYS")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if let Some(status) = child.try_wait().unwrap() {
            let stderr = std::fs::read_to_string(&stderr_path).unwrap();
            return Some((status.success(), stderr));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// Runs `dyad ARGS` without keys from the environment; its stdout.
fn dyad_stdout(args: &[&str]) -> String {
    let output = Command::new(dyad_binary())
        .args(args)
        .env_remove("DYAD_DATASTORE_KEYS")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "dyad {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_key_stops_serve_and_reseal_lets_the_old_key_go() {
    if std::env::var_os("DYAD_DATASTORE_KEYS").is_some() {
        eprintln!("skipped: DYAD_DATASTORE_KEYS is set and would override the test's keys");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut leader = Server::configure(dir.path(), "leader", &["aggregator"]).unwrap();
    let old_key = datastore_key();
    let new_key = datastore_key();
    leader
        .set_config("datastore_keys", &format!("[\"{old_key}\"]"))
        .unwrap();
    let config = leader.config_path().to_str().unwrap().to_owned();
    let out_dir = dir.path().join("provision");
    let collector_dir = dir.path().join("collector");
    run_dyad([
        "collector",
        "init",
        "--out-dir",
        collector_dir.to_str().unwrap(),
    ])
    .unwrap();
    let collector_config = collector_dir.join("collector-hpke-config.txt");
    run_dyad([
        "task",
        "add",
        "--config",
        &config,
        "--generate",
        "--role",
        "leader",
        "--leader",
        leader.url().as_str(),
        "--helper",
        "http://127.0.0.1:9/",
        "--vdaf",
        r#"{"type":"Prio3Count"}"#,
        "--min-batch-size",
        "1",
        "--time-precision",
        "3600",
        "--collector-hpke-config",
        collector_config.to_str().unwrap(),
        "--out-dir",
        out_dir.to_str().unwrap(),
    ])
    .unwrap();
    let credentials = CollectorCredentials::from_files(
        &out_dir.join("collector-task.yaml"),
        &collector_dir.join("collector-key.yaml"),
    )
    .unwrap();
    let task_id = credentials.task_id;

    // The new key alone: the stored task was sealed under the old one.
    leader
        .set_config("datastore_keys", &format!("[\"{new_key}\"]"))
        .unwrap();
    let (success, stderr) =
        serve_until_exit(leader.config_path()).expect("serve exits instead of serving");
    assert!(!success, "{stderr}");
    assert!(
        stderr.contains(&format!("cannot open task {task_id}")),
        "names the task: {stderr}"
    );
    assert!(stderr.contains("\nhint: "), "{stderr}");
    assert!(stderr.contains("datastore-key reseal"), "{stderr}");

    // The rotation: new key first, old after it; reseal; drop the old key.
    leader
        .set_config("datastore_keys", &format!("[\"{new_key}\", \"{old_key}\"]"))
        .unwrap();
    let summary = dyad_stdout(&["datastore-key", "reseal", "--config", &config]);
    assert!(
        summary.contains("re-sealed under the first key  1"),
        "{summary}"
    );
    let again = dyad_stdout(&[
        "datastore-key",
        "reseal",
        "--config",
        &config,
        "--format",
        "json",
    ]);
    let again: serde_json::Value = serde_json::from_str(&again).unwrap();
    assert_eq!(again["resealed"], 0);
    assert_eq!(again["already_under_first_key"], 1);

    leader
        .set_config("datastore_keys", &format!("[\"{new_key}\"]"))
        .unwrap();
    leader.set_config("log", "{level: info}").unwrap();
    leader.start().unwrap();
    leader.wait_ready(&task_id).await.unwrap();
    let log = leader.log_text();
    let started = log
        .lines()
        .find(|line| line.contains("dyad started"))
        .unwrap_or_else(|| panic!("a startup line: {log}"));
    for field in [
        "version=",
        "roles=aggregator",
        "listen=",
        "datastore=sqlite://",
        "tasks=1",
    ] {
        assert!(started.contains(field), "{field} in {started}");
    }
    assert!(
        log.contains("datastore keys") && log.contains("keys=1"),
        "says where the keys came from: {log}"
    );
    assert!(!log.contains(&new_key), "never the key itself");
    assert!(
        !log.contains('\u{1b}'),
        "no ANSI codes in a redirected log: {log}"
    );
}
