//! Provisioning a task across three parties through the real `dyad` binary,
//! each party in its own folder with its own keys: the Collector makes its
//! keypair (`dyad collector init`), the Leader generates the task given only
//! the Collector's public config, the Helper imports the Leader's task file
//! and makes its own keypair. Checks that a task provisioned this way
//! aggregates and collects the exact result, and that nothing on the
//! Leader's side (the files it writes, its output, its stored task) holds
//! the Helper's or the Collector's private key, nor the Helper's stored task
//! the Collector's.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use dyad_client::{AnyVdaf, ClientBuilder};
use dyad_core::clock::RealClock;
use dyad_core::task::{AuthenticationToken, Task};
use dyad_core::vdaf::{AggregateResult, AggregationParam, Measurement};
use dyad_datastore::{Datastore, DatastoreExt, DatastoreKeys, DatastoreOptions};
use dyad_integration_tests::{
    dyad_binary, past_bucket_time, read_yaml, run_dyad, ClientTaskFile, CollectorCredentials,
    CollectorKeyFile, Server, WAIT,
};
use dyad_messages::draft09::{Duration, Interval, Query};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

const PRECISION: u64 = 3600;
const VDAF: &str = r#"{"type":"Prio3Histogram","length":"4","chunk_length":"2"}"#;
const LEADER_ROLES: &[&str] = &[
    "aggregator",
    "aggregation-job-creator",
    "aggregation-job-driver",
    "collection-job-driver",
];

/// Each party's folder, and the two aggregators' (not yet started) servers.
struct Parties {
    collector_dir: PathBuf,
    leader_out: PathBuf,
    leader: Server,
    helper: Server,
    /// What the Leader's `task add` printed (stdout and stderr).
    leader_output: String,
    _dir: tempfile::TempDir,
}

/// Runs `dyad ARGS`, returning its stdout and stderr; panics if it fails.
fn dyad_output(args: &[&std::ffi::OsStr]) -> String {
    let output = Command::new(dyad_binary()).args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "dyad {args:?} failed:\n{text}");
    text
}

/// The three-party exchange: `collector init`; the Leader's `task add
/// --generate` with the Collector's public config given as its base64url
/// text; the Helper's `task add --file helper-task.yaml`.
fn provision() -> Parties {
    let dir = tempfile::tempdir().unwrap();
    let leader = Server::configure(dir.path(), "leader", LEADER_ROLES).unwrap();
    let helper = Server::configure(dir.path(), "helper", &["aggregator"]).unwrap();
    let collector_dir = dir.path().join("collector");
    let leader_out = dir.path().join("leader-out");

    run_dyad([
        "collector".as_ref(),
        "init".as_ref(),
        "--out-dir".as_ref(),
        collector_dir.as_os_str(),
    ])
    .unwrap();
    // What the Collector hands the Leader's operator: the public config only.
    let public_config =
        std::fs::read_to_string(collector_dir.join("collector-hpke-config.txt")).unwrap();

    let leader_url = leader.url().to_string();
    let helper_url = helper.url().to_string();
    let leader_output = dyad_output(
        &[
            "task",
            "add",
            "--config",
            leader.config_path().to_str().unwrap(),
            "--generate",
            "--role",
            "leader",
            "--leader",
            &leader_url,
            "--helper",
            &helper_url,
            "--vdaf",
            VDAF,
            "--min-batch-size",
            "10",
            "--time-precision",
            &PRECISION.to_string(),
            "--collector-hpke-config",
            public_config.trim(),
            "--out-dir",
            leader_out.to_str().unwrap(),
        ]
        .map(std::ffi::OsStr::new),
    );
    run_dyad([
        "task".as_ref(),
        "add".as_ref(),
        "--config".as_ref(),
        helper.config_path().as_os_str(),
        "--file".as_ref(),
        leader_out.join("helper-task.yaml").as_os_str(),
    ])
    .unwrap();
    Parties {
        collector_dir,
        leader_out,
        leader,
        helper,
        leader_output,
        _dir: dir,
    }
}

impl Parties {
    fn collector_credentials(&self) -> CollectorCredentials {
        CollectorCredentials::from_files(
            &self.leader_out.join("collector-task.yaml"),
            &self.collector_dir.join("collector-key.yaml"),
        )
        .unwrap()
    }
}

