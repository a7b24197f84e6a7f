//! `dyad quickstart` as a user runs it: the whole deployment in one
//! process, on SQLite files and (when `DYAD_TEST_DATABASE_URL` names a
//! PostgreSQL server) on fresh databases of that server, which must be gone
//! afterwards, even when the run is stopped with Ctrl-C (SIGINT).

use dyad_integration_tests::dyad_binary;
use sqlx::Connection as _;
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Runs the quickstart of 40 reports with `extra` arguments; its standard
/// output, which must end with its check passed.
fn quickstart(extra: &[&str]) -> String {
    let stdout = run_quickstart(&[&["--reports", "40"], extra].concat());
    assert!(
        stdout.contains("OK: the collected result equals the plaintext total"),
        "{stdout}"
    );
    stdout
}

/// Runs the quickstart with `args`; its standard output (it must succeed).
fn run_quickstart(args: &[&str]) -> String {
    let output = Command::new(dyad_binary())
        .arg("quickstart")
        .args(args)
        .output()
        .expect("running dyad quickstart");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "quickstart failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn quickstart_on_sqlite_collects_the_plaintext_total() {
    let stdout = quickstart(&[]);
    assert!(stdout.contains("reports collected:  40"), "{stdout}");
}

/// A Poplar1 quickstart walks the prefix tree (16 levels, one collection
/// each) and finds exactly the heavy hitters counted in its plaintext
/// measurements.
#[test]
fn poplar1_quickstart_finds_the_plaintext_heavy_hitters() {
    let stdout = run_quickstart(&[
        "--reports",
        "60",
        "--vdaf",
        r#"{"type":"Poplar1","bits":"16"}"#,
        "--threshold",
        "5",
    ]);
    assert!(
        stdout.contains("OK: the heavy hitters found equal those counted in the plaintext"),
        "{stdout}"
    );
    assert!(stdout.contains("reports collected:  60"), "{stdout}");
    assert!(stdout.contains("threshold:          5"), "{stdout}");
    let found = stdout
        .lines()
        .find_map(|line| line.strip_prefix("heavy hitters:      "))
        .unwrap_or_else(|| panic!("no heavy hitters line:\n{stdout}"));
    // 70% of the strings come from 8 popular ones: the first few reach 5.
    assert_ne!(found, "none", "{stdout}");
    assert!(
        found
            .split(", ")
            .all(|h| h.split(": ").next().is_some_and(|s| s.len() == 16)),
        "{stdout}"
    );
}

/// `--threshold` belongs to heavy hitters: with a Prio3 VDAF it is refused
/// with a hint.
#[test]
fn a_threshold_without_poplar1_is_refused() {
    let output = Command::new(dyad_binary())
        .args(["quickstart", "--threshold", "3"])
        .output()
        .expect("running dyad quickstart");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("error: --threshold is for heavy hitters"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: "), "{stderr}");
}

#[tokio::test]
async fn quickstart_on_postgres_uses_fresh_databases_and_drops_them() {
    let Ok(server) = std::env::var("DYAD_TEST_DATABASE_URL") else {
        eprintln!("skipped: DYAD_TEST_DATABASE_URL is not set");
        return;
    };
    let stdout = tokio::task::spawn_blocking({
        let server = server.clone();
        move || quickstart(&["--datastore", &server, "--vdaf", r#"{"type":"Prio3Count"}"#])
    })
    .await
    .unwrap();
    let line = stdout
        .lines()
        .find(|line| line.starts_with("databases: "))
        .unwrap_or_else(|| panic!("no databases line:\n{stdout}"));
    let names: Vec<String> = line["databases: ".len()..]
        .split(" (")
        .next()
        .unwrap()
        .split(", ")
        .map(str::to_owned)
        .collect();
    assert_eq!(names.len(), 2, "{line}");
    let mut conn = sqlx::PgConnection::connect(&server).await.unwrap();
    for name in &names {
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_database WHERE datname = $1")
            .bind(name)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(left, 0, "database {name} was not dropped");
    }
    let _ = conn.close().await;
}

/// Starts a long quickstart with `extra` arguments, its stdout piped.
fn start_long_quickstart(extra: &[&str]) -> Child {
    Command::new(dyad_binary())
        .args(["quickstart", "--reports", "20000"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting dyad quickstart")
}

/// Reads the child's stdout until a line starting with `prefix`; that line.
fn wait_for_line(
    lines: &mut impl Iterator<Item = std::io::Result<String>>,
    prefix: &str,
) -> String {
    for line in lines {
        let line = line.expect("reading quickstart's stdout");
        if line.starts_with(prefix) {
            return line;
        }
    }
    panic!("quickstart ended before printing {prefix:?}");
}

/// Sends SIGINT (what Ctrl-C sends) and waits, at most a minute, for the
/// child to exit; its stderr.
fn interrupt(mut child: Child) -> String {
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("running kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(!status.success(), "an interrupted quickstart must fail");
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("quickstart did not exit within a minute of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    stderr
}

#[test]
fn ctrl_c_during_a_sqlite_quickstart_removes_its_folder() {
    let mut child = start_long_quickstart(&[]);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let folder =
        wait_for_line(&mut lines, "working folder: ")["working folder: ".len()..].to_owned();
    wait_for_line(&mut lines, "leader: ");
    assert!(std::path::Path::new(&folder).exists(), "{folder}");
    let stderr = interrupt(child);
    assert!(stderr.contains("interrupted: cleaning up"), "{stderr}");
    assert!(
        !std::path::Path::new(&folder).exists(),
        "{folder} was left behind:\n{stderr}"
    );
}

#[tokio::test]
async fn ctrl_c_during_a_postgres_quickstart_drops_its_databases() {
    let Ok(server) = std::env::var("DYAD_TEST_DATABASE_URL") else {
        eprintln!("skipped: DYAD_TEST_DATABASE_URL is not set");
        return;
    };
    let (names, stderr) = tokio::task::spawn_blocking({
        let server = server.clone();
        move || {
            let mut child = start_long_quickstart(&["--datastore", &server]);
            let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
            let line = wait_for_line(&mut lines, "databases: ");
            // The databases exist; the aggregators are being set up or the
            // reports uploaded.
            let names: Vec<String> = line["databases: ".len()..]
                .split(" (")
                .next()
                .unwrap()
                .split(", ")
                .map(str::to_owned)
                .collect();
            std::thread::sleep(Duration::from_millis(500));
            (names, interrupt(child))
        }
    })
    .await
    .unwrap();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(stderr.contains("dropped databases"), "{stderr}");
    let mut conn = sqlx::PgConnection::connect(&server).await.unwrap();
    for name in &names {
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_database WHERE datname = $1")
            .bind(name)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(left, 0, "database {name} was left behind:\n{stderr}");
    }
    let _ = conn.close().await;
}
