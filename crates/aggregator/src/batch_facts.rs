//! What the datastore knows about a batch that batch validation (DAP-09
//! section 4.6.5) needs, read once for the Leader (a collection job's
//! batch, `leader::collection_batch`) and the Helper (an
//! `AggregateShareReq`, `helper::aggregate_share_req`) alike.
//!
//! Where is: the reads → [`StoredBatchFacts::read`]; the facts handed to
//! the protocol's validation → [`StoredBatchFacts::with_report_count`].

use dyad_datastore::models::BatchIdentifier;
use dyad_datastore::{Transaction, TxError};
use dyad_messages::draft09::{Interval, TaskId};
use dyad_protocol::batch::BatchFacts;

/// The stored half of [`BatchFacts`]: everything but the report count.
pub struct StoredBatchFacts {
    previous_agg_params: Vec<Vec<u8>>,
    previously_collected_intervals: Vec<Interval>,
    batch_id_known: bool,
}

impl StoredBatchFacts {
    /// Reads the facts of `batch` in the transaction: the aggregation
    /// parameters it was collected with, the intervals collected that touch
    /// it (time-interval), and whether any aggregation job used its batch ID
    /// (fixed-size).
    pub async fn read(
        tx: &mut dyn Transaction,
        task_id: &TaskId,
        batch: &BatchIdentifier,
    ) -> Result<Self, TxError> {
        let collected = tx.get_collected_batches(task_id, batch).await?;
        let batch_id_known = match batch {
            BatchIdentifier::FixedSize(batch_id) => {
                tx.aggregation_jobs_exist_for_batch_id(task_id, batch_id)
                    .await?
            }
            BatchIdentifier::TimeInterval(_) => true,
        };
        Ok(Self {
            previous_agg_params: collected
                .iter()
                .filter(|c| c.batch_identifier == *batch)
                .map(|c| c.aggregation_parameter.clone())
                .collect(),
            previously_collected_intervals: collected
                .iter()
                .filter_map(|c| c.batch_identifier.interval().copied())
                .collect(),
            batch_id_known,
        })
    }

    /// The facts for validating the batch with `report_count` reports.
    pub fn with_report_count(&self, report_count: u64) -> BatchFacts<'_> {
        BatchFacts {
            report_count,
            previous_agg_params: &self.previous_agg_params,
            previously_collected_intervals: &self.previously_collected_intervals,
            batch_id_known: self.batch_id_known,
        }
    }
}
