//! One accepted connection: its TLS handshake (HTTPS), then HTTP/1.1 with
//! keep-alive through hyper, watched by its [`Activity`] deadline (header
//! and idle timeouts) and by the server's shutdown: graceful first (the
//! request in flight is answered, then the connection closes), dropped at
//! the end of the grace period.

use super::activity::{Activity, ActivityIo};
use super::body::{BodyOutcome, LimitedBody};
use super::overload;
use super::shared::Shared;
use crate::telemetry::instruments::{self, ServerLimit};
use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use http_body::Body as _;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

/// Serves one connection until it ends, expires or the server stops.
pub(super) async fn run(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    shared: &Arc<Shared>,
    graceful: CancellationToken,
    hard_stop: CancellationToken,
) {
    let activity = Activity::new();
    let Some(acceptor) = tls else {
        let io = ActivityIo::new(stream, activity.clone());
        return serve_http(io, peer, activity, shared, graceful, hard_stop).await;
    };
    let handshake =
        tokio::time::timeout(shared.limits.tls_handshake_timeout, acceptor.accept(stream));
    let tls = tokio::select! {
        handshake = handshake => match handshake {
            Ok(Ok(tls)) => tls,
            Ok(Err(error)) => {
                tracing::debug!(%peer, %error, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake timed out");
                return;
            }
        },
        // A handshake under way is no request in flight.
        () = graceful.cancelled() => return,
    };
    let io = ActivityIo::new(tls, activity.clone());
    serve_http(io, peer, activity, shared, graceful, hard_stop).await;
}

async fn serve_http<I>(
    io: ActivityIo<I>,
    peer: SocketAddr,
    activity: Arc<Activity>,
    shared: &Arc<Shared>,
    graceful: CancellationToken,
    hard_stop: CancellationToken,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = {
        let shared = shared.clone();
        let activity = activity.clone();
        hyper::service::service_fn(move |request| {
            let shared = shared.clone();
            let activity = activity.clone();
            async move { Ok::<_, Infallible>(handle(&shared, &activity, request).await) }
        })
    };
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        // Head and idle deadlines are the connection's Activity's.
        .header_read_timeout(None)
        .keep_alive(true);
    let connection = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    let limits = &shared.limits;
    let mut closing = false;
    loop {
        // The deadline moves with the traffic (a head may start while this
        // task sleeps), so look again at least every header timeout: a
        // head's deadline is then never missed by more than the wake-up.
        let recheck = tokio::time::Instant::now()
            + limits.header_read_timeout.max(Duration::from_millis(100));
        let check_at = activity
            .deadline(limits.header_read_timeout, limits.idle_timeout)
            .map_or(recheck, |(at, _)| at.min(recheck));
        tokio::select! {
            served = connection.as_mut() => {
                if let Err(error) = served {
                    tracing::debug!(%peer, %error, "connection ended with an error");
                }
                return;
            }
            () = hard_stop.cancelled() => {
                tracing::debug!(%peer, "connection dropped at the end of the shutdown grace period");
                return;
            }
            () = graceful.cancelled(), if !closing => {
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
            () = tokio::time::sleep_until(check_at) => {
                if let Some(expired) = activity.expired(
                    tokio::time::Instant::now(),
                    limits.header_read_timeout,
                    limits.idle_timeout,
                ) {
                    tracing::debug!(%peer, reason = expired.as_str(), "closing connection");
                    return;
                }
            }
        }
    }
}

/// One request: its body wrapped in the server's limits, then the router.
pub(super) async fn handle(
    shared: &Shared,
    activity: &Arc<Activity>,
    request: Request<Incoming>,
) -> Response<Body> {
    let _in_flight = activity.request_started();
    let limits = &shared.limits;
    let (parts, incoming) = request.into_parts();
    let limit = limits.max_buffered_body_bytes;
    // A body whose declared length is over the listener's limit is refused
    // before any of it is read.
    if incoming.size_hint().lower() > limit as u64 {
        instruments::http_refused(
            ServerLimit::MaxBufferedBodyBytes,
            Some(StatusCode::PAYLOAD_TOO_LARGE),
        );
        return overload::too_large_response(limit);
    }
    let outcome = BodyOutcome::default();
    let body = if incoming.is_end_stream() {
        Body::new(incoming)
    } else {
        let Ok(place) = shared.bodies.clone().try_acquire_owned() else {
            if let Some(refused) = shared.busy_bodies.note() {
                tracing::warn!(
                    max_buffered_bodies = limits.max_buffered_bodies,
                    refused_since_start = refused,
                    "request body limit reached: answering 503 \
                     (raise server.max_buffered_bodies if this load is legitimate)"
                );
            }
            instruments::http_refused(
                ServerLimit::MaxBufferedBodies,
                Some(StatusCode::SERVICE_UNAVAILABLE),
            );
            return overload::busy_response(
                limits.retry_after,
                "too many request bodies being received at once; retry later",
            );
        };
        Body::new(LimitedBody::new(
            incoming,
            place,
            (shared.body_bytes.clone(), limit),
            limits.body_read_timeout,
            limits.retry_after,
            outcome.clone(),
        ))
    };
    let response = match shared
        .router
        .clone()
        .oneshot(Request::from_parts(parts, body))
        .await
    {
        Ok(response) => response,
        Err(never) => match never {},
    };
    match outcome.get() {
        Some(cut) => overload::answer_for_cut_body(*cut, response),
        None => response,
    }
}
