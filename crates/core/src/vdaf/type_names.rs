//! The `type` names of the catalogue's VDAF objects
//! (draft-dcook-ppm-dap-interop-test-design-07 section 4.1.1 for the VDAFs it
//! defines), and [`VDAF_TYPES`], their list: shared by the instance
//! ([`VdafInstance::type_name`](super::VdafInstance::type_name)), its JSON
//! form and the error naming the known types. Imports nothing.
//!
//! # Where is
//!
//! - the list error messages show, in order -> [`VDAF_TYPES`].

pub(crate) const PRIO3_COUNT: &str = "Prio3Count";
pub(crate) const PRIO3_SUM: &str = "Prio3Sum";
pub(crate) const PRIO3_SUM_VEC: &str = "Prio3SumVec";
pub(crate) const PRIO3_HISTOGRAM: &str = "Prio3Histogram";
pub(crate) const PRIO3_SUM_VEC_FIELD64_MULTIPROOF: &str =
    "Prio3SumVecField64MultiproofHmacSha256Aes128";
pub(crate) const PRIO3_FIXED_POINT: &str = "Prio3FixedPointBoundedL2VecSum";
pub(crate) const POPLAR1: &str = "Poplar1";

/// Every VDAF type name dyad knows, in the order error messages list them.
pub const VDAF_TYPES: [&str; 7] = [
    PRIO3_COUNT,
    PRIO3_SUM,
    PRIO3_SUM_VEC,
    PRIO3_HISTOGRAM,
    PRIO3_SUM_VEC_FIELD64_MULTIPROOF,
    PRIO3_FIXED_POINT,
    POPLAR1,
];
