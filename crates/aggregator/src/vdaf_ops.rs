//! The aggregator's VDAF work that is not preparation, each function one
//! `vdaf_dispatch!` over the task's VDAF around `dyad-protocol`'s generic
//! code: checking that an upload's shares decode, checking an aggregation
//! parameter, and folding output shares and aggregate shares into the
//! per-job, per-batch rows the datastore keeps (DAP-09 section 4.6.2's
//! implementation note: aggregate as output shares arrive).
//!
//! ## Where is
//!
//! - an upload's public share and Leader input share decode (4.4.2) →
//!   [`check_report_shares`]
//! - an aggregation parameter decodes → [`check_agg_param`]
//! - anti-replay across aggregation parameters (VDAF-08 `is_valid`) →
//!   [`dyad_protocol::replay::is_valid`]
//! - output shares folded into per-job, per-batch rows as they arrive (4.6.2
//!   note) → [`fold_output_shares`], [`merge_job_rows`]
//! - a batch's rows summed for an aggregate share → [`merge_rows`]
//! - a deleted job's contribution withdrawn → [`emptied_row`]
//! - the task's differential-privacy noise on an aggregate share, before it
//!   is sealed (7.4) → [`add_task_noise`]

use crate::convert::{interval_to_span, span_to_interval};
use dyad_core::task::Task;
use dyad_core::vdaf_dispatch;
use dyad_datastore::models::{BatchAggregation, BatchIdentifier};
use dyad_messages::draft09::{AggregationJobId, ReportId, ReportIdChecksum, Time};
use dyad_protocol::accumulate::{aggregate_output_shares, AccumulatedBatch, BatchAccumulator};
use dyad_protocol::upload::{check_shares_decode, UploadError, ValidatedReport};
use dyad_protocol::vdaf_codec::{decode_agg_param, DapAggregator};
use dyad_protocol::ProtocolError;
use std::collections::HashMap;

/// `invalidMessage` unless `agg_param` decodes as the task's VDAF's
/// aggregation parameter.
pub fn check_agg_param(task: &Task, agg_param: &[u8]) -> Result<(), ProtocolError> {
    vdaf_dispatch!(task.vdaf(), |vdaf, V, VERIFY_KEY_LEN| {
        decode_agg_param::<V>(agg_param).map(|_| ()).map_err(|e| {
            ProtocolError::invalid_message(format!("aggregation parameter: {e}"))
                .with_task_id(*task.task_id())
        })
    })
}

/// Upload validation's last step (DAP-09 section 4.4.2): the report's
/// public share and the Leader's input share decode with the task's VDAF.
pub fn check_report_shares(task: &Task, report: &ValidatedReport) -> Result<(), UploadError> {
    let instance = *task.vdaf();
    let checked = vdaf_dispatch!(instance, |vdaf, V, VERIFY_KEY_LEN| {
        Ok::<_, prio::vdaf::VdafError>(check_shares_decode(&vdaf, &instance, report))
    });
    match checked {
        Ok(result) => result,
        // prio refused to construct the task's VDAF: the task is unusable,
        // and the report cannot be checked against it.
        Err(e) => Err(UploadError::UndecodableShare {
            part: "public share",
            vdaf: instance.to_string(),
            cause: format!("the task's VDAF cannot be constructed: {e}"),
        }),
    }
}

/// A report whose preparation finished, with its encoded output share.
#[derive(Clone, Copy)]
pub struct FinishedReport<'a> {
    pub report_id: ReportId,
    pub time: Time,
    pub output_share: &'a [u8],
    /// The batch the report counts in (time-interval tasks: its
    /// time-precision bucket; fixed-size: the job's batch ID).
    pub batch: BatchIdentifier,
}

