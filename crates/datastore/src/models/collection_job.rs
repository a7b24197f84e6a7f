//! Collection jobs (DAP-09 section 4.6.1), which only the Leader has.
//!
//! The job keeps the Collector's request bytes: a repeated PUT with the
//! identical `CollectionReq` is accepted, a different one rejected. The batch
//! is resolved when the job is created (the interval of a time-interval
//! query, the batch ID given or chosen for `current_batch`).

use super::batch_identifier::BatchIdentifier;
use crate::redact::Len;
use dyad_messages::draft09::{CollectionJobId, HpkeCiphertext, Interval, Query, TaskId, Time};
use dyad_messages::problem::DapProblemType;
use std::fmt;

/// Where a collection job stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CollectionJobState {
    /// Waiting for the batch to be ready, then for the Helper's share.
    Start,
    /// Done: what the `Collection` response is made of.
    Finished {
        report_count: u64,
        /// The smallest `time_precision`-aligned interval holding every
        /// report of the batch.
        interval: Interval,
        leader_encrypted_agg_share: HpkeCiphertext,
        helper_encrypted_agg_share: HpkeCiphertext,
    },
    /// Failed for good; polls are answered with this problem.
    Failed {
        problem_type: DapProblemType,
        detail: String,
    },
    /// The Leader gave up on the job.
    Abandoned,
    /// The Collector deleted the job.
    Deleted,
}

impl CollectionJobState {
    /// The stored state code.
    pub const fn code(&self) -> i64 {
        match self {
            CollectionJobState::Start => 0,
            CollectionJobState::Finished { .. } => 1,
            CollectionJobState::Failed { .. } => 2,
            CollectionJobState::Abandoned => 3,
            CollectionJobState::Deleted => 4,
        }
    }
}

/// One collection job.
#[derive(Clone, PartialEq, Eq)]
pub struct CollectionJob {
    pub task_id: TaskId,
    pub collection_job_id: CollectionJobId,
    /// The Collector's query.
    pub query: Query,
    /// The VDAF aggregation parameter, opaque.
    pub aggregation_parameter: Vec<u8>,
    /// The batch the query resolved to.
    pub batch_identifier: BatchIdentifier,
    /// The encoded `CollectionReq`, to tell a repeated PUT from a changed one.
    pub request: Vec<u8>,
    pub state: CollectionJobState,
    /// Set by the datastore when the job is first stored.
    pub created_at: Time,
}

impl CollectionJob {
    /// A new job in state `Start`.
    pub fn new(
        task_id: TaskId,
        collection_job_id: CollectionJobId,
        query: Query,
        aggregation_parameter: Vec<u8>,
        batch_identifier: BatchIdentifier,
        request: Vec<u8>,
    ) -> Self {
        Self {
            task_id,
            collection_job_id,
            query,
            aggregation_parameter,
            batch_identifier,
            request,
            state: CollectionJobState::Start,
            created_at: Time::from_seconds_since_epoch(0),
        }
    }
}

impl fmt::Debug for CollectionJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CollectionJob")
            .field("task_id", &self.task_id)
            .field("collection_job_id", &self.collection_job_id)
            .field("query", &self.query)
            .field("aggregation_parameter", &Len(&self.aggregation_parameter))
            .field("batch_identifier", &self.batch_identifier)
            .field("request", &Len(&self.request))
            .field("state", &self.state)
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// What `put_collection_job` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CollectionJobWriteOutcome {
    /// The job is new and now stored.
    Created,
    /// A job with this ID and the identical request already exists: nothing
    /// was written (a repeated PUT, to be accepted).
    AlreadyExists(Box<CollectionJob>),
    /// A job with this ID but a different request exists: nothing was
    /// written (DAP-09 section 4.6.1: the PUT must fail).
    Conflict,
}
