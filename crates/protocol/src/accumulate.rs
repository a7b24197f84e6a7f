//! Accumulating output shares into aggregate shares: DAP-09 section 4.6.2's
//! `agg_share = Vdaf.aggregate(agg_param, out_shares)`, computed
//! incrementally as the section's implementation note allows, over encoded
//! output and aggregate shares. Nothing here is sealed: sealing to the
//! Collector is [`crate::seal`]'s, unsharding [`crate::collection::unshard`].
//!
//! # Where is
//!
//! | rule | DAP-09 | function |
//! |---|---|---|
//! | fold output shares into an aggregate share (on top of an existing one) | 4.6.2 | [`aggregate_output_shares`] |
//! | merge aggregate shares (e.g. a time_interval batch's buckets) | 4.6.2 | [`merge_aggregate_shares`] |
//! | a batch's share, report count, checksum and timestamps kept together | 4.6.2 | [`BatchAccumulator::add_report`], [`BatchAccumulator::merge`], [`BatchAccumulator::finish`] |
//! | an empty batch has the VDAF's zero aggregate share | 4.6.2 | [`merge_aggregate_shares`] (of no shares) |
//!
//! The report count and checksum of an `AggregateShareReq` come from
//! [`AccumulatedBatch`]; the checksum itself is
//! [`crate::batch::report_id_checksum`].

use crate::batch::{report_id_checksum, TimestampSpan};
use crate::error::ProtocolError;
use crate::vdaf_codec::{
    accumulate_into, decode_agg_param, decode_aggregate_share, decode_output_share,
    encode_aggregate_share, DapAggregator,
};
use dyad_messages::draft09::{ReportId, ReportIdChecksum, Time};
use prio::vdaf::Aggregatable;
use std::fmt;

/// Folds encoded output shares into an encoded aggregate share, starting
/// from `existing` (an encoded aggregate share) if given.
pub fn aggregate_output_shares<'a, V, const L: usize>(
    vdaf: &V,
    agg_param: &[u8],
    existing: Option<&[u8]>,
    output_shares: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Vec<u8>, ProtocolError>
where
    V: DapAggregator<L>,
{
    let param = decode_agg_param::<V>(agg_param)?;
    let mut share = existing
        .map(|bytes| decode_aggregate_share(vdaf, &param, bytes))
        .transpose()?;
    for bytes in output_shares {
        let output = decode_output_share(vdaf, &param, bytes)?;
        accumulate_into(&mut share, &output)?;
    }
    finish(vdaf, &param, share)
}

/// Merges encoded aggregate shares into one.
pub fn merge_aggregate_shares<'a, V, const L: usize>(
    vdaf: &V,
    agg_param: &[u8],
    shares: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Vec<u8>, ProtocolError>
where
    V: DapAggregator<L>,
{
    let param = decode_agg_param::<V>(agg_param)?;
    let mut merged: Option<V::AggregateShare> = None;
    for bytes in shares {
        let share = decode_aggregate_share(vdaf, &param, bytes)?;
        match merged.as_mut() {
            Some(merged) => merged.merge(&share)?,
            None => merged = Some(share),
        }
    }
    finish(vdaf, &param, merged)
}

fn finish<V: DapAggregator<L>, const L: usize>(
    vdaf: &V,
    param: &V::AggregationParam,
    share: Option<V::AggregateShare>,
) -> Result<Vec<u8>, ProtocolError> {
    let share = match share {
        Some(share) => share,
        None => vdaf.aggregate(param, [])?,
    };
    Ok(encode_aggregate_share::<V>(&share)?)
}

/// The aggregate of one batch: share, count, checksum and timestamps, kept
/// together.
pub struct BatchAccumulator<'v, V: DapAggregator<L>, const L: usize> {
    vdaf: &'v V,
    param: V::AggregationParam,
    share: Option<V::AggregateShare>,
    report_count: u64,
    checksum: ReportIdChecksum,
    span: TimestampSpan,
}

/// A finished [`BatchAccumulator`], ready to store or to answer with.
#[derive(Clone, PartialEq, Eq)]
pub struct AccumulatedBatch {
    /// The encoded aggregate share.
    pub aggregate_share: Vec<u8>,
    pub report_count: u64,
    pub checksum: ReportIdChecksum,
    pub span: TimestampSpan,
}

impl fmt::Debug for AccumulatedBatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccumulatedBatch")
            .field("aggregate_share_len", &self.aggregate_share.len())
            .field("report_count", &self.report_count)
            .field("checksum", &self.checksum)
            .field("span", &self.span)
            .finish()
    }
}

impl<'v, V: DapAggregator<L>, const L: usize> BatchAccumulator<'v, V, L> {
    /// An empty batch under the encoded aggregation parameter.
    pub fn new(vdaf: &'v V, agg_param: &[u8]) -> Result<Self, ProtocolError> {
        Ok(Self {
            vdaf,
            param: decode_agg_param::<V>(agg_param)?,
            share: None,
            report_count: 0,
            checksum: ReportIdChecksum::default(),
            span: TimestampSpan::EMPTY,
        })
    }

    /// Adds one prepared report.
    pub fn add_report(
        &mut self,
        report_id: &ReportId,
        time: Time,
        output_share: &[u8],
    ) -> Result<(), ProtocolError> {
        let output = decode_output_share(self.vdaf, &self.param, output_share)?;
        accumulate_into(&mut self.share, &output)?;
        self.report_count = self
            .report_count
            .checked_add(1)
            .ok_or_else(|| ProtocolError::internal("report count overflows"))?;
        self.checksum = self.checksum.combined_with(&report_id_checksum(report_id));
        self.span.add(time);
        Ok(())
    }

