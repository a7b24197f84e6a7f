//! Sending requests to an interop router in-process, for the unit tests.

use axum::body::Body;
use axum::http::{header, Method, Request};
use axum::Router;
use serde_json::Value;
use tower::ServiceExt as _;

/// Sends `method path` with `body`; returns the status and the body.
pub async fn send(app: &Router, method: Method, path: &str, body: Vec<u8>) -> (u16, Vec<u8>) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .expect("a valid request");
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("a readable body");
    (status, bytes.to_vec())
}

/// POSTs `body` as JSON; returns the status and the JSON reply (`null` if
/// the body is not JSON).
pub async fn post_json(app: &Router, path: &str, body: &Value) -> (u16, Value) {
    let (status, bytes) = send(app, Method::POST, path, serde_json::to_vec(body).unwrap()).await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}
