//! Collection (DAP-09 section 4.6): from the Collector's query to the sealed
//! aggregate shares and the `Collection` message.
//!
//! - [`collection_target`]: what a `CollectionReq` asks for (section 4.6.1):
//!   the query type must be the task's (`invalidMessage`); a time_interval
//!   query must pass the boundary check (`batchInvalid`, the "MAY further
//!   validate" of section 4.6.1); a fixed_size `current_batch` is left for
//!   the Leader to choose.
//! - [`build_aggregate_share_req`]: the Leader's `AggregateShareReq`
//!   (section 4.6.2).
//! - [`check_aggregate_share_req`] and [`helper_aggregate_share`]: the
//!   Helper's handling of it: batch validation (section 4.6.6), then
//!   `report_count` and `checksum` must equal its own (`batchMismatch`), then
//!   the share is sealed to the Collector with the request's batch selector
//!   (section 4.6.4).
//! - [`seal_leader_aggregate_share`] and [`build_collection`]: the Leader's
//!   side (sections 4.6.1 and 4.6.4).

use crate::batch::{
    check_query_type, check_time_interval_boundary, validate_batch, BatchFacts, BatchIdentifier,
};
use crate::error::ProtocolError;
use dyad_core::hpke::seal_aggregate_share;
use dyad_core::task::Task;
use dyad_messages::draft09::{
    AggregateShare, AggregateShareAad, AggregateShareReq, BatchSelector, Collection,
    FixedSizeQuery, HpkeCiphertext, Interval, PartialBatchSelector, Query, ReportIdChecksum, Role,
};
use dyad_messages::problem::DapProblemType;

/// What a Collector's query names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CollectionTarget {
    /// A known batch: a batch interval, or a batch ID (`by_batch_id`, whose
    /// existence the Leader still checks, section 4.6.6.2.1).
    Batch(BatchIdentifier),
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
            CollectionTarget::Batch(BatchIdentifier::TimeInterval(*interval))
        }
        Query::FixedSize(FixedSizeQuery::ByBatchId(batch_id)) => {
            CollectionTarget::Batch(BatchIdentifier::FixedSize(*batch_id))
        }
        Query::FixedSize(FixedSizeQuery::CurrentBatch) => CollectionTarget::CurrentBatch,
    })
}

/// The Leader's `AggregateShareReq` for a batch (DAP-09 section 4.6.2).
pub fn build_aggregate_share_req(
    batch: &BatchIdentifier,
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
/// 4.6.2 and 4.6.6): query type, boundary, size (`report_count` of `facts`
/// is the Helper's own count), query count and overlap.
pub fn check_aggregate_share_req<P: AsRef<[u8]>>(
    task: &Task,
    request: &AggregateShareReq,
    facts: &BatchFacts<'_, P>,
) -> Result<(), ProtocolError> {
    let batch = BatchIdentifier::from(request.batch_selector);
    validate_batch(task, &batch, &request.aggregation_parameter, facts)
}

/// The `AggregateShareAad` of an aggregate share (DAP-09 section 4.6.4).
pub fn aggregate_share_aad(
    task: &Task,
    batch_selector: BatchSelector,
    agg_param: &[u8],
) -> AggregateShareAad {
    AggregateShareAad::new(*task.task_id(), agg_param.to_vec(), batch_selector)
}

/// The Helper's answer to an `AggregateShareReq`, given what the Helper
/// itself aggregated for the batch: its report count, checksum and encoded
/// aggregate share. A different count or checksum is `batchMismatch`.
pub fn helper_aggregate_share(
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
    let aad = aggregate_share_aad(task, request.batch_selector, &request.aggregation_parameter);
    let encrypted_aggregate_share = seal_aggregate_share(
        task.collector_hpke_config(),
        Role::Helper,
        &aad,
        aggregate_share,
    )
    .map_err(|e| ProtocolError::internal(format!("sealing aggregate share: {e}")))?;
    Ok(AggregateShare {
        encrypted_aggregate_share,
    })
}

/// The Leader's aggregate share sealed to the Collector (DAP-09 section
/// 4.6.4), with the batch selector computed from the Collector's query.
pub fn seal_leader_aggregate_share(
    task: &Task,
    batch: &BatchIdentifier,
    agg_param: &[u8],
    aggregate_share: &[u8],
) -> Result<HpkeCiphertext, ProtocolError> {
    let aad = aggregate_share_aad(task, batch.batch_selector(), agg_param);
    seal_aggregate_share(
        task.collector_hpke_config(),
        Role::Leader,
        &aad,
        aggregate_share,
    )
    .map_err(|e| ProtocolError::internal(format!("sealing aggregate share: {e}")))
}

/// The `Collection` of a finished collection job (DAP-09 section 4.6.1).
/// `interval` is the smallest precision-aligned interval holding every
/// report's timestamp ([`crate::batch::TimestampSpan::aligned_interval`]).
pub fn build_collection(
    batch: &BatchIdentifier,
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

#[cfg(test)]
#[path = "collection_tests.rs"]
mod tests;