#[tokio::test]
async fn a_task_provisioned_by_three_parties_collects_the_exact_result() {
    let mut parties = provision();
    let client_file: ClientTaskFile =
        read_yaml(&parties.leader_out.join("client-task.yaml")).unwrap();
    parties.leader.start().unwrap();
    parties.helper.start().unwrap();
    parties
        .leader
        .wait_ready(&client_file.task_id)
        .await
        .unwrap();
    parties
        .helper
        .wait_ready(&client_file.task_id)
        .await
        .unwrap();

    // A client knows only client-task.yaml.
    let time = past_bucket_time(PRECISION, 1);
    let client = ClientBuilder::new(
        client_file.task_id,
        client_file.leader.clone(),
        client_file.helper.clone(),
        client_file.time_precision,
    )
    .fixed_time(time)
    .build(AnyVdaf(client_file.vdaf))
    .unwrap();
    let measurements: Vec<Measurement> = [0, 1, 1, 2, 3, 3, 3, 0, 2, 3]
        .into_iter()
        .map(Measurement::Histogram)
        .collect();
    let uploads = tokio::time::timeout(WAIT, client.upload_batch(&measurements, 4))
        .await
        .expect("uploads timed out");
    for upload in uploads {
        upload.unwrap();
    }

    // The Collector uses collector-task.yaml and its own collector-key.yaml.
    let credentials = parties.collector_credentials();
    assert_eq!(credentials.task_id, client_file.task_id);
    let query = Query::TimeInterval(
        Interval::new(
            time.to_batch_interval_start(Duration::from_seconds(PRECISION)),
            Duration::from_seconds(PRECISION),
        )
        .unwrap(),
    );
    let collector = credentials.collector();
    let collection = tokio::time::timeout(
        WAIT + std::time::Duration::from_secs(5),
        collector.collect(query, &AggregationParam::Empty),
    )
    .await
    .expect("collection timed out")
    .unwrap_or_else(|error| {
        panic!(
            "{error:?}\n{}\n{}",
            parties.leader.log_text(),
            parties.helper.log_text()
        )
    });
    assert_eq!(collection.report_count, 10);
    assert_eq!(
        collection.aggregate_result,
        AggregateResult::Histogram(vec![2, 2, 2, 4])
    );
}

/// The tasks an aggregator's datastore holds, opened with the datastore key
/// its serve config names.
async fn stored_tasks(server: &Server) -> Vec<Task> {
    let config: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(server.config_path()).unwrap()).unwrap();
    let url = config["datastore"].as_str().unwrap().to_owned();
    let key = config["datastore_keys"][0].as_str().unwrap().to_owned();
    let options = DatastoreOptions::new(DatastoreKeys::from_encoded(&[key]).unwrap());
    let datastore: Arc<dyn Datastore> = dyad_datastore::open(&url, Arc::new(RealClock), &options)
        .await
        .unwrap();
    let tasks = datastore
        .run_read_tx("stored_tasks", |tx| {
            Box::pin(async move { Ok(tx.get_tasks().await?) })
        })
        .await
        .unwrap();
    datastore.close().await;
    tasks
}

/// Every way a key's bytes could be written down.
fn renderings(bytes: &[u8]) -> Vec<Vec<u8>> {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    vec![
        bytes.to_vec(),
        URL_SAFE_NO_PAD.encode(bytes).into_bytes(),
        STANDARD
            .encode(bytes)
            .trim_end_matches('=')
            .as_bytes()
            .to_vec(),
        hex.to_uppercase().into_bytes(),
        hex.into_bytes(),
    ]
}

fn holds(haystack: &[u8], key: &[u8]) -> bool {
    renderings(key).iter().any(|needle| {
        haystack
            .windows(needle.len())
            .any(|window| window == needle)
    })
}

/// A task as text in every form it is written in: YAML (its serde form, as
/// the datastore seals it), JSON and Debug.
fn task_texts(task: &Task) -> Vec<u8> {
    let mut text = serde_yaml::to_string(task).unwrap().into_bytes();
    text.extend(serde_json::to_vec(task).unwrap());
    text.extend(format!("{task:?}").into_bytes());
    text
}

/// Every file under `dir`, read.
fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
    files
}

