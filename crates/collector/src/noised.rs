//! [`NoisedVdaf`]: a catalogue VDAF whose task adds differential-privacy
//! noise (its [`DpStrategy`]). Both aggregators add noise to their
//! aggregate shares before sealing them, so the result is the noisy total:
//! an entry may be negative or exceed the measurements' bound, and `prio`'s
//! own decoding would read a negative entry as a huge number near the
//! field's modulus. Unsharding here reads it as the negative number it is
//! ([`NoisedResult`], through [`dyad_core::vdaf::unshard_noised`]).
//!
//! # Where is
//!
//! - the task's strategy, for the caller to show -> [`NoisedVdaf::dp_strategy`];
//! - a strategy the VDAF has no noise for refused -> [`NoisedVdaf::new`];
//! - unsharding a noisy aggregate (VDAF-08 section 5.5, read signed) ->
//!   [`NoisedVdaf`]'s [`CollectorVdaf::unshard_encoded`].

use crate::vdaf::{AnyVdaf, CollectorVdaf};
use dyad_core::vdaf::{
    unshard_noised, AggregationParam, DpStrategy, NoisedResult, VdafInstance, VdafRunError,
};

/// A VDAF and the noise its task adds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoisedVdaf {
    vdaf: VdafInstance,
    dp_strategy: DpStrategy,
}

impl NoisedVdaf {
    /// The VDAF of a task with `dp_strategy`: one that adds noise, and that
    /// `vdaf` supports.
    pub fn new(vdaf: VdafInstance, dp_strategy: DpStrategy) -> Result<Self, VdafRunError> {
        if dp_strategy.is_none() {
            return Err(VdafRunError::Mismatch {
                vdaf: vdaf.type_name(),
                reason: "the task adds no noise: collect it with AnyVdaf".to_owned(),
            });
        }
        dp_strategy.check_for(&vdaf)?;
        Ok(Self { vdaf, dp_strategy })
    }

    /// The VDAF.
    pub fn vdaf(&self) -> &VdafInstance {
        &self.vdaf
    }

    /// The noise the aggregators add: its name and budget.
    pub fn dp_strategy(&self) -> &DpStrategy {
        &self.dp_strategy
    }
}

impl CollectorVdaf for NoisedVdaf {
    type AggregationParam = AggregationParam;
    type AggregateResult = NoisedResult;

    fn encode_aggregation_parameter(
        &self,
        param: &AggregationParam,
    ) -> Result<Vec<u8>, VdafRunError> {
        AnyVdaf(self.vdaf).encode_aggregation_parameter(param)
    }

    fn unshard_encoded(
        &self,
        param: &AggregationParam,
        leader_share: &[u8],
        helper_share: &[u8],
        report_count: usize,
    ) -> Result<NoisedResult, VdafRunError> {
        if *param != AggregationParam::Empty {
            return Err(VdafRunError::Mismatch {
                vdaf: self.vdaf.type_name(),
                reason: "Prio3 takes the empty aggregation parameter".to_owned(),
            });
        }
        unshard_noised(
            &self.vdaf,
            leader_share,
            helper_share,
            u64::try_from(report_count).unwrap_or(u64::MAX),
        )
    }

    fn aggregate_share_len(&self, param: &AggregationParam) -> Option<usize> {
        AnyVdaf(self.vdaf).aggregate_share_len(param)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_strategy_the_vdaf_supports_makes_a_noised_vdaf() {
        let histogram = VdafInstance::Prio3Histogram {
            length: 3,
            chunk_length: 1,
        };
        let pure: DpStrategy = "PureDpDiscreteLaplace:1".parse().unwrap();
        let vdaf = NoisedVdaf::new(histogram, pure.clone()).unwrap();
        assert_eq!(vdaf.dp_strategy(), &pure);
        assert!(NoisedVdaf::new(histogram, DpStrategy::NoDifferentialPrivacy).is_err());
        assert!(NoisedVdaf::new(VdafInstance::Prio3Count, pure).is_err());
    }

    #[test]
    fn a_noisy_histogram_unshards_with_negative_counts() {
        use prio::codec::Encode as _;
        use prio::field::{Field128, FieldElement as _};
        let vdaf = NoisedVdaf::new(
            VdafInstance::Prio3Histogram {
                length: 2,
                chunk_length: 1,
            },
            "PureDpDiscreteLaplace:1".parse().unwrap(),
        )
        .unwrap();
        let share = |a: Field128, b: Field128| {
            let mut bytes = a.get_encoded().unwrap();
            bytes.extend(b.get_encoded().unwrap());
            bytes
        };
        let leader = share(-Field128::from(3), Field128::from(4));
        let helper = share(Field128::one(), Field128::zero());
        assert_eq!(
            vdaf.unshard_encoded(&AggregationParam::Empty, &leader, &helper, 2)
                .unwrap(),
            NoisedResult::Integers(vec![-2, 4])
        );
        assert_eq!(vdaf.aggregate_share_len(&AggregationParam::Empty), Some(32));
    }
}
