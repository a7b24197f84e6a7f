//! The server's limits and timeouts, on real loopback sockets with short
//! durations.

use super::{serve, ServerLimits};
use axum::body::Body;
use axum::routing::{get, put};
use axum::Router;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const SHORT: Duration = Duration::from_millis(400);

fn limits() -> ServerLimits {
    ServerLimits {
        max_connections: 8,
        max_buffered_bodies: 2,
        max_buffered_body_bytes: 1 << 20,
        header_read_timeout: SHORT,
        body_read_timeout: SHORT,
        idle_timeout: SHORT * 2,
        tls_handshake_timeout: SHORT,
        shutdown_grace: Duration::from_secs(1),
        retry_after: Duration::from_secs(3),
    }
}

fn router() -> Router {
    Router::new()
        .route("/", get(|| async { "hello" }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "slow"
            }),
        )
        .route("/forever", get(std::future::pending::<&'static str>))
        .route(
            "/echo",
            put(|body: Body| async move {
                crate::http::request::read_body(body, 1 << 20)
                    .await
                    .map(|bytes| bytes.len().to_string())
            }),
        )
        // A handler that reads its body through axum's extractor (as the
        // management API's do): axum alone would answer a cut body 400.
        .route(
            "/extract",
            put(|body: axum::body::Bytes| async move { body.len().to_string() }),
        )
}

struct Running {
    address: SocketAddr,
    shutdown: CancellationToken,
    served: JoinHandle<io::Result<()>>,
}

async fn start(limits: ServerLimits) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let served = tokio::spawn(serve(listener, None, router(), limits, shutdown.clone()));
    Running {
        address,
        shutdown,
        served,
    }
}

/// Reads until the server closes the connection (or `within` passes);
/// returns what was read and how long it took.
async fn read_to_close(stream: &mut TcpStream, within: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut out = Vec::new();
    let read = tokio::time::timeout(within, stream.read_to_end(&mut out)).await;
    assert!(
        read.is_ok(),
        "the server did not close the connection within {within:?}"
    );
    (
        String::from_utf8_lossy(&out).into_owned(),
        started.elapsed(),
    )
}

async fn request(stream: &mut TcpStream, path: &str) -> String {
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nhost: dyad\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = stream.read(&mut buf).await.unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test]
async fn a_half_sent_request_head_is_closed_after_the_header_timeout() {
    // Idle connections wait far longer: this one closes for its head.
    let server = start(ServerLimits {
        idle_timeout: Duration::from_secs(30),
        ..limits()
    })
    .await;
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nhost: d")
        .await
        .unwrap();
    // Trickling more of the head does not extend it.
    tokio::time::sleep(SHORT / 2).await;
    stream.write_all(b"yad\r\nx-a: 1\r\n").await.unwrap();
    let (_, took) = read_to_close(&mut stream, Duration::from_secs(5)).await;
    assert!(took < Duration::from_secs(3), "closed after {took:?}");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let server = start(limits()).await;
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    let answer = request(&mut stream, "/").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let (rest, took) = read_to_close(&mut stream, SHORT * 6).await;
    assert_eq!(rest, "");
    assert!(
        took >= SHORT * 2 - Duration::from_millis(50),
        "closed after {took:?}"
    );
    // A silent fresh connection is idle too.
    let mut silent = TcpStream::connect(server.address).await.unwrap();
    read_to_close(&mut silent, SHORT * 6).await;
}

#[tokio::test]
async fn a_trickled_body_is_answered_408_and_the_connection_closed() {
    let server = start(limits()).await;
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    stream
        .write_all(b"PUT /echo HTTP/1.1\r\nhost: dyad\r\ncontent-length: 1000\r\n\r\nabc")
        .await
        .unwrap();
    let (answer, took) = read_to_close(&mut stream, SHORT * 6).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    assert!(took < SHORT * 3, "answered after {took:?}");
}

