//! The DAP protocol itself, sans-IO (draft-ietf-ppm-dap-09, with VDAF-08's
//! ping-pong topology): report validation, Leader and Helper preparation
//! steps, batch rules and collection rules, as functions and small state
//! machines over messages, tasks and facts the caller looked up. No HTTP, no
//! SQL, no async runtime, no clock: time is a parameter.
//!
//! | module | DAP-09 |
//! |---|---|
//! | [`upload`] | 4.4.2 Upload Request (and the extension checks of 4.5.1.4) |
//! | [`leader`] | 4.5.1.1 Leader Initialization, 4.5.2.1 Leader Continuation |
//! | [`helper`] | 4.5.1.2-4 Helper Initialization, decryption, validation |
//! | [`helper_continue`] | 4.5.2.2 Helper Continuation |
//! | [`idempotency`] | 4.5.1.2 repeated init, 4.5.2.3 step skew recovery |
//! | [`batch`] | 4.1 Queries, 4.6.6 Batch Validation, checksums, intervals |
//! | [`aggregate`] | 4.6.2 aggregate shares |
//! | [`collection`] | 4.6.1, 4.6.2, 4.6.4 collection and share encryption |
//! | [`vdaf_codec`] | encodings of every VDAF value that is stored |
//! | [`error`] | the one error type, carrying a DAP problem type |
//!
//! Code is generic over `V:` [`DapAggregator<VERIFY_KEY_LEN>`](vdaf_codec::DapAggregator)
//! (`prio::vdaf::Aggregator<VERIFY_KEY_LEN, 16>` with a storable preparation
//! state: every VDAF of the catalogue), so it is called from inside
//! `dyad_core::vdaf_dispatch!`. States and shares cross this crate's
//! boundary as encoded bytes.

pub mod aggregate;
pub mod batch;
pub mod collection;
pub mod error;
pub mod helper;
pub mod helper_continue;
pub mod idempotency;
pub mod keyring;
pub mod leader;
pub mod upload;
pub mod vdaf_codec;

#[cfg(test)]
mod test_util;

pub use error::ProtocolError;
#[cfg(test)]
mod exchange_tests;
#[cfg(test)]
mod robustness_tests;
