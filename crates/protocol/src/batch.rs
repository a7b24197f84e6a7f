//! Batches and their rules: DAP-09 section 4.1 ("Queries") and section 4.6.5
//! ("Batch Validation"), plus the arithmetic the rest of the protocol needs
//! around batches. A batch as a query names it is a [`QueriedBatch`] (with
//! its `BatchSelector` / `PartialBatchSelector` forms); what the store
//! knows about it (how many reports it holds, with which aggregation
//! parameters it was collected, which intervals were collected before)
//! comes in as [`BatchFacts`].
//!
//! # Where is
//!
//! | rule | DAP-09 | function |
//! |---|---|---|
//! | a message's query type must be the task's (`invalidMessage`) | 4.1, 4.5.1.1, 4.6.1 | [`check_query_type`] |
//! | batch validation, the four checks in the spec's order | 4.6.5 | [`validate_batch`] |
//! | time_interval boundary: aligned to `time_precision` (`batchInvalid`) | 4.6.5.1.1 | [`check_time_interval_boundary`] |
//! | fixed_size boundary: the batch ID must be known (`batchInvalid`) | 4.6.5.2.1 | [`check_fixed_size_batch_known`] |
//! | size: `min_batch_size` / `max_batch_size` (`invalidBatchSize`) | 4.6.5.1.2, 4.6.5.2.2 | [`check_batch_size`] |
//! | query count: `max_batch_query_count` (`batchQueriedTooManyTimes`) | 4.6.5 | [`check_query_count`] |
//! | the levels of a batch's parameters: a new one names a level not collected yet, in any order (`invalidMessage`) | 4.6.5, VDAF-08 8.2.3 | [`check_agg_param_sequence`] |
//! | time_interval overlap with a collected interval (`batchOverlap`) | 4.6.5 | [`check_time_interval_overlap`] |
//! | a report in a collected time_interval batch (`batch_collected`) | 4.4.2, 4.5.1.4 | [`time_in_collected_interval`] |
//! | the time-precision bucket of a report; the buckets of an interval | 4.1.1 | [`bucket_of`], [`buckets_in`] |
//! | `Collection.interval`: the aligned interval holding every timestamp | 4.6.1 | [`TimestampSpan::aligned_interval`] |
//! | `AggregateShareReq.checksum`: XOR of the SHA-256 of the report IDs | 4.6.2 | [`report_id_checksum`], [`checksum_of`] |

use crate::error::ProtocolError;
use dyad_core::task::{BatchMode, Task};
use dyad_messages::draft09::{
    BatchId, BatchSelector, Duration, Interval, PartialBatchSelector, QueryType, ReportId,
    ReportIdChecksum, Time,
};
use dyad_messages::problem::DapProblemType;
use sha2::{Digest, Sha256};

/// The whole batch a query names (DAP-09 section 4.1): the Collector's
/// batch interval (time_interval) or a batch ID (fixed_size), the value of
/// a `BatchSelector`. It is what collection rules judge; the datastore
/// keeps its own key for stored rows (which may also be a single
/// time-precision bucket), and the aggregator converts between the two.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QueriedBatch {
    TimeInterval(Interval),
    FixedSize(BatchId),
}

impl QueriedBatch {
    /// The query type the batch belongs to.
    pub fn query_type(&self) -> QueryType {
        match self {
            QueriedBatch::TimeInterval(_) => QueryType::TimeInterval,
            QueriedBatch::FixedSize(_) => QueryType::FixedSize,
        }
    }

    /// The `BatchSelector` of an `AggregateShareReq` / `AggregateShareAad`.
    pub fn batch_selector(&self) -> BatchSelector {
        match self {
            QueriedBatch::TimeInterval(interval) => BatchSelector::TimeInterval(*interval),
            QueriedBatch::FixedSize(batch_id) => BatchSelector::FixedSize(*batch_id),
        }
    }

    /// The `PartialBatchSelector` of an aggregation job or a `Collection`.
    pub fn partial_batch_selector(&self) -> PartialBatchSelector {
        match self {
            QueriedBatch::TimeInterval(_) => PartialBatchSelector::TimeInterval,
            QueriedBatch::FixedSize(batch_id) => PartialBatchSelector::FixedSize(*batch_id),
        }
    }
}

impl From<BatchSelector> for QueriedBatch {
    fn from(selector: BatchSelector) -> Self {
        match selector {
            BatchSelector::TimeInterval(interval) => QueriedBatch::TimeInterval(interval),
            BatchSelector::FixedSize(batch_id) => QueriedBatch::FixedSize(batch_id),
        }
    }
}

