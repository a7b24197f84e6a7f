//! Differential-privacy noise on aggregate shares, and the noisy aggregate
//! read back.
//!
//! [`add_noise_to_aggregate_share`] is the one function both aggregators
//! call: the task's [`DpStrategy`] applied to an encoded aggregate share
//! through `prio`'s `AggregatorWithNoise` (whose samplers, discrete Laplace
//! and discrete Gaussian, draw from fresh OS entropy). dyad draws no noise
//! of its own.
//!
//! Noise is an integer projected into the VDAF's field, so a bucket whose
//! true count is 0 may come back as `p - 1` (`p` the field's modulus), which
//! `prio`'s own decoding reads as a huge count. [`unshard_noised`] sums the
//! two shares and reads every element above `p / 2` as the negative number
//! `x - p` ([`NoisedResult`]); a true aggregate is never that large (it is
//! bounded by the measurement bounds times the report count, far below
//! `p / 2`), so the reading is exact whenever the noise is smaller than
//! `p / 2` in magnitude.
//!
//! # Where is
//!
//! - a task's noise on one aggregator's share -> [`add_noise_to_aggregate_share`];
//! - the signed reading of a noisy field element -> [`unshard_noised`],
//!   `signed`;
//! - the fixed-point decoding of a noisy sum -> [`unshard_noised`], through
//!   `fixed_point::decode_sum`.

use super::concrete::{
    new_prio3_fixed_point_bounded_l2_vec_sum, new_prio3_histogram, new_prio3_sum_vec,
    new_prio3_sum_vec_field64_multiproof_hmac_sha256_aes128, NONCE_LEN,
};
use super::dp::{DpStrategy, DpStrategyError};
use super::error::VdafRunError;
use super::fixed_point::decode_sum;
use super::instance::{FixedPointBitSize, VdafInstance};
use fixed::types::extra::{U15, U31, U63};
use fixed::{FixedI16, FixedI32, FixedI64};
use prio::codec::{Encode as _, ParameterizedDecode};
use prio::dp::distributions::{PureDpDiscreteLaplace, ZCdpDiscreteGaussian};
use prio::dp::{DifferentialPrivacyStrategy, PureDpBudget, ZCdpBudget};
use prio::field::FieldElementWithInteger;
use prio::vdaf::{Aggregatable as _, AggregatorWithNoise, Vdaf};

/// A noisy aggregate, read with negative values allowed.
#[derive(Clone, Debug, PartialEq)]
pub enum NoisedResult {
    /// Prio3Histogram and Prio3SumVec: each entry's noisy sum, which may be
    /// negative or above the measurements' bound.
    Integers(Vec<i128>),
    /// Prio3FixedPointBoundedL2VecSum: each entry's noisy sum.
    FixedPointVec(Vec<f64>),
}

impl From<DpStrategyError> for VdafRunError {
    fn from(error: DpStrategyError) -> Self {
        VdafRunError::Mismatch {
            vdaf: "dp_strategy",
            reason: error.to_string(),
        }
    }
}

