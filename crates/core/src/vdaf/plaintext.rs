//! The plaintext aggregate: what a batch of measurements should unshard to,
//! computed directly and the way the VDAF computes it (sums in the VDAF's
//! field, fixed-point sums decoded as `prio` decodes them, Poplar1 prefix
//! counts). A caller compares it with a collected [`AggregateResult`] to check
//! a run end to end.
//!
//! # Where is
//!
//! - the expected aggregate, in the VDAF's arithmetic ->
//!   [`plaintext_aggregate`] (vector sums: [`elementwise`]).

use super::error::VdafRunError;
use super::fixed_point;
use super::instance::VdafInstance;
use super::measurement::{AggregateResult, AggregationParam, Measurement};
use prio::field::{Field128, Field64, FieldElement};

/// The aggregate `instance` computes over `measurements` with `param`
/// (`AggregationParam::Empty` for Prio3). Every measurement is checked first.
pub fn plaintext_aggregate(
    instance: &VdafInstance,
    param: &AggregationParam,
    measurements: &[Measurement],
) -> Result<AggregateResult, VdafRunError> {
    let vdaf = instance.type_name();
    for measurement in measurements {
        measurement.check(instance)?;
    }
    if instance.is_prio3() && *param != AggregationParam::Empty {
        return Err(VdafRunError::mismatch(
            vdaf,
            "Prio3 takes the empty aggregation parameter",
        ));
    }
    // Measurement::check guarantees each measurement's variant and length.
    let bad = || VdafRunError::mismatch(vdaf, "measurement of the wrong family");
    Ok(match *instance {
        VdafInstance::Prio3Count => {
            let mut sum = Field64::zero();
            for m in measurements {
                let Measurement::Count(bit) = m else {
                    return Err(bad());
                };
                sum += Field64::from(u64::from(*bit));
            }
            AggregateResult::Count(u64::from(sum))
        }
        VdafInstance::Prio3Sum { .. } => {
            let mut sum = Field128::zero();
            for m in measurements {
                let Measurement::Sum(value) = m else {
                    return Err(bad());
                };
                sum += Field128::from(*value);
            }
            AggregateResult::Sum(u128::from(sum))
        }
        VdafInstance::Prio3SumVec { length, .. } => {
            let sums = elementwise(length, measurements, |m| match m {
                Measurement::SumVec(values) => {
                    Some(values.iter().map(|v| Field128::from(*v)).collect())
                }
                _ => None,
            })
            .ok_or_else(bad)?;
            AggregateResult::SumVec(sums.into_iter().map(u128::from).collect())
        }
        VdafInstance::Prio3SumVecField64MultiproofHmacSha256Aes128 { length, .. } => {
            let sums = elementwise(length, measurements, |m| match m {
                Measurement::SumVec(values) => values
                    .iter()
                    .map(|v| u64::try_from(*v).ok().map(Field64::from))
                    .collect(),
                _ => None,
            })
            .ok_or_else(bad)?;
            AggregateResult::SumVec(sums.into_iter().map(|s| u128::from(u64::from(s))).collect())
        }
        VdafInstance::Prio3Histogram { length, .. } => {
            let sums = elementwise(length, measurements, |m| match m {
                Measurement::Histogram(index) => Some(
                    (0..length as usize)
                        .map(|bucket| Field128::from(u128::from(bucket == *index)))
                        .collect(),
                ),
                _ => None,
            })
            .ok_or_else(bad)?;
            AggregateResult::Histogram(sums.into_iter().map(u128::from).collect())
        }
        VdafInstance::Prio3FixedPointBoundedL2VecSum { bitsize, length } => {
            let mut sums = vec![0i128; length as usize];
            for m in measurements {
                let Measurement::FixedPointVec(values) = m else {
                    return Err(bad());
                };
                for (sum, value) in sums.iter_mut().zip(values) {
                    *sum += fixed_point::to_fixed_bits(bitsize, *value).ok_or_else(bad)?;
                }
            }
            AggregateResult::FixedPointVec(
                sums.into_iter()
                    .map(|sum| fixed_point::decode_sum(bitsize, sum))
                    .collect(),
            )
        }
        VdafInstance::Poplar1 { .. } => {
            let AggregationParam::Poplar1 { prefixes } = param else {
                return Err(VdafRunError::mismatch(
                    vdaf,
                    "Poplar1 needs candidate prefixes as its aggregation parameter",
                ));
            };
            let counts = prefixes
                .iter()
                .map(|prefix| {
                    measurements
                        .iter()
                        .filter(
                            |m| matches!(m, Measurement::Poplar1(bits) if bits.starts_with(prefix)),
                        )
                        .count() as u64
                })
                .collect();
            AggregateResult::Poplar1(counts)
        }
    })
}

