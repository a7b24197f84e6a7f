//! [`CatalogueVdaf`]: what every concrete VDAF in the catalogue offers beyond
//! `prio`'s traits, namely conversion between dyad's catalogue-level values
//! ([`Measurement`], [`AggregationParam`], [`AggregateResult`]) and the VDAF's
//! own types. Generic code inside [`crate::vdaf_dispatch!`] uses it to accept
//! and return values without knowing the concrete VDAF.
//!
//! # Where is
//!
//! - a measurement of another family refused -> [`wrong_measurement`];
//! - Prio3's empty aggregation parameter -> [`empty_param`];
//! - each entry's conversions -> [`CatalogueVdaf`]'s methods, one `impl` per
//!   entry.

use super::concrete::{
    Poplar1TurboShake128, Prio3Count, Prio3FixedPointBoundedL2VecSum, Prio3Histogram, Prio3Sum,
    Prio3SumVec, Prio3SumVecField64MultiproofHmacSha256Aes128,
};
use super::error::VdafRunError;
use super::measurement::{AggregateResult, AggregationParam, Measurement};
use fixed::traits::Fixed;
use prio::flp::types::fixedpoint_l2::compatible_float::CompatibleFloat;
use prio::idpf::IdpfInput;
use prio::vdaf::poplar1::Poplar1AggregationParam;
use prio::vdaf::Vdaf;

/// A concrete VDAF of the catalogue.
///
/// The conversions check the shape of a value (family, element type); ranges
/// that depend on the instance's parameters are checked by
/// [`Measurement::check`] and by `prio` itself.
pub trait CatalogueVdaf: Vdaf {
    /// The catalogue's name of the VDAF family, for messages.
    const FAMILY: &'static str;

    /// The VDAF's measurement for a catalogue measurement.
    fn to_vdaf_measurement(
        &self,
        measurement: &Measurement,
    ) -> Result<Self::Measurement, VdafRunError>;

    /// The VDAF's aggregation parameter for a catalogue one.
    fn to_vdaf_aggregation_param(
        &self,
        param: &AggregationParam,
    ) -> Result<Self::AggregationParam, VdafRunError>;

    /// The catalogue form of the VDAF's aggregate result.
    fn to_aggregate_result(&self, result: Self::AggregateResult) -> AggregateResult;
}

fn wrong_measurement(family: &'static str, measurement: &Measurement) -> VdafRunError {
    VdafRunError::mismatch(
        family,
        format!("a {} measurement does not fit", measurement.kind()),
    )
}

fn empty_param(family: &'static str, param: &AggregationParam) -> Result<(), VdafRunError> {
    match param {
        AggregationParam::Empty => Ok(()),
        AggregationParam::Poplar1 { .. } => Err(VdafRunError::mismatch(
            family,
            "Prio3 takes the empty aggregation parameter",
        )),
    }
}

/// Implements the aggregation-parameter part for a Prio3 type.
macro_rules! prio3_empty_param {
    () => {
        fn to_vdaf_aggregation_param(&self, param: &AggregationParam) -> Result<(), VdafRunError> {
            empty_param(Self::FAMILY, param)
        }
    };
}

impl CatalogueVdaf for Prio3Count {
    const FAMILY: &'static str = "Prio3Count";

    fn to_vdaf_measurement(&self, measurement: &Measurement) -> Result<bool, VdafRunError> {
        match measurement {
            Measurement::Count(bit) => Ok(*bit),
            other => Err(wrong_measurement(Self::FAMILY, other)),
        }
    }

    prio3_empty_param!();

    fn to_aggregate_result(&self, result: u64) -> AggregateResult {
        AggregateResult::Count(result)
    }
}

impl CatalogueVdaf for Prio3Sum {
    const FAMILY: &'static str = "Prio3Sum";

    fn to_vdaf_measurement(&self, measurement: &Measurement) -> Result<u128, VdafRunError> {
        match measurement {
            Measurement::Sum(value) => Ok(*value),
            other => Err(wrong_measurement(Self::FAMILY, other)),
        }
    }

    prio3_empty_param!();

    fn to_aggregate_result(&self, result: u128) -> AggregateResult {
        AggregateResult::Sum(result)
    }
}