/// One [`BatchAggregation`] row per batch for the output shares of `job`.
pub fn fold_output_shares(
    task: &Task,
    job: AggregationJobId,
    agg_param: &[u8],
    reports: &[FinishedReport<'_>],
) -> Result<Vec<BatchAggregation>, ProtocolError> {
    vdaf_dispatch!(task.vdaf(), |vdaf, V, VERIFY_KEY_LEN| {
        fold::<V, VERIFY_KEY_LEN>(&vdaf, task, job, agg_param, reports)
    })
}

fn fold<V: DapAggregator<L>, const L: usize>(
    vdaf: &V,
    task: &Task,
    job: AggregationJobId,
    agg_param: &[u8],
    reports: &[FinishedReport<'_>],
) -> Result<Vec<BatchAggregation>, ProtocolError> {
    let mut order = Vec::new();
    let mut batches: HashMap<BatchIdentifier, BatchAccumulator<'_, V, L>> = HashMap::new();
    for report in reports {
        let accumulator = match batches.entry(report.batch) {
            std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => {
                order.push(report.batch);
                entry.insert(BatchAccumulator::new(vdaf, agg_param)?)
            }
        };
        accumulator.add_report(&report.report_id, report.time, report.output_share)?;
    }
    let mut rows = Vec::with_capacity(order.len());
    for batch in order {
        let Some(accumulator) = batches.remove(&batch) else {
            continue;
        };
        rows.push(to_row(task, job, agg_param, batch, accumulator.finish()?));
    }
    Ok(rows)
}

fn to_row(
    task: &Task,
    job: AggregationJobId,
    agg_param: &[u8],
    batch: BatchIdentifier,
    accumulated: AccumulatedBatch,
) -> BatchAggregation {
    BatchAggregation {
        task_id: *task.task_id(),
        batch_identifier: batch,
        aggregation_parameter: agg_param.to_vec(),
        aggregation_job_id: job,
        aggregate_share: accumulated.aggregate_share,
        report_count: accumulated.report_count,
        checksum: accumulated.checksum,
        client_timestamp_interval: span_to_interval(&accumulated.span),
    }
}

fn from_row(row: &BatchAggregation) -> AccumulatedBatch {
    AccumulatedBatch {
        aggregate_share: row.aggregate_share.clone(),
        report_count: row.report_count,
        checksum: row.checksum,
        span: interval_to_span(&row.client_timestamp_interval),
    }
}

/// The sum of stored rows (of one batch, or of one bucket each of a batch
/// interval): aggregate share, report count, checksum and timestamps.
pub fn merge_rows(
    task: &Task,
    agg_param: &[u8],
    rows: &[BatchAggregation],
) -> Result<AccumulatedBatch, ProtocolError> {
    vdaf_dispatch!(task.vdaf(), |vdaf, V, VERIFY_KEY_LEN| {
        let mut accumulator = BatchAccumulator::<V, VERIFY_KEY_LEN>::new(&vdaf, agg_param)?;
        for row in rows {
            accumulator.merge(&from_row(row))?;
        }
        accumulator.finish()
    })
}

/// `batch`'s aggregate share with the task's differential-privacy noise
/// added (nothing for `NoDifferentialPrivacy`), through `prio`'s samplers
/// ([`dyad_core::vdaf::add_noise_to_aggregate_share`]). Every call draws
/// fresh noise, so each role calls it once per share it seals and stores:
/// the Helper inside the transaction that stores its answer, the Leader on
/// the share its finished collection job stores.
pub fn add_task_noise(task: &Task, batch: &mut AccumulatedBatch) -> Result<(), ProtocolError> {
    if task.dp_strategy().is_none() {
        return Ok(());
    }
    batch.aggregate_share = dyad_core::vdaf::add_noise_to_aggregate_share(
        task.vdaf(),
        task.dp_strategy(),
        &batch.aggregate_share,
        batch.report_count,
    )
    .map_err(|e| {
        ProtocolError::internal(format!("adding differential-privacy noise: {e}"))
            .with_task_id(*task.task_id())
    })?;
    tracing::debug!(
        task_id = %task.task_id(),
        dp_strategy = task.dp_strategy().name(),
        "added differential-privacy noise to the aggregate share"
    );
    Ok(())
}

/// A job's rows after a step: each of `added` merged into the job's
/// `existing` row for the same batch, if any (rows are per job and batch,
/// and writing one replaces the job's earlier row).
pub fn merge_job_rows(
    task: &Task,
    existing: &[BatchAggregation],
    added: Vec<BatchAggregation>,
) -> Result<Vec<BatchAggregation>, ProtocolError> {
    let mut merged = Vec::with_capacity(added.len());
    for row in added {
        let earlier = existing.iter().find(|e| {
            e.batch_identifier == row.batch_identifier
                && e.aggregation_parameter == row.aggregation_parameter
        });
        match earlier {
            None => merged.push(row),
            Some(earlier) => {
                let sum = merge_rows(
                    task,
                    &row.aggregation_parameter,
                    &[earlier.clone(), row.clone()],
                )?;
                merged.push(BatchAggregation {
                    aggregate_share: sum.aggregate_share,
                    report_count: sum.report_count,
                    checksum: sum.checksum,
                    client_timestamp_interval: span_to_interval(&sum.span),
                    ..row
                });
            }
        }
    }
    Ok(merged)
}

/// `row` with nothing in it: the VDAF's empty aggregate share, no reports.
/// Writing it withdraws a job's contribution to the batch.
pub fn emptied_row(task: &Task, row: &BatchAggregation) -> Result<BatchAggregation, ProtocolError> {
    let empty = vdaf_dispatch!(task.vdaf(), |vdaf, V, VERIFY_KEY_LEN| {
        aggregate_output_shares::<V, VERIFY_KEY_LEN>(&vdaf, &row.aggregation_parameter, None, [])
    })?;
    Ok(BatchAggregation {
        aggregate_share: empty,
        report_count: 0,
        checksum: ReportIdChecksum::default(),
        client_timestamp_interval: dyad_messages::draft09::Interval::EMPTY,
        ..row.clone()
    })
}
