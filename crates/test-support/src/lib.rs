//! Test-only helpers shared by the workspace's test suites (a dev-dependency
//! only, never part of a shipped crate):
//!
//! - [`raw_peer`]: an HTTP/1.1 peer on a raw TCP socket whose answers a test
//!   scripts per request, including ones no well-behaved server sends (a
//!   200 MB body streamed chunk by chunk, a body trickled a byte at a time),
//!   to check that our clients bound what they read.
//! - [`memory`]: a process's resident memory figures from `/proc`, to show
//!   that such a flood did not grow it.
//! - [`postgres`]: fresh databases on the PostgreSQL test server, one per
//!   test, dropped after it.

pub mod memory;
pub mod postgres;
pub mod raw_peer;
