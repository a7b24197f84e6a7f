//! [`CollectorVdaf`]: how the collector encodes its aggregation parameter
//! and unshards the two aggregate shares (VDAF-08 section 5.5). Every
//! `prio::vdaf::Collector` is one, with its own typed parameter and result;
//! for code that learns the VDAF only at run time, [`AnyVdaf`] handles any
//! catalogue [`VdafInstance`] with catalogue [`AggregationParam`]s and
//! [`AggregateResult`]s.
//!
//! # Where is
//!
//! - the aggregation parameter's encoding ->
//!   [`CollectorVdaf::encode_aggregation_parameter`];
//! - unsharding the two aggregate shares (VDAF-08 section 5.5) ->
//!   [`CollectorVdaf::unshard_encoded`];
//! - an aggregate share's encoded length, which caps the `Collection` read ->
//!   [`CollectorVdaf::aggregate_share_len`].

use dyad_core::vdaf::{
    AggregateResult, AggregationParam, CatalogueVdaf, VdafInstance, VdafRunError, NONCE_LEN,
};
use prio::codec::{Encode, ParameterizedDecode};
use std::fmt;

/// A VDAF the collector can finish collections of.
pub trait CollectorVdaf {
    /// The aggregation parameter the collector chooses.
    type AggregationParam: Clone + fmt::Debug;
    /// What unsharding yields.
    type AggregateResult;

    /// The aggregation parameter as it goes on the wire (`agg_param` of
    /// `CollectionReq` and `AggregateShareAad`).
    fn encode_aggregation_parameter(
        &self,
        param: &Self::AggregationParam,
    ) -> Result<Vec<u8>, VdafRunError>;

    /// Decodes the Leader's and the Helper's encoded aggregate shares and
    /// unshards them over `report_count` reports.
    fn unshard_encoded(
        &self,
        param: &Self::AggregationParam,
        leader_share: &[u8],
        helper_share: &[u8],
        report_count: usize,
    ) -> Result<Self::AggregateResult, VdafRunError>;

    /// The encoded length of one aggregate share under `param`, if this
    /// VDAF can tell it before seeing one; it bounds how much of the
    /// Leader's `Collection` the collector reads. `None` leaves the
    /// collector's absolute maximum as the only bound.
    fn aggregate_share_len(&self, _param: &Self::AggregationParam) -> Option<usize> {
        None
    }
}

impl<V: prio::vdaf::Collector> CollectorVdaf for V {
    type AggregationParam = V::AggregationParam;
    type AggregateResult = V::AggregateResult;

    fn encode_aggregation_parameter(
        &self,
        param: &V::AggregationParam,
    ) -> Result<Vec<u8>, VdafRunError> {
        Ok(param.get_encoded()?)
    }

    fn unshard_encoded(
        &self,
        param: &V::AggregationParam,
        leader_share: &[u8],
        helper_share: &[u8],
        report_count: usize,
    ) -> Result<V::AggregateResult, VdafRunError> {
        let leader = V::AggregateShare::get_decoded_with_param(&(self, param), leader_share)?;
        let helper = V::AggregateShare::get_decoded_with_param(&(self, param), helper_share)?;
        Ok(self.unshard(param, [leader, helper], report_count)?)
    }
}

/// Any catalogue VDAF, chosen at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AnyVdaf(pub VdafInstance);

impl From<VdafInstance> for AnyVdaf {
    fn from(instance: VdafInstance) -> Self {
        Self(instance)
    }
}

impl CollectorVdaf for AnyVdaf {
    type AggregationParam = AggregationParam;
    type AggregateResult = AggregateResult;

    fn encode_aggregation_parameter(
        &self,
        param: &AggregationParam,
    ) -> Result<Vec<u8>, VdafRunError> {
        dyad_core::vdaf_dispatch!(&self.0, |vdaf, V, VERIFY_KEY_LEN| {
            let param = vdaf.to_vdaf_aggregation_param(param)?;
            CollectorVdaf::encode_aggregation_parameter(&vdaf, &param)
        })
    }

    fn unshard_encoded(
        &self,
        param: &AggregationParam,
        leader_share: &[u8],
        helper_share: &[u8],
        report_count: usize,
    ) -> Result<AggregateResult, VdafRunError> {
        dyad_core::vdaf_dispatch!(&self.0, |vdaf, V, VERIFY_KEY_LEN| {
            let param = vdaf.to_vdaf_aggregation_param(param)?;
            let result = CollectorVdaf::unshard_encoded(
                &vdaf,
                &param,
                leader_share,
                helper_share,
                report_count,
            )?;
            Ok::<_, VdafRunError>(vdaf.to_aggregate_result(result))
        })
    }

    /// The length of the aggregate share of no reports: a share's length
    /// depends only on the VDAF and the aggregation parameter, not on what
    /// it sums.
    fn aggregate_share_len(&self, param: &AggregationParam) -> Option<usize> {
        let len = || -> Result<usize, VdafRunError> {
            dyad_core::vdaf_dispatch!(&self.0, |vdaf, V, VERIFY_KEY_LEN| {
                let param = vdaf.to_vdaf_aggregation_param(param)?;
                let empty = <V as prio::vdaf::Aggregator<VERIFY_KEY_LEN, NONCE_LEN>>::aggregate(
                    &vdaf,
                    &param,
                    std::iter::empty(),
                )?;
                Ok::<_, VdafRunError>(empty.get_encoded()?.len())
            })
        };
        len().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregation_parameters_encode_as_the_vdaf_does() {
        let prio3 = AnyVdaf(VdafInstance::Prio3Count);
        assert_eq!(
            prio3
                .encode_aggregation_parameter(&AggregationParam::Empty)
                .unwrap(),
            Vec::<u8>::new()
        );
        assert!(prio3
            .encode_aggregation_parameter(&AggregationParam::Poplar1 {
                prefixes: vec![vec![true]]
            })
            .is_err());
        let poplar = AnyVdaf(VdafInstance::Poplar1 { bits: 4 });
        let encoded = poplar
            .encode_aggregation_parameter(&AggregationParam::Poplar1 {
                prefixes: vec![vec![false, true], vec![true, true]],
            })
            .unwrap();
        // level (u16) = 1, then the prefix count (u32) = 2, then packed bits.
        assert_eq!(&encoded[..6], &[0, 1, 0, 0, 0, 2]);
        assert!(poplar
            .encode_aggregation_parameter(&AggregationParam::Empty)
            .is_err());
    }

    #[test]
    fn aggregate_share_lengths_are_known_ahead() {
        // Prio3Count sums in Field64: one 8-byte element.
        let count = AnyVdaf(VdafInstance::Prio3Count);
        assert_eq!(count.aggregate_share_len(&AggregationParam::Empty), Some(8));
        // A histogram of 10 buckets in Field128.
        let histogram = AnyVdaf(VdafInstance::Prio3Histogram {
            length: 10,
            chunk_length: 3,
        });
        assert_eq!(
            histogram.aggregate_share_len(&AggregationParam::Empty),
            Some(160)
        );
        // A parameter the VDAF does not take tells nothing.
        assert_eq!(
            count.aggregate_share_len(&AggregationParam::Poplar1 {
                prefixes: vec![vec![true]]
            }),
            None
        );
    }

    #[test]
    fn garbage_shares_are_errors_not_panics() {
        let vdaf = AnyVdaf(VdafInstance::Prio3Sum { bits: 8 });
        for share in [&[][..], &[1, 2, 3], &[0xff; 64]] {
            assert!(vdaf
                .unshard_encoded(&AggregationParam::Empty, share, share, 1)
                .is_err());
        }
    }
}
