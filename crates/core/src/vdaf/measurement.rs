//! Catalogue-level values, one shape per VDAF family: [`Measurement`] (what a
//! client submits), [`AggregationParam`] (what the collector chooses) and
//! [`AggregateResult`] (what the collector gets back). They let code that does
//! not care which VDAF a task uses (the quickstart, the interop API, tests)
//! build measurements, check them against a [`VdafInstance`] and draw random
//! ones.
//!
//! # Where is
//!
//! - a measurement fitting its instance (shape, range, length) ->
//!   [`Measurement::check`];
//! - a random fitting measurement -> [`random_measurement`].

use super::error::VdafRunError;
use super::fixed_point;
use super::instance::VdafInstance;
use rand::Rng;

/// One client measurement, in the shape of its VDAF family.
#[derive(Clone, Debug, PartialEq)]
pub enum Measurement {
    /// Prio3Count: one bit.
    Count(bool),
    /// Prio3Sum: an integer in `[0, 2^bits)`.
    Sum(u128),
    /// Prio3SumVec and its Field64 multiproof variant: `length` integers, each
    /// in `[0, 2^bits)`.
    SumVec(Vec<u128>),
    /// Prio3Histogram: the index of the one bucket to count.
    Histogram(usize),
    /// Prio3FixedPointBoundedL2VecSum: `length` numbers in `[-1, 1)` whose L2
    /// norm is below 1, each rounded to the fixed-point width when sharded.
    FixedPointVec(Vec<f64>),
    /// Poplar1: a string of `bits` bits, most significant first.
    Poplar1(Vec<bool>),
}

/// The aggregation parameter (VDAF-08 section 5), in catalogue form.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum AggregationParam {
    /// The empty parameter of every Prio3 VDAF.
    #[default]
    Empty,
    /// Poplar1's candidate prefixes (VDAF-08 section 8.2.6.6): all of one
    /// length `level + 1`, distinct and in lexicographic order.
    Poplar1 { prefixes: Vec<Vec<bool>> },
}

/// The unsharded aggregate of a batch (VDAF-08 section 5.5), in catalogue form.
#[derive(Clone, Debug, PartialEq)]
pub enum AggregateResult {
    /// Prio3Count: how many measurements were 1.
    Count(u64),
    /// Prio3Sum: the sum (modulo the field, as the VDAF computes it).
    Sum(u128),
    /// Prio3SumVec (either field): the element-wise sum.
    SumVec(Vec<u128>),
    /// Prio3Histogram: the count of each bucket.
    Histogram(Vec<u128>),
    /// Prio3FixedPointBoundedL2VecSum: the element-wise sum.
    FixedPointVec(Vec<f64>),
    /// Poplar1: how many measurements start with each candidate prefix.
    Poplar1(Vec<u64>),
}

impl Measurement {
    /// Checks that the measurement has the shape and range `instance` accepts.
    pub fn check(&self, instance: &VdafInstance) -> Result<(), VdafRunError> {
        let vdaf = instance.type_name();
        let fail = |reason: String| Err(VdafRunError::mismatch(vdaf, reason));
        let check_int = |value: u128, bits: u8| {
            if bits < 128 && value >> bits != 0 {
                fail(format!("measurement {value} does not fit in {bits} bits"))
            } else {
                Ok(())
            }
        };
        let check_len = |got: usize, want: u32| {
            if u32::try_from(got) != Ok(want) {
                fail(format!("measurement has length {got}, VDAF expects {want}"))
            } else {
                Ok(())
            }
        };
        match (instance, self) {
            (VdafInstance::Prio3Count, Measurement::Count(_)) => Ok(()),
            (VdafInstance::Prio3Sum { bits }, Measurement::Sum(value)) => check_int(*value, *bits),
            (
                VdafInstance::Prio3SumVec { bits, length, .. }
                | VdafInstance::Prio3SumVecField64MultiproofHmacSha256Aes128 { bits, length, .. },
                Measurement::SumVec(values),
            ) => {
                check_len(values.len(), *length)?;
                values.iter().try_for_each(|value| check_int(*value, *bits))
            }
            (VdafInstance::Prio3Histogram { length, .. }, Measurement::Histogram(index)) => {
                if u32::try_from(*index).map_or(true, |index| index >= *length) {
                    fail(format!("bucket {index} is not below the length {length}"))
                } else {
                    Ok(())
                }
            }
            (
                VdafInstance::Prio3FixedPointBoundedL2VecSum { bitsize, length },
                Measurement::FixedPointVec(values),
            ) => {
                check_len(values.len(), *length)?;
                fixed_point::check_vector(*bitsize, values)
                    .map_err(|reason| VdafRunError::mismatch(vdaf, reason))
            }
            (VdafInstance::Poplar1 { bits }, Measurement::Poplar1(string)) => {
                if string.len() != usize::from(*bits) {
                    fail(format!(
                        "measurement has {} bits, VDAF expects {bits}",
                        string.len()
                    ))
                } else {
                    Ok(())
                }
            }
            (_, other) => fail(format!("a {} measurement does not fit", other.kind())),
        }
    }

