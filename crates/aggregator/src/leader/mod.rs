//! The Leader's background work (DAP-09 sections 4.5 and 4.6) and its HTTP
//! client to the Helper. Three processes, each a loop that wakes every
//! `interval`, does a bounded amount of work and stops promptly when its
//! shutdown token is cancelled; they coordinate only through the datastore.
//!
//! | process | file | what |
//! |---|---|---|
//! | [`run_aggregation_job_creator`] | `job_creator.rs`, `param_jobs.rs`, `new_job.rs` | unaggregated reports → aggregation jobs (4.5); for VDAFs whose parameter the Collector chooses, a collection's (batch, parameter) → jobs (4.6.1) |
//! | [`run_aggregation_job_driver`] | `job_driver.rs`, `aggregation_step.rs` | leased jobs → Helper → output shares in batch aggregations (4.5.1, 4.5.2) |
//! | [`run_collection_job_driver`] | `collection_driver.rs`, `collection_batch.rs` | leased collection jobs → both aggregate shares (4.6) |
//!
//! Around them: [`HelperClient`] (`peer_client.rs`) and the size caps on
//! the Helper's answers (`response_limit.rs`), the stored form of the
//! Leader's per-report state (`report_state.rs`), the per-job batch
//! aggregations (`batch_aggregation.rs`), the polling loop both drivers run
//! (`driver_loop.rs`), the renewal of their leases (`leases.rs`), the
//! in-process wake-ups (`wake.rs`: created jobs are driven at once, not at
//! the driver's next poll; a finished aggregation job has collection jobs
//! that wait for their batches looked at again at once, not after
//! `not_ready_retry_secs`) and the
//! configuration sections (`config.rs`).
//!
//! Crash safety in one sentence: every decision is written in the same
//! transaction as what it decides (reports marked started with the jobs that
//! hold them; a step's report states with its batch aggregations and the
//! job's step, under the lease; a collected-batch record with the validation
//! that allowed it; a finished collection with both shares), and every
//! request to the Helper can be re-sent identically after a crash.
//!
//! ## Where is
//!
//! - which VDAFs are aggregated before collection, and with which parameter →
//!   [`job_creator::eager_aggregation_parameter`]
//! - reports grouped into jobs oldest first, `min_job_size..=max_job_size`;
//!   an undersized remainder waits at most `max_report_wait` (4.5) →
//!   [`job_creator::plan_job_sizes`],
//!   [`job_creator::AggregationJobCreator::create_for_task`]
//! - no report in two jobs (marking checked, transaction aborted otherwise);
//!   fixed-size batch room reserved → [`job_creator::create_jobs`]
//! - reports of an already collected batch never join a job →
//!   [`job_creator::split_collected`]
//! - a VDAF whose parameter the Collector chooses (Poplar1): jobs per
//!   (batch, parameter) of waiting collection jobs, each report once per
//!   parameter (4.6.1, VDAF-08 `is_valid`) →
//!   [`param_jobs::create_jobs_for_collections`]
//! - a job's `PartialBatchSelector` (4.5.1.1) →
//!   [`aggregation_step::partial_batch_selector`]
//! - the same stored state gives the byte-identical request to the Helper,
//!   step skew recovery on the Leader's side (4.5.1.2, 4.5.2.3) →
//!   [`aggregation_step::prepare`]
//! - the Helper's response applied and output shares folded →
//!   [`aggregation_step::apply`], [`batch_aggregation::accumulate_job_outputs`]
//! - a step written in one transaction under the lease; reports the Helper
//!   found too early back to the pool (4.5.1.4) → [`aggregation_step::write`]
//! - the lease renewed to a full `lease_duration` before a request to the
//!   Helper once half of it has run out → [`leases::renew_lease`],
//!   [`leases::needs_renewal`]
//! - no request started that could outlive the lease →
//!   [`job_driver::AggregationJobDriver::check_lease_time`]
//! - retries with backoff, lease lost, abandoning after `max_attempts` →
//!   [`job_driver::AggregationJobDriver::settle`],
//!   [`collection_driver::CollectionJobDriver::settle`],
//!   [`config::DriverSettings::retry_delay`]
//! - an abandoned job is deleted at the Helper first (4.5.2.2) →
//!   [`job_driver::AggregationJobDriver::delete_at_helper`]
//! - acquiring jobs up to `max_concurrent_jobs`, and stopping on shutdown →
//!   [`driver_loop::run_driver_loop`]
//! - a collection job waits for its batch, then batch validation and the
//!   collected-batch record in one transaction (4.6.5) →
//!   [`collection_batch::check_and_record`]
//! - the `AggregateShareReq` (4.6.2) and the finished job with both sealed
//!   shares → [`collection_batch::aggregate_share_req`],
//!   [`collection_batch::finished_state`]
//! - the Helper's token on every request, never logged (3.1) →
//!   [`peer_client::HelperClient`] (`send`)
//! - the size cap on each of the Helper's answers →
//!   [`response_limit::aggregation_job_resp_cap`],
//!   [`response_limit::aggregate_share_cap`], [`response_limit::read_capped`]
//! - a Leader's report state between steps →
//!   [`report_state::to_stored`], [`report_state::to_protocol`]

mod aggregation_step;
mod batch_aggregation;
mod collection_batch;
mod collection_driver;
mod config;
mod driver_loop;
mod job_creator;
mod job_driver;
mod leases;
mod new_job;
mod param_jobs;
mod peer_client;
mod report_state;
mod response_limit;
pub(crate) mod wake;

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
