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
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

const FLOOD_BYTES: usize = 200 * 1024 * 1024;

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
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("{field} in /proc/PID/status"))
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
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config_list = HpkeConfigList(vec![HpkeKeypair::generate_default(HpkeConfigId(1))
        .config()
        .clone()])
    .get_encoded()
    .unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, config_list.clone()));
        }
    });
    format!("http://{addr}/").parse().unwrap()
}

/// One request per connection.
async fn serve(mut stream: TcpStream, config_list: Vec<u8>) {
    let mut request = Vec::new();
    let mut buf = [0u8; 8192];
    let header_end = loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
        if let Some(pos) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
    };
    let head = String::from_utf8_lossy(&request[..header_end]).to_ascii_lowercase();
    let body_len: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().unwrap());
    let mut have = request.len() - header_end;
    while have < body_len {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => have += n,
        }
    }
    if head.starts_with("get /hpke_config") {
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/dap-hpke-config-list\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            config_list.len()
        );
        let _ = stream.write_all(answer.as_bytes()).await;
        let _ = stream.write_all(&config_list).await;
        return;
    }
    let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/dap-aggregation-job-resp\r\nconnection: close\r\n\r\n";
    if stream.write_all(answer.as_bytes()).await.is_err() {
        return;
    }
    let chunk = vec![0u8; 64 * 1024];
    let mut sent = 0;
    while sent < FLOOD_BYTES {
        if stream.write_all(&chunk).await.is_err() {
            return;
        }
        sent += chunk.len();
    }
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
