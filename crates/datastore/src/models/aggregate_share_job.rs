//! Aggregate share jobs: the Helper's answers to `AggregateShareReq`s
//! (DAP-09 section 4.6.3), kept so that a repeated identical request gets
//! the same answer without consuming another query of the batch.

use super::batch_identifier::BatchIdentifier;
use crate::redact::Len;
use dyad_messages::draft09::{AggregateShare, ReportIdChecksum, TaskId, Time};
use std::fmt;

/// One answered `AggregateShareReq`.
#[derive(Clone, PartialEq, Eq)]
pub struct AggregateShareJob {
    pub task_id: TaskId,
    /// The request's batch selector.
    pub batch_identifier: BatchIdentifier,
    /// The VDAF aggregation parameter, opaque.
    pub aggregation_parameter: Vec<u8>,
    /// The report count the request carried (and the Helper agreed with).
    pub report_count: u64,
    /// The checksum the request carried (and the Helper agreed with).
    pub checksum: ReportIdChecksum,
    /// The answer sent: the aggregate share sealed to the Collector.
    pub response: AggregateShare,
    /// Set by the datastore when the job is stored.
    pub created_at: Time,
}

impl fmt::Debug for AggregateShareJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AggregateShareJob")
            .field("task_id", &self.task_id)
            .field("batch_identifier", &self.batch_identifier)
            .field("aggregation_parameter", &Len(&self.aggregation_parameter))
            .field("report_count", &self.report_count)
            .field("checksum", &self.checksum)
            .field("response", &self.response)
            .field("created_at", &self.created_at)
            .finish()
    }
}
