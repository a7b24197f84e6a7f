//! Finishing a collection (DAP-09 sections 4.6.3 and 4.6.4): the batch
//! selector that binds both aggregate shares, opening each share with the
//! collector's HPKE key, and unsharding.
//!
//! The batch selector of the `AggregateShareAad` is the query's interval for
//! time_interval tasks and, for fixed_size tasks, the batch ID the Leader
//! returns in the `Collection` (which, for a query by batch ID, must be the
//! batch asked for).
//!
//! # Where is
//!
//! - the batch selector binding both shares, a `Collection` of another query
//!   type or batch refused -> [`batch_selector`];
//! - each aggregate share opened with its `AggregateShareAad` (DAP-09 section
//!   4.6.4), then unsharded -> [`open_collection`].

use crate::error::CollectorError;
use crate::job::{Collection, CollectionJob};
use crate::vdaf::CollectorVdaf;
use dyad_core::hpke::{open_aggregate_share, HpkeKeypair};
use dyad_messages::draft09::{
    AggregateShareAad, BatchSelector, Collection as CollectionMessage, FixedSizeQuery,
    PartialBatchSelector, Query, Role, TaskId,
};
use zeroize::Zeroizing;

/// The batch selector the aggregate shares were sealed with.
pub(crate) fn batch_selector(
    query: &Query,
    received: &PartialBatchSelector,
) -> Result<BatchSelector, CollectorError> {
    match (query, received) {
        (Query::TimeInterval(interval), PartialBatchSelector::TimeInterval) => {
            Ok(BatchSelector::TimeInterval(*interval))
        }
        (
            Query::FixedSize(FixedSizeQuery::ByBatchId(requested)),
            PartialBatchSelector::FixedSize(received),
        ) if requested != received => Err(CollectorError::BatchMismatch {
            requested: *requested,
            received: *received,
        }),
        (Query::FixedSize(_), PartialBatchSelector::FixedSize(batch_id)) => {
            Ok(BatchSelector::FixedSize(*batch_id))
        }
        _ => Err(CollectorError::QueryTypeMismatch {
            requested: query.query_type(),
            received: received.query_type(),
        }),
    }
}

/// Opens both aggregate shares of `collection` and unshards them.
pub(crate) fn open_collection<V: CollectorVdaf>(
    vdaf: &V,
    keypair: &HpkeKeypair,
    task_id: TaskId,
    job: &CollectionJob<V::AggregationParam>,
    encoded_param: Vec<u8>,
    collection: CollectionMessage,
) -> Result<Collection<V::AggregateResult>, CollectorError> {
    let selector = batch_selector(job.query(), &collection.partial_batch_selector)?;
    let aad = AggregateShareAad::new(task_id, encoded_param, selector);
    let open = |role, ciphertext| {
        open_aggregate_share(keypair, role, &aad, ciphertext)
            .map(Zeroizing::new)
            .map_err(|source| CollectorError::OpenAggregateShare { role, source })
    };
    let leader_share = open(Role::Leader, &collection.leader_encrypted_agg_share)?;
    let helper_share = open(Role::Helper, &collection.helper_encrypted_agg_share)?;
    let report_count = usize::try_from(collection.report_count)
        .map_err(|_| CollectorError::ReportCountTooLarge(collection.report_count))?;
    let aggregate_result = vdaf.unshard_encoded(
        job.aggregation_parameter(),
        &leader_share,
        &helper_share,
        report_count,
    )?;
    Ok(Collection {
        partial_batch_selector: collection.partial_batch_selector,
        report_count: collection.report_count,
        interval: collection.interval,
        aggregate_result,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dyad_messages::draft09::{BatchId, Duration, Interval, QueryType, Time};

    #[test]
    fn the_selector_comes_from_the_query_or_the_response_by_query_type() {
        let interval = Interval::new(
            Time::from_seconds_since_epoch(3600),
            Duration::from_seconds(3600),
        )
        .unwrap();
        assert_eq!(
            batch_selector(
                &Query::TimeInterval(interval),
                &PartialBatchSelector::TimeInterval
            )
            .unwrap(),
            BatchSelector::TimeInterval(interval)
        );
        let chosen = BatchId::from_bytes([7; 32]);
        assert_eq!(
            batch_selector(
                &Query::FixedSize(FixedSizeQuery::CurrentBatch),
                &PartialBatchSelector::FixedSize(chosen)
            )
            .unwrap(),
            BatchSelector::FixedSize(chosen)
        );
        assert_eq!(
            batch_selector(
                &Query::FixedSize(FixedSizeQuery::ByBatchId(chosen)),
                &PartialBatchSelector::FixedSize(chosen)
            )
            .unwrap(),
            BatchSelector::FixedSize(chosen)
        );
        assert!(matches!(
            batch_selector(
                &Query::FixedSize(FixedSizeQuery::ByBatchId(BatchId::from_bytes([1; 32]))),
                &PartialBatchSelector::FixedSize(chosen)
            ),
            Err(CollectorError::BatchMismatch { .. })
        ));
        assert!(matches!(
            batch_selector(
                &Query::TimeInterval(interval),
                &PartialBatchSelector::FixedSize(chosen)
            ),
            Err(CollectorError::QueryTypeMismatch {
                requested: QueryType::TimeInterval,
                received: QueryType::FixedSize
            })
        ));
    }
}
