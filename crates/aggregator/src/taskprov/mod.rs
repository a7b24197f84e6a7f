//! Taskprov (draft-wang-ppm-dap-taskprov-06) in the aggregator: a request
//! about a task this aggregator does not know, carrying the task's
//! `TaskConfig` in the `dap-taskprov` header, provisions the task when the
//! operator's policy and a configured peer aggregator allow it.
//!
//! - `policy.rs`: the `taskprov` section of the configuration
//!   ([`TaskprovConfig`]): whether taskprov is on, and the operator's
//!   limits on the tasks it accepts;
//! - `provision.rs`: the one entry point both roles use, run inside the
//!   request's transaction ([`provision()`]; [`resolve`] reads without
//!   storing), and the header of a request ([`advertisement`]);
//! - `request.rs`: what the handlers call for a request's task
//!   ([`task_to_provision`], [`task_in_role`]).
//!
//! The derivations, the peer model and the mapping of a `TaskConfig` to a
//! task are `dyad_core::taskprov`; peers are stored by the datastore
//! (`taskprov_peer_aggregators`) and managed through the management API
//! (`/taskprov/peer_aggregators`) and `dyad taskprov-peer`.
//!
//! ## Where is
//!
//! - the header's value: base64url `TaskConfig`, else `invalidMessage`
//!   (taskprov-06, "Helper Behavior", "Leader Behavior") → [`advertisement`]
//! - the task ID must be the config's SHA-256, else `unrecognizedTask` →
//!   [`resolve`]
//! - opting out (`invalidTask`): unknown peer, expired task, unsupported
//!   parameters, the operator's policy, a stored task with another config
//!   ("Configuring a Task") → [`resolve`], [`TaskprovConfig::opt_out`]
//! - the task stored in the request's transaction, once under concurrent
//!   first requests → [`provision()`]

mod policy;
mod provision;
mod request;

pub use policy::TaskprovConfig;
pub use provision::{advertisement, provision, resolve, Resolved};
pub use request::{task_in_role, task_to_provision, Provisioning};

#[cfg(test)]
mod helper_tests;
