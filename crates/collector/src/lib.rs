//! The DAP collector library (DAP-09 section 4.6): what an analyst embeds to
//! collect a task's aggregate results.
//!
//! A [`Collector`] creates a collection job at the Leader, polls it until it
//! is finished, opens the Leader's and the Helper's aggregate shares with the
//! collector's HPKE key and unshards them into the aggregate result.
//!
//! ```no_run
//! # async fn example() -> Result<(), dyad_collector::CollectorError> {
//! use dyad_collector::{AnyVdaf, Collector};
//! use dyad_core::hpke::HpkeKeypair;
//! use dyad_core::task::AuthenticationToken;
//! use dyad_core::vdaf::{AggregateResult, AggregationParam, VdafInstance};
//! use dyad_messages::draft09::{Duration, HpkeConfigId, Interval, Query, TaskId, Time};
//!
//! let task_id: TaskId = "8BY0RzZMzxvA46_8ymhzycOB9krN-QIGYvg_RsByGec".parse().unwrap();
//! let token = AuthenticationToken::new_bearer("collector-token").unwrap();
//! let keypair = HpkeKeypair::generate_default(HpkeConfigId(1));
//! let collector = Collector::new(
//!     task_id,
//!     "https://leader.example/".parse().unwrap(),
//!     token,
//!     keypair,
//!     AnyVdaf(VdafInstance::Prio3Count),
//! )?;
//! let interval = Interval::new(
//!     Time::from_seconds_since_epoch(1_700_000_000 / 3600 * 3600),
//!     Duration::from_seconds(3600),
//! )
//! .unwrap();
//! let collection = collector
//!     .collect(Query::TimeInterval(interval), &AggregationParam::Empty)
//!     .await?;
//! if let AggregateResult::Count(count) = collection.aggregate_result {
//!     println!("{count} of {} reports said yes", collection.report_count);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Modules: [`CollectorBuilder`] (settings), [`Collector`] (the requests),
//! [`CollectionJob`], [`PollResult`], [`PollProgress`] and [`Collection`]
//! (their values), [`next_poll_delay`] (the polling pace),
//! [`CollectorVdaf`] and [`AnyVdaf`] (unsharding), [`CollectorError`] and
//! [`ErrorResponse`] (failures).
//!
//! # Where is
//!
//! - creating, polling and deleting a collection job (DAP-09 section 4.6.1)
//!   -> [`Collector::create_collection_job`], [`Collector::poll_once`],
//!   [`Collector::delete_collection_job`];
//! - polling until done, paced by the Leader's `Retry-After` ->
//!   [`Collector::poll_until_complete_with`], [`next_poll_delay`];
//! - the default pace -> [`CollectorBuilder::DEFAULT_POLL_INITIAL_DELAY`],
//!   [`CollectorBuilder::DEFAULT_POLL_MAX_DELAY`],
//!   [`CollectorBuilder::DEFAULT_MAX_WAIT`];
//! - unsharding the two aggregate shares (VDAF-08 section 5.5) ->
//!   [`CollectorVdaf::unshard_encoded`];
//! - a task with differential-privacy noise, its strategy and its noisy
//!   (possibly negative) result -> [`NoisedVdaf`];
//! - which failures are retried -> [`CollectorError`]'s `Retryable` answer;
//! - the heavy-hitters walk down Poplar1's prefix tree, one collection per
//!   level (VDAF-08 section 8) -> [`heavy_hitters()`], [`next_candidates`].

mod builder;
mod collector;
mod error;
mod heavy_hitters;
mod http;
mod job;
mod noised;
mod open;
mod vdaf;

pub use builder::CollectorBuilder;
pub use collector::{next_poll_delay, Collector, MIN_POLL_DELAY};
pub use error::{CollectorError, ErrorResponse};
pub use heavy_hitters::{
    heavy_hitters, next_candidates, tree_levels, HeavyHitter, HeavyHitters, LevelProgress,
};
pub use job::{Collection, CollectionJob, PollProgress, PollResult};
pub use noised::NoisedVdaf;
pub use vdaf::{AnyVdaf, CollectorVdaf};
