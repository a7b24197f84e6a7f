//! Taskprov (draft-wang-ppm-dap-taskprov-06): what an aggregator, a client
//! and a collector need to run a task advertised by its `TaskConfig` rather
//! than provisioned ahead of time.
//!
//! - [`mod@derive`]: the task ID of a `TaskConfig` and the VDAF verification
//!   key derived from the peers' shared `verify_key_init`;
//! - [`PeerAggregator`]: what an aggregator knows of the other aggregator
//!   it accepts advertised tasks with (endpoint, role, shared secrets);
//! - [`task_from_config`]: a `TaskConfig` and a peer made into a [`Task`],
//!   or the reason this aggregator opts out of it.
//!
//! The wire structures are `dyad_messages::taskprov`.
//!
//! # Where is
//!
//! - "Deriving the Task ID" -> [`task_id_of`];
//! - "Deriving the VDAF Verification Key" -> [`derive_verify_key`];
//! - "Configuring a Task": the VDAF, query and DP configurations this
//!   aggregator supports (it MUST opt out of others) ->
//!   [`task_from_config`];
//! - the peer a `TaskConfig` names -> [`PeerAggregator::serves`].
//!
//! [`Task`]: crate::task::Task

mod convert;
pub mod derive;
mod peer;

pub use convert::{task_from_config, OptOut};
pub use derive::{derive_verify_key, task_id_of, VerifyKeyInit, VERIFY_KEY_INIT_LEN};
pub use peer::{PeerAggregator, PeerAggregatorError};
