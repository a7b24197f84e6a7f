//! The DAP protocol itself, sans-IO (draft-ietf-ppm-dap-09, with VDAF-08's
//! ping-pong topology): report validation, Leader and Helper preparation
//! steps, batch rules and collection rules, as functions and small state
//! machines over messages, tasks and facts the caller looked up. No HTTP, no
//! SQL, no async runtime, no clock: time is a parameter.
//!
//! Each module is named for what it does, and its documentation opens with
//! a "Where is" index: rule (DAP-09 section) to the function carrying it.
//!
//! | module | does | DAP-09 |
//! |---|---|---|
//! | [`upload`] | the Leader's validation of an uploaded report; extension checks | 4.4.2 (and 4.5.1.4) |
//! | [`leader_prepare`] | the Leader's preparation steps of an aggregation job | 4.5.1.1, 4.5.2.1 |
//! | [`helper_init`] | the Helper's initialization: decryption, input-share validation, preparation | 4.5.1.2-4 |
//! | [`helper_continue`] | the Helper's continuation | 4.5.2.2 |
//! | [`idempotency`] | a request's digest; a repeated init, step skew recovery | 4.5.1.2, 4.5.2.3 |
//! | [`replay`] | whether a report may be aggregated again (`report_replayed`) | 4.5.1.4 |
//! | [`batch`] | the batch a query names, batch validation, buckets, checksums | 4.1, 4.6.5 |
//! | [`accumulate`] | output shares folded into aggregate shares, per batch | 4.6.2 |
//! | [`collection`] | collection targets, `AggregateShareReq` and its answer, `Collection`, unsharding | 4.6.1-3 |
//! | [`seal`] | aggregate shares sealed to the Collector | 4.6.4 |
//! | [`keyring`] | finding the HPKE keypair an input share was sealed to | 4.5.1.3 |
//! | [`vdaf_codec`] | encodings of every VDAF value that is stored | 4 |
//! | [`error`] | the one error type, carrying a DAP problem type | 3.2 |
//! | [`parallel`] | a job's reports prepared on every core, results in order | |
//! | [`in_memory`] | both aggregators' work on reports in memory: the crypto limit `dyad bench` measures | 4.4.2-4.6.2 |
//!
//! Code is generic over `V:` [`DapAggregator<VERIFY_KEY_LEN>`](vdaf_codec::DapAggregator)
//! (`prio::vdaf::Aggregator<VERIFY_KEY_LEN, 16>` with a storable preparation
//! state: every VDAF of the catalogue), so it is called from inside
//! `dyad_core::vdaf_dispatch!`. States and shares cross this crate's
//! boundary as encoded bytes.

pub mod accumulate;
pub mod batch;
pub mod collection;
pub mod error;
pub mod helper_continue;
pub mod helper_init;
pub mod idempotency;
pub mod in_memory;
pub mod keyring;
pub mod leader_prepare;
pub mod parallel;
pub mod replay;
pub mod seal;
pub mod upload;
pub mod vdaf_codec;

#[cfg(test)]
mod test_util;

pub use error::ProtocolError;
#[cfg(test)]
mod exchange_tests;
#[cfg(test)]
mod robustness_tests;
