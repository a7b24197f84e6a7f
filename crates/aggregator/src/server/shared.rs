//! [`Shared`]: what every connection of one server holds in common (the
//! router, the limits, and the semaphores and counters behind the body and
//! connection limits).

use super::limits::ServerLimits;
use super::overload;
use axum::Router;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// What every connection of one server shares.
pub(super) struct Shared {
    pub(super) router: Router,
    pub(super) limits: ServerLimits,
    /// One permit per request body being received.
    pub(super) bodies: Arc<Semaphore>,
    /// One permit per byte of request bodies being received.
    pub(super) body_bytes: Arc<Semaphore>,
    /// Refusals of connections past the maximum (see [`overload`]).
    pub(super) refusals: overload::Refusals,
    /// Requests answered 503 for want of a body place, for the logs.
    pub(super) busy_bodies: overload::Throttle,
}