impl From<QueriedBatch> for BatchSelector {
    fn from(identifier: QueriedBatch) -> Self {
        identifier.batch_selector()
    }
}

/// The task's query type (DAP-09 section 4.1).
pub fn task_query_type(task: &Task) -> QueryType {
    match task.batch_mode() {
        BatchMode::TimeInterval => QueryType::TimeInterval,
        BatchMode::FixedSize { .. } => QueryType::FixedSize,
    }
}

/// The query type of a message must be the task's; otherwise the receiver
/// aborts with `invalidMessage` (DAP-09 sections 4.5.1.1, 4.6.1, 4.6.2).
pub fn check_query_type(task: &Task, found: QueryType) -> Result<(), ProtocolError> {
    let expected = task_query_type(task);
    if found == expected {
        Ok(())
    } else {
        Err(ProtocolError::invalid_message(format!(
            "query type {found} does not match the task's {expected}"
        ))
        .with_task_id(*task.task_id()))
    }
}

/// The start of the `precision`-aligned bucket holding `time`.
pub fn bucket_start(time: Time, precision: Duration) -> Time {
    time.to_batch_interval_start(precision)
}

/// The `precision`-aligned bucket `[start, start + precision)` holding
/// `time`, or `None` if its end does not fit in a `Time` (or the precision is
/// zero).
pub fn bucket_of(time: Time, precision: Duration) -> Option<Interval> {
    if precision == Duration::ZERO {
        return None;
    }
    Interval::new(bucket_start(time, precision), precision).ok()
}

/// The `precision`-aligned buckets an interval covers, in order. The
/// interval must pass [`check_time_interval_boundary`]; otherwise
/// `batchInvalid`. Lazy: a long interval costs nothing until iterated.
pub fn buckets_in(
    interval: Interval,
    precision: Duration,
) -> Result<impl Iterator<Item = Interval>, ProtocolError> {
    check_time_interval_boundary(interval, precision)?;
    let p = precision.as_seconds();
    let start = interval.start().as_seconds_since_epoch();
    let count = interval.duration().as_seconds() / p;
    Ok((0..count).filter_map(move |i| {
        let bucket_start = Time::from_seconds_since_epoch(start + i * p);
        Interval::new(bucket_start, precision).ok()
    }))
}

/// Boundary check for time_interval queries (DAP-09 section 4.6.5.1.1):
/// `duration >= time_precision`, and both `start` and `duration` divisible by
/// `time_precision`. Otherwise `batchInvalid`.
pub fn check_time_interval_boundary(
    interval: Interval,
    precision: Duration,
) -> Result<(), ProtocolError> {
    let p = precision.as_seconds();
    let start = interval.start().as_seconds_since_epoch();
    let duration = interval.duration().as_seconds();
    if p == 0 {
        return Err(ProtocolError::internal("task time precision is zero"));
    }
    if duration < p || !start.is_multiple_of(p) || !duration.is_multiple_of(p) {
        return Err(ProtocolError::new(
            DapProblemType::BatchInvalid,
            format!("batch interval {interval} is not aligned to the time precision {precision}"),
        ));
    }
    Ok(())
}

/// Boundary check for fixed_size queries (DAP-09 section 4.6.5.2.1): the
/// batch ID must be known (for the Leader, one it returned in a previous
/// collection or chose for the collection job; for the Helper, one used in a
/// previous `AggregationJobInitReq`). Otherwise `batchInvalid`.
pub fn check_fixed_size_batch_known(batch_id: &BatchId, known: bool) -> Result<(), ProtocolError> {
    if known {
        Ok(())
    } else {
        Err(ProtocolError::new(
            DapProblemType::BatchInvalid,
            format!("unknown batch {batch_id}"),
        ))
    }
}

/// Size check (DAP-09 sections 4.6.5.1.2 and 4.6.5.2.2): at least
/// `min_batch_size` reports, and for fixed_size tasks with a
/// `max_batch_size`, at most that. Otherwise `invalidBatchSize` (the Helper
/// aborts; the Leader should wait for more reports and try again).
pub fn check_batch_size(task: &Task, report_count: u64) -> Result<(), ProtocolError> {
    let min = task.min_batch_size();
    if report_count < min {
        return Err(ProtocolError::new(
            DapProblemType::InvalidBatchSize,
            format!("batch holds {report_count} reports, fewer than min_batch_size {min}"),
        ));
    }
    if let Some(max) = task.max_batch_size() {
        if report_count > max {
            return Err(ProtocolError::new(
                DapProblemType::InvalidBatchSize,
                format!("batch holds {report_count} reports, more than max_batch_size {max}"),
            ));
        }
    }
    Ok(())
}

