//! The loader against a small HTTP server standing in for the Leader.

use super::*;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use std::sync::Mutex;

/// What the stand-in Leader saw, and how it answers: `503` with
/// `Retry-After: 0` to the first `busy` requests, then `answer`.
#[derive(Default)]
struct Seen {
    requests: Mutex<Vec<(String, String, Vec<u8>)>>,
    busy: AtomicUsize,
    answer: Mutex<Option<(u16, &'static str)>>,
}

async fn put_report(
    State(seen): State<Arc<Seen>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> (AxumStatus, HeaderMap, &'static str) {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    seen.requests
        .lock()
        .unwrap()
        .push((uri.path().to_owned(), content_type, body.to_vec()));
    let mut answer_headers = HeaderMap::new();
    if seen
        .busy
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
        .is_ok()
    {
        answer_headers.insert("retry-after", "0".parse().unwrap());
        return (AxumStatus::SERVICE_UNAVAILABLE, answer_headers, "busy");
    }
    match *seen.answer.lock().unwrap() {
        Some((status, body)) => (AxumStatus::from_u16(status).unwrap(), answer_headers, body),
        None => (AxumStatus::CREATED, answer_headers, ""),
    }
}

/// A stand-in Leader on a free port; its URL.
async fn leader(seen: Arc<Seen>) -> url::Url {
    let app = axum::Router::new()
        .route(
            "/prefix/tasks/{task_id}/reports",
            axum::routing::put(put_report),
        )
        .with_state(seen);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://127.0.0.1:{port}/prefix/").parse().unwrap()
}

/// The error of uploading `reports` reports to `url` over `connections`
/// connections, which must fail, with its causes.
async fn failed_upload(url: &url::Url, reports: u8, connections: usize) -> String {
    let error = upload_all(
        Target::new(url, &TaskId::from_bytes([1; 32])).unwrap(),
        bodies(reports),
        connections,
        Arc::new(AtomicU64::new(0)),
    )
    .await
    .unwrap_err();
    format!("{error:#}")
}

fn bodies(n: u8) -> Arc<Vec<Bytes>> {
    Arc::new((0..n).map(|i| Bytes::from(vec![i; 3])).collect())
}

#[tokio::test]
async fn every_report_is_put_once_with_the_dap_media_type_and_busy_answers_are_retried() {
    let seen = Arc::new(Seen::default());
    seen.busy.store(3, Ordering::Release);
    let url = leader(seen.clone()).await;
    let task_id = TaskId::from_bytes([7; 32]);
    let answered = Arc::new(AtomicU64::new(0));
    let latencies = upload_all(
        Target::new(&url, &task_id).unwrap(),
        bodies(20),
        4,
        answered.clone(),
    )
    .await
    .unwrap();

    assert_eq!(latencies.len(), 20);
    assert_eq!(answered.load(Ordering::Relaxed), 20);
    let requests = seen.requests.lock().unwrap();
    // Three were answered 503 and sent again.
    assert_eq!(requests.len(), 23);
    let path = format!("/prefix/tasks/{task_id}/reports");
    assert!(requests
        .iter()
        .all(|(p, ct, _)| *p == path && ct == "application/dap-report"));
    let mut stored: Vec<u8> = requests.iter().map(|(_, _, body)| body[0]).collect();
    stored.sort_unstable();
    stored.dedup();
    assert_eq!(stored, (0..20).collect::<Vec<u8>>());
}

#[tokio::test]
async fn a_refusal_stops_the_run_with_its_status_and_body() {
    let seen = Arc::new(Seen::default());
    *seen.answer.lock().unwrap() = Some((400, "urn:ietf:params:ppm:dap:error:invalidMessage"));
    let url = leader(seen).await;
    let message = failed_upload(&url, 5, 2).await;
    assert!(message.contains("400 Bad Request"), "{message}");
    assert!(message.contains("invalidMessage"), "{message}");
}

#[tokio::test]
async fn a_leader_that_is_not_there_is_named_in_the_error() {
    // A port just released: nothing listens on it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let url: url::Url = format!("http://127.0.0.1:{port}/").parse().unwrap();
    let message = failed_upload(&url, 2, 1).await;
    assert!(
        message.contains(&format!("connecting to the Leader at 127.0.0.1:{port}")),
        "{message}"
    );
}

#[test]
fn only_plain_http_leaders_are_loaded() {
    let url: url::Url = "https://leader.example/".parse().unwrap();
    let error = Target::new(&url, &TaskId::from_bytes([1; 32])).unwrap_err();
    assert!(error.to_string().contains("plain HTTP"), "{error}");
}

#[test]
fn retry_after_is_read_in_seconds_or_defaults() {
    let mut headers = hyper::HeaderMap::new();
    assert_eq!(retry_after(&headers), DEFAULT_RETRY_AFTER);
    headers.insert(hyper::header::RETRY_AFTER, "7".parse().unwrap());
    assert_eq!(retry_after(&headers), Duration::from_secs(7));
    headers.insert(hyper::header::RETRY_AFTER, "soon".parse().unwrap());
    assert_eq!(retry_after(&headers), DEFAULT_RETRY_AFTER);
}
