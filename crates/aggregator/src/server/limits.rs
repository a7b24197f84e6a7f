//! [`ServerLimits`]: every limit and timeout of the server, with the
//! defaults of the `server` configuration section.

use super::open_files;
use std::time::Duration;

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
