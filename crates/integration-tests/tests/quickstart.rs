//! `dyad quickstart` as a user runs it: the whole deployment in one
//! process, on SQLite files and (when `DYAD_TEST_DATABASE_URL` names a
//! PostgreSQL server) on fresh databases of that server, which must be gone
//! afterwards.

use dyad_integration_tests::dyad_binary;
use sqlx::Connection as _;
use std::process::Command;

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
