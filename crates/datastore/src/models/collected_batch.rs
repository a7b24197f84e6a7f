//! Collected batches: every batch an aggregator has been queried for, with
//! each distinct aggregation parameter (DAP-09 section 4.6.5).
//!
//! The Leader records a batch when it asks the Helper for the batch's
//! aggregate share, the Helper when it answers an `AggregateShareReq`. The
//! rows answer the three questions of batch validation and report
//! validation:
//! - how many distinct aggregation parameters the batch was queried with
//!   (`max_batch_query_count`);
//! - whether a time-interval query overlaps an earlier one with different
//!   boundaries (`batchOverlap`);
//! - whether a report falls in an already collected batch, so that it must
//!   be ignored (`batch_collected`, section 4.5.1.4).

use super::batch_identifier::BatchIdentifier;
use crate::redact::Len;
use dyad_messages::draft09::{TaskId, Time};
use std::fmt;

/// One query of one batch with one aggregation parameter.
#[derive(Clone, PartialEq, Eq)]
pub struct CollectedBatch {
    pub task_id: TaskId,
    /// The batch as queried: the batch interval of a time-interval query,
    /// or the batch ID of a fixed-size one.
    pub batch_identifier: BatchIdentifier,
    /// The VDAF aggregation parameter, opaque.
    pub aggregation_parameter: Vec<u8>,
    /// When the query was first recorded (set by the datastore).
    pub created_at: Time,
}

impl fmt::Debug for CollectedBatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CollectedBatch")
            .field("task_id", &self.task_id)
            .field("batch_identifier", &self.batch_identifier)
            .field("aggregation_parameter", &Len(&self.aggregation_parameter))
            .field("created_at", &self.created_at)
            .finish()
    }
}