/// `aggregate_share` (encoded, of `vdaf` with the empty aggregation
/// parameter of Prio3) with `strategy`'s noise added, encoded. With
/// `NoDifferentialPrivacy` the share is returned as it is. Each call draws
/// fresh noise: call it once per aggregate share that leaves the
/// aggregator, and store what it returns.
pub fn add_noise_to_aggregate_share(
    vdaf: &VdafInstance,
    strategy: &DpStrategy,
    aggregate_share: &[u8],
    report_count: u64,
) -> Result<Vec<u8>, VdafRunError> {
    strategy.check_for(vdaf)?;
    let n = usize::try_from(report_count).unwrap_or(usize::MAX);
    let share = aggregate_share;
    match (strategy, *vdaf) {
        (DpStrategy::NoDifferentialPrivacy, _) => Ok(share.to_vec()),
        (DpStrategy::PureDpDiscreteLaplace { budget }, vdaf) => {
            let strategy = PureDpDiscreteLaplace::from_budget(budget.to_prio::<PureDpBudget>()?);
            match vdaf {
                VdafInstance::Prio3Histogram {
                    length,
                    chunk_length,
                } => noised(
                    &new_prio3_histogram(length, chunk_length)?,
                    &strategy,
                    share,
                    n,
                ),
                VdafInstance::Prio3SumVec {
                    bits,
                    length,
                    chunk_length,
                } => noised(
                    &new_prio3_sum_vec(bits, length, chunk_length)?,
                    &strategy,
                    share,
                    n,
                ),
                VdafInstance::Prio3SumVecField64MultiproofHmacSha256Aes128 {
                    proofs,
                    bits,
                    length,
                    chunk_length,
                } => noised(
                    &new_prio3_sum_vec_field64_multiproof_hmac_sha256_aes128(
                        proofs,
                        bits,
                        length,
                        chunk_length,
                    )?,
                    &strategy,
                    share,
                    n,
                ),
                _ => unreachable_pair("PureDpDiscreteLaplace"),
            }
        }
        (DpStrategy::ZCdpDiscreteGaussian { budget }, vdaf) => {
            let strategy = ZCdpDiscreteGaussian::from_budget(budget.to_prio::<ZCdpBudget>()?);
            match vdaf {
                VdafInstance::Prio3FixedPointBoundedL2VecSum { bitsize, length } => match bitsize {
                    FixedPointBitSize::BitSize16 => noised(
                        &new_prio3_fixed_point_bounded_l2_vec_sum::<FixedI16<U15>>(length)?,
                        &strategy,
                        share,
                        n,
                    ),
                    FixedPointBitSize::BitSize32 => noised(
                        &new_prio3_fixed_point_bounded_l2_vec_sum::<FixedI32<U31>>(length)?,
                        &strategy,
                        share,
                        n,
                    ),
                    FixedPointBitSize::BitSize64 => noised(
                        &new_prio3_fixed_point_bounded_l2_vec_sum::<FixedI64<U63>>(length)?,
                        &strategy,
                        share,
                        n,
                    ),
                },
                _ => unreachable_pair("ZCdpDiscreteGaussian"),
            }
        }
    }
}

/// A pair [`DpStrategy::check_for`] let through but no arm handles: the
/// two lists disagree, which is a bug, reported as an error.
fn unreachable_pair(strategy: &'static str) -> Result<Vec<u8>, VdafRunError> {
    Err(VdafRunError::Mismatch {
        vdaf: "dp_strategy",
        reason: format!("{strategy}: no noise implementation for this VDAF"),
    })
}

/// The generic step: decode, `prio` adds the noise, encode.
fn noised<V, S, const L: usize>(
    vdaf: &V,
    strategy: &S,
    share: &[u8],
    report_count: usize,
) -> Result<Vec<u8>, VdafRunError>
where
    V: AggregatorWithNoise<L, NONCE_LEN, S> + Vdaf<AggregationParam = ()>,
    S: DifferentialPrivacyStrategy,
{
    let mut decoded = V::AggregateShare::get_decoded_with_param(&(vdaf, &()), share)?;
    vdaf.add_noise_to_agg_share(strategy, &(), &mut decoded, report_count)?;
    Ok(decoded.get_encoded()?)
}

