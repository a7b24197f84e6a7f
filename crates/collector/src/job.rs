//! The values of a collection: [`CollectionJob`] (what the collector asked
//! for, under which ID), [`PollResult`] (the answer to one poll),
//! [`PollProgress`] (how a wait is going) and [`Collection`] (the finished,
//! unsharded result), DAP-09 section 4.6.1.
//!
//! # Where is
//!
//! - the job ID, the collector's choice (DAP-09 section 4.6.1) ->
//!   [`CollectionJob::new`], drawn at random by
//!   [`Collector::start_collection`](crate::Collector::start_collection).

use dyad_messages::draft09::{CollectionJobId, Interval, PartialBatchSelector, Query};
use std::time::Duration;

/// A collection job: its ID, the query, and the aggregation parameter.
///
/// Keep it to poll the job again later, or rebuild it with
/// [`CollectionJob::new`] from the same three values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectionJob<P> {
    id: CollectionJobId,
    query: Query,
    aggregation_parameter: P,
}

impl<P> CollectionJob<P> {
    pub fn new(id: CollectionJobId, query: Query, aggregation_parameter: P) -> Self {
        Self {
            id,
            query,
            aggregation_parameter,
        }
    }

    pub fn id(&self) -> CollectionJobId {
        self.id
    }

    pub fn query(&self) -> &Query {
        &self.query
    }

    pub fn aggregation_parameter(&self) -> &P {
        &self.aggregation_parameter
    }
}

/// The answer to one poll of a collection job.
#[derive(Clone, Debug, PartialEq)]
pub enum PollResult<T> {
    /// 202 Accepted: not finished yet; `retry_after` is the Leader's
    /// suggested polling interval, if it gave one.
    Pending { retry_after: Option<Duration> },
    /// 200 OK: finished, opened and unsharded.
    Ready(Collection<T>),
}

/// How waiting for a collection job is going, after a poll that found it
/// pending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PollProgress {
    /// The polls made so far, this one included.
    pub polls: u32,
    /// Time since the first poll.
    pub elapsed: Duration,
    /// The Leader's `Retry-After` on this poll, if it gave one.
    pub retry_after: Option<Duration>,
    /// The wait before the next poll.
    pub next_delay: Duration,
}

/// The result of a finished collection job.
#[derive(Clone, Debug, PartialEq)]
pub struct Collection<T> {
    /// For fixed_size tasks, the ID of the batch the Leader chose.
    pub partial_batch_selector: PartialBatchSelector,
    /// How many reports the batch holds.
    pub report_count: u64,
    /// The smallest interval, aligned to the time precision, holding every
    /// report's timestamp.
    pub interval: Interval,
    /// The unsharded aggregate.
    pub aggregate_result: T,
}
