//! Aggregators that answer with 200 MB, streamed chunk by chunk from a raw
//! TCP socket (never held whole): as an HPKE config list, and as the problem
//! document of a refused upload. The client stops reading at its cap (the
//! largest encodable `HpkeConfigList`, 64 KiB of problem document), and its
//! peak resident memory (`VmHWM`) does not follow the flood.

use crate::{fast_retries, PRECISION};
use dyad_client::{ClientBuilder, ClientError};
use dyad_core::hpke::HpkeKeypair;
use dyad_core::vdaf::new_prio3_sum;
use dyad_messages::draft09::{Duration, HpkeConfigId, HpkeConfigList, TaskId};
use dyad_messages::Encode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

const FLOOD_BYTES: usize = 200 * 1024 * 1024;

/// What the aggregator floods.
#[derive(Clone, Copy, PartialEq)]
enum Flood {
    /// `GET /hpke_config` answers 200 and the flood.
    HpkeConfig,
    /// `GET /hpke_config` answers a real list; uploads answer 400 and a
    /// flood declared as a problem document.
    UploadProblem,
}

/// Starts the flooding aggregator; its base URL.
async fn flooding_aggregator(flood: Flood) -> Url {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config_list = HpkeConfigList(vec![HpkeKeypair::generate_default(HpkeConfigId(1))
        .config()
        .clone()])
    .get_encoded()
    .unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, flood, config_list.clone()));
        }
    });
    format!("http://{addr}/").parse().unwrap()
}

/// One request per connection.
async fn serve(mut stream: TcpStream, flood: Flood, config_list: Vec<u8>) {
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
    let is_config = head.starts_with("get ");
    if is_config && flood == Flood::UploadProblem {
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/dap-hpke-config-list\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            config_list.len()
        );
        let _ = stream.write_all(answer.as_bytes()).await;
        let _ = stream.write_all(&config_list).await;
        return;
    }
    let head = if is_config {
        "HTTP/1.1 200 OK\r\ncontent-type: application/dap-hpke-config-list\r\nconnection: close\r\n\r\n"
    } else {
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\nconnection: close\r\n\r\n"
    };
    if stream.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let chunk = vec![b' '; 64 * 1024];
    let mut sent = 0;
    while sent < FLOOD_BYTES {
        if stream.write_all(&chunk).await.is_err() {
            return;
        }
        sent += chunk.len();
    }
}

/// A `/proc/self/status` figure in KiB.
fn proc_status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"))
}

fn client(url: &Url) -> dyad_client::Client<prio::vdaf::prio3::Prio3Sum> {
    ClientBuilder::new(
        TaskId::random(),
        url.clone(),
        url.clone(),
        Duration::from_seconds(PRECISION),
    )
    .retry_policy(fast_retries().with_max_attempts(1))
    .build(new_prio3_sum(8).unwrap())
    .unwrap()
}

/// Runs `upload` twice (the first sets up what any request needs) and
/// returns the second error with the peak RSS growth in KiB.
async fn measured<F, Fut>(upload: F) -> (ClientError, u64)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ClientError>,
{
    let _ = upload().await;
    let hwm_before = proc_status_kib("VmHWM");
    let rss_before = proc_status_kib("VmRSS");
    let error = upload().await;
    let hwm_after = proc_status_kib("VmHWM");
    let rss_after = proc_status_kib("VmRSS");
    println!(
        "{error}; VmRSS {rss_before} -> {rss_after} KiB; VmHWM {hwm_before} -> {hwm_after} KiB"
    );
    (error, hwm_after.saturating_sub(hwm_before))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_mb_hpke_config_list_is_refused_at_the_largest_encodable_list() {
    let url = flooding_aggregator(Flood::HpkeConfig).await;
    let (error, growth) = measured(|| async {
        let client = client(&url);
        client.upload(&3).await.unwrap_err()
    })
    .await;
    let cap = 2 + 65535;
    assert!(
        matches!(error, ClientError::BodyTooLarge { limit, .. } if limit == cap),
        "{error}"
    );
    assert!(
        growth * 1024 < (cap + 1024 * 1024) as u64,
        "peak RSS grew by {growth} KiB against a cap of {cap} bytes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_mb_problem_document_leaves_the_status_to_tell_the_refusal() {
    let url = flooding_aggregator(Flood::UploadProblem).await;
    let (error, growth) = measured(|| async {
        let client = client(&url);
        client.upload(&3).await.unwrap_err()
    })
    .await;
    match &error {
        ClientError::ErrorResponse { response, .. } => {
            assert_eq!(response.status, 400);
            assert!(response.problem.is_none());
        }
        other => panic!("expected the 400, got {other}"),
    }
    let cap = 64 * 1024;
    assert!(
        growth * 1024 < (cap + 1024 * 1024) as u64,
        "peak RSS grew by {growth} KiB against a cap of {cap} bytes"
    );
}