#[tokio::test]
async fn past_the_connection_maximum_a_client_gets_503_with_retry_after() {
    let server = start(ServerLimits {
        max_connections: 2,
        ..limits()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(server.address).await.unwrap();
        assert!(request(&mut stream, "/").await.starts_with("HTTP/1.1 200"));
        held.push(stream);
    }
    let mut refused = TcpStream::connect(server.address).await.unwrap();
    refused
        .write_all(b"GET / HTTP/1.1\r\nhost: dyad\r\n\r\n")
        .await
        .unwrap();
    let (answer, _) = read_to_close(&mut refused, SHORT * 4).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("retry-after: 3\r\n"), "{answer}");
    assert!(answer.contains("\"status\":503"), "{answer}");
    // Once a connection closes, the next one is served.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut next = TcpStream::connect(server.address).await.unwrap();
    assert!(request(&mut next, "/").await.starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn past_the_body_maximum_a_request_gets_503_and_the_server_recovers() {
    let server = start(ServerLimits {
        body_read_timeout: Duration::from_secs(30),
        ..limits()
    })
    .await;
    let mut slow = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(server.address).await.unwrap();
        stream
            .write_all(b"PUT /echo HTTP/1.1\r\nhost: dyad\r\ncontent-length: 10\r\n\r\n12345")
            .await
            .unwrap();
        slow.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut third = TcpStream::connect(server.address).await.unwrap();
    third
        .write_all(b"PUT /echo HTTP/1.1\r\nhost: dyad\r\ncontent-length: 3\r\n\r\nabc")
        .await
        .unwrap();
    let (answer, _) = read_to_close(&mut third, SHORT * 4).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("retry-after: 3\r\n"), "{answer}");
    // The held bodies finish; their places come back.
    for stream in &mut slow {
        stream.write_all(b"67890").await.unwrap();
        let mut buf = vec![0u8; 1024];
        let n = stream.read(&mut buf).await.unwrap();
        let answer = String::from_utf8_lossy(&buf[..n]);
        assert!(
            answer.starts_with("HTTP/1.1 200") && answer.ends_with("10"),
            "{answer}"
        );
    }
    let mut again = TcpStream::connect(server.address).await.unwrap();
    again
        .write_all(b"PUT /echo HTTP/1.1\r\nhost: dyad\r\ncontent-length: 3\r\n\r\nabc")
        .await
        .unwrap();
    let mut buf = vec![0u8; 1024];
    let n = again.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn shutdown_answers_the_request_in_flight_and_closes_idle_connections_at_once() {
    let server = start(ServerLimits {
        shutdown_grace: Duration::from_secs(10),
        ..limits()
    })
    .await;
    let mut idle = TcpStream::connect(server.address).await.unwrap();
    assert!(request(&mut idle, "/").await.starts_with("HTTP/1.1 200"));
    let mut busy = TcpStream::connect(server.address).await.unwrap();
    busy.write_all(b"GET /slow HTTP/1.1\r\nhost: dyad\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    server.shutdown.cancel();
    let (answer, _) = read_to_close(&mut busy, Duration::from_secs(2)).await;
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.ends_with("slow"),
        "{answer}"
    );
    let (rest, _) = read_to_close(&mut idle, Duration::from_secs(2)).await;
    assert_eq!(rest, "");
    server.served.await.unwrap().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    // No longer accepting.
    assert!(TcpStream::connect(server.address).await.is_err());
}

#[tokio::test]
async fn shutdown_drops_what_is_left_after_the_grace_period() {
    let server = start(limits()).await;
    let mut stuck = TcpStream::connect(server.address).await.unwrap();
    stuck
        .write_all(b"GET /forever HTTP/1.1\r\nhost: dyad\r\n\r\n")
        .await
        .unwrap();
    let mut half = TcpStream::connect(server.address).await.unwrap();
    half.write_all(b"GET / HTT").await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    server.shutdown.cancel();
    server.served.await.unwrap().unwrap();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(3000),
        "stopped after {took:?}"
    );
    let (answer, _) = read_to_close(&mut stuck, SHORT).await;
    assert_eq!(answer, "");
}

#[tokio::test]
async fn a_body_over_the_listeners_byte_limit_is_413_naming_it_whatever_reads_it() {
    let limit = 1024;
    let server = start(ServerLimits {
        max_buffered_body_bytes: limit,
        ..limits()
    })
    .await;
    let expect_413 = |answer: &str| {
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        let lower = answer.to_ascii_lowercase();
        assert!(
            lower.contains("content-type: application/problem+json"),
            "{answer}"
        );
        assert!(lower.contains("connection: close"), "{answer}");
        assert!(!lower.contains("retry-after"), "{answer}");
        assert!(answer.contains("\"status\":413"), "{answer}");
        assert!(answer.contains("1024 bytes"), "{answer}");
        assert!(!answer.contains("retry later"), "{answer}");
    };
    // Declared too large: refused before any of it is read.
    for path in ["/extract", "/echo"] {
        let mut stream = TcpStream::connect(server.address).await.unwrap();
        stream
            .write_all(
                format!("PUT {path} HTTP/1.1\r\nhost: dyad\r\ncontent-length: 5000\r\n\r\nabc")
                    .as_bytes(),
            )
            .await
            .unwrap();
        let (answer, _) = read_to_close(&mut stream, SHORT * 4).await;
        expect_413(&answer);
    }
    // Chunked, found too large as it arrives: the extractor's handler and
    // the one reading with `read_body` answer alike.
    for path in ["/extract", "/echo"] {
        let mut stream = TcpStream::connect(server.address).await.unwrap();
        let chunk = "x".repeat(800);
        stream
            .write_all(
                format!(
                    "PUT {path} HTTP/1.1\r\nhost: dyad\r\ntransfer-encoding: chunked\r\n\r\n\
                     320\r\n{chunk}\r\n320\r\n{chunk}\r\n"
                )
                .as_bytes(),
            )
            .await
            .unwrap();
        let (answer, _) = read_to_close(&mut stream, SHORT * 4).await;
        expect_413(&answer);
    }
    // A body within the limit still arrives whole.
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    stream
        .write_all(b"PUT /extract HTTP/1.1\r\nhost: dyad\r\ncontent-length: 3\r\n\r\nabc")
        .await
        .unwrap();
    let mut buf = vec![0u8; 1024];
    let n = stream.read(&mut buf).await.unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.ends_with("3"),
        "{answer}"
    );
}
