//! Batch aggregations: the output shares one aggregation job contributed to
//! one batch, already aggregated (DAP-09 section 4.6.3, implementation note:
//! aggregate as output shares arrive).
//!
//! There is one row per (task, batch, aggregation parameter, aggregation
//! job), never one shared row per batch: jobs running in parallel never
//! contend for the same row, and a job's row is written in the same
//! transaction that records the job's step, so a crash never applies half a
//! job. Collection reads every row of the batch and combines them: it sums
//! the aggregate shares (with the VDAF), adds the report counts and XORs the
//! checksums ([`ReportIdChecksum::combined_with`]).

use super::batch_identifier::BatchIdentifier;
use crate::redact::Len;
use dyad_messages::draft09::{AggregationJobId, Interval, ReportIdChecksum, TaskId};
use std::fmt;

/// One aggregation job's contribution to one batch.
#[derive(Clone, PartialEq, Eq)]
pub struct BatchAggregation {
    pub task_id: TaskId,
    /// The batch: for a time-interval task, the `time_precision` bucket the
    /// reports fall in; for a fixed-size task, the batch ID.
    pub batch_identifier: BatchIdentifier,
    /// The VDAF aggregation parameter, opaque.
    pub aggregation_parameter: Vec<u8>,
    pub aggregation_job_id: AggregationJobId,
    /// The aggregate of the job's output shares for the batch, opaque
    /// (encoded by the protocol crate).
    pub aggregate_share: Vec<u8>,
    /// How many reports the aggregate share holds.
    pub report_count: u64,
    /// XOR of SHA-256 of those reports' IDs (DAP-09 section 4.6.2).
    pub checksum: ReportIdChecksum,
    /// The smallest interval holding those reports' times.
    pub client_timestamp_interval: Interval,
}

impl fmt::Debug for BatchAggregation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchAggregation")
            .field("task_id", &self.task_id)
            .field("batch_identifier", &self.batch_identifier)
            .field("aggregation_parameter", &Len(&self.aggregation_parameter))
            .field("aggregation_job_id", &self.aggregation_job_id)
            .field("aggregate_share", &Len(&self.aggregate_share))
            .field("report_count", &self.report_count)
            .field("checksum", &self.checksum)
            .field("client_timestamp_interval", &self.client_timestamp_interval)
            .finish()
    }
}
