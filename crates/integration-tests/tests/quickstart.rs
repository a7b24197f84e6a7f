//! `dyad quickstart` as a user runs it: the whole deployment in one
//! process, on SQLite files and (when `DYAD_TEST_DATABASE_URL` names a
//! PostgreSQL server) on fresh databases of that server, which must be gone
//! afterwards, even when the run is stopped with Ctrl-C (SIGINT).

use dyad_integration_tests::dyad_binary;
use sqlx::Connection as _;
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Runs the quickstart with `extra` arguments; its standard output.
fn quickstart(extra: &[&str]) -> String {
    let output = Command::new(dyad_binary())
        .args(["quickstart", "--reports", "40"])
        .args(extra)
        .output()
        .expect("running dyad quickstart");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "quickstart failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("OK: the collected result equals the plaintext total"),
        "{stdout}"
    );
    stdout
}

#[test]
fn quickstart_on_sqlite_collects_the_plaintext_total() {
    let stdout = quickstart(&[]);
    assert!(stdout.contains("reports collected:  40"), "{stdout}");
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