/// The element-wise field sum of `length`-long vectors drawn from each measurement.
fn elementwise<F: FieldElement>(
    length: u32,
    measurements: &[Measurement],
    vector: impl Fn(&Measurement) -> Option<Vec<F>>,
) -> Option<Vec<F>> {
    let mut sums = vec![F::zero(); length as usize];
    for m in measurements {
        for (sum, value) in sums.iter_mut().zip(vector(m)?) {
            *sum += value;
        }
    }
    Some(sums)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vdaf::FixedPointBitSize;

    fn aggregate(instance: VdafInstance, measurements: &[Measurement]) -> AggregateResult {
        plaintext_aggregate(&instance, &AggregationParam::Empty, measurements).unwrap()
    }

    #[test]
    fn sums_each_family() {
        use Measurement as M;
        assert_eq!(
            aggregate(
                VdafInstance::Prio3Count,
                &[M::Count(true), M::Count(false), M::Count(true)]
            ),
            AggregateResult::Count(2)
        );
        assert_eq!(
            aggregate(
                VdafInstance::Prio3Sum { bits: 8 },
                &[M::Sum(200), M::Sum(100)]
            ),
            AggregateResult::Sum(300)
        );
        assert_eq!(
            aggregate(
                VdafInstance::Prio3SumVec {
                    bits: 4,
                    length: 2,
                    chunk_length: 1
                },
                &[M::SumVec(vec![1, 15]), M::SumVec(vec![2, 15])]
            ),
            AggregateResult::SumVec(vec![3, 30])
        );
        assert_eq!(
            aggregate(
                VdafInstance::Prio3Histogram {
                    length: 3,
                    chunk_length: 1
                },
                &[M::Histogram(2), M::Histogram(0), M::Histogram(2)]
            ),
            AggregateResult::Histogram(vec![1, 0, 2])
        );
        assert_eq!(
            aggregate(
                VdafInstance::Prio3FixedPointBoundedL2VecSum {
                    bitsize: FixedPointBitSize::BitSize16,
                    length: 2
                },
                &[
                    M::FixedPointVec(vec![0.5, -0.25]),
                    M::FixedPointVec(vec![0.25, -0.5])
                ]
            ),
            AggregateResult::FixedPointVec(vec![0.75, -0.75])
        );
        assert_eq!(
            aggregate(VdafInstance::Prio3Count, &[]),
            AggregateResult::Count(0)
        );
    }

    #[test]
    fn field64_sums_wrap_modulo_the_field_as_the_vdaf_does() {
        let instance = VdafInstance::Prio3SumVecField64MultiproofHmacSha256Aes128 {
            proofs: 2,
            bits: 63,
            length: 1,
            chunk_length: 1,
        };
        let big = (1u128 << 63) - 1;
        let p: u128 = 0xFFFF_FFFF_0000_0001;
        let got = aggregate(
            instance,
            &[
                Measurement::SumVec(vec![big]),
                Measurement::SumVec(vec![big]),
                Measurement::SumVec(vec![big]),
            ],
        );
        assert_eq!(got, AggregateResult::SumVec(vec![(3 * big) % p]));
    }

    #[test]
    fn poplar1_counts_prefixes() {
        let instance = VdafInstance::Poplar1 { bits: 3 };
        let param = AggregationParam::Poplar1 {
            prefixes: vec![vec![false, true], vec![true, true]],
        };
        let measurements = [
            Measurement::Poplar1(vec![false, true, true]),
            Measurement::Poplar1(vec![true, true, false]),
            Measurement::Poplar1(vec![false, true, false]),
            Measurement::Poplar1(vec![false, false, false]),
        ];
        assert_eq!(
            plaintext_aggregate(&instance, &param, &measurements).unwrap(),
            AggregateResult::Poplar1(vec![2, 1])
        );
        assert!(plaintext_aggregate(&instance, &AggregationParam::Empty, &measurements).is_err());
    }

    #[test]
    fn mismatched_inputs_are_errors() {
        assert!(plaintext_aggregate(
            &VdafInstance::Prio3Count,
            &AggregationParam::Empty,
            &[Measurement::Sum(1)]
        )
        .is_err());
        assert!(plaintext_aggregate(
            &VdafInstance::Prio3Count,
            &AggregationParam::Poplar1 { prefixes: vec![] },
            &[]
        )
        .is_err());
    }
}
