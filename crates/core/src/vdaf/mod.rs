//! The VDAF catalogue: every VDAF dyad supports, its JSON form, and the single
//! dispatch point to concrete `prio` types.
//!
//! - [`VdafInstance`] names a VDAF and its parameters; its serde, [`FromStr`]
//!   and `Display` forms are the interop test API's VDAF object
//!   (draft-dcook-ppm-dap-interop-test-design-07 section 4.2).
//! - [`vdaf_dispatch!`](crate::vdaf_dispatch) turns an instance into the
//!   concrete `prio` 0.16 type (VDAF-08) so code elsewhere is written once,
//!   generic over `prio::vdaf::{Client, Aggregator, Collector}` and
//!   [`CatalogueVdaf`]; [`concrete`] holds those types and their constructors.
//! - [`Measurement`], [`AggregationParam`] and [`AggregateResult`] are
//!   catalogue-level values; [`random_measurement`], [`plaintext_aggregate`],
//!   [`shard_measurement`] and [`aggregate_locally`] work with them for any
//!   instance.
//!
//! [`FromStr`]: std::str::FromStr
//!
//! # Where is
//!
//! - a VDAF's parameters -> [`VdafInstance::validate`]; `VERIFY_KEY_SIZE`
//!   (VDAF-08 section 5) -> [`VdafInstance::verify_key_length`];
//! - the VDAF object's JSON and text forms -> `json.rs` (`Serialize`,
//!   `Deserialize`, `FromStr` and `Display` for [`VdafInstance`]);
//! - an instance to its `prio` type -> [`vdaf_dispatch!`](crate::vdaf_dispatch),
//!   [`concrete`];
//! - sharding (VDAF-08 section 5.1) -> [`shard_measurement`]; a whole run in
//!   one process (VDAF-08 section 5.8) -> [`run_locally`];
//! - a measurement fitting its instance -> [`Measurement::check`];
//! - aggregation parameters: known in advance or chosen at collection, well
//!   formed, `is_valid` (VDAF-08 sections 7.3, 8.3), the order of one
//!   batch's collections -> `agg_param.rs`
//!   ([`VdafInstance::fixed_aggregation_parameter`],
//!   [`VdafInstance::check_aggregation_parameter`],
//!   [`VdafInstance::agg_param_is_valid`],
//!   [`VdafInstance::check_batch_agg_params`]);
//! - a task's differential-privacy strategy and which VDAF takes which ->
//!   `dp.rs` ([`DpStrategy`], [`DpStrategy::check_for`]); its noise on an
//!   aggregate share and the noisy aggregate read back -> `noise.rs`
//!   ([`add_noise_to_aggregate_share`], [`unshard_noised`]).

mod agg_param;
mod catalogue_vdaf;
pub mod concrete;
mod dispatch;
mod dp;
mod error;
mod fixed_point;
mod instance;
mod json;
mod measurement;
mod noise;
mod plaintext;
mod shard;
mod simulate;
mod type_names;
mod validate;

pub use agg_param::{param_kind, AggParamError, ParamKind};
pub use catalogue_vdaf::CatalogueVdaf;
pub use concrete::{
    new_poplar1, new_prio3_count, new_prio3_fixed_point_bounded_l2_vec_sum, new_prio3_histogram,
    new_prio3_sum, new_prio3_sum_vec, new_prio3_sum_vec_field64_multiproof_hmac_sha256_aes128,
    Poplar1TurboShake128, Prio3Count, Prio3FixedPointBoundedL2VecSum,
    Prio3FixedPointBoundedL2VecSum16, Prio3FixedPointBoundedL2VecSum32,
    Prio3FixedPointBoundedL2VecSum64, Prio3Histogram, Prio3Sum, Prio3SumVec,
    Prio3SumVecField64MultiproofHmacSha256Aes128, HMAC_SHA256_AES128_VERIFY_KEY_LEN, NONCE_LEN,
    PRIO3_SUM_VEC_FIELD64_MULTIPROOF_ALGORITHM_ID, TURBOSHAKE128_VERIFY_KEY_LEN,
};
pub use dp::{DpBudget, DpStrategy, DpStrategyError};
pub use error::{VdafInstanceError, VdafRunError};
pub use instance::{FixedPointBitSize, VdafInstance};
pub use measurement::{random_measurement, AggregateResult, AggregationParam, Measurement};
pub use noise::{add_noise_to_aggregate_share, unshard_noised, NoisedResult};
pub use plaintext::plaintext_aggregate;
pub use prio::vdaf::VdafError as PrioVdafError;
pub use shard::{shard_measurement, shard_with, ShardedMeasurement};
pub use simulate::{aggregate_locally, run_locally};
pub use type_names::VDAF_TYPES;
