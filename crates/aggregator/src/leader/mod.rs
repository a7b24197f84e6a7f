//! The Leader's background work (DAP-09 sections 4.5 and 4.6) and its HTTP
//! client to the Helper. Three processes, each a loop that wakes every
//! `interval`, does a bounded amount of work and stops promptly when its
//! shutdown token is cancelled; they coordinate only through the datastore.
//!
//! | process | file | what |
//! |---|---|---|
//! | [`run_aggregation_job_creator`] | `job_creator.rs` | unaggregated reports → aggregation jobs (4.5) |
//! | [`run_aggregation_job_driver`] | `job_driver.rs`, `aggregation_step.rs` | leased jobs → Helper → output shares in batch aggregations (4.5.1, 4.5.2) |
//! | [`run_collection_job_driver`] | `collection_driver.rs`, `collection_batch.rs` | leased collection jobs → both aggregate shares (4.6) |
//!
//! Around them: [`HelperClient`] (`peer_client.rs`) and the size caps on
//! the Helper's answers (`response_limit.rs`), the stored form of the
//! Leader's per-report state (`report_state.rs`), the per-job batch
//! aggregations (`batch_aggregation.rs`), the lease loop both drivers share
//! (`lease_loop.rs`) and the configuration sections (`config.rs`).
//!
//! Crash safety in one sentence: every decision is written in the same
//! transaction as what it decides (reports marked started with the jobs that
//! hold them; a step's report states with its batch aggregations and the
//! job's step, under the lease; a collected-batch record with the validation
//! that allowed it; a finished collection with both shares), and every
//! request to the Helper can be re-sent identically after a crash.

mod aggregation_step;
mod batch_aggregation;
mod collection_batch;
mod collection_driver;
mod config;
mod driver_loop;
mod job_creator;
mod job_driver;
mod leases;
mod peer_client;
mod report_state;
mod response_limit;

#[cfg(test)]
mod tests;

pub use collection_driver::{run_collection_job_driver, CollectionJobDriver};
pub use config::{CollectionDriverConfig, JobCreatorConfig, JobDriverConfig};
pub use job_creator::{
    eager_aggregation_parameter, run_aggregation_job_creator, AggregationJobCreator,
    CreatorRunSummary,
};
pub use job_driver::{run_aggregation_job_driver, AggregationJobDriver};
pub use peer_client::{HelperClient, PeerError};
pub use response_limit::TooLarge;