    /// Adds a previously accumulated (part of the) batch.
    pub fn merge(&mut self, other: &AccumulatedBatch) -> Result<(), ProtocolError> {
        let share = decode_aggregate_share(self.vdaf, &self.param, &other.aggregate_share)?;
        match self.share.as_mut() {
            Some(mine) => mine.merge(&share)?,
            None => self.share = Some(share),
        }
        self.report_count = self
            .report_count
            .checked_add(other.report_count)
            .ok_or_else(|| ProtocolError::internal("report count overflows"))?;
        self.checksum = self.checksum.combined_with(&other.checksum);
        self.span.merge(&other.span);
        Ok(())
    }

    /// The batch so far.
    pub fn finish(self) -> Result<AccumulatedBatch, ProtocolError> {
        Ok(AccumulatedBatch {
            aggregate_share: finish(self.vdaf, &self.param, self.share)?,
            report_count: self.report_count,
            checksum: self.checksum,
            span: self.span,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collection::unshard;
    use crate::vdaf_codec::encode_output_share;
    use dyad_core::vdaf::{new_prio3_histogram, new_prio3_sum, Prio3Sum};
    use prio::vdaf::{Aggregator, Client};

    /// Output shares of both aggregators for `measurement`, run directly
    /// through prio (preparation itself is tested with the ping-pong flow).
    fn prepared(vdaf: &Prio3Sum, measurement: u128, nonce: [u8; 16]) -> [Vec<u8>; 2] {
        let (public, inputs) = vdaf.shard(&measurement, &nonce).unwrap();
        let key = [9; 16];
        let (s0, p0) = vdaf
            .prepare_init(&key, 0, &(), &nonce, &public, &inputs[0])
            .unwrap();
        let (s1, p1) = vdaf
            .prepare_init(&key, 1, &(), &nonce, &public, &inputs[1])
            .unwrap();
        let message = vdaf
            .prepare_shares_to_prepare_message(&(), [p0, p1])
            .unwrap();
        let finish = |s| match vdaf.prepare_next(s, message.clone()).unwrap() {
            prio::vdaf::PrepareTransition::Finish(out) => {
                encode_output_share::<Prio3Sum>(&out).unwrap()
            }
            _ => panic!("Prio3 finishes in one round"),
        };
        [finish(s0), finish(s1)]
    }

    #[test]
    fn incremental_and_merged_aggregation_unshard_to_the_total() {
        let vdaf = new_prio3_sum(8).unwrap();
        let values = [3u128, 200, 0, 17];
        let shares: Vec<[Vec<u8>; 2]> = values
            .iter()
            .enumerate()
            .map(|(i, v)| prepared(&vdaf, *v, [i as u8; 16]))
            .collect();
        let leader_shares: Vec<&[u8]> = shares.iter().map(|s| s[0].as_slice()).collect();
        // Leader: two halves aggregated separately, then merged.
        let first =
            aggregate_output_shares(&vdaf, &[], None, leader_shares[..2].iter().copied()).unwrap();
        let second =
            aggregate_output_shares(&vdaf, &[], None, leader_shares[2..].iter().copied()).unwrap();
        let leader = merge_aggregate_shares(&vdaf, &[], [&first[..], &second[..]]).unwrap();
        // Helper: incrementally on top of an empty share.
        let empty = aggregate_output_shares(&vdaf, &[], None, []).unwrap();
        let helper = shares.iter().fold(empty, |acc, s| {
            aggregate_output_shares(&vdaf, &[], Some(&acc), [s[1].as_slice()]).unwrap()
        });
        let total = unshard(&vdaf, &[], &leader, &helper, values.len() as u64).unwrap();
        assert_eq!(total, values.iter().sum::<u128>());
    }

    #[test]
    fn accumulator_keeps_count_checksum_and_span_with_the_share() {
        let vdaf = new_prio3_sum(8).unwrap();
        let ids = [ReportId::from([1; 16]), ReportId::from([2; 16])];
        let mut whole = BatchAccumulator::<_, 16>::new(&vdaf, &[]).unwrap();
        let mut part = BatchAccumulator::<_, 16>::new(&vdaf, &[]).unwrap();
        let out0 = prepared(&vdaf, 5, *ids[0].as_bytes());
        let out1 = prepared(&vdaf, 6, *ids[1].as_bytes());
        whole
            .add_report(&ids[0], Time::from_seconds_since_epoch(100), &out0[0])
            .unwrap();
        part.add_report(&ids[1], Time::from_seconds_since_epoch(50), &out1[0])
            .unwrap();
        whole.merge(&part.finish().unwrap()).unwrap();
        let batch = whole.finish().unwrap();
        assert_eq!(batch.report_count, 2);
        assert_eq!(batch.checksum, crate::batch::checksum_of(&ids));
        assert_eq!(
            batch.span.bounds(),
            Some((
                Time::from_seconds_since_epoch(50),
                Time::from_seconds_since_epoch(100)
            ))
        );
        assert!(format!("{batch:?}").contains("aggregate_share_len"));
    }

    #[test]
    fn malformed_shares_are_errors() {
        let vdaf = new_prio3_histogram(4, 2).unwrap();
        assert!(aggregate_output_shares(&vdaf, &[], None, [&[1u8, 2, 3][..]]).is_err());
        assert!(merge_aggregate_shares(&vdaf, &[], [&[0u8; 5][..]]).is_err());
        assert!(aggregate_output_shares(&vdaf, &[0], None, []).is_err());
        let mut acc = BatchAccumulator::<_, 16>::new(&vdaf, &[]).unwrap();
        assert!(acc
            .add_report(
                &ReportId::from([0; 16]),
                Time::from_seconds_since_epoch(0),
                &[]
            )
            .is_err());
        assert_eq!(acc.finish().unwrap().report_count, 0);
    }
}
