//! The task model: every DAP-09 task parameter (section 4.2) plus what an
//! aggregator needs to run the task.
//!
//! - [`Task`], built and checked by [`TaskBuilder`] (also its serde form,
//!   for YAML task files), failing with [`TaskError`];
//! - [`BatchMode`]: the query configuration (section 4.1);
//! - [`VerifyKey`]: the VDAF verification key;
//! - [`auth`]: request authentication tokens (section 3.1) and their hashes.
//!
//! # Where is
//!
//! - every check of a task's parameters (DAP-09 sections 3.1, 4.1, 4.2;
//!   VDAF-08 section 5) -> [`TaskBuilder::build`];
//! - `task_expiration` (DAP-09 section 4.2) -> [`Task::is_expired_at`];
//! - the token a request presents, and checking it (DAP-09 section 3.1) ->
//!   [`AuthenticationToken::from_request_headers`],
//!   [`AuthenticationTokenHash::validate`];
//! - the query type code and the fixed-size batch bound (DAP-09 section 4.1)
//!   -> [`BatchMode::query_type_code`], [`BatchMode::max_batch_size`].

mod aggregator_task;
pub mod auth;
mod batch_mode;
mod builder;
mod error;
mod secret;

pub use aggregator_task::Task;
pub use auth::{
    AuthenticationToken, AuthenticationTokenError, AuthenticationTokenHash,
    AuthenticationTokenType, StoredAuthenticationToken,
};
pub use batch_mode::BatchMode;
pub use builder::{TaskBuilder, DEFAULT_TOLERABLE_CLOCK_SKEW};
pub use error::TaskError;
pub use secret::VerifyKey;

#[cfg(test)]
mod task_tests;
