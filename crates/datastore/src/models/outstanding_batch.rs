//! Outstanding batches of fixed-size tasks (DAP-09 section 4.1.2), which
//! only the Leader has: the batches the aggregation job creator is filling.
//!
//! `size` counts the reports assigned to the batch by aggregation jobs (not
//! yet necessarily aggregated); a batch is `filled` once it reached its
//! target size, and `collected` once a `current_batch` query took it (the
//! Leader must pick "a batch that has not yet been associated with a
//! collection job", section 4.1.2).

use dyad_messages::draft09::{BatchId, TaskId, Time};

/// One batch of a fixed-size task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutstandingBatch {
    pub task_id: TaskId,
    pub batch_id: BatchId,
    /// When the batch was created (set by the datastore).
    pub created_at: Time,
    /// Reports assigned to the batch so far.
    pub size: u64,
    /// Whether the batch reached its target size (no more reports go in).
    pub filled: bool,
    /// Whether a collection job took the batch.
    pub collected: bool,
}

/// Room reserved in a batch for reports of a new aggregation job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchReservation {
    pub batch_id: BatchId,
    /// How many reports may go into the batch (at least 1, at most as many
    /// as asked for).
    pub reserved: u64,
    /// Whether the batch was created for this reservation.
    pub created: bool,
}