impl CatalogueVdaf for Prio3SumVec {
    const FAMILY: &'static str = "Prio3SumVec";

    fn to_vdaf_measurement(&self, measurement: &Measurement) -> Result<Vec<u128>, VdafRunError> {
        match measurement {
            Measurement::SumVec(values) => Ok(values.clone()),
            other => Err(wrong_measurement(Self::FAMILY, other)),
        }
    }

    prio3_empty_param!();

    fn to_aggregate_result(&self, result: Vec<u128>) -> AggregateResult {
        AggregateResult::SumVec(result)
    }
}

impl CatalogueVdaf for Prio3Histogram {
    const FAMILY: &'static str = "Prio3Histogram";

    fn to_vdaf_measurement(&self, measurement: &Measurement) -> Result<usize, VdafRunError> {
        match measurement {
            Measurement::Histogram(index) => Ok(*index),
            other => Err(wrong_measurement(Self::FAMILY, other)),
        }
    }

    prio3_empty_param!();

    fn to_aggregate_result(&self, result: Vec<u128>) -> AggregateResult {
        AggregateResult::Histogram(result)
    }
}

impl CatalogueVdaf for Prio3SumVecField64MultiproofHmacSha256Aes128 {
    const FAMILY: &'static str = "Prio3SumVecField64MultiproofHmacSha256Aes128";

    fn to_vdaf_measurement(&self, measurement: &Measurement) -> Result<Vec<u64>, VdafRunError> {
        match measurement {
            Measurement::SumVec(values) => values
                .iter()
                .map(|value| {
                    u64::try_from(*value).map_err(|_| {
                        VdafRunError::mismatch(Self::FAMILY, format!("{value} exceeds 64 bits"))
                    })
                })
                .collect(),
            other => Err(wrong_measurement(Self::FAMILY, other)),
        }
    }

    prio3_empty_param!();

    fn to_aggregate_result(&self, result: Vec<u64>) -> AggregateResult {
        AggregateResult::SumVec(result.into_iter().map(u128::from).collect())
    }
}

impl<Fx> CatalogueVdaf for Prio3FixedPointBoundedL2VecSum<Fx>
where
    Fx: Fixed + CompatibleFloat,
{
    const FAMILY: &'static str = "Prio3FixedPointBoundedL2VecSum";

    fn to_vdaf_measurement(&self, measurement: &Measurement) -> Result<Vec<Fx>, VdafRunError> {
        match measurement {
            Measurement::FixedPointVec(values) => values
                .iter()
                .map(|value| {
                    value
                        .is_finite()
                        .then(|| Fx::checked_from_num(*value))
                        .flatten()
                        .ok_or_else(|| {
                            VdafRunError::mismatch(
                                Self::FAMILY,
                                format!("{value} is not a fixed-point number in [-1, 1)"),
                            )
                        })
                })
                .collect(),
            other => Err(wrong_measurement(Self::FAMILY, other)),
        }
    }

    prio3_empty_param!();

    fn to_aggregate_result(&self, result: Vec<f64>) -> AggregateResult {
        AggregateResult::FixedPointVec(result)
    }
}

impl CatalogueVdaf for Poplar1TurboShake128 {
    const FAMILY: &'static str = "Poplar1";

    fn to_vdaf_measurement(&self, measurement: &Measurement) -> Result<IdpfInput, VdafRunError> {
        match measurement {
            Measurement::Poplar1(bits) => Ok(IdpfInput::from_bools(bits)),
            other => Err(wrong_measurement(Self::FAMILY, other)),
        }
    }

    fn to_vdaf_aggregation_param(
        &self,
        param: &AggregationParam,
    ) -> Result<Poplar1AggregationParam, VdafRunError> {
        match param {
            AggregationParam::Poplar1 { prefixes } => {
                Ok(Poplar1AggregationParam::try_from_prefixes(
                    prefixes.iter().map(|p| IdpfInput::from_bools(p)).collect(),
                )?)
            }
            AggregationParam::Empty => Err(VdafRunError::mismatch(
                Self::FAMILY,
                "Poplar1 needs candidate prefixes as its aggregation parameter",
            )),
        }
    }

    fn to_aggregate_result(&self, result: Vec<u64>) -> AggregateResult {
        AggregateResult::Poplar1(result)
    }
}