/// Query-count check (DAP-09 section 4.6.5): a batch may be queried with at
/// most `max_batch_query_count` distinct aggregation parameters. Collecting
/// again with a parameter already used does not count anew; a new one that
/// would exceed the limit is `batchQueriedTooManyTimes`.
pub fn check_query_count<P: AsRef<[u8]>>(
    task: &Task,
    previous_agg_params: &[P],
    agg_param: &[u8],
) -> Result<(), ProtocolError> {
    let mut distinct: Vec<&[u8]> = previous_agg_params.iter().map(AsRef::as_ref).collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.contains(&agg_param) {
        return Ok(());
    }
    let would_be = u64::try_from(distinct.len())
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    if would_be > task.max_batch_query_count() {
        return Err(ProtocolError::new(
            DapProblemType::BatchQueriedTooManyTimes,
            format!(
                "batch already queried with {} aggregation parameters, max_batch_query_count is {}",
                distinct.len(),
                task.max_batch_query_count()
            ),
        ));
    }
    Ok(())
}

/// Which parameters may follow one another on one batch (DAP-09 section
/// 4.6.5 counts them, VDAF-08 section 8.2.3 says which; the rule for each
/// VDAF is [`VdafInstance::check_batch_agg_params`]): a parameter already
/// used is the same collection again; a new one of a levelled VDAF
/// (Poplar1) must name a level the batch was not collected at yet, deeper
/// or shallower. Otherwise `invalidMessage`, as is a malformed parameter.
///
/// [`VdafInstance::check_batch_agg_params`]: dyad_core::vdaf::VdafInstance::check_batch_agg_params
pub fn check_agg_param_sequence<P: AsRef<[u8]>>(
    task: &Task,
    previous_agg_params: &[P],
    agg_param: &[u8],
) -> Result<(), ProtocolError> {
    let previous: Vec<Vec<u8>> = previous_agg_params
        .iter()
        .map(|p| p.as_ref().to_vec())
        .collect();
    task.vdaf()
        .check_batch_agg_params(agg_param, &previous)
        .map_err(|e| ProtocolError::invalid_message(e.to_string()))
}

/// Overlap check for time_interval tasks (DAP-09 section 4.6.5): a query
/// interval that overlaps a previously collected interval without being
/// identical to it is `batchOverlap`. An identical interval is the same batch
/// collected again (bounded by [`check_query_count`]).
pub fn check_time_interval_overlap(
    interval: Interval,
    previously_collected: &[Interval],
) -> Result<(), ProtocolError> {
    match previously_collected
        .iter()
        .find(|previous| **previous != interval && previous.overlaps(&interval))
    {
        Some(previous) => Err(ProtocolError::new(
            DapProblemType::BatchOverlap,
            format!("batch interval {interval} overlaps the collected interval {previous}"),
        )),
        None => Ok(()),
    }
}

/// What the store knows about a batch, for [`validate_batch`].
#[derive(Clone, Copy, Debug)]
pub struct BatchFacts<'a, P: AsRef<[u8]> = Vec<u8>> {
    /// How many reports were successfully aggregated into the batch.
    pub report_count: u64,
    /// The aggregation parameters the batch was collected with before (for
    /// the Helper: answered `AggregateShareReq`s; for the Leader: collection
    /// jobs), repeats allowed.
    pub previous_agg_params: &'a [P],
    /// time_interval: the batch intervals collected before for the task.
    pub previously_collected_intervals: &'a [Interval],
    /// fixed_size: whether the batch ID is known (see
    /// [`check_fixed_size_batch_known`]).
    pub batch_id_known: bool,
}

