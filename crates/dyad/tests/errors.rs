//! The `dyad` binary's error reports: each cause stated once, `error:` then
//! `hint:` lines, for the mistakes a new operator makes first.

use std::process::{Command, Output};

/// Runs `dyad ARGS` without datastore keys from the environment.
fn dyad(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dyad"))
        .args(args)
        .env_remove("DYAD_DATASTORE_KEYS")
        .env_remove("DYAD_DATABASE_URL")
        .output()
        .expect("running dyad")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// How many `error:` lines the report has.
fn error_lines(shown: &str) -> usize {
    shown
        .lines()
        .filter(|line| line.starts_with("error: "))
        .count()
}

/// How often `needle` occurs in `haystack`.
fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

#[test]
fn missing_config_file_is_stated_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.yaml");
    let output = dyad(&["serve", "--config", path.to_str().unwrap()]);
    assert!(!output.status.success());
    let shown = stderr(&output);
    assert_eq!(
        shown,
        format!(
            "error: reading {}: No such file or directory (os error 2)\n",
            path.display()
        )
    );
}

/// The test PostgreSQL server's URL, or `None` (the test is skipped) if
/// `DYAD_TEST_DATABASE_URL` is not set.
fn postgres_server() -> Option<url::Url> {
    let Ok(server) = std::env::var("DYAD_TEST_DATABASE_URL") else {
        eprintln!("skipped: DYAD_TEST_DATABASE_URL is not set (source scripts/postgres.sh)");
        return None;
    };
    Some(url::Url::parse(&server).unwrap())
}

#[test]
fn missing_postgres_database_says_how_to_create_it() {
    let Some(mut url) = postgres_server() else {
        return;
    };
    let name = format!("dyad_missing_{:016x}", rand::random::<u64>());
    url.set_path(&name);
    let output = dyad(&["migrate", "--database", url.as_str()]);
    assert!(!output.status.success());
    let shown = stderr(&output);
    let missing = format!("database \"{name}\" does not exist");
    assert_eq!(count(&shown, &missing), 1, "{shown}");
    assert!(
        shown.starts_with("error: migrating the datastore"),
        "{shown}"
    );
    assert!(
        shown.contains(&format!(
            "\nhint: create it with `createdb {name}` or `CREATE DATABASE {name}`\n"
        )),
        "{shown}"
    );
    if let Some(password) = url.password() {
        assert!(!shown.contains(&format!(":{password}@")), "{shown}");
    }
}

#[test]
fn a_wrong_postgres_password_says_where_to_look() {
    let Some(mut url) = postgres_server() else {
        return;
    };
    url.set_password(Some("not-the-password")).unwrap();
    let output = dyad(&["migrate", "--database", url.as_str()]);
    assert!(!output.status.success());
    let shown = stderr(&output);
    assert_eq!(error_lines(&shown), 1, "{shown}");
    assert_eq!(
        count(&shown, "password authentication failed"),
        1,
        "{shown}"
    );
    assert!(
        shown.contains("\nhint: check the user and password in the URL"),
        "{shown}"
    );
    assert!(!shown.contains("not-the-password"), "{shown}");
}

#[test]
fn unreachable_server_asks_whether_it_runs() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("dyad.yaml");
    std::fs::write(
        &config,
        format!(
            "datastore: \"postgres://dyad:pw@127.0.0.1:{port}/dyad\"\n\
             datastore_keys: [\"AAAAAAAAAAAAAAAAAAAAAA\"]\n\
             datastore_pool: {{acquire_timeout_secs: 1}}\n\
             roles: [aggregation-job-creator]\n\
             log: {{level: error}}\n"
        ),
    )
    .unwrap();
    let output = dyad(&["serve", "--config", config.to_str().unwrap()]);
    assert!(!output.status.success());
    let shown = stderr(&output);
    assert_eq!(count(&shown, "pool timed out"), 1, "{shown}");
    assert_eq!(error_lines(&shown), 1, "{shown}");
    assert!(
        shown.ends_with(&format!(
            "\nhint: is the server at 127.0.0.1:{port} running?\n"
        )),
        "{shown}"
    );
}

/// The arguments of `dyad upload` around a `--vdaf` value.
fn upload_with_vdaf(vdaf: &str) -> Output {
    let task_id = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    dyad(&[
        "upload",
        "--vdaf",
        vdaf,
        "--task-id",
        task_id,
        "--leader",
        "http://127.0.0.1:9/",
        "--helper",
        "http://127.0.0.1:9/",
        "--time-precision",
        "3600",
        "1",
    ])
}

#[test]
fn unknown_vdaf_type_lists_the_known_ones() {
    let output = upload_with_vdaf(r#"{"type":"Prio4"}"#);
    assert_eq!(output.status.code(), Some(2));
    let shown = stderr(&output);
    assert_eq!(count(&shown, "unknown VDAF type \"Prio4\""), 1, "{shown}");
    for known in dyad_core::vdaf::VDAF_TYPES {
        assert!(shown.contains(known), "lists {known}: {shown}");
    }
}

#[test]
fn vdaf_that_is_not_json_shows_the_form_it_wants() {
    let output = upload_with_vdaf("Prio3Count");
    assert_eq!(output.status.code(), Some(2));
    let shown = stderr(&output);
    assert!(
        shown.starts_with("error: invalid --vdaf Prio3Count: "),
        "{shown}"
    );
    assert!(
        shown.ends_with("\nhint: --vdaf wants JSON, e.g. '{\"type\":\"Prio3Count\"}'\n"),
        "{shown}"
    );
    assert_eq!(error_lines(&shown), 1, "{shown}");
}

#[test]
fn a_missing_collector_config_file_gets_its_hint_on_a_line_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let datastore = format!("sqlite://{}", dir.path().join("d.sqlite").display());
    let output = Command::new(env!("CARGO_BIN_EXE_dyad"))
        .args([
            "task",
            "add",
            "--datastore",
            &datastore,
            "--generate",
            "--role",
            "leader",
            "--leader",
            "https://leader.example/",
            "--helper",
            "https://helper.example/",
            "--vdaf",
            r#"{"type":"Prio3Count"}"#,
            "--min-batch-size",
            "10",
            "--time-precision",
            "3600",
            "--collector-hpke-config",
            "./no-such-collector-hpke-config.txt",
            "--out-dir",
            dir.path().join("out").to_str().unwrap(),
        ])
        .env("DYAD_DATASTORE_KEYS", "AAAAAAAAAAAAAAAAAAAAAA")
        .output()
        .expect("running dyad");
    assert!(!output.status.success());
    let shown = stderr(&output);
    assert_eq!(
        shown,
        "error: --collector-hpke-config: no file ./no-such-collector-hpke-config.txt\n\
         hint: give the collector-hpke-config.txt that `dyad collector init` wrote\n",
    );
}
