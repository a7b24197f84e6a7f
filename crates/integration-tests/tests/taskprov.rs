//! Taskprov (draft-wang-ppm-dap-taskprov-06) across processes: a dyad
//! Leader and a dyad Helper, each `dyad serve` with its own SQLite
//! datastore, provisioned with nothing but each other as taskprov peers
//! (through the management API's `POST /taskprov/peer_aggregators`) and a
//! global HPKE key (`dyad hpke-key add`);
//! a client and a collector that hold only a task config (`dyad task
//! taskprov-config`).
//!
//! - A time-interval task through the command line (`dyad upload
//!   --taskprov`, `dyad collect --taskprov`) and a fixed-size task through
//!   the libraries (`ClientBuilder::from_task_config`,
//!   `CollectorBuilder::from_task_config`) each collect the exact result,
//!   and both aggregators then hold the task with its config; a collection
//!   asked for before any upload is `unrecognizedTask`.
//! - An upload whose config is not one, hashes to another task ID, names a
//!   Helper the Leader has no peer for, has expired, names a VDAF or DP
//!   mechanism dyad does not run, or hashes to the ID of a task provisioned
//!   otherwise, is refused with the draft's problem type, and no task is
//!   provisioned on either aggregator.
//!
//! The library run and the refusals run on SQLite and on PostgreSQL (with
//! `DYAD_TEST_DATABASE_URL`; without it the PostgreSQL runs say they were
//! skipped).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use dyad_client::{AnyVdaf, ClientBuilder};
use dyad_collector::CollectorBuilder;
use dyad_core::clock::RealClock;
use dyad_core::hpke::HpkeKeypair;
use dyad_core::retry::RetryPolicy;
use dyad_core::task::{AuthenticationToken, BatchMode, Task, VerifyKey};
use dyad_core::task_config::{task_id_of, vdaf_instance_of};
use dyad_core::vdaf::{AggregateResult, AggregationParam, Measurement, VdafInstance};
use dyad_datastore::{Datastore, DatastoreExt, DatastoreKeys, DatastoreOptions};
use dyad_integration_tests::{dyad_binary, read_yaml, run_dyad, CollectorKeyFile, Server, WAIT};
use dyad_messages::draft09::{
    Duration, FixedSizeQuery, HpkeAeadId, HpkeConfig, HpkeKdfId, HpkeKemId, Query, Role, TaskId,
    Time,
};
use dyad_messages::problem::DapProblemType;
use dyad_messages::taskprov::{DpMechanism, TaskConfig, VdafType};
use dyad_messages::Decode as _;
use dyad_test_support::postgres::TestDatabase;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

const LEADER_ROLES: &[&str] = &[
    "aggregator",
    "aggregation-job-creator",
    "aggregation-job-driver",
    "collection-job-driver",
];
const HISTOGRAM: &str = r#"{"type":"Prio3Histogram","length":"4","chunk_length":"2"}"#;
const COLLECTOR_TOKEN: &str = "collector-token-for-taskprov";
const AGGREGATOR_TOKEN: &str = "leader-to-helper-taskprov-token";
const ADMIN_TOKEN: &str = "taskprov-admin-token";
const MANAGEMENT_MEDIA_TYPE: &str = "application/vnd.janus.aggregator+json;version=0.1";

/// The two aggregators, peered and running, and the Collector's files.
struct Peers {
    leader: Server,
    helper: Server,
    collector_dir: PathBuf,
    dir: tempfile::TempDir,
    /// The PostgreSQL databases of a PostgreSQL run, kept until the end.
    _databases: Option<(TestDatabase, TestDatabase)>,
}

/// The two fresh PostgreSQL databases of a PostgreSQL run; `None` (said
/// on stderr) without `DYAD_TEST_DATABASE_URL`.
async fn postgres_databases() -> Option<(TestDatabase, TestDatabase)> {
    match (TestDatabase::create().await, TestDatabase::create().await) {
        (Some(leader), Some(helper)) => Some((leader, helper)),
        _ => {
            eprintln!("DYAD_TEST_DATABASE_URL is not set: the PostgreSQL run is skipped");
            None
        }
    }
}

