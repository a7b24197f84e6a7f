//! Answers past a limit, cheaply: `503 Service Unavailable` with
//! `Retry-After` and an `about:blank` problem document (RFC 9457; DAP-09
//! section 3.2 registers no type for overload), and `Connection: close`.
//!
//! - [`busy_response`]: a request with a body when `max_buffered_bodies`
//!   bodies are being received; answered through hyper, before the body is
//!   read.
//! - [`too_large_response`], [`answer_for_cut_body`]: a body larger than
//!   the listener's `max_buffered_body_bytes` is `413` with a problem
//!   document naming the limit, on every listener, whatever the handler
//!   answered (a body cut off for the other limits keeps the handler's
//!   problem document, or gets the limit's own: `503`, `408`).
//! - `Refusals::refuse`: a connection past `max_connections`. The answer
//!   is written straight on the socket (after the TLS handshake on HTTPS)
//!   once the request's first bytes arrive, by a short task of its own,
//!   without parsing the request; at most
//!   [`MAX_REFUSING`] such tasks run at once, and past them a connection is
//!   closed at once. Refusals are logged as one warning per
//!   [`WARN_EVERY`] with their count, not one line each.

use axum::body::Body;
use axum::http::{header, HeaderValue, Response, StatusCode};
use dyad_messages::media_type::PROBLEM_JSON;
use dyad_messages::problem::ProblemDocument;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::body::BodyLimitError;
use super::limits::ServerLimits;
use crate::telemetry::instruments::{self, ServerLimit};

/// Connections being answered `503` at once; more are closed unanswered.
pub const MAX_REFUSING: usize = 64;

/// The longest a refused connection is kept: its TLS handshake, the start
/// of its request, writing the answer and reading what the client sent
/// meanwhile (so that closing does not reset the connection before the
/// client read the answer).
const REFUSING_FOR: Duration = Duration::from_secs(2);

/// How often refused connections are logged.
pub const WARN_EVERY: Duration = Duration::from_secs(10);

/// `Retry-After` in whole seconds, at least 1.
fn retry_after_secs(retry_after: Duration) -> u64 {
    retry_after.as_secs_f64().ceil().max(1.0) as u64
}

fn problem_json(detail: &str) -> String {
    problem_json_of(StatusCode::SERVICE_UNAVAILABLE, detail)
}

fn problem_json_of(status: StatusCode, detail: &str) -> String {
    ProblemDocument {
        type_uri: "about:blank".to_owned(),
        title: status.canonical_reason().map(str::to_owned),
        status: Some(status.as_u16()),
        detail: Some(detail.to_owned()),
        instance: None,
        taskid: None,
    }
    .to_json()
}

