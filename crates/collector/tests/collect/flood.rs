//! A Leader that accepts collection jobs and then answers the poll with a
//! 200 MB `Collection`, streamed chunk by chunk from a raw TCP socket (never
//! held whole): the collector must stop reading at the cap its VDAF gives
//! and its peak resident memory (`VmHWM`) must not follow the flood.

use crate::{interval, setup, MS};
use dyad_collector::{AnyVdaf, CollectorError};
use dyad_core::retry::RetryPolicy;
use dyad_core::vdaf::{AggregationParam, VdafInstance};
use dyad_messages::draft09::Query;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

const FLOOD_BYTES: usize = 200 * 1024 * 1024;

/// Starts the flooding Leader; its base URL.
async fn flooding_leader() -> Url {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream));
        }
    });
    format!("http://{addr}/").parse().unwrap()
}

/// One request per connection: `PUT` is accepted (201), anything else gets
/// the flood, without `Content-Length`.
async fn serve(mut stream: TcpStream) {
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
    if head.starts_with("put ") {
        let _ = stream
            .write_all(b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .await;
        return;
    }
    let head =
        "HTTP/1.1 200 OK\r\ncontent-type: application/dap-collection\r\nconnection: close\r\n\r\n";
    if stream.write_all(head.as_bytes()).await.is_err() {
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

/// A `/proc/self/status` figure in KiB.
fn proc_status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_mb_collection_is_refused_at_the_vdaf_derived_cap_without_growing_memory() {
    let s = setup().await;
    let collector = dyad_collector::CollectorBuilder::new(
        s.task_id,
        flooding_leader().await,
        s.token.clone(),
        s.keypair.clone(),
    )
    .retry_policy(RetryPolicy::new(5 * MS, 20 * MS).with_max_attempts(2))
    .build(AnyVdaf(VdafInstance::Prio3Count))
    .unwrap();
    let job = collector
        .start_collection(Query::TimeInterval(interval()), &AggregationParam::Empty)
        .await
        .unwrap();
    // A first poll sets up what any request needs, so the figures below are
    // the flood's alone.
    assert!(collector.poll_once(&job).await.is_err());
    let hwm_before = proc_status_kib("VmHWM");
    let rss_before = proc_status_kib("VmRSS");
    let error = collector.poll_once(&job).await.unwrap_err();
    let hwm_after = proc_status_kib("VmHWM");
    let rss_after = proc_status_kib("VmRSS");
    println!(
        "{error}; VmRSS {rss_before} -> {rss_after} KiB; VmHWM {hwm_before} -> {hwm_after} KiB"
    );
    // Prio3Count's aggregate share is 8 bytes: the cap is both shares plus
    // 16 KiB of framing.
    let cap = 2 * 8 + 16 * 1024;
    assert!(
        matches!(error, CollectorError::BodyTooLarge(limit) if limit == cap),
        "{error}"
    );
    let growth = hwm_after.saturating_sub(hwm_before);
    assert!(
        growth * 1024 < (cap + 1024 * 1024) as u64,
        "peak RSS grew by {growth} KiB against a cap of {cap} bytes"
    );
}
