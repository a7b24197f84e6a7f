//! The operator's HTTP endpoints, each on a listener of its own, apart from
//! the DAP API (so a load balancer or Prometheus reaches them without
//! reaching the API, and the API's limits never starve them):
//!
//! - `health_listen_address`: `GET /healthz` answers 200 while the process
//!   runs (liveness); `GET /readyz` answers 200 only when the datastore
//!   answers a query within [`READY_TIMEOUT`] and its schema is this
//!   binary's, else 503 with one line saying why (readiness);
//! - `metrics_listen_address`: `GET /metrics`, the Prometheus text format.
//!
//! Plain HTTP/1.1 (axum's server), no authentication: bind them to an
//! address only the platform reaches. Each stops when the process shuts
//! down.

use crate::server::ServerLimits;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use dyad_datastore::Datastore;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// How long `/readyz` waits for the datastore.
pub const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// `/healthz` and `/readyz` on `datastore`.
pub fn health_router(datastore: Arc<dyn Datastore>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(datastore)
}

/// `/metrics` from `handle`.
pub fn metrics_router(handle: PrometheusHandle) -> Router {
    Router::new()
        .route("/metrics", get(render_metrics))
        .with_state(handle)
}

async fn healthz() -> Response {
    text(StatusCode::OK, "ok\n".to_owned())
}

async fn readyz(State(datastore): State<Arc<dyn Datastore>>) -> Response {
    match readiness(datastore.as_ref(), READY_TIMEOUT).await {
        Ok(()) => text(StatusCode::OK, "ready\n".to_owned()),
        Err(reason) => {
            tracing::debug!(%reason, "not ready");
            text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: {reason}\n"),
            )
        }
    }
}

/// Whether the process can serve: `Err` says why not.
pub async fn readiness(datastore: &dyn Datastore, timeout: Duration) -> Result<(), String> {
    match tokio::time::timeout(timeout, datastore.check_ready()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(format!("datastore: {error}")),
        Err(_) => Err(format!(
            "the datastore did not answer within {}s",
            timeout.as_secs()
        )),
    }
}

async fn render_metrics(State(handle): State<PrometheusHandle>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}

fn text(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// Serves `router` on `listener` until `stop` is cancelled; `what` names
/// the endpoint in logs.
pub async fn serve(
    what: &'static str,
    listener: TcpListener,
    router: Router,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    if let Ok(address) = listener.local_addr() {
        tracing::info!(%address, endpoint = what, "serving");
    }
    crate::server::serve(listener, None, router, OPERATOR_LIMITS, stop)
        .await
        .map_err(|error| anyhow::anyhow!("{what} endpoint: {error}"))
}

/// The limits of the operator's listeners: the same server as the DAP API
/// (so a client that opens connections and never finishes a request is
/// closed after the header timeout, and cannot hold the process's file
/// descriptors), sized for a few probes and scrapers. None of these routes
/// reads a body.
const OPERATOR_LIMITS: ServerLimits = ServerLimits {
    max_connections: 64,
    max_buffered_bodies: 8,
    max_buffered_body_bytes: 64 << 10,
    header_read_timeout: Duration::from_secs(5),
    body_read_timeout: Duration::from_secs(5),
    idle_timeout: Duration::from_secs(30),
    tls_handshake_timeout: Duration::from_secs(5),
    shutdown_grace: Duration::from_secs(2),
    retry_after: Duration::from_secs(1),
};

#[cfg(test)]
#[path = "endpoints_tests.rs"]
mod tests;
