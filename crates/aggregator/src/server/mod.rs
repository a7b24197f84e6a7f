//! The HTTP/1.1 server under the DAP API: our own accept loop on hyper,
//! serving an axum [`Router`](axum::Router) with limits on everything a client can hold.
//!
//! | limit ([`ServerLimits`]) | what happens past it |
//! |---|---|
//! | `max_connections` | the connection is answered `503` with `Retry-After` and closed ([`overload`]) |
//! | `tls_handshake_timeout` | a client that has not finished its TLS handshake is dropped |
//! | `header_read_timeout` | a connection that began a request head and has not finished it is closed ([`activity`]) |
//! | `idle_timeout` | a connection with no request in flight and no traffic is closed ([`activity`]) |
//! | `body_read_timeout` | a request body not received in full by then ends with `408` ([`body`]) |
//! | `max_buffered_bodies` | a request with a body is answered `503` with `Retry-After` before its body is read |
//! | `max_buffered_body_bytes` | a body whose bytes no longer fit is cut off with `503` and `Retry-After`; a body larger than the whole limit (declared or received) is `413` with a problem document naming the limit |
//!
//! Shutdown ([`serve`]): stop accepting, ask every connection to close once
//! its request in flight is answered (idle ones close at once), wait up to
//! `shutdown_grace`, then drop whatever is left, so a process always stops
//! within the grace period.
//!
//! [`open_files`] raises the process's open-file limit and sizes the
//! default connection maximum from it.
//!
//! ## Where is
//!
//! - the accept loop, the connection maximum and the shutdown sequence →
//!   [`listener::serve`]
//! - a connection past `max_connections` answered 503 without parsing →
//!   [`overload::Refusals`] (`refuse`), [`overload::busy_response`]
//! - the TLS handshake timeout → [`connection::run`]
//! - a request with a body past `max_buffered_bodies` answered 503 before its
//!   body is read → [`connection::handle`]
//! - the header and idle timeouts → [`activity::Activity::deadline`],
//!   [`activity::Activity::expired`]
//! - the body timeout (408) and byte budget (503) → [`body::LimitedBody`]
//! - a body over the listener's byte limit is 413 on every listener →
//!   [`overload::answer_for_cut_body`], [`overload::too_large_response`]
//! - a failing `accept` pauses the loop instead of spinning →
//!   [`listener::accept_failed`]
//! - the default connection maximum, from the open-file limit →
//!   [`open_files::default_max_connections`]
//! - every limit and its default → [`limits::ServerLimits`]

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