/// Batch validation (DAP-09 section 4.6.5), in the spec's order: query type
/// (`invalidMessage`), boundary (`batchInvalid`), size (`invalidBatchSize`),
/// query count (`batchQueriedTooManyTimes`), then the order of the batch's
/// parameters ([`check_agg_param_sequence`], `invalidMessage`), overlap
/// (`batchOverlap`).
pub fn validate_batch<P: AsRef<[u8]>>(
    task: &Task,
    batch: &QueriedBatch,
    agg_param: &[u8],
    facts: &BatchFacts<'_, P>,
) -> Result<(), ProtocolError> {
    let with_task = |e: ProtocolError| e.with_task_id(*task.task_id());
    check_query_type(task, batch.query_type())?;
    match batch {
        QueriedBatch::TimeInterval(interval) => {
            check_time_interval_boundary(*interval, task.time_precision()).map_err(with_task)?
        }
        QueriedBatch::FixedSize(batch_id) => {
            check_fixed_size_batch_known(batch_id, facts.batch_id_known).map_err(with_task)?
        }
    }
    check_batch_size(task, facts.report_count).map_err(with_task)?;
    check_query_count(task, facts.previous_agg_params, agg_param).map_err(with_task)?;
    check_agg_param_sequence(task, facts.previous_agg_params, agg_param).map_err(with_task)?;
    if let QueriedBatch::TimeInterval(interval) = batch {
        check_time_interval_overlap(*interval, facts.previously_collected_intervals)
            .map_err(with_task)?;
    }
    Ok(())
}

/// Whether a report with timestamp `time` pertains to one of the collected
/// time_interval batches (DAP-09 sections 4.4.2 and 4.5.1.4: such reports are
/// ignored by the Leader and rejected by the Helper with `batch_collected`).
/// For fixed_size tasks the question is whether the job's batch ID was
/// collected, which the caller answers directly.
pub fn time_in_collected_interval(time: Time, collected: &[Interval]) -> bool {
    collected.iter().any(|interval| interval.contains(time))
}

/// The earliest and latest report timestamps of a set of reports, from
/// which the `Collection.interval` is computed (DAP-09 section 4.6.1).
/// Mergeable, so a store can keep one per bucket and combine them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TimestampSpan {
    bounds: Option<(Time, Time)>,
}

impl TimestampSpan {
    /// The empty span.
    pub const EMPTY: TimestampSpan = TimestampSpan { bounds: None };

    /// The span of the given timestamps.
    pub fn of(times: impl IntoIterator<Item = Time>) -> Self {
        let mut span = Self::EMPTY;
        for time in times {
            span.add(time);
        }
        span
    }

    /// The span `[earliest, latest]`, if not empty.
    pub fn bounds(&self) -> Option<(Time, Time)> {
        self.bounds
    }

    /// Includes one timestamp.
    pub fn add(&mut self, time: Time) {
        self.bounds = Some(match self.bounds {
            None => (time, time),
            Some((lo, hi)) => (lo.min(time), hi.max(time)),
        });
    }

    /// Includes another span.
    pub fn merge(&mut self, other: &TimestampSpan) {
        if let Some((lo, hi)) = other.bounds {
            self.add(lo);
            self.add(hi);
        }
    }

    /// The smallest interval whose start and duration are multiples of
    /// `precision` and which contains every timestamp; the empty interval
    /// for an empty span. Fails if the end would overflow a `Time`.
    pub fn aligned_interval(&self, precision: Duration) -> Result<Interval, ProtocolError> {
        let Some((lo, hi)) = self.bounds else {
            return Ok(Interval::EMPTY);
        };
        let start = bucket_start(lo, precision);
        let end = bucket_of(hi, precision)
            .ok_or_else(|| ProtocolError::internal("report timestamp bucket overflows"))?
            .end();
        let duration = end
            .checked_difference(start)
            .ok_or_else(|| ProtocolError::internal("timestamp span is inverted"))?;
        Interval::new(start, duration).map_err(|e| ProtocolError::internal(e.to_string()))
    }
}

/// The checksum contribution of one report: the SHA-256 hash of its ID
/// (DAP-09 section 4.6.2).
pub fn report_id_checksum(report_id: &ReportId) -> ReportIdChecksum {
    ReportIdChecksum(Sha256::digest(report_id.as_bytes()).into())
}

/// The checksum of a set of reports: the XOR of the SHA-256 hashes of their
/// IDs (DAP-09 section 4.6.2). Order does not matter.
pub fn checksum_of<'a>(report_ids: impl IntoIterator<Item = &'a ReportId>) -> ReportIdChecksum {
    report_ids
        .into_iter()
        .fold(ReportIdChecksum::default(), |sum, id| {
            sum.combined_with(&report_id_checksum(id))
        })
}

#[cfg(test)]
#[path = "batch_tests.rs"]
mod tests;
