//! What the Helper's store knows about the reports of an
//! `AggregationJobInitReq` (DAP-09 section 4.5.1.4, "Input Share
//! Validation"), looked up in a transaction:
//!
//! - replay: a report seen before with aggregation parameters that make
//!   VDAF-08's `is_valid` false (`report_replayed`);
//! - collected: a report whose batch (time-interval: its time-precision
//!   bucket overlaps a collected batch interval; fixed-size: the job's
//!   batch ID) was already collected (`batch_collected`);
//! - capacity: for a fixed-size task with `max_batch_size`, how many more
//!   reports its batch may take (`batch_saturated`).
//!
//! The handler reads these before preparing (so no VDAF work is spent on
//! reports it will reject) and checks replay and collection again in the
//! transaction that stores the job, where they are authoritative.

use super::batch_of;
use crate::http::storable_time::is_storable_report_time;
use crate::vdaf_ops::agg_param_is_valid;
use dyad_core::task::Task;
use dyad_datastore::models::BatchIdentifier;
use dyad_datastore::{Transaction, TxError};
use dyad_messages::draft09::{Duration, PartialBatchSelector, ReportId, ReportMetadata};
use dyad_protocol::helper::ReportFacts;
use std::collections::{HashMap, HashSet};

/// The facts of one request.
#[derive(Clone, Debug, Default)]
pub struct InitFacts {
    pub replayed: HashSet<ReportId>,
    pub collected: HashSet<BatchIdentifier>,
    pub batch_capacity: Option<u64>,
    time_precision: Option<Duration>,
}

impl ReportFacts for InitFacts {
    fn is_replayed(&self, metadata: &ReportMetadata) -> bool {
        self.replayed.contains(&metadata.id)
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
        identifier.is_some_and(|b| self.collected.contains(&b))
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
        replayed: replayed_reports(tx, task, agg_param, reports).await?,
        collected: collected_batches(tx, task, selector, reports).await?,
        batch_capacity: batch_capacity(tx, task, selector, agg_param).await?,
        time_precision: Some(task.time_precision()),
    })
}

/// The reports that may not be aggregated with `agg_param` because of the
/// parameters they were aggregated with before.
pub async fn replayed_reports(
    tx: &mut dyn Transaction,
    task: &Task,
    agg_param: &[u8],
    reports: &[ReportMetadata],
) -> Result<HashSet<ReportId>, TxError> {
    if reports.is_empty() {
        return Ok(HashSet::new());
    }
    let ids: Vec<ReportId> = reports.iter().map(|r| r.id).collect();
    let seen = tx
        .get_helper_seen_aggregation_parameters(task.task_id(), &ids)
        .await?;
    let mut previous: HashMap<ReportId, Vec<Vec<u8>>> = HashMap::new();
    for (report_id, param) in seen {
        previous.entry(report_id).or_default().push(param);
    }
    Ok(previous
        .into_iter()
        .filter(|(_, params)| !agg_param_is_valid(task.vdaf(), agg_param, params))
        .map(|(report_id, _)| report_id)
        .collect())
}

/// The batches among those of `reports` that were collected.
pub async fn collected_batches(
    tx: &mut dyn Transaction,
    task: &Task,
    selector: &PartialBatchSelector,
    reports: &[ReportMetadata],
) -> Result<HashSet<BatchIdentifier>, TxError> {
    // A report whose time cannot be stored is refused as too early
    // whatever its batch holds (see `crate::http::storable_time`); its batch is
    // not looked up.
    let batches: HashSet<BatchIdentifier> = reports
        .iter()
        .filter(|r| is_storable_report_time(task, r.time))
        .filter_map(|r| batch_of(task, r.time, selector))
        .collect();
    let mut collected = HashSet::new();
    for batch in batches {
        if tx.is_batch_collected(task.task_id(), &batch, None).await? {
            collected.insert(batch);
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
