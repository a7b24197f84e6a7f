//! One tracing span per request, with a request ID that is also returned in
//! the `X-Request-Id` response header, so a peer's report of a failure can
//! be matched with this aggregator's logs. The span records the method and
//! path (task and job IDs are public); bodies, query strings and headers
//! (which may carry tokens) are never logged.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;
use tracing::Instrument;

/// The response header carrying the request ID.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Middleware: runs the request inside its span and logs its outcome.
pub async fn trace_request(request: Request, next: Next) -> Response {
    let request_id = format!("{:016x}", rand::random::<u64>());
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %request.method(),
        path = %request.uri().path(),
    );
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    span.in_scope(|| {
        tracing::debug!(
            status,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "answered"
        )
    });
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}