    /// The family this measurement belongs to, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Measurement::Count(_) => "count",
            Measurement::Sum(_) => "sum",
            Measurement::SumVec(_) => "sum vector",
            Measurement::Histogram(_) => "histogram",
            Measurement::FixedPointVec(_) => "fixed-point vector",
            Measurement::Poplar1(_) => "Poplar1 bit string",
        }
    }
}

/// A measurement drawn uniformly from those `instance` accepts (for
/// Prio3FixedPointBoundedL2VecSum: entries drawn so the norm stays below 1,
/// already rounded to the fixed-point width).
pub fn random_measurement<R: Rng + ?Sized>(instance: &VdafInstance, rng: &mut R) -> Measurement {
    let below_power_of_two = |rng: &mut R, bits: u8| -> u128 {
        let bits = bits.min(127);
        rng.gen_range(0..(1u128 << bits))
    };
    match *instance {
        VdafInstance::Prio3Count => Measurement::Count(rng.gen()),
        VdafInstance::Prio3Sum { bits } => Measurement::Sum(below_power_of_two(rng, bits)),
        VdafInstance::Prio3SumVec { bits, length, .. }
        | VdafInstance::Prio3SumVecField64MultiproofHmacSha256Aes128 { bits, length, .. } => {
            Measurement::SumVec((0..length).map(|_| below_power_of_two(rng, bits)).collect())
        }
        VdafInstance::Prio3Histogram { length, .. } => {
            Measurement::Histogram(rng.gen_range(0..length.max(1)) as usize)
        }
        VdafInstance::Prio3FixedPointBoundedL2VecSum { bitsize, length } => {
            Measurement::FixedPointVec(fixed_point::random_vector(bitsize, length, rng))
        }
        VdafInstance::Poplar1 { bits } => {
            Measurement::Poplar1((0..bits).map(|_| rng.gen()).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vdaf::FixedPointBitSize;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn instances() -> Vec<VdafInstance> {
        vec![
            VdafInstance::Prio3Count,
            VdafInstance::Prio3Sum { bits: 3 },
            VdafInstance::Prio3SumVec {
                bits: 2,
                length: 4,
                chunk_length: 2,
            },
            VdafInstance::Prio3Histogram {
                length: 5,
                chunk_length: 2,
            },
            VdafInstance::Prio3SumVecField64MultiproofHmacSha256Aes128 {
                proofs: 2,
                bits: 63,
                length: 3,
                chunk_length: 2,
            },
            VdafInstance::Prio3FixedPointBoundedL2VecSum {
                bitsize: FixedPointBitSize::BitSize16,
                length: 10,
            },
            VdafInstance::Prio3FixedPointBoundedL2VecSum {
                bitsize: FixedPointBitSize::BitSize64,
                length: 3,
            },
            VdafInstance::Poplar1 { bits: 5 },
        ]
    }

    #[test]
    fn random_measurements_fit_their_instance() {
        let mut rng = StdRng::seed_from_u64(7);
        for instance in instances() {
            for _ in 0..50 {
                let m = random_measurement(&instance, &mut rng);
                m.check(&instance)
                    .unwrap_or_else(|e| panic!("{instance}: {m:?}: {e}"));
            }
        }
    }

    #[test]
    fn measurements_that_do_not_fit_are_rejected() {
        let sum = VdafInstance::Prio3Sum { bits: 3 };
        assert!(Measurement::Sum(7).check(&sum).is_ok());
        assert!(Measurement::Sum(8).check(&sum).is_err());
        assert!(Measurement::Count(true).check(&sum).is_err());
        let vec = VdafInstance::Prio3SumVec {
            bits: 2,
            length: 2,
            chunk_length: 1,
        };
        assert!(Measurement::SumVec(vec![3, 0]).check(&vec).is_ok());
        assert!(Measurement::SumVec(vec![3, 4]).check(&vec).is_err());
        assert!(Measurement::SumVec(vec![1]).check(&vec).is_err());
        let histogram = VdafInstance::Prio3Histogram {
            length: 3,
            chunk_length: 1,
        };
        assert!(Measurement::Histogram(2).check(&histogram).is_ok());
        assert!(Measurement::Histogram(3).check(&histogram).is_err());
        let fixed = VdafInstance::Prio3FixedPointBoundedL2VecSum {
            bitsize: FixedPointBitSize::BitSize16,
            length: 2,
        };
        assert!(Measurement::FixedPointVec(vec![0.5, -0.5])
            .check(&fixed)
            .is_ok());
        assert!(Measurement::FixedPointVec(vec![0.8, 0.8])
            .check(&fixed)
            .is_err());
        assert!(Measurement::FixedPointVec(vec![1.0, 0.0])
            .check(&fixed)
            .is_err());
        assert!(Measurement::FixedPointVec(vec![f64::NAN, 0.0])
            .check(&fixed)
            .is_err());
        let poplar = VdafInstance::Poplar1 { bits: 2 };
        assert!(Measurement::Poplar1(vec![true, false])
            .check(&poplar)
            .is_ok());
        assert!(Measurement::Poplar1(vec![true]).check(&poplar).is_err());
    }
}