/// Runs `dyad ARGS` and returns what it did.
fn dyad(args: &[&str]) -> Output {
    Command::new(dyad_binary()).args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Both aggregators with taskprov on and a global HPKE key, each the
/// other's peer (the Leader's peer entry holds the token it sends and the
/// Collector's token and HPKE config), started and serving.
async fn peers(databases: Option<(TestDatabase, TestDatabase)>) -> Peers {
    let dir = tempfile::tempdir().unwrap();
    let mut leader = Server::configure(dir.path(), "leader", LEADER_ROLES).unwrap();
    let mut helper = Server::configure(dir.path(), "helper", &["aggregator"]).unwrap();
    if let Some((leader_db, helper_db)) = &databases {
        for (server, db) in [(&leader, leader_db), (&helper, helper_db)] {
            server
                .set_config("datastore", &format!("{:?}", db.url()))
                .unwrap();
        }
    }
    // The datastores exist before `dyad hpke-key add` writes to them.
    for server in [&leader, &helper] {
        run_dyad(["migrate", "--database", &datastore_url(server)]).unwrap();
    }
    let collector_dir = dir.path().join("collector");
    run_dyad(["collector", "init", "--out-dir", path(&collector_dir)]).unwrap();

    for server in [&leader, &helper] {
        server.set_config("taskprov", "{enabled: true}").unwrap();
        server
            .set_config(
                "management_api",
                &format!(
                    "{{auth_tokens: [{ADMIN_TOKEN}], dap_url: \"{}\", path_prefix: /api/}}",
                    server.url()
                ),
            )
            .unwrap();
        run_dyad([
            "hpke-key",
            "add",
            "--config",
            path(server.config_path()),
            "--state",
            "active",
        ])
        .unwrap();
    }
    for server in [&mut leader, &mut helper] {
        server.start().unwrap();
        wait_serving(server).await;
    }
    // Each aggregator told of the other through its management API
    // (`POST /taskprov/peer_aggregators`): the secret they share, the
    // Leader's token for the Helper, the Collector's token and public key.
    let collector_config = collector_keypair(&collector_dir).config().clone();
    let verify_key_init = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let token = |token: &str| serde_json::json!([{"type": "Bearer", "token": token}]);
    let peer = |endpoint: &Server, role: &str| {
        serde_json::json!({
            "endpoint": endpoint.url().as_str(),
            "role": role,
            "collector_hpke_config": hpke_config_json(&collector_config),
            "verify_key_init": verify_key_init,
            "tolerable_clock_skew": 60,
            "aggregator_auth_tokens": token(AGGREGATOR_TOKEN),
        })
    };
    let mut helper_peer = peer(&helper, "Helper");
    helper_peer["collector_auth_tokens"] = token(COLLECTOR_TOKEN);
    add_peer(&leader, helper_peer).await;
    add_peer(&helper, peer(&leader, "Leader")).await;
    Peers {
        leader,
        helper,
        collector_dir,
        dir,
        _databases: databases,
    }
}

/// `POST /taskprov/peer_aggregators` on `server`'s management API.
async fn add_peer(server: &Server, body: serde_json::Value) {
    let response = reqwest::Client::new()
        .post(format!("{}api/taskprov/peer_aggregators", server.url()))
        .bearer_auth(ADMIN_TOKEN)
        .header("accept", MANAGEMENT_MEDIA_TYPE)
        .header("content-type", MANAGEMENT_MEDIA_TYPE)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status();
    assert_eq!(
        status,
        reqwest::StatusCode::CREATED,
        "{}\n{}",
        response.text().await.unwrap(),
        server.log_text()
    );
}

/// The management API's JSON form of an HPKE config of the default suite.
fn hpke_config_json(config: &HpkeConfig) -> serde_json::Value {
    assert_eq!(
        (config.kem_id, config.kdf_id, config.aead_id),
        (
            HpkeKemId::X25519HkdfSha256,
            HpkeKdfId::HkdfSha256,
            HpkeAeadId::Aes128Gcm
        )
    );
    serde_json::json!({
        "id": config.id.0,
        "kem_id": "X25519HkdfSha256",
        "kdf_id": "HkdfSha256",
        "aead_id": "Aes128Gcm",
        "public_key": URL_SAFE_NO_PAD.encode(&config.public_key.0),
    })
}

/// The Collector's keypair, from the key file `dyad collector init` wrote.
fn collector_keypair(collector_dir: &Path) -> HpkeKeypair {
    let key: CollectorKeyFile = read_yaml(&collector_dir.join("collector-key.yaml")).unwrap();
    let config =
        HpkeConfig::get_decoded(&URL_SAFE_NO_PAD.decode(key.hpke_config.trim()).unwrap()).unwrap();
    HpkeKeypair::new(
        config,
        dyad_core::hpke::HpkePrivateKey::new(
            URL_SAFE_NO_PAD.decode(key.hpke_private_key.trim()).unwrap(),
        ),
    )
    .unwrap()
}

/// Waits until the server answers `GET /hpke_config` (no task ID: its
/// global key) with 200.
async fn wait_serving(server: &Server) {
    let url = format!("{}hpke_config", server.url());
    let start = std::time::Instant::now();
    loop {
        if let Ok(response) = reqwest::get(&url).await {
            if response.status() == reqwest::StatusCode::OK {
                return;
            }
        }
        assert!(start.elapsed() < WAIT, "not serving: {}", server.log_text());
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

impl Peers {
    /// `dyad task taskprov-config` with the two endpoints and `extra`;
    /// the file written and the task ID the command printed.
    fn task_config(&self, name: &str, extra: &[&str]) -> (PathBuf, TaskConfig, TaskId) {
        let file = self.dir.path().join(format!("{name}.txt"));
        let (leader, helper) = (self.leader.url().to_string(), self.helper.url().to_string());
        let mut args = vec![
            "task",
            "taskprov-config",
            "--out",
            path(&file),
            "--task-info",
            name,
            "--leader",
            &leader,
            "--helper",
            &helper,
            "--lifetime",
            "86400",
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        let output = dyad(&args);
        assert!(output.status.success(), "{}", text(&output.stderr));
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let task_id: TaskId = json["task_id"].as_str().unwrap().parse().unwrap();
        let header = std::fs::read_to_string(&file).unwrap();
        let (config, _) = TaskConfig::from_header_value(&header).unwrap();
        assert_eq!(task_id_of(&config).unwrap(), task_id);
        (file, config, task_id)
    }

    fn collector_keypair(&self) -> HpkeKeypair {
        let key: CollectorKeyFile =
            read_yaml(&self.collector_dir.join("collector-key.yaml")).unwrap();
        let config =
            HpkeConfig::get_decoded(&URL_SAFE_NO_PAD.decode(key.hpke_config.trim()).unwrap())
                .unwrap();
        HpkeKeypair::new(
            config,
            dyad_core::hpke::HpkePrivateKey::new(
                URL_SAFE_NO_PAD.decode(key.hpke_private_key.trim()).unwrap(),
            ),
        )
        .unwrap()
    }

    fn logs(&self) -> String {
        format!(
            "--- leader ---\n{}\n--- helper ---\n{}",
            self.leader.log_text(),
            self.helper.log_text()
        )
    }

    /// Uploads to the Leader a body that is not a report, for the task
    /// `task_id`, advertising `header`; the problem type of the refusal.
    async fn refused_upload(&self, task_id: TaskId, header: &str) -> String {
        let response = reqwest::Client::new()
            .put(format!("{}tasks/{task_id}/reports", self.leader.url()))
            .header("content-type", "application/dap-report")
            .header("dap-taskprov", header)
            .body(vec![0u8; 8])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{}", self.logs());
        let problem: serde_json::Value = response.json().await.unwrap();
        problem["type"].as_str().unwrap().to_owned()
    }
}

/// The tasks an aggregator's datastore holds, read with its datastore key.
async fn stored_tasks(server: &Server) -> Vec<Task> {
    let datastore = open_datastore(server).await;
    let tasks = datastore
        .run_read_tx("stored_tasks", |tx| {
            Box::pin(async move { Ok(tx.get_tasks().await?) })
        })
        .await
        .unwrap();
    datastore.close().await;
    tasks
}

/// The datastore URL of `server`'s config.
fn datastore_url(server: &Server) -> String {
    let config: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(server.config_path()).unwrap()).unwrap();
    config["datastore"].as_str().unwrap().to_owned()
}

async fn open_datastore(server: &Server) -> Arc<dyn Datastore> {
    let config: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(server.config_path()).unwrap()).unwrap();
    let url = datastore_url(server);
    let key = config["datastore_keys"][0].as_str().unwrap().to_owned();
    let options = DatastoreOptions::new(DatastoreKeys::from_encoded(&[key]).unwrap());
    dyad_datastore::open(&url, Arc::new(RealClock), &options)
        .await
        .unwrap()
}

/// Both aggregators hold the task, provisioned from `config`.
async fn assert_provisioned(peers: &Peers, task_id: TaskId, config: &TaskConfig) {
    let header = config.to_header_value().unwrap();
    let bytes = URL_SAFE_NO_PAD.decode(header).unwrap();
    for (server, role) in [(&peers.leader, Role::Leader), (&peers.helper, Role::Helper)] {
        let tasks = stored_tasks(server).await;
        let task = tasks
            .iter()
            .find(|t| *t.task_id() == task_id)
            .unwrap_or_else(|| panic!("the {role} holds task {task_id}"));
        assert_eq!(task.role(), role);
        assert_eq!(task.taskprov_config(), Some(bytes.as_slice()));
    }
}

const URN: &str = "urn:ietf:params:ppm:dap:error:";

#[tokio::test]
async fn a_time_interval_task_from_its_config_collects_the_exact_result_on_the_command_line() {
    let peers = peers(None).await;
    let (file, config, task_id) = peers.task_config(
        "time interval",
        &[
            "--vdaf",
            HISTOGRAM,
            "--min-batch-size",
            "6",
            "--time-precision",
            "3600",
        ],
    );
    let now = dyad_client::system_time().as_seconds_since_epoch();
    let start = (now / 3600 * 3600).to_string();
    let key = peers.collector_dir.join("collector-key.yaml");
    let collect = |extra: &[&str]| {
        let mut args = vec![
            "collect",
            "--taskprov",
            path(&file),
            "--bearer-token",
            COLLECTOR_TOKEN,
            "--hpke-key",
            path(&key),
            "--batch-interval-start",
            &start,
            "--batch-interval-duration",
            "3600",
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        dyad(&args)
    };

    // Before any upload the Leader has not opted in: it does not know the
    // task (taskprov-06 section 5.3), and nothing is provisioned.
    let early = collect(&["--timeout", "5"]);
    assert!(!early.status.success());
    assert!(
        text(&early.stderr).contains("unrecognizedTask"),
        "{}",
        text(&early.stderr)
    );
    assert!(stored_tasks(&peers.leader).await.is_empty());

    let buckets = ["0", "3", "3", "1", "2", "3"];
    let mut args = vec!["upload", "--taskprov", path(&file)];
    args.extend_from_slice(&buckets);
    let uploaded = dyad(&args);
    assert!(
        uploaded.status.success(),
        "{}\n{}\n{}",
        text(&uploaded.stdout),
        text(&uploaded.stderr),
        peers.logs()
    );
    assert_eq!(text(&uploaded.stdout), "ACCEPTED  FAILED\n6         0\n");

    let collected = collect(&["--timeout", "60"]);
    assert!(
        collected.status.success(),
        "{}\n{}",
        text(&collected.stderr),
        peers.logs()
    );
    let json: serde_json::Value = serde_json::from_slice(&collected.stdout).unwrap();
    assert_eq!(json["report_count"], 6, "{json}");
    assert_eq!(json["result"], serde_json::json!([1, 1, 1, 3]), "{json}");
    assert_provisioned(&peers, task_id, &config).await;
}

#[tokio::test]
async fn a_fixed_size_task_from_its_config_collects_the_exact_result_through_the_libraries_on_sqlite(
) {
    fixed_size_through_the_libraries(peers(None).await).await;
}

#[tokio::test]
async fn a_fixed_size_task_from_its_config_collects_the_exact_result_through_the_libraries_on_postgres(
) {
    if let Some(databases) = postgres_databases().await {
        fixed_size_through_the_libraries(peers(Some(databases)).await).await;
    }
}

async fn fixed_size_through_the_libraries(peers: Peers) {
    let (_, config, task_id) = peers.task_config(
        "fixed size",
        &[
            "--vdaf",
            r#"{"type":"Prio3Sum","bits":"8"}"#,
            "--batch-mode",
            "fixed-size",
            "--min-batch-size",
            "5",
            "--max-batch-size",
            "5",
            "--time-precision",
            "60",
        ],
    );
    let vdaf = vdaf_instance_of(&config.vdaf_config).unwrap();
    assert_eq!(vdaf, VdafInstance::Prio3Sum { bits: 8 });
    let client = ClientBuilder::from_task_config(&config)
        .unwrap()
        .build(AnyVdaf(vdaf))
        .unwrap();
    assert_eq!(client.task_id(), &task_id);
    let measurements = [1u128, 20, 3, 250, 7];
    for m in measurements {
        client
            .upload(&Measurement::Sum(m))
            .await
            .unwrap_or_else(|e| panic!("{e}\n{}", peers.logs()));
    }
    let collector = CollectorBuilder::from_task_config(
        &config,
        AuthenticationToken::new_bearer(COLLECTOR_TOKEN).unwrap(),
        peers.collector_keypair(),
    )
    .unwrap()
    .poll_policy(
        RetryPolicy::new(
            std::time::Duration::from_millis(200),
            std::time::Duration::from_secs(1),
        )
        .with_max_elapsed(WAIT),
    )
    .build(dyad_collector::AnyVdaf(vdaf))
    .unwrap();
    // The Leader answers invalidBatchSize until a batch holds the five
    // reports aggregated.
    let start = std::time::Instant::now();
    let collection = loop {
        let collected = collector
            .collect(
                Query::FixedSize(FixedSizeQuery::CurrentBatch),
                &AggregationParam::Empty,
            )
            .await;
        match collected {
            Ok(collection) => break collection,
            Err(e)
                if e.problem_type() == Some(DapProblemType::InvalidBatchSize)
                    && start.elapsed() < WAIT =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
            Err(e) => panic!("{e}\n{}", peers.logs()),
        }
    };
    assert_eq!(collection.report_count, 5);
    assert_eq!(collection.aggregate_result, AggregateResult::Sum(281));
    assert_provisioned(&peers, task_id, &config).await;
}

#[tokio::test]
async fn configs_the_leader_opts_out_of_are_refused_with_the_drafts_problem_type_and_provision_nothing_on_sqlite(
) {
    refusals(peers(None).await).await;
}

#[tokio::test]
async fn configs_the_leader_opts_out_of_are_refused_with_the_drafts_problem_type_and_provision_nothing_on_postgres(
) {
    if let Some(databases) = postgres_databases().await {
        refusals(peers(Some(databases)).await).await;
    }
}

async fn refusals(peers: Peers) {
    let (_, good, good_id) = peers.task_config(
        "refusals",
        &[
            "--vdaf",
            r#"{"type":"Prio3Count"}"#,
            "--min-batch-size",
            "1",
            "--time-precision",
            "3600",
        ],
    );
    let advertise = |config: &TaskConfig| {
        (
            task_id_of(config).unwrap(),
            config.to_header_value().unwrap(),
        )
    };

    // Not a TaskConfig: invalidMessage.
    assert_eq!(
        peers.refused_upload(good_id, "bm90IGEgY29uZmln").await,
        format!("{URN}invalidMessage")
    );
    // A config that hashes to another task ID: unrecognizedTask.
    let (_, header) = advertise(&good);
    assert_eq!(
        peers.refused_upload(TaskId::random(), &header).await,
        format!("{URN}unrecognizedTask")
    );
    // A Helper the Leader has no peer entry for: invalidTask.
    let mut unknown_peer = good.clone();
    unknown_peer.helper_aggregator_endpoint = "http://127.0.0.1:9/".try_into().unwrap();
    let (id, header) = advertise(&unknown_peer);
    assert_eq!(
        peers.refused_upload(id, &header).await,
        format!("{URN}invalidTask")
    );
    // An expired task: invalidTask.
    let mut expired = good.clone();
    expired.task_expiration =
        Time::from_seconds_since_epoch(dyad_client::system_time().as_seconds_since_epoch() - 10);
    let (id, header) = advertise(&expired);
    assert_eq!(
        peers.refused_upload(id, &header).await,
        format!("{URN}invalidTask")
    );
    // A VDAF dyad does not run, and a DP mechanism other than none:
    // invalidTask.
    let mut unknown_vdaf = good.clone();
    unknown_vdaf.vdaf_config.vdaf_type = VdafType::Other {
        code: 0xffff_0000,
        data: vec![1, 2],
    };
    let mut unknown_dp = good.clone();
    unknown_dp.vdaf_config.dp_config.dp_mechanism = DpMechanism::Other {
        code: 2,
        data: Vec::new(),
    };
    for config in [&unknown_vdaf, &unknown_dp] {
        let (id, header) = advertise(config);
        assert_eq!(
            peers.refused_upload(id, &header).await,
            format!("{URN}invalidTask")
        );
    }

    // A task provisioned otherwise under the ID a config hashes to: the
    // config conflicts with it, invalidTask, and the task is left alone.
    let mut conflicting = good.clone();
    conflicting.task_info = b"conflicting".to_vec();
    let (conflict_id, header) = advertise(&conflicting);
    let out_of_band = Task::builder()
        .task_id(conflict_id)
        .role(Role::Leader)
        .leader_aggregator_endpoint(peers.leader.url())
        .helper_aggregator_endpoint(peers.helper.url())
        .vdaf(VdafInstance::Prio3Sum { bits: 4 })
        .vdaf_verify_key(VerifyKey::random(16))
        .batch_mode(BatchMode::TimeInterval)
        .min_batch_size(10)
        .time_precision(Duration::from_seconds(3600))
        .collector_hpke_config(peers.collector_keypair().config().clone())
        .aggregator_auth_token(AuthenticationToken::new_bearer("out-of-band").unwrap())
        .collector_auth_token(AuthenticationToken::new_bearer("out-of-band-c").unwrap())
        .build()
        .unwrap();
    let datastore = open_datastore(&peers.leader).await;
    let stored = out_of_band.clone();
    datastore
        .run_tx("put_out_of_band_task", move |tx| {
            let stored = stored.clone();
            Box::pin(async move { Ok(tx.put_task(&stored).await?) })
        })
        .await
        .unwrap();
    datastore.close().await;
    assert_eq!(
        peers.refused_upload(conflict_id, &header).await,
        format!("{URN}invalidTask")
    );

    // Nothing provisioned: the Leader holds only the out-of-band task, as
    // it was, and the Helper nothing.
    let leader_tasks = stored_tasks(&peers.leader).await;
    assert_eq!(leader_tasks.len(), 1, "{leader_tasks:?}");
    assert_eq!(leader_tasks[0].task_id(), &conflict_id);
    assert_eq!(leader_tasks[0].taskprov_config(), None);
    assert_eq!(leader_tasks[0].vdaf(), out_of_band.vdaf());
    assert!(stored_tasks(&peers.helper).await.is_empty());

    // The operator's view agrees (no task of the refused configs).
    let listed = dyad(&[
        "task",
        "list",
        "--config",
        path(peers.leader.config_path()),
        "--format",
        "json",
    ]);
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert!(!text(&listed.to_string().into_bytes()).contains(&good_id.to_string()));
}
