//! Shared building blocks of dyad, used by aggregators, clients and collectors
//! alike: HPKE seal and open with DAP's labels ([`hpke`]), the catalogue of
//! supported VDAFs and the one place that turns a catalogue entry into a
//! concrete `prio` type ([`vdaf`]), and the task model ([`task`]) with its
//! authentication tokens.
//!
//! # Where is
//!
//! - the HPKE info and AAD of each message (DAP-09 sections 4.4.2, 4.5.1.3,
//!   4.6.4) -> [`hpke::seal_input_share`], [`hpke::open_input_share`],
//!   [`hpke::seal_aggregate_share`], [`hpke::open_aggregate_share`];
//! - a task's parameters and their checks (DAP-09 sections 4.1, 4.2) ->
//!   [`task::TaskBuilder::build`];
//! - request authentication (DAP-09 section 3.1) ->
//!   [`task::AuthenticationToken::from_request_headers`],
//!   [`task::AuthenticationTokenHash::validate`];
//! - a VDAF's parameters and `VERIFY_KEY_SIZE` (VDAF-08 section 5) ->
//!   [`vdaf::VdafInstance::validate`], [`vdaf::VdafInstance::verify_key_length`];
//! - the one VDAF dispatch -> [`vdaf_dispatch!`];
//! - retrying: HTTP statuses and `Retry-After` ->
//!   [`retry::RetryClass::from_http_status`], [`retry::parse_retry_after`],
//!   the decision [`retry::Backoff::decide`];
//! - "now" -> [`clock::Clock`];
//! - taskprov's task ID, verification key and task from a `TaskConfig`
//!   (draft-wang-ppm-dap-taskprov-06 section 3) -> [`taskprov::task_id_of`],
//!   [`taskprov::derive_verify_key`], [`taskprov::task_from_config`];
//! - a taskprov `TaskConfig`'s task ID and VDAF, as a Client or Collector
//!   derives them (taskprov-06 sections 3.1, 3.3) -> [`task_config::task_id_of`],
//!   [`task_config::check_supported`].

pub mod clock;
pub mod hpke;
pub mod retry;
pub mod task;
pub mod task_config;
pub mod taskprov;
pub mod vdaf;
