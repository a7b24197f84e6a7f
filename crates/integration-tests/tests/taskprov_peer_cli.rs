//! `dyad taskprov-peer` against a SQLite datastore, through the real
//! binary: a Leader peer added with a new shared secret (written
//! owner-only), a Helper peer added with that secret, both listed as a
//! table and as JSON without any secret, a second add of the same peer
//! refused with a hint, bad input refused with its cause, a delete refused
//! without confirmation off a terminal and done with `--yes`.

use dyad_integration_tests::{dyad_binary, run_dyad};
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn dyad(key: &str, args: &[&str]) -> Output {
    Command::new(dyad_binary())
        .args(args)
        .env("DYAD_DATASTORE_KEYS", key)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    assert!(!output.status.success(), "unexpected success");
    String::from_utf8(output.stderr.clone()).unwrap()
}

fn write(path: &Path, text: &str) -> String {
    std::fs::write(path, text).unwrap();
    path.display().to_string()
}

#[test]
fn peers_are_added_listed_and_deleted_without_printing_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("agg.sqlite").display());
    let key = dyad_datastore::DatastoreKeys::generate_encoded();
    run_dyad(["migrate", "--database", url.as_str()]).unwrap();
    let collector = dir.path().join("collector");
    run_dyad([
        "collector",
        "init",
        "--out-dir",
        collector.to_str().unwrap(),
    ])
    .unwrap();
    let hpke = collector.join("collector-hpke-config.txt");
    let hpke = hpke.to_str().unwrap();
    let leader_token = write(
        &dir.path().join("leader-token.txt"),
        "leader-secret-token\n",
    );
    let collector_token = write(
        &dir.path().join("collector-token.txt"),
        "collector-secret\n",
    );
    let init = dir.path().join("verify-key-init.txt");
    let init_path = init.to_str().unwrap();

    let added = dyad(
        &key,
        &[
            "taskprov-peer",
            "add",
            "--datastore",
            &url,
            "--endpoint",
            "https://leader.example",
            "--role",
            "leader",
            "--collector-hpke-config",
            hpke,
            "--new-verify-key-init",
            init_path,
            "--aggregator-auth-token-file",
            &leader_token,
            "--report-expiry-age",
            "86400",
        ],
    );
    let table = stdout(&added);
    assert!(table.contains("https://leader.example/  Leader"), "{table}");
    assert!(String::from_utf8_lossy(&added.stderr).contains("verify_key_init"));
    let secret = std::fs::read_to_string(&init).unwrap();
    assert_eq!(secret.trim().len(), 43);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&init).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let added = dyad(
        &key,
        &[
            "taskprov-peer",
            "add",
            "--datastore",
            &url,
            "--endpoint",
            "https://helper.example/dap",
            "--role",
            "helper",
            "--collector-hpke-config",
            hpke,
            "--verify-key-init-file",
            init_path,
            "--aggregator-auth-token-file",
            &leader_token,
            "--collector-auth-token-file",
            &collector_token,
            "--format",
            "json",
        ],
    );
    let json: serde_json::Value = serde_json::from_str(&stdout(&added)).unwrap();
    assert_eq!(json[0]["endpoint"], "https://helper.example/dap/");

    // The same Leader again: refused, saying what to do.
    let again = dyad(
        &key,
        &[
            "taskprov-peer",
            "add",
            "--datastore",
            &url,
            "--endpoint",
            "https://leader.example/",
            "--role",
            "leader",
            "--collector-hpke-config",
            hpke,
            "--verify-key-init-file",
            init_path,
            "--aggregator-auth-token-file",
            &leader_token,
        ],
    );
    let message = stderr(&again);
    assert!(
        message.contains("exists already") && message.contains("hint:"),
        "{message}"
    );
    // A Leader peer with a Collector token, a short secret: refused.
    let collector_for_leader = dyad(
        &key,
        &[
            "taskprov-peer",
            "add",
            "--datastore",
            &url,
            "--endpoint",
            "https://other.example/",
            "--role",
            "leader",
            "--collector-hpke-config",
            hpke,
            "--verify-key-init-file",
            init_path,
            "--aggregator-auth-token-file",
            &leader_token,
            "--collector-auth-token-file",
            &collector_token,
        ],
    );
    assert!(stderr(&collector_for_leader).contains("--collector-auth-token-file"));
    let short = write(&dir.path().join("short.txt"), "AAAA\n");
    let short_secret = dyad(
        &key,
        &[
            "taskprov-peer",
            "add",
            "--datastore",
            &url,
            "--endpoint",
            "https://other.example/",
            "--role",
            "leader",
            "--collector-hpke-config",
            hpke,
            "--verify-key-init-file",
            &short,
            "--aggregator-auth-token-file",
            &leader_token,
        ],
    );
    assert!(stderr(&short_secret).contains("32 bytes"));

    let listed = dyad(
        &key,
        &[
            "taskprov-peer",
            "list",
            "--datastore",
            &url,
            "--format",
            "json",
        ],
    );
    let text = stdout(&listed);
    for secret in [secret.trim(), "leader-secret-token", "collector-secret"] {
        assert!(!text.contains(secret), "a secret was printed: {text}");
    }
    let listed: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    let roles: Vec<&str> = listed.iter().map(|p| p["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["Leader", "Helper"]);
    assert_eq!(listed[0]["report_expiry_age_secs"], 86400);

    let delete = [
        "taskprov-peer",
        "delete",
        "--datastore",
        &url,
        "--endpoint",
        "https://leader.example/",
        "--role",
        "leader",
    ];
    assert!(stderr(&dyad(&key, &delete)).contains("--yes"));
    let mut with_yes = delete.to_vec();
    with_yes.push("--yes");
    assert!(stdout(&dyad(&key, &with_yes)).contains("Deleted the Leader"));
    assert!(stderr(&dyad(&key, &with_yes)).contains("no Leader taskprov peer aggregator"));
    let table = stdout(&dyad(&key, &["taskprov-peer", "list", "--datastore", &url]));
    assert!(
        !table.contains("leader.example") && table.contains("helper.example"),
        "{table}"
    );
}
