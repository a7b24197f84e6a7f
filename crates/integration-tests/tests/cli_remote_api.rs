//! `dyad task ...` and `dyad hpke-key ...` with `--api URL`, against a
//! real `dyad serve` running the management-api role: each subcommand's
//! answer compared with what the same command prints against the
//! aggregator's datastore (`--config`), the changes it makes checked in that
//! datastore, and the failures an operator meets (no token, a wrong token,
//! an unknown task, a server that is down) with their messages. A task
//! provisioned only through the two APIs (`task add --api`: the Helper
//! first, then the Leader with the file the Helper's side wrote) runs an
//! upload and a collection with the files those commands wrote.

use dyad_integration_tests::{dyad_binary, free_port, Dyad, Server, TaskOptions};
use std::process::{Command, Output, Stdio};
use url::Url;

/// The token the aggregators' management APIs accept.
const TOKEN: &str = "cli-remote-test-token";

/// A Leader and a Helper, each also serving its management API, with one
/// task provisioned; the URLs of the two APIs.
struct Pair {
    dyad: Dyad,
    leader_api: Url,
    helper_api: Url,
}

impl Pair {
    async fn start() -> Self {
        let (leader_port, helper_port) = (free_port(), free_port());
        let options = TaskOptions::time_interval(r#"{"type":"Prio3Count"}"#, 1);
        let dyad = Dyad::start_prepared(&options, |_, leader, helper| {
            with_management_api(
                leader,
                leader_port,
                &[
                    "aggregator",
                    "aggregation-job-creator",
                    "aggregation-job-driver",
                    "collection-job-driver",
                    "management-api",
                ],
            )?;
            with_management_api(helper, helper_port, &["aggregator", "management-api"])
        })
        .await
        .unwrap();
        let pair = Self {
            dyad,
            leader_api: format!("http://127.0.0.1:{leader_port}/").parse().unwrap(),
            helper_api: format!("http://127.0.0.1:{helper_port}/").parse().unwrap(),
        };
        pair.wait_for_api(&pair.leader_api).await;
        pair.wait_for_api(&pair.helper_api).await;
        pair
    }

    /// Waits until the management API at `api` answers `GET /`.
    async fn wait_for_api(&self, api: &Url) {
        let http = reqwest::Client::new();
        let started = std::time::Instant::now();
        loop {
            let answer = http
                .get(api.clone())
                .bearer_auth(TOKEN)
                .header(
                    "accept",
                    "application/vnd.janus.aggregator+json;version=0.1",
                )
                .send()
                .await;
            if answer.is_ok_and(|answer| answer.status().is_success()) {
                return;
            }
            assert!(
                started.elapsed() < dyad_integration_tests::WAIT,
                "the management API at {api} did not answer\n{}",
                self.dyad.logs()
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    fn leader_config(&self) -> String {
        self.dyad.leader.config_path().display().to_string()
    }

    fn helper_config(&self) -> String {
        self.dyad.helper.config_path().display().to_string()
    }

    fn task_id(&self) -> String {
        self.dyad.credentials.task_id.to_string()
    }
}

/// Waits until the management API at `api` answers `GET /`; `logs` for
/// the failure message.
async fn wait_for_api(api: &Url, logs: &str) {
    let http = reqwest::Client::new();
    let started = std::time::Instant::now();
    loop {
        let answer = http
            .get(api.clone())
            .bearer_auth(TOKEN)
            .header(
                "accept",
                "application/vnd.janus.aggregator+json;version=0.1",
            )
            .send()
            .await;
        if answer.is_ok_and(|answer| answer.status().is_success()) {
            return;
        }
        assert!(
            started.elapsed() < dyad_integration_tests::WAIT,
            "the management API at {api} did not answer\n{logs}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Adds the management API to `server`'s config: its listener on `port`,
/// the token, and the server's DAP URL for `GET /`.
fn with_management_api(server: &mut Server, port: u16, roles: &[&str]) -> anyhow::Result<()> {
    server.set_config("roles", &format!("[{}]", roles.join(", ")))?;
    server.set_config(
        "management_listen_address",
        &format!("\"127.0.0.1:{port}\""),
    )?;
    server.set_config(
        "management_api",
        &format!(
            "{{auth_tokens: [\"{TOKEN}\"], dap_url: \"{}\"}}",
            server.url()
        ),
    )
}

/// Runs `dyad ARGS` with `DYAD_API_TOKEN` set to `token` (unset for
/// `None`) and stdin closed.
fn dyad(args: &[&str], token: Option<&str>) -> Output {
    let mut command = Command::new(dyad_binary());
    command
        .args(args)
        .env_remove("DYAD_API_TOKEN")
        .stdin(Stdio::null());
    if let Some(token) = token {
        command.env("DYAD_API_TOKEN", token);
    }
    command.output().expect("running dyad")
}

/// `dyad ARGS` with the right token; its stdout, failing the test with its
/// output if it fails.
fn ok(args: &[&str]) -> String {
    let output = dyad(args, Some(TOKEN));
    assert!(
        output.status.success(),
        "dyad {}\n{}\n{}",
        args.join(" "),
        text(&output.stdout),
        text(&output.stderr)
    );
    text(&output.stdout)
}

/// `dyad ARGS` with `token`, which must fail; its stderr.
fn failing(args: &[&str], token: Option<&str>) -> String {
    let output = dyad(args, token);
    assert!(
        !output.status.success(),
        "dyad {} succeeded:\n{}",
        args.join(" "),
        text(&output.stdout)
    );
    text(&output.stderr)
}

fn as_strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The row of a table that starts with `first`, its cells joined by single
/// spaces.
fn row(table: &str, first: &str) -> String {
    let line = table
        .lines()
        .find(|line| line.split_whitespace().next() == Some(first))
        .unwrap_or_else(|| panic!("no row {first} in\n{table}"));
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|error| panic!("{error}: {text}"))
}

/// The datastore's JSON view of tasks without the members the management
/// API does not show (which tokens are stored).
fn without_tokens(mut tasks: serde_json::Value) -> serde_json::Value {
    for task in tasks.as_array_mut().unwrap() {
        let task = task.as_object_mut().unwrap();
        assert!(task.remove("aggregator_auth_token").is_some());
        assert!(task.remove("collector_auth_token").is_some());
    }
    tasks
}

#[tokio::test]
async fn task_list_show_and_stats_over_the_api_print_what_the_datastore_shows() {
    let pair = Pair::start().await;
    let task_id = pair.task_id();
    for (config, api) in [
        (pair.leader_config(), pair.leader_api.to_string()),
        (pair.helper_config(), pair.helper_api.to_string()),
    ] {
        let local = ["--config", config.as_str()];
        let remote = ["--api", api.as_str()];
        // The list's table holds nothing the API does not show: the same.
        let table = ok(&[&["task", "list"][..], &remote].concat());
        assert_eq!(table, ok(&[&["task", "list"][..], &local].concat()));
        assert!(table.contains(&task_id), "{table}");
        // JSON: the same, less the tokens.
        let listed = json(&ok(
            &[&["task", "list", "--format", "json"][..], &remote].concat()
        ));
        let stored = json(&ok(
            &[&["task", "list", "--format", "json"][..], &local].concat()
        ));
        assert_eq!(listed, without_tokens(stored.clone()));
        // One task: every row the same but the tokens'.
        let shown = ok(&[&["task", "show", &task_id][..], &remote].concat());
        let stored_rows = ok(&[&["task", "show", &task_id][..], &local].concat());
        assert_eq!(shown.lines().count(), stored_rows.lines().count());
        for (remote_row, local_row) in shown.lines().zip(stored_rows.lines()) {
            if remote_row.contains("auth token") {
                assert!(
                    remote_row.ends_with("not shown by the management API"),
                    "{remote_row}"
                );
            } else {
                assert_eq!(remote_row, local_row);
            }
        }
        let shown = json(&ok(&[
            &["task", "show", &task_id, "--format", "json"][..],
            &remote,
        ]
        .concat()));
        assert_eq!(shown, without_tokens(stored)[0]);
    }

    // Reports uploaded to the Leader show in its statistics over the API.
    let client_task = pair.dyad.dir().join("provision/leader/client-task.yaml");
    let uploaded = ok(&[
        "upload",
        "--task-file",
        &client_task.display().to_string(),
        "1",
        "0",
        "1",
    ]);
    assert_eq!(uploaded, "ACCEPTED  FAILED\n3         0\n");
    let leader_api = pair.leader_api.to_string();
    let stats = ok(&["task", "stats", &task_id, "--api", &leader_api]);
    let accepted = stats
        .lines()
        .find(|line| line.starts_with("uploads accepted "))
        .unwrap_or_else(|| panic!("{stats}"));
    assert!(accepted.split_whitespace().nth(2) == Some("3"), "{stats}");
    let stats = json(&ok(&[
        "task",
        "stats",
        &task_id,
        "--api",
        &leader_api,
        "--format",
        "json",
    ]));
    assert_eq!(stats["role"], "leader");
    assert_eq!(stats["counters"]["report_success"], 3, "{stats}");
    let stored = json(&ok(&[
        "task",
        "stats",
        &task_id,
        "--config",
        &pair.leader_config(),
        "--format",
        "json",
    ]));
    assert_eq!(stored["counters"]["uploads_accepted"], 3, "{stored}");
    // A Helper takes no uploads: its table leaves them out.
    let helper_stats = ok(&["task", "stats", &task_id, "--api", pair.helper_api.as_ref()]);
    assert!(!helper_stats.contains("uploads"), "{helper_stats}");
}

#[tokio::test]
async fn task_update_and_delete_over_the_api_change_the_datastore() {
    let pair = Pair::start().await;
    let task_id = pair.task_id();
    let api = pair.leader_api.to_string();
    let config = pair.leader_config();

    let updated = ok(&[
        "task",
        "update",
        &task_id,
        "--task-expiration",
        "2030-01-01T00:00:00Z",
        "--api",
        &api,
    ]);
    assert_eq!(
        updated,
        format!("Task {task_id} now expires: 2030-01-01T00:00:00Z (was: never).\n")
    );
    let stored = json(&ok(&[
        "task", "show", &task_id, "--config", &config, "--format", "json",
    ]));
    assert_eq!(stored["task_expiration"], "2030-01-01T00:00:00Z");
    let updated = json(&ok(&[
        "task",
        "update",
        &task_id,
        "--task-expiration",
        "none",
        "--api",
        &api,
        "--format",
        "json",
    ]));
    assert_eq!(
        updated,
        serde_json::json!({
            "task_id": task_id,
            "task_expiration": null,
            "previous_task_expiration": "2030-01-01T00:00:00Z",
        })
    );

    // Deleting asks first; without a terminal to ask on, only --yes does.
    let refused = failing(&["task", "delete", &task_id, "--api", &api], Some(TOKEN));
    assert!(
        refused.starts_with(&format!(
            "error: not deleting task {task_id} without confirmation: stdin is not a terminal"
        )),
        "{refused}"
    );
    assert!(ok(&["task", "list", "--config", &config]).contains(&task_id));
    let deleted = ok(&["task", "delete", &task_id, "--yes", "--api", &api]);
    assert_eq!(deleted, format!("Deleted task {task_id} (leader).\n"));
    assert_eq!(
        ok(&["task", "list", "--config", &config]),
        "No tasks in this datastore (add one with `dyad task add`).\n"
    );
    assert_eq!(
        ok(&["task", "list", "--api", &api]),
        "No tasks on this aggregator (add one with `dyad task add`).\n"
    );
    // Now it is unknown: named, with the aggregator.
    for command in [
        &["task", "show", &task_id][..],
        &["task", "stats", &task_id],
        &["task", "delete", &task_id, "--yes"],
        &["task", "update", &task_id, "--task-expiration", "none"],
    ] {
        let error = failing(&[command, &["--api", &api]].concat(), Some(TOKEN));
        assert!(
            error.starts_with(&format!("error: no task {task_id} at {api} ")),
            "{error}"
        );
        assert_eq!(error.lines().filter(|l| l.starts_with("error:")).count(), 1);
    }
}

#[tokio::test]
async fn hpke_key_commands_over_the_api_manage_the_global_keys() {
    let pair = Pair::start().await;
    let api = pair.leader_api.to_string();
    let config = pair.leader_config();
    let remote = |args: &[&str]| ok(&[args, &["--api", &api]].concat());
    let local = |args: &[&str]| ok(&[args, &["--config", &config]].concat());
    let suite = "X25519-HKDF-SHA256, HKDF-SHA256, AES-128-GCM";

    assert!(remote(&["hpke-key", "list"]).starts_with("No global HPKE keys"));
    assert_eq!(remote(&["hpke-key", "list", "--format", "json"]), "[]\n");
    let added = remote(&["hpke-key", "add"]);
    assert_eq!(
        added,
        format!("Added global HPKE key 0 (pending, {suite}).\n")
    );
    let added = json(&remote(&[
        "hpke-key", "add", "--state", "active", "--format", "json",
    ]));
    assert_eq!(added[0]["config_id"], 1, "{added}");
    assert_eq!(added[0]["state"], "active", "{added}");

    // The keys as the API lists them: the datastore's, less the times.
    let listed = json(&remote(&["hpke-key", "list", "--format", "json"]));
    let mut stored = json(&local(&["hpke-key", "list", "--format", "json"]));
    for key in stored.as_array_mut().unwrap() {
        key["state_since"] = serde_json::Value::Null;
        key["created_at"] = serde_json::Value::Null;
    }
    assert_eq!(listed, stored);
    let table = remote(&["hpke-key", "list"]);
    assert_eq!(
        row(&table, "1"),
        format!("1 active {suite} unknown unknown"),
        "{table}"
    );

    assert_eq!(
        remote(&["hpke-key", "set-state", "0", "active"]),
        "Global HPKE key 0: pending -> active.\n"
    );
    let table = local(&["hpke-key", "list"]);
    assert!(
        row(&table, "0").starts_with(&format!("0 active {suite} ")),
        "{table}"
    );
    // An active key is refused without --force, as against the datastore.
    let refused = failing(
        &["hpke-key", "delete", "0", "--yes", "--api", &api],
        Some(TOKEN),
    );
    assert!(
        refused.starts_with("error: global HPKE key 0 is active: Clients are being given it\n"),
        "{refused}"
    );
    remote(&["hpke-key", "set-state", "0", "expired"]);
    let refused = failing(&["hpke-key", "delete", "0", "--api", &api], Some(TOKEN));
    assert!(refused.contains("without confirmation"), "{refused}");
    assert_eq!(
        remote(&["hpke-key", "delete", "0", "--yes"]),
        "Deleted global HPKE key 0 (expired).\n"
    );
    let stored = json(&local(&["hpke-key", "list", "--format", "json"]));
    assert_eq!(stored.as_array().unwrap().len(), 1, "{stored}");
    assert_eq!(stored[0]["config_id"], 1);

    // What the API cannot do is said, not silently done otherwise.
    let refused = failing(
        &["hpke-key", "add", "--id", "7", "--api", &api],
        Some(TOKEN),
    );
    assert!(
        refused.starts_with("error: --id cannot be chosen over the management API"),
        "{refused}"
    );
    let missing = failing(
        &["hpke-key", "set-state", "9", "active", "--api", &api],
        Some(TOKEN),
    );
    assert!(
        missing.starts_with(&format!("error: no global HPKE key 9 at {api}\n")),
        "{missing}"
    );
}

#[tokio::test]
async fn a_missing_or_wrong_token_and_a_server_that_is_down_are_one_clear_error() {
    let pair = Pair::start().await;
    let api = pair.leader_api.to_string();

    let error = failing(&["task", "list", "--api", &api], None);
    assert_eq!(
        error.lines().next(),
        Some("error: --api needs a token: DYAD_API_TOKEN is not set")
    );
    assert!(error.contains("hint: export DYAD_API_TOKEN"), "{error}");

    let error = failing(&["hpke-key", "list", "--api", &api], Some("not-the-token"));
    assert_eq!(
        error.lines().next(),
        Some("error: the management API refused the token")
    );
    assert!(error
        .lines()
        .nth(1)
        .is_some_and(|l| l.starts_with("hint: DYAD_API_TOKEN must")));
    assert!(!error.contains("not-the-token"), "{error}");

    let nobody = format!("http://127.0.0.1:{}/", free_port());
    let error = failing(&["task", "list", "--api", &nobody], Some(TOKEN));
    assert!(
        error.starts_with(&format!(
            "error: cannot reach the management API at {nobody}: "
        )),
        "{error}"
    );
    assert!(error.to_lowercase().contains("refused"), "{error}");
    assert!(error.contains("hint: check --api"), "{error}");

    // --api and a datastore are one or the other.
    let config = pair.leader_config();
    let error = failing(
        &["task", "list", "--api", &api, "--config", &config],
        Some(TOKEN),
    );
    assert!(error.contains("cannot be used with"), "{error}");
}

#[tokio::test]
async fn a_task_added_over_both_apis_runs_an_upload_and_a_collection() {
    let mut pair = Pair::start().await;
    let dir = pair.dyad.dir().join("over-the-api");
    let path = |name: &str| dir.join(name).display().to_string();
    ok(&["collector", "init", "--out-dir", &path("collector")]);
    let (leader, helper) = (
        pair.dyad.leader.url().to_string(),
        pair.dyad.helper.url().to_string(),
    );
    let (leader_api, helper_api) = (pair.leader_api.to_string(), pair.helper_api.to_string());
    let collector_config = path("collector/collector-hpke-config.txt");
    let generate = |role: &str, api: &str, out_dir: &str| -> Vec<String> {
        [
            "task",
            "add",
            "--api",
            api,
            "--generate",
            "--role",
            role,
            "--leader",
            &leader,
            "--helper",
            &helper,
            "--vdaf",
            r#"{"type":"Prio3Sum","bits":"8"}"#,
            "--min-batch-size",
            "3",
            "--time-precision",
            "3600",
            "--collector-hpke-config",
            &collector_config,
            "--out-dir",
            out_dir,
        ]
        .map(str::to_owned)
        .to_vec()
    };

    // What the APIs decide themselves cannot be asked for.
    let mut args = generate("helper", &helper_api, &path("refused"));
    args.extend(["--report-expiry-age".to_owned(), "60".to_owned()]);
    let refused = failing(&as_strs(&args), Some(TOKEN));
    assert!(
        refused.starts_with("error: --report-expiry-age cannot be given over the management API"),
        "{refused}"
    );
    // The task must give an aggregator the URL its API reports.
    let args = generate("helper", &leader_api, &path("refused"));
    let refused = failing(&as_strs(&args), Some(TOKEN));
    assert!(refused.contains("says its DAP URL is"), "{refused}");

    // The Helper first: its API makes the Leader→Helper token.
    let args = generate("helper", &helper_api, &path("helper"));
    let stored = ok(&as_strs(&args));
    assert!(stored.starts_with("stored task "), "{stored}");
    assert!(stored.contains(" as the helper ("), "{stored}");
    assert!(stored.contains("--api URL"), "{stored}");
    let task_id = stored.split_whitespace().nth(2).unwrap().to_owned();
    // A Helper's API cannot take a Leader-made token.
    let refused = failing(
        &[
            "task",
            "add",
            "--api",
            &helper_api,
            "--file",
            &path("helper/leader-task.yaml"),
        ],
        Some(TOKEN),
    );
    assert!(refused.contains("says its DAP URL is"), "{refused}");
    // Then the Leader, from the file the Helper's side wrote.
    let stored = ok(&[
        "task",
        "add",
        "--api",
        &leader_api,
        "--file",
        &path("helper/leader-task.yaml"),
        "--out-dir",
        &path("leader"),
        "--format",
        "json",
    ]);
    let stored = json(&stored);
    assert_eq!(stored["task_id"], task_id.as_str());
    assert_eq!(stored["role"], "leader");
    let files: Vec<&str> = stored["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| file["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        [
            path("leader/collector-task.yaml"),
            path("leader/client-task.yaml")
        ]
    );
    // Both APIs show the task, each in its role, with the same parameters.
    let leader_view = json(&ok(&[
        "task",
        "show",
        &task_id,
        "--api",
        &leader_api,
        "--format",
        "json",
    ]));
    let mut helper_view = json(&ok(&[
        "task",
        "show",
        &task_id,
        "--api",
        &helper_api,
        "--format",
        "json",
    ]));
    assert_eq!(leader_view["role"], "leader");
    assert_eq!(helper_view["role"], "helper");
    helper_view["role"] = "leader".into();
    // Each aggregator made its own HPKE keypair; the rest is shared.
    assert_ne!(helper_view["hpke_keys"], serde_json::json!([]));
    helper_view["hpke_keys"] = leader_view["hpke_keys"].clone();
    assert_eq!(helper_view, leader_view);

    let task: dyad_messages::draft09::TaskId = task_id.parse().unwrap();
    pair.dyad.leader.wait_ready(&task).await.unwrap();
    pair.dyad.helper.wait_ready(&task).await.unwrap();
    let uploaded = ok(&[
        "upload",
        "--task-file",
        &path("leader/client-task.yaml"),
        "5",
        "7",
        "9",
    ]);
    assert_eq!(uploaded, "ACCEPTED  FAILED\n3         0\n");
    let now = dyad_client::system_time().as_seconds_since_epoch();
    let start = (now / 3600 * 3600).to_string();
    let collected = json(&ok(&[
        "collect",
        "--credentials",
        &path("leader/collector-task.yaml"),
        "--hpke-key",
        &path("collector/collector-key.yaml"),
        "--batch-interval-start",
        &start,
        "--batch-interval-duration",
        "3600",
        "--timeout",
        "60",
        "--format",
        "json",
    ]));
    assert_eq!(collected["report_count"], 3, "{collected}");
    assert_eq!(collected["result"], 21, "{collected}");
    // And the Leader's statistics over its API saw it all.
    let stats = json(&ok(&[
        "task",
        "stats",
        &task_id,
        "--api",
        &leader_api,
        "--format",
        "json",
    ]));
    assert_eq!(stats["counters"]["report_success"], 3, "{stats}");
    assert_eq!(stats["counters"]["success"], 3, "{stats}");
}

#[tokio::test]
async fn the_cli_reaches_an_api_mounted_under_a_path_prefix_of_the_dap_listener() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::configure(dir.path(), "leader", &["aggregator"]).unwrap();
    server
        .set_config(
            "management_api",
            &format!(
                "{{auth_tokens: [\"{TOKEN}\"], dap_url: \"{}\", path_prefix: /api/}}",
                server.url()
            ),
        )
        .unwrap();
    server.start().unwrap();
    let prefixed: Url = format!("{}api/", server.url()).parse().unwrap();
    wait_for_api(&prefixed, &server.log_text()).await;
    // Given without its trailing slash, the prefix is kept.
    let api = format!("{}api", server.url());
    let added = ok(&["hpke-key", "add", "--state", "active", "--api", &api]);
    assert_eq!(
        added,
        "Added global HPKE key 0 (active, X25519-HKDF-SHA256, HKDF-SHA256, AES-128-GCM).\n"
    );
    let listed = ok(&["hpke-key", "list", "--api", &api]);
    assert_eq!(
        row(&listed, "0").split(' ').nth(1),
        Some("active"),
        "{listed}"
    );
    let config = server.config_path().display().to_string();
    let stored = ok(&["hpke-key", "list", "--config", &config]);
    assert_eq!(
        row(&stored, "0").split(' ').nth(1),
        Some("active"),
        "{stored}"
    );
    assert_eq!(
        ok(&["task", "list", "--api", &api]),
        "No tasks on this aggregator (add one with `dyad task add`).\n"
    );
}