/// Unshards a noisy aggregate of `vdaf` from the two encoded aggregate
/// shares, reading field elements above `p / 2` as negative (see the module
/// documentation). For the VDAFs that take noise only.
pub fn unshard_noised(
    vdaf: &VdafInstance,
    leader_share: &[u8],
    helper_share: &[u8],
    report_count: u64,
) -> Result<NoisedResult, VdafRunError> {
    let (l, h) = (leader_share, helper_share);
    match *vdaf {
        VdafInstance::Prio3Histogram {
            length,
            chunk_length,
        } => signed_sum(&new_prio3_histogram(length, chunk_length)?, l, h)
            .map(NoisedResult::Integers),
        VdafInstance::Prio3SumVec {
            bits,
            length,
            chunk_length,
        } => signed_sum(&new_prio3_sum_vec(bits, length, chunk_length)?, l, h)
            .map(NoisedResult::Integers),
        VdafInstance::Prio3SumVecField64MultiproofHmacSha256Aes128 {
            proofs,
            bits,
            length,
            chunk_length,
        } => signed_sum(
            &new_prio3_sum_vec_field64_multiproof_hmac_sha256_aes128(
                proofs,
                bits,
                length,
                chunk_length,
            )?,
            l,
            h,
        )
        .map(NoisedResult::Integers),
        VdafInstance::Prio3FixedPointBoundedL2VecSum { bitsize, length } => {
            let sums = match bitsize {
                FixedPointBitSize::BitSize16 => signed_sum(
                    &new_prio3_fixed_point_bounded_l2_vec_sum::<FixedI16<U15>>(length)?,
                    l,
                    h,
                )?,
                FixedPointBitSize::BitSize32 => signed_sum(
                    &new_prio3_fixed_point_bounded_l2_vec_sum::<FixedI32<U31>>(length)?,
                    l,
                    h,
                )?,
                FixedPointBitSize::BitSize64 => signed_sum(
                    &new_prio3_fixed_point_bounded_l2_vec_sum::<FixedI64<U63>>(length)?,
                    l,
                    h,
                )?,
            };
            // Each entry is encoded as `b + 2^(n-1)`, so a sum over `c`
            // reports carries `c * 2^(n-1)` to take off before scaling.
            let offset = i128::from(report_count)
                .checked_mul(1i128 << (bitsize.bits() - 1))
                .ok_or_else(|| VdafRunError::Mismatch {
                    vdaf: "Prio3FixedPointBoundedL2VecSum",
                    reason: format!("report count {report_count} is too large to decode"),
                })?;
            sums.into_iter()
                .map(|sum| {
                    sum.checked_sub(offset)
                        .map(|b| decode_sum(bitsize, b))
                        .ok_or_else(|| VdafRunError::Mismatch {
                            vdaf: "Prio3FixedPointBoundedL2VecSum",
                            reason: "a noisy sum is out of the decodable range".to_owned(),
                        })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(NoisedResult::FixedPointVec)
        }
        VdafInstance::Prio3Count | VdafInstance::Prio3Sum { .. } | VdafInstance::Poplar1 { .. } => {
            Err(VdafRunError::Mismatch {
                vdaf: vdaf.type_name(),
                reason: "takes no differential-privacy noise".to_owned(),
            })
        }
    }
}

/// The two shares summed, each element read as a signed integer.
fn signed_sum<V, F>(vdaf: &V, leader: &[u8], helper: &[u8]) -> Result<Vec<i128>, VdafRunError>
where
    V: Vdaf<AggregationParam = ()>,
    V::AggregateShare: AsRef<[F]>,
    F: FieldElementWithInteger,
    F::Integer: Into<u128>,
{
    let mut sum = V::AggregateShare::get_decoded_with_param(&(vdaf, &()), leader)?;
    let helper = V::AggregateShare::get_decoded_with_param(&(vdaf, &()), helper)?;
    sum.merge(&helper)?;
    Ok(sum.as_ref().iter().map(|x| signed(*x)).collect())
}

/// `x` as an integer in `(-p/2, p/2]`: `x - p` when `x > p / 2`. Every
/// field dyad uses has `p < 2^128`, so both halves fit an `i128`.
pub(crate) fn signed<F>(x: F) -> i128
where
    F: FieldElementWithInteger,
    F::Integer: Into<u128>,
{
    let value: u128 = F::Integer::from(x).into();
    let modulus: u128 = F::modulus().into();
    if value > modulus / 2 {
        -((modulus - value) as i128)
    } else {
        value as i128
    }
}

#[cfg(test)]
#[path = "noise_tests.rs"]
mod tests;
