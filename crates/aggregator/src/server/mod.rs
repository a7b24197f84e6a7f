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
pub mod limits;
mod listener;
pub mod open_files;
pub mod overload;
mod shared;

pub use limits::ServerLimits;
pub use listener::serve;

#[cfg(test)]
mod tests;