#[tokio::test]
async fn no_party_holds_another_partys_private_key() {
    let parties = provision();
    let leader_tasks = stored_tasks(&parties.leader).await;
    let helper_tasks = stored_tasks(&parties.helper).await;
    assert_eq!(leader_tasks.len(), 1);
    assert_eq!(helper_tasks.len(), 1);
    let (leader_task, helper_task) = (&leader_tasks[0], &helper_tasks[0]);
    assert_eq!(leader_task.task_id(), helper_task.task_id());

    let helper_keys: Vec<Vec<u8>> = helper_task
        .hpke_keys()
        .iter()
        .map(|k| k.private_key().as_bytes().to_vec())
        .collect();
    let leader_keys: Vec<Vec<u8>> = leader_task
        .hpke_keys()
        .iter()
        .map(|k| k.private_key().as_bytes().to_vec())
        .collect();
    let collector_file: CollectorKeyFile =
        read_yaml(&parties.collector_dir.join("collector-key.yaml")).unwrap();
    let collector_key = URL_SAFE_NO_PAD
        .decode(collector_file.hpke_private_key.trim())
        .unwrap();
    assert!(!helper_keys.is_empty() && !leader_keys.is_empty());
    assert!(!helper_keys.contains(&leader_keys[0]));

    // Everything the Leader's side wrote or holds.
    let mut leader_side = files_under(&parties.leader_out);
    let names: Vec<String> = leader_side
        .iter()
        .map(|(path, _)| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in [
        "helper-task.yaml",
        "collector-task.yaml",
        "client-task.yaml",
    ] {
        assert!(names.iter().any(|n| n == expected), "{names:?}");
    }
    leader_side.push(("the Leader's stored task".into(), task_texts(leader_task)));
    leader_side.push((
        "the Leader's task add output".into(),
        parties.leader_output.clone().into_bytes(),
    ));
    // The search finds a key where there is one: the Leader's own.
    assert!(holds(&task_texts(leader_task), &leader_keys[0]));
    for (what, bytes) in &leader_side {
        for key in &helper_keys {
            assert!(
                !holds(bytes, key),
                "{} holds the Helper's private key",
                what.display()
            );
        }
        assert!(
            !holds(bytes, &collector_key),
            "{} holds the Collector's private key",
            what.display()
        );
    }

    // The Helper's datastore holds its own key and not the Collector's.
    let helper_text = task_texts(helper_task);
    assert!(holds(&helper_text, &helper_keys[0]));
    assert!(
        !holds(&helper_text, &collector_key),
        "the Helper's stored task holds the Collector's private key"
    );
    // Nor does it hold the Collector's token: that is the Leader's and the
    // Collector's alone.
    assert!(helper_task.collector_auth_token().is_none());

    // The Leader keeps only the hash of the Collector's token, which the
    // Collector's file carries in clear, and `task show` says so.
    let collector_file: serde_yaml::Value = serde_yaml::from_slice(
        &std::fs::read(parties.leader_out.join("collector-task.yaml")).unwrap(),
    )
    .unwrap();
    let collector_token = collector_file["collector_bearer_token"]
        .as_str()
        .expect("collector-task.yaml has the Collector's token");
    let stored = leader_task
        .collector_auth_token()
        .expect("the Leader's task has a collector token");
    assert!(
        stored.token().is_none(),
        "the Leader stores the token itself"
    );
    assert!(stored.validate(&AuthenticationToken::new_bearer(collector_token).unwrap()));
    assert!(!holds(&task_texts(leader_task), collector_token.as_bytes()));
    let show = dyad_output(
        &[
            "task",
            "show",
            &leader_task.task_id().to_string(),
            "--config",
            parties.leader.config_path().to_str().unwrap(),
        ]
        .map(std::ffi::OsStr::new),
    );
    assert!(
        show.lines()
            .any(|line| line.starts_with("collector auth token")
                && line.ends_with("bearer, hash stored")),
        "{show}"
    );

    // The secret files are readable by their owner only.
    #[cfg(unix)]
    for name in ["helper-task.yaml", "collector-task.yaml"] {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(parties.leader_out.join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }
}

#[tokio::test]
async fn task_add_refuses_fixed_size_poplar1_and_a_bad_collector_config_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let leader = Server::configure(dir.path(), "leader", LEADER_ROLES).unwrap();
    run_dyad([
        "collector".as_ref(),
        "init".as_ref(),
        "--out-dir".as_ref(),
        dir.path().join("collector").as_os_str(),
    ])
    .unwrap();
    let config = dir.path().join("collector/collector-hpke-config.txt");
    let attempt = |vdaf: &str, collector_config: &str, extra: &[&str]| {
        let output = Command::new(dyad_binary())
            .args(["task", "add", "--config"])
            .arg(leader.config_path())
            .args([
                "--generate",
                "--role",
                "leader",
                "--leader",
                "http://127.0.0.1:1/",
                "--helper",
                "http://127.0.0.1:2/",
                "--vdaf",
                vdaf,
                "--min-batch-size",
                "10",
                "--time-precision",
                "3600",
                "--collector-hpke-config",
                collector_config,
                "--out-dir",
            ])
            .arg(dir.path().join("out"))
            .args(extra)
            .output()
            .unwrap();
        assert!(!output.status.success());
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    // Poplar1 is aggregated per time-interval batch once a collection
    // names its parameter.
    let error = attempt(
        r#"{"type":"Poplar1","bits":"8"}"#,
        config.to_str().unwrap(),
        &["--batch-mode", "fixed-size"],
    );
    assert!(
        error.contains("Poplar1 tasks need --batch-mode time-interval"),
        "{error}"
    );
    let error = attempt(VDAF, "not-a-config", &[]);
    assert!(
        error.contains("--collector-hpke-config: the value is not a base64url HpkeConfig"),
        "{error}"
    );
    assert!(!dir.path().join("out").exists());
    assert!(stored_tasks(&leader).await.is_empty());
}
