//! What the Helper's store knows about the reports of an
//! `AggregationJobInitReq` (DAP-09 section 4.5.1.4, "Input Share
//! Validation"), looked up in a transaction:
//!
//! - replay: the aggregation parameters each report was aggregated with
//!   before ([`super::replay::lookup_seen`]), which
//!   [`dyad_protocol::replay::decide`] judges (`report_replayed`);
//! - collected: a report whose batch (time-interval: its time-precision
//!   bucket overlaps a collected batch interval; fixed-size: the job's
//!   batch ID) was already collected (`batch_collected`): collected with
//!   the job's aggregation parameter, or collected at all and the report
//!   never aggregated before. A report that is already in a collected batch
//!   may be prepared again with a new parameter (Poplar1's next level,
//!   DAP-09 section 4.6.5 allows `max_batch_query_count` collections), but
//!   no new report joins it ([`collected_blocks`]);
//! - capacity: for a fixed-size task with `max_batch_size`, how many more
//!   reports its batch may take (`batch_saturated`).
//!
//! The handler reads these before preparing (so no VDAF work is spent on
//! reports it will reject) and checks replay and collection again in the
//! transaction that stores the job, where they are authoritative.

use super::{batch_of, replay};
use crate::http::storable_time::is_storable_report_time;
use dyad_core::task::Task;
use dyad_datastore::models::BatchIdentifier;
use dyad_datastore::{Transaction, TxError};
use dyad_messages::draft09::{Duration, PartialBatchSelector, ReportId, ReportMetadata};
use dyad_protocol::helper_init::ReportFacts;
use std::collections::{HashMap, HashSet};

/// The facts of one request.
#[derive(Clone, Debug, Default)]
pub struct InitFacts {
    pub seen_agg_params: HashMap<ReportId, Vec<Vec<u8>>>,
    /// The collected batches among the reports', and whether each was
    /// collected with the job's aggregation parameter.
    pub collected: HashMap<BatchIdentifier, bool>,
    pub batch_capacity: Option<u64>,
    time_precision: Option<Duration>,
}

impl ReportFacts for InitFacts {
    fn previous_agg_params(&self, metadata: &ReportMetadata) -> Vec<Vec<u8>> {
        self.seen_agg_params
            .get(&metadata.id)
            .cloned()
            .unwrap_or_default()
    }

    fn is_batch_collected(&self, metadata: &ReportMetadata, batch: &PartialBatchSelector) -> bool {
        let identifier = match batch {
            PartialBatchSelector::FixedSize(batch_id) => {
                Some(BatchIdentifier::FixedSize(*batch_id))
            }
            PartialBatchSelector::TimeInterval => self.time_precision.and_then(|precision| {
                dyad_protocol::batch::bucket_of(metadata.time, precision)
                    .map(BatchIdentifier::TimeInterval)
            }),
        };
        identifier.is_some_and(|b| {
            collected_blocks(&self.collected, &b, &self.previous_agg_params(metadata))
        })
    }
}

/// Looks up every fact of a request's reports.
pub async fn gather(
    tx: &mut dyn Transaction,
    task: &Task,
    agg_param: &[u8],
    selector: &PartialBatchSelector,
    reports: &[ReportMetadata],
) -> Result<InitFacts, TxError> {
    Ok(InitFacts {
        seen_agg_params: replay::lookup_seen(tx, task.task_id(), task.vdaf(), agg_param, reports)
            .await?,
        collected: collected_batches(tx, task, agg_param, selector, reports).await?,
        batch_capacity: batch_capacity(tx, task, selector, agg_param).await?,
        time_precision: Some(task.time_precision()),
    })
}

/// Whether a report of `batch`, aggregated before with `previous`, is
/// `batch_collected` (DAP-09 section 4.5.1.4): its batch was collected with
/// the job's parameter, or was collected and the report would join it anew.
pub fn collected_blocks(
    collected: &HashMap<BatchIdentifier, bool>,
    batch: &BatchIdentifier,
    previous: &[Vec<u8>],
) -> bool {
    match collected.get(batch) {
        Some(true) => true,
        Some(false) => previous.is_empty(),
        None => false,
    }
}

/// The batches among those of `reports` that were collected, each with
/// whether it was collected with `agg_param`.
pub async fn collected_batches(
    tx: &mut dyn Transaction,
    task: &Task,
    agg_param: &[u8],
    selector: &PartialBatchSelector,
    reports: &[ReportMetadata],
) -> Result<HashMap<BatchIdentifier, bool>, TxError> {
    // A report whose time cannot be stored is refused as too early
    // whatever its batch holds (see `crate::http::storable_time`); its batch is
    // not looked up.
    let batches: HashSet<BatchIdentifier> = reports
        .iter()
        .filter(|r| is_storable_report_time(task, r.time))
        .filter_map(|r| batch_of(task, r.time, selector))
        .collect();
    let mut collected = HashMap::new();
    for batch in batches {
        if tx.is_batch_collected(task.task_id(), &batch, None).await? {
            let with_param = tx
                .is_batch_collected(task.task_id(), &batch, Some(agg_param))
                .await?;
            collected.insert(batch, with_param);
        }
    }
    Ok(collected)
}

/// For a fixed-size task with a maximum batch size: the room left in the
/// job's batch (reports already aggregated into it with this parameter
/// count against it). `None`: unbounded.
pub async fn batch_capacity(
    tx: &mut dyn Transaction,
    task: &Task,
    selector: &PartialBatchSelector,
    agg_param: &[u8],
) -> Result<Option<u64>, TxError> {
    let (PartialBatchSelector::FixedSize(batch_id), Some(max)) = (selector, task.max_batch_size())
    else {
        return Ok(None);
    };
    let rows = tx
        .get_batch_aggregations_for_batch(
            task.task_id(),
            &BatchIdentifier::FixedSize(*batch_id),
            agg_param,
        )
        .await?;
    let aggregated = rows
        .iter()
        .fold(0u64, |sum, row| sum.saturating_add(row.report_count));
    Ok(Some(max.saturating_sub(aggregated)))
}
