//! The real `dyad` Leader (the interop aggregator: `dyad serve`'s roles
//! with the test API) against a Helper that answers every aggregation job
//! with 200 MB, streamed chunk by chunk from a raw TCP socket (never held
//! whole). The Leader refuses each answer once past the cap derived from
//! its request, logs the refusal with the sizes, retries the job later, and
//! its peak resident memory (`VmHWM` in `/proc/PID/status`) does not follow
//! the flood.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use dyad_client::ClientBuilder;
use dyad_core::hpke::HpkeKeypair;
use dyad_core::vdaf::{new_prio3_count, VdafInstance};
use dyad_integration_tests::{dyad_binary, free_port, WAIT};
use dyad_messages::draft09::{Duration, HpkeConfigId, HpkeConfigList, TaskId};
use dyad_messages::Encode;
use dyad_test_support::memory::process_kib;
use dyad_test_support::raw_peer::{self, Answer, FLOOD_BYTES};
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::Instant;
use url::Url;

/// The Leader process, killed on drop.
struct Leader {
    child: Child,
    port: u16,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Leader {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Leader {
    fn start() -> Leader {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("leader.log");
        let file = std::fs::File::create(&log).unwrap();
        let port = free_port();
        let child = Command::new(dyad_binary())
            .args(["interop-aggregator", "--port", &port.to_string()])
            // Its default datastore goes with this test's folder: the
            // process is killed, and cannot remove it itself.
            .env("TMPDIR", dir.path())
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap();
        Leader {
            child,
            port,
            log,
            _dir: dir,
        }
    }

    fn url(&self) -> Url {
        format!("http://127.0.0.1:{}/", self.port).parse().unwrap()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A `/proc/PID/status` figure in KiB.
    fn status_kib(&self, field: &str) -> u64 {
        process_kib(self.child.id(), field)
    }

    async fn command(&self, http: &reqwest::Client, command: &str, body: Value) -> Value {
        let url = self
            .url()
            .join(&format!("internal/test/{command}"))
            .unwrap();
        let response = http
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap_or(Value::Null)
    }

    async fn wait_ready(&self, http: &reqwest::Client) {
        let url = self.url().join("internal/test/ready").unwrap();
        let start = Instant::now();
        loop {
            let answer = http
                .post(url.clone())
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await;
            if matches!(&answer, Ok(r) if r.status() == reqwest::StatusCode::OK) {
                return;
            }
            assert!(start.elapsed() < WAIT, "Leader not ready:\n{}", self.log());
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

/// Starts the flooding Helper; its base URL. `GET /hpke_config` gets a real
/// list (the client seals to it); everything else gets 200 OK and the flood.
async fn flooding_helper() -> Url {
    let config_list = HpkeConfigList(vec![HpkeKeypair::generate_default(HpkeConfigId(1))
        .config()
        .clone()])
    .get_encoded()
    .unwrap();
    raw_peer::start(move |request| {
        if request.is("GET", "/hpke_config") {
            Answer::Body {
                status: "200 OK",
                content_type: "application/dap-hpke-config-list",
                body: config_list.clone(),
            }
        } else {
            Answer::flood("application/dap-aggregation-job-resp")
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_helper_answering_200_mb_is_refused_without_the_leaders_memory_following() {
    let helper = flooding_helper().await;
    let leader = Leader::start();
    let http = reqwest::Client::new();
    leader.wait_ready(&http).await;

    let task_id = TaskId::random();
    let vdaf = VdafInstance::Prio3Count;
    let collector = HpkeKeypair::generate_default(HpkeConfigId(7));
    let reply = leader
        .command(
            &http,
            "add_task",
            json!({
                "task_id": task_id.to_string(),
                "leader": leader.url().as_str(),
                "helper": helper.as_str(),
                "vdaf": {"type": "Prio3Count"},
                "leader_authentication_token": "leader-to-helper-token",
                "collector_authentication_token": "collector-token",
                "role": "leader",
                "vdaf_verify_key": URL_SAFE_NO_PAD.encode(vec![7u8; vdaf.verify_key_length()]),
                "max_batch_query_count": 1,
                "query_type": 1,
                "min_batch_size": 1,
                "time_precision": 3600,
                "collector_hpke_config": URL_SAFE_NO_PAD.encode(collector.config().get_encoded().unwrap()),
                "task_expiration": dyad_integration_tests::interop::now() + 365 * 24 * 3600,
            }),
        )
        .await;
    assert_eq!(reply["status"], "success", "{reply}\n{}", leader.log());

    let hwm_before = leader.status_kib("VmHWM");
    let rss_before = leader.status_kib("VmRSS");
    let client = ClientBuilder::new(task_id, leader.url(), helper, Duration::from_seconds(3600))
        .build(new_prio3_count().unwrap())
        .unwrap();
    for _ in 0..3 {
        client.upload(&true).await.unwrap();
    }

    // The job driver retries 1-2 s apart: wait for three refusals.
    let start = Instant::now();
    let refusals = loop {
        let log = leader.log();
        let refusals = log.matches("passed this request's cap").count();
        if refusals >= 3 {
            break refusals;
        }
        assert!(
            start.elapsed() < WAIT,
            "the Leader did not refuse the flood:\n{log}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let hwm_after = leader.status_kib("VmHWM");
    let rss_after = leader.status_kib("VmRSS");
    let log = leader.log();
    let line = log
        .lines()
        .find(|line| line.contains("passed this request's cap"))
        .unwrap();
    println!("{line}");
    println!(
        "{refusals} refusals of a {FLOOD_BYTES}-byte answer; Leader VmRSS {rss_before} -> {rss_after} KiB, VmHWM {hwm_before} -> {hwm_after} KiB"
    );
    assert!(line.contains("failed transiently; will retry"), "{line}");
    assert!(!log.contains("panicked"), "{log}");
    // Everything the Leader did meanwhile (three uploads, job creation, the
    // job steps, the refused reads) fits in a few MiB; the flood alone
    // would have added 200 MiB per attempt.
    let growth = hwm_after.saturating_sub(hwm_before);
    assert!(
        growth < 8 * 1024,
        "the Leader's peak RSS grew by {growth} KiB"
    );
}
