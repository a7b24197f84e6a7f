//! Collection (DAP-09 section 4.6): from the Collector's query to the
//! `AggregateShareReq`, the Helper's answer to it, the `Collection`
//! message and the Collector's unsharding. Batch validation itself is
//! [`crate::batch`]'s; sealing the shares to the Collector is
//! [`crate::seal`]'s.
//!
//! # Where is
//!
//! | rule | DAP-09 | function |
//! |---|---|---|
//! | what a `CollectionReq` asks for: query type (`invalidMessage`), time_interval boundary (`batchInvalid`, the "MAY further validate"), fixed_size `current_batch` left to the Leader | 4.6.1 | [`collection_target`] |
//! | the Leader's `AggregateShareReq` for a batch | 4.6.2 | [`build_aggregate_share_req`] |
//! | the Helper validates the batch of an `AggregateShareReq` | 4.6.2, 4.6.5 | [`check_aggregate_share_req`] |
//! | the Helper's count and checksum must equal the Leader's (`batchMismatch`), then its share is sealed | 4.6.2 | [`answer_aggregate_share_req`] |
//! | the `Collection` message of a finished job | 4.6.1 | [`build_collection`] |
//! | the batch selector the Collector opens the shares with | 4.6.4 | [`collector_batch_selector`] |
//! | the Collector's unsharding of the two aggregate shares | 4.6.3 | [`unshard`] |

use crate::batch::{
    check_query_type, check_time_interval_boundary, validate_batch, BatchFacts, QueriedBatch,
};
use crate::error::ProtocolError;
use crate::seal::seal_helper_aggregate_share;
use crate::vdaf_codec::{decode_agg_param, decode_aggregate_share};
use dyad_core::task::Task;
use dyad_messages::draft09::{
    AggregateShare, AggregateShareReq, BatchSelector, Collection, FixedSizeQuery, HpkeCiphertext,
    Interval, PartialBatchSelector, Query, ReportIdChecksum,
};
use dyad_messages::problem::DapProblemType;
use prio::vdaf::Collector;

/// What a Collector's query names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CollectionTarget {
    /// A known batch: a batch interval, or a batch ID (`by_batch_id`, whose
    /// existence the Leader still checks, section 4.6.5.2.1).
    Batch(QueriedBatch),
    /// fixed_size `current_batch`: the Leader picks a batch not yet
    /// associated with a collection job (section 4.1.2).
    CurrentBatch,
}

/// Interprets a `CollectionReq.query` for `task` (DAP-09 section 4.6.1).
pub fn collection_target(task: &Task, query: &Query) -> Result<CollectionTarget, ProtocolError> {
    check_query_type(task, query.query_type())?;
    Ok(match query {
        Query::TimeInterval(interval) => {
            check_time_interval_boundary(*interval, task.time_precision())
                .map_err(|e| e.with_task_id(*task.task_id()))?;
            CollectionTarget::Batch(QueriedBatch::TimeInterval(*interval))
        }
        Query::FixedSize(FixedSizeQuery::ByBatchId(batch_id)) => {
            CollectionTarget::Batch(QueriedBatch::FixedSize(*batch_id))
        }
        Query::FixedSize(FixedSizeQuery::CurrentBatch) => CollectionTarget::CurrentBatch,
    })
}

/// The Leader's `AggregateShareReq` for a batch (DAP-09 section 4.6.2).
pub fn build_aggregate_share_req(
    batch: &QueriedBatch,
    agg_param: &[u8],
    report_count: u64,
    checksum: ReportIdChecksum,
) -> AggregateShareReq {
    AggregateShareReq {
        batch_selector: batch.batch_selector(),
        aggregation_parameter: agg_param.to_vec(),
        report_count,
        checksum,
    }
}

