//! The Leader's batch aggregations: one row per (aggregation job, batch)
//! holding the aggregate of the job's output shares for that batch, with the
//! report count, the report-ID checksum and the client timestamp interval
//! (DAP-09 section 4.6.2, implementation note: aggregate output shares as they
//! arrive).
//!
//! The batch of a prepared report is, for a time-interval task, the
//! `time_precision` bucket its timestamp falls in (collection sums every
//! bucket of the query interval, section 4.6.5.1.1 makes them line up); for a
//! fixed-size task, the batch ID of its aggregation job.
//!
//! - [`accumulate_job_outputs`]: a step's newly prepared reports, folded into
//!   the job's existing rows, giving the rows to write;
//! - [`merge_batch`]: every job's rows for a batch, merged into the batch's
//!   aggregate (for collection).

use dyad_core::task::{BatchMode, Task};
use dyad_datastore::models::{AggregationJob, BatchAggregation, BatchIdentifier};
use dyad_messages::draft09::{Duration, Interval, ReportId, Time};
use dyad_protocol::accumulate::{AccumulatedBatch, BatchAccumulator};
use dyad_protocol::batch::{bucket_of, TimestampSpan};
use dyad_protocol::vdaf_codec::DapAggregator;
use dyad_protocol::ProtocolError;
use std::collections::BTreeMap;

/// A report whose preparation finished in this step.
#[derive(Clone)]
pub(crate) struct PreparedReport {
    pub report_id: ReportId,
    pub time: Time,
    /// The encoded output share (secret).
    pub output_share: Vec<u8>,
}

/// The batch a report of `job` belongs to.
pub(crate) fn batch_of(
    task: &Task,
    job: &AggregationJob,
    time: Time,
) -> Result<BatchIdentifier, ProtocolError> {
    match task.batch_mode() {
        BatchMode::TimeInterval => bucket_of(time, task.time_precision())
            .map(BatchIdentifier::TimeInterval)
            .ok_or_else(|| ProtocolError::internal("report time bucket overflows")),
        BatchMode::FixedSize { .. } => {
            job.batch_id.map(BatchIdentifier::FixedSize).ok_or_else(|| {
                ProtocolError::internal("fixed-size aggregation job without a batch ID")
            })
        }
    }
}

/// The timestamps a stored client interval `[start, end)` stands for.
fn span_of(interval: &Interval) -> TimestampSpan {
    match interval.end().checked_sub(Duration::from_seconds(1)) {
        Some(last) if interval.duration() != Duration::ZERO => {
            TimestampSpan::of([interval.start(), last])
        }
        _ => TimestampSpan::EMPTY,
    }
}

/// The smallest interval holding a span's timestamps.
pub(crate) fn interval_of(span: &TimestampSpan) -> Result<Interval, ProtocolError> {
    let Some((first, last)) = span.bounds() else {
        return Ok(Interval::EMPTY);
    };
    Interval::EMPTY
        .merged_with(first)
        .and_then(|interval| interval.merged_with(last))
        .map_err(|e| ProtocolError::internal(e.to_string()))
}

fn accumulated(row: &BatchAggregation) -> AccumulatedBatch {
    AccumulatedBatch {
        aggregate_share: row.aggregate_share.clone(),
        report_count: row.report_count,
        checksum: row.checksum,
        span: span_of(&row.client_timestamp_interval),
    }
}

/// Folds the reports `prepared` in this step into the job's `existing`
/// rows; returns the rows to write (those of the batches touched).
pub(crate) fn accumulate_job_outputs<V, const L: usize>(
    vdaf: &V,
    task: &Task,
    job: &AggregationJob,
    existing: &[BatchAggregation],
    prepared: &[PreparedReport],
) -> Result<Vec<BatchAggregation>, ProtocolError>
where
    V: DapAggregator<L>,
{
    let mut by_batch: BTreeMap<Vec<u8>, (BatchIdentifier, BatchAccumulator<'_, V, L>)> =
        BTreeMap::new();
    for report in prepared {
        let batch = batch_of(task, job, report.time)?;
        let key = batch.to_bytes();
        if !by_batch.contains_key(&key) {
            let mut accumulator = BatchAccumulator::new(vdaf, &job.aggregation_parameter)?;
            if let Some(row) = existing.iter().find(|row| row.batch_identifier == batch) {
                accumulator.merge(&accumulated(row))?;
            }
            by_batch.insert(key.clone(), (batch, accumulator));
        }
        if let Some((_, accumulator)) = by_batch.get_mut(&key) {
            accumulator.add_report(&report.report_id, report.time, &report.output_share)?;
        }
    }
    by_batch
        .into_values()
        .map(|(batch, accumulator)| {
            let batch_aggregate = accumulator.finish()?;
            Ok(BatchAggregation {
                task_id: *task.task_id(),
                batch_identifier: batch,
                aggregation_parameter: job.aggregation_parameter.clone(),
                aggregation_job_id: job.aggregation_job_id,
                aggregate_share: batch_aggregate.aggregate_share,
                report_count: batch_aggregate.report_count,
                checksum: batch_aggregate.checksum,
                client_timestamp_interval: interval_of(&batch_aggregate.span)?,
            })
        })
        .collect()
}

/// Merges the rows of one batch (every job, every bucket) into the batch's
/// aggregate share, report count, checksum and timestamp span.
pub(crate) fn merge_batch<V, const L: usize>(
    vdaf: &V,
    aggregation_parameter: &[u8],
    rows: &[BatchAggregation],
) -> Result<AccumulatedBatch, ProtocolError>
where
    V: DapAggregator<L>,
{
    let mut accumulator = BatchAccumulator::new(vdaf, aggregation_parameter)?;
    for row in rows {
        accumulator.merge(&accumulated(row))?;
    }
    accumulator.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(seconds: u64) -> Time {
        Time::from_seconds_since_epoch(seconds)
    }

    #[test]
    fn spans_and_intervals_correspond() {
        let span = TimestampSpan::of([time(100), time(250)]);
        let interval = interval_of(&span).unwrap();
        assert_eq!(interval.start(), time(100));
        assert_eq!(interval.end(), time(251));
        assert_eq!(span_of(&interval), span);
        let single = interval_of(&TimestampSpan::of([time(7)])).unwrap();
        assert_eq!((single.start(), single.end()), (time(7), time(8)));
        assert_eq!(interval_of(&TimestampSpan::EMPTY).unwrap(), Interval::EMPTY);
        assert_eq!(span_of(&Interval::EMPTY), TimestampSpan::EMPTY);
    }
}
