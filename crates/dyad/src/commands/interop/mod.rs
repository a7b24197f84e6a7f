//! The interop test API of draft-dcook-ppm-dap-interop-test-design-07, one
//! subcommand per role: `dyad interop-client` ([`client`], section 4.2),
//! `dyad interop-aggregator` ([`aggregator`], Leader or Helper, section
//! 4.3) and `dyad interop-collector` ([`collector`], section 4.4). Each
//! serves `POST /internal/test/...` commands with JSON bodies on
//! `0.0.0.0:PORT` (section 3: port 8080 by default) until SIGTERM or
//! SIGINT.
//!
//! [`api`] holds what the three share (requests, replies, the 404 for
//! unknown commands, base64url and base-10 strings); [`values`] the
//! VDAF-level values (VDAF object, measurements, results, queries).
//!
//! These commands are for testing only (section 6: test-only APIs must not
//! be exposed by production systems): they take secrets in clear text and
//! answer any caller.

pub mod aggregator;
pub mod api;
pub mod client;
pub mod collector;
pub mod values;

#[cfg(test)]
pub(crate) mod test_util;

use anyhow::Context as _;
use axum::Router;
use dyad_aggregator::config::LogConfig;
use std::net::{Ipv4Addr, SocketAddr};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The port of the interop test API (section 3).
pub const DEFAULT_PORT: u16 = 8080;

/// Logs to stderr at `info` (`RUST_LOG` overrides).
fn init_logging() -> anyhow::Result<()> {
    dyad_aggregator::logging::init_logging(&LogConfig::default())
}

/// Binds `0.0.0.0:port`.
async fn bind(port: u16) -> anyhow::Result<TcpListener> {
    let address = SocketAddr::from((Ipv4Addr::UNSPECIFIED, port));
    TcpListener::bind(address)
        .await
        .with_context(|| format!("binding {address}"))
}

/// Serves `router` on `0.0.0.0:port` until SIGTERM or SIGINT.
async fn serve(role: &'static str, router: Router, port: u16) -> anyhow::Result<()> {
    let listener = bind(port).await?;
    let shutdown = CancellationToken::new();
    tokio::spawn(crate::commands::serve::stop_on_signal(shutdown.clone()));
    tracing::info!(
        role,
        port = listener.local_addr()?.port(),
        "serving the interop test API"
    );
    serve_until(listener, router, shutdown).await
}

/// How long requests in flight may take to finish once shutdown is asked.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Serves `router` on `listener` until `shutdown` is cancelled, with the
/// aggregator's server and its default limits; then lets requests in
/// flight finish, for at most [`SHUTDOWN_GRACE`] (a runner's idle
/// keep-alive connections must not keep the process up).
async fn serve_until(
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let limits = dyad_aggregator::server::ServerLimits {
        shutdown_grace: SHUTDOWN_GRACE,
        ..dyad_aggregator::server::ServerLimits::default()
    };
    dyad_aggregator::server::serve(listener, None, router, limits, shutdown)
        .await
        .context("HTTP server")
}
