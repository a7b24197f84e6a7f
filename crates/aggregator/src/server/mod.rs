//! The HTTP/1.1 server under the DAP API: our own accept loop on hyper,
//! serving an axum [`Router`] with limits on everything a client can hold.
//!
//! | limit ([`ServerLimits`]) | what happens past it |
//! |---|---|
//! | `max_connections` | the connection is answered `503` with `Retry-After` and closed ([`overload`]) |
//! | `tls_handshake_timeout` | a client that has not finished its TLS handshake is dropped |
//! | `header_read_timeout` | a connection that began a request head and has not finished it is closed ([`activity`]) |
//! | `idle_timeout` | a connection with no request in flight and no traffic is closed ([`activity`]) |
//! | `body_read_timeout` | a request body not received in full by then ends with `408` ([`body`]) |
//! | `max_buffered_bodies` | a request with a body is answered `503` with `Retry-After` before its body is read |
//! | `max_buffered_body_bytes` | a body whose bytes no longer fit is cut off with `503` and `Retry-After` |
//!
//! Shutdown ([`serve`]): stop accepting, ask every connection to close once
//! its request in flight is answered (idle ones close at once), wait up to
//! `shutdown_grace`, then drop whatever is left, so a process always stops
//! within the grace period.
//!
//! [`open_files`] raises the process's open-file limit and sizes the
//! default connection maximum from it.

pub mod activity;
pub mod body;
mod connection;
pub mod open_files;
pub mod overload;

use axum::Router;
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The server's limits and timeouts (the `server` section of the
/// configuration, see [`crate::config::ServerConfig`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerLimits {
    /// Connections served at once.
    pub max_connections: usize,
    /// Requests whose body is being received at once.
    pub max_buffered_bodies: usize,
    /// Bytes of request bodies being received at once, all requests together.
    pub max_buffered_body_bytes: usize,
    /// Longest a started request head may take to arrive in full.
    pub header_read_timeout: Duration,
    /// Longest a request body may take to arrive in full.
    pub body_read_timeout: Duration,
    /// Longest a connection may stay open with no request and no traffic.
    pub idle_timeout: Duration,
    /// Longest a TLS handshake may take.
    pub tls_handshake_timeout: Duration,
    /// How long requests in flight may take to finish at shutdown.
    pub shutdown_grace: Duration,
    /// The `Retry-After` of a `503` answered because a limit was reached.
    pub retry_after: Duration,
}

impl Default for ServerLimits {
    /// The defaults of [`crate::config::ServerConfig`], with
    /// [`open_files::FALLBACK_MAX_CONNECTIONS`] connections (a process that
    /// did not size the maximum from its open-file limit).
    fn default() -> Self {
        Self {
            max_connections: open_files::FALLBACK_MAX_CONNECTIONS,
            max_buffered_bodies: 1024,
            max_buffered_body_bytes: 256 << 20,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(60),
            tls_handshake_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(10),
            retry_after: Duration::from_secs(1),
        }
    }
}

/// What every connection of one server shares.
struct Shared {
    router: Router,
    limits: ServerLimits,
    /// One permit per request body being received.
    bodies: Arc<Semaphore>,
    /// One permit per byte of request bodies being received.
    body_bytes: Arc<Semaphore>,
    /// Refusals of connections past the maximum (see [`overload`]).
    refusals: overload::Refusals,
    /// Requests answered 503 for want of a body place, for the logs.
    busy_bodies: overload::Throttle,
}

/// Serves `router` on `listener` (HTTPS when `tls` is given) until
/// `shutdown` is cancelled, then shuts down as the module documentation
/// says and returns.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    router: Router,
    limits: ServerLimits,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let connections = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let shared = Arc::new(Shared {
        router,
        limits,
        bodies: Arc::new(Semaphore::new(limits.max_buffered_bodies.max(1))),
        body_bytes: Arc::new(Semaphore::new(
            limits
                .max_buffered_body_bytes
                .clamp(1, Semaphore::MAX_PERMITS),
        )),
        refusals: overload::Refusals::new(limits.retry_after),
        busy_bodies: overload::Throttle::default(),
    });
    let tracker = TaskTracker::new();
    // Cancelled once the grace period is over: connections still open drop.
    let hard_stop = CancellationToken::new();
    tracing::debug!(?limits, "server limits");
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(error).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        match connections.clone().try_acquire_owned() {
            Ok(permit) => {
                let shared = shared.clone();
                let tls = tls.clone();
                let (graceful, hard_stop) = (shutdown.clone(), hard_stop.clone());
                tracker.spawn(async move {
                    connection::run(stream, peer, tls, &shared, graceful, hard_stop).await;
                    drop(permit);
                });
            }
            Err(_) => shared.refusals.refuse(
                stream,
                peer,
                tls.clone(),
                &shared.limits,
                &tracker,
                &hard_stop,
            ),
        }
    }
    drop(listener);
    tracker.close();
    let open = limits.max_connections.max(1) - connections.available_permits();
    tracing::info!(
        open_connections = open,
        grace_secs = limits.shutdown_grace.as_secs_f64(),
        "stopped accepting connections; letting requests in flight finish"
    );
    if tokio::time::timeout(limits.shutdown_grace, tracker.wait())
        .await
        .is_err()
    {
        let open = limits.max_connections.max(1) - connections.available_permits();
        tracing::warn!(
            open_connections = open,
            "shutdown grace period over; closing the connections still open"
        );
        hard_stop.cancel();
        tracker.wait().await;
    }
    Ok(())
}

/// An error of `accept`: one connection's own failures are that
/// connection's; others (out of file descriptors) get a pause before the
/// next try, so the loop does not spin.
async fn accept_failed(error: io::Error) {
    if matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "accepting a connection failed; pausing accepts for 100 ms");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

#[cfg(test)]
mod tests;
