//! The accept loop ([`serve`]): one task per accepted connection up to
//! `max_connections` (past it, [`overload`] refuses), and
//! the shutdown sequence of the module documentation of [`crate::server`].

use super::connection;
use super::limits::ServerLimits;
use super::overload;
use super::shared::Shared;
use axum::Router;
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

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
pub(super) async fn accept_failed(error: io::Error) {
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