/// `status` with an `about:blank` problem document and `Connection:
/// close` (the rest of the request body, if any, is never read).
fn closing_problem(status: StatusCode, detail: &str) -> Response<Body> {
    let mut response = Response::new(Body::from(problem_json_of(status, detail)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// `503` with `Retry-After`, a problem document and `Connection: close`.
pub fn busy_response(retry_after: Duration, detail: &str) -> Response<Body> {
    let mut response = closing_problem(StatusCode::SERVICE_UNAVAILABLE, detail);
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(retry_after_secs(retry_after)),
    );
    response
}

/// `413 Content Too Large` naming the listener's byte limit, with a
/// problem document and `Connection: close`: a body that could never fit,
/// so no `Retry-After`.
pub fn too_large_response(limit: usize) -> Response<Body> {
    closing_problem(
        StatusCode::PAYLOAD_TOO_LARGE,
        &BodyLimitError::TooLarge { limit }.to_string(),
    )
}

/// The answer to a request whose body the server cut off (`cut`), given
/// the router's `response`: a body too large is always `413` naming the
/// limit (unless the handler already answered 413 with a problem document
/// naming its own, smaller one); otherwise the handler's problem document
/// stands, and any other answer (a handler that read the body through an
/// extractor answers a plain-text 400) becomes the limit's own problem
/// document: `503` with `Retry-After`, or `408`.
pub fn answer_for_cut_body(cut: BodyLimitError, response: Response<Body>) -> Response<Body> {
    let answer = cut_body_answer(cut, response);
    let limit = match cut {
        BodyLimitError::TooLarge { .. } | BodyLimitError::Overloaded { .. } => {
            ServerLimit::MaxBufferedBodyBytes
        }
        BodyLimitError::TimedOut(_) => ServerLimit::BodyReadTimeout,
    };
    instruments::http_refused(limit, Some(answer.status()));
    answer
}

fn cut_body_answer(cut: BodyLimitError, response: Response<Body>) -> Response<Body> {
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    match cut {
        BodyLimitError::TooLarge { .. }
            if is_problem && response.status() == StatusCode::PAYLOAD_TOO_LARGE =>
        {
            response
        }
        BodyLimitError::TooLarge { limit } => too_large_response(limit),
        _ if is_problem => response,
        BodyLimitError::Overloaded { retry_after } => busy_response(retry_after, &cut.to_string()),
        BodyLimitError::TimedOut(_) => {
            closing_problem(StatusCode::REQUEST_TIMEOUT, &cut.to_string())
        }
    }
}

/// The bytes of the `503` answered to a connection past the maximum.
fn refusal_bytes(retry_after: Duration) -> Vec<u8> {
    let body = problem_json("too many connections; retry later");
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: {PROBLEM_JSON}\r\n\
         retry-after: {}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        retry_after_secs(retry_after),
        body.len()
    )
    .into_bytes()
}

/// Counts events and says when to log them: the first, then at most once
/// per [`WARN_EVERY`], with the count so far.
#[derive(Debug, Default)]
pub struct Throttle {
    count: AtomicU64,
    last_warning: Mutex<Option<Instant>>,
}

impl Throttle {
    /// Counts one event; `Some(count so far)` when it should be logged.
    pub fn note(&self) -> Option<u64> {
        let count = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        let now = Instant::now();
        let mut last = self.last_warning.lock().ok()?;
        if last.is_none_or(|last| now.duration_since(last) >= WARN_EVERY) {
            *last = Some(now);
            Some(count)
        } else {
            None
        }
    }
}

/// Refuses connections past the maximum (see the module documentation).
pub(super) struct Refusals {
    answer: Arc<[u8]>,
    refusing: Arc<Semaphore>,
    refused: Throttle,
}

impl Refusals {
    pub(super) fn new(retry_after: Duration) -> Self {
        Self {
            answer: refusal_bytes(retry_after).into(),
            refusing: Arc::new(Semaphore::new(MAX_REFUSING)),
            refused: Throttle::default(),
        }
    }

    /// Answers `stream` with `503` (or closes it if too many are being
    /// answered), on a task of `tracker`.
    pub(super) fn refuse(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
        tls: Option<TlsAcceptor>,
        limits: &ServerLimits,
        tracker: &TaskTracker,
        hard_stop: &CancellationToken,
    ) {
        self.note(limits.max_connections);
        let Ok(permit) = self.refusing.clone().try_acquire_owned() else {
            tracing::debug!(%peer, "connection past the maximum closed unanswered");
            instruments::http_refused(ServerLimit::MaxConnections, None);
            return;
        };
        instruments::http_refused(
            ServerLimit::MaxConnections,
            Some(StatusCode::SERVICE_UNAVAILABLE),
        );
        let answer = self.answer.clone();
        let hard_stop = hard_stop.clone();
        tracker.spawn(async move {
            let refusing = async {
                match tls {
                    None => answer_and_close(stream, &answer).await,
                    Some(acceptor) => {
                        if let Ok(tls) = acceptor.accept(stream).await {
                            answer_and_close(tls, &answer).await;
                        }
                    }
                }
            };
            tokio::select! {
                _ = tokio::time::timeout(REFUSING_FOR, refusing) => {}
                () = hard_stop.cancelled() => {}
            }
            drop(permit);
        });
    }

    /// Counts a refusal; warns at most once per [`WARN_EVERY`].
    fn note(&self, max_connections: usize) {
        if let Some(refused) = self.refused.note() {
            tracing::warn!(
                max_connections,
                refused_since_start = refused,
                "connection limit reached: answering new connections 503 \
                 (raise server.max_connections if this load is legitimate)"
            );
        }
    }
}

async fn answer_and_close<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, answer: &[u8]) {
    // Wait for the request to begin: an HTTP client takes an answer sent
    // before its request for a protocol error, not for the answer.
    let mut sink = [0u8; 4096];
    match stream.read(&mut sink).await {
        Ok(0) | Err(_) => return,
        Ok(_) => {}
    }
    if stream.write_all(answer).await.is_err() || stream.flush().await.is_err() {
        return;
    }
    let _ = stream.shutdown().await;
    // Read (and drop) what the client sends until it closes, so that the
    // close does not reset the connection before it read the answer.
    let mut read = 0usize;
    while read < 64 * 1024 {
        match stream.read(&mut sink).await {
            Ok(0) | Err(_) => break,
            Ok(n) => read += n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_is_a_whole_http_response_with_retry_after() {
        let bytes = refusal_bytes(Duration::from_millis(1500));
        let text = String::from_utf8(bytes).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 Service Unavailable\r\n"));
        assert!(head.contains("\r\nretry-after: 2\r\n"), "{head}");
        assert!(head.contains(&format!("\r\ncontent-length: {}", body.len())));
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["status"], 503);
        assert_eq!(json["type"], "about:blank");
    }

    #[test]
    fn a_busy_response_says_when_to_retry_and_closes() {
        let response = busy_response(Duration::from_secs(4), "busy");
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "4");
        assert_eq!(response.headers()[header::CONNECTION], "close");
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
    }
}