/// The Helper's batch validation of an `AggregateShareReq` (DAP-09 sections
/// 4.6.2 and 4.6.5): query type, boundary, size (`report_count` of `facts`
/// is the Helper's own count), query count and overlap.
pub fn check_aggregate_share_req<P: AsRef<[u8]>>(
    task: &Task,
    request: &AggregateShareReq,
    facts: &BatchFacts<'_, P>,
) -> Result<(), ProtocolError> {
    let batch = QueriedBatch::from(request.batch_selector);
    validate_batch(task, &batch, &request.aggregation_parameter, facts)
}

/// The Helper's answer to an `AggregateShareReq` (DAP-09 section 4.6.2),
/// given what the Helper itself aggregated for the batch: its report count,
/// checksum and encoded aggregate share. A different count or checksum is
/// `batchMismatch`; otherwise the share is sealed to the Collector
/// ([`seal_helper_aggregate_share`]).
pub fn answer_aggregate_share_req(
    task: &Task,
    request: &AggregateShareReq,
    report_count: u64,
    checksum: &ReportIdChecksum,
    aggregate_share: &[u8],
) -> Result<AggregateShare, ProtocolError> {
    if request.report_count != report_count || request.checksum != *checksum {
        return Err(ProtocolError::new(
            DapProblemType::BatchMismatch,
            format!(
                "the Leader counts {} reports, the Helper {report_count}{}",
                request.report_count,
                if request.checksum != *checksum {
                    " (checksums differ)"
                } else {
                    ""
                }
            ),
        )
        .with_task_id(*task.task_id()));
    }
    Ok(AggregateShare {
        encrypted_aggregate_share: seal_helper_aggregate_share(
            task,
            request.batch_selector,
            &request.aggregation_parameter,
            aggregate_share,
        )?,
    })
}

/// The `Collection` of a finished collection job (DAP-09 section 4.6.1).
/// `interval` is the smallest precision-aligned interval holding every
/// report's timestamp ([`crate::batch::TimestampSpan::aligned_interval`]).
pub fn build_collection(
    batch: &QueriedBatch,
    report_count: u64,
    interval: Interval,
    leader_encrypted_agg_share: HpkeCiphertext,
    helper_encrypted_agg_share: HpkeCiphertext,
) -> Collection {
    Collection {
        partial_batch_selector: batch.partial_batch_selector(),
        report_count,
        interval,
        leader_encrypted_agg_share,
        helper_encrypted_agg_share,
    }
}

/// The batch selector the Collector uses to open the shares of a
/// `Collection` (DAP-09 section 4.6.4): the query's interval for
/// time_interval, the batch ID of the response for fixed_size.
pub fn collector_batch_selector(
    query: &Query,
    collection: &Collection,
) -> Result<BatchSelector, ProtocolError> {
    match (query, collection.partial_batch_selector) {
        (Query::TimeInterval(interval), PartialBatchSelector::TimeInterval) => {
            Ok(BatchSelector::TimeInterval(*interval))
        }
        (Query::FixedSize(_), PartialBatchSelector::FixedSize(batch_id)) => {
            Ok(BatchSelector::FixedSize(batch_id))
        }
        _ => Err(ProtocolError::invalid_message(
            "the collection's query type differs from the query's",
        )),
    }
}

/// The Collector's unsharding (DAP-09 section 4.6.3) of the two encoded
/// aggregate shares, Leader's first, once it has opened them.
pub fn unshard<V: Collector>(
    vdaf: &V,
    agg_param: &[u8],
    leader_share: &[u8],
    helper_share: &[u8],
    report_count: u64,
) -> Result<V::AggregateResult, ProtocolError> {
    let param = decode_agg_param::<V>(agg_param)?;
    let shares = [
        decode_aggregate_share(vdaf, &param, leader_share)?,
        decode_aggregate_share(vdaf, &param, helper_share)?,
    ];
    let count = usize::try_from(report_count)
        .map_err(|_| ProtocolError::internal("report count does not fit in usize"))?;
    Ok(vdaf.unshard(&param, shares, count)?)
}

#[cfg(test)]
#[path = "collection_tests.rs"]
mod tests;
