//! [`VdafInstance`]: one entry of the catalogue, naming a VDAF and its
//! parameters. The names and parameters of the interop test API's VDAF object
//! (draft-dcook-ppm-dap-interop-test-design-07 section 4.1.1, "VDAF") are used for
//! the VDAFs it defines; the other entries follow the same pattern.
//!
//! A `VdafInstance` is plain data. [`VdafInstance::validate`] (in
//! `validate.rs`) checks its parameters (parsing does so too), its JSON and
//! text forms are in `json.rs`, and [`crate::vdaf_dispatch!`] turns it into
//! the concrete `prio` type.
//!
//! # Where is
//!
//! - `VERIFY_KEY_SIZE` of each VDAF (VDAF-08 section 5) ->
//!   [`VdafInstance::verify_key_length`];
//! - the object's `type` name -> [`VdafInstance::type_name`];
//! - one round of preparation and an empty aggregation parameter (Prio3,
//!   VDAF-08 section 7) -> [`VdafInstance::is_prio3`];
//! - the fixed-point entry widths -> [`FixedPointBitSize::from_bits`].

use super::concrete::{HMAC_SHA256_AES128_VERIFY_KEY_LEN, TURBOSHAKE128_VERIFY_KEY_LEN};
use super::type_names::{
    POPLAR1, PRIO3_COUNT, PRIO3_FIXED_POINT, PRIO3_HISTOGRAM, PRIO3_SUM, PRIO3_SUM_VEC,
    PRIO3_SUM_VEC_FIELD64_MULTIPROOF,
};
use std::fmt;

/// The fixed-point widths `prio` supports for Prio3FixedPointBoundedL2VecSum:
/// signed fixed-point numbers with one integer bit, representing values in
/// `[-1, 1)` (`FixedI16<U15>`, `FixedI32<U31>` and `FixedI64<U63>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FixedPointBitSize {
    BitSize16,
    BitSize32,
    BitSize64,
}

impl FixedPointBitSize {
    /// The width in bits.
    pub const fn bits(&self) -> u32 {
        match self {
            FixedPointBitSize::BitSize16 => 16,
            FixedPointBitSize::BitSize32 => 32,
            FixedPointBitSize::BitSize64 => 64,
        }
    }

    /// The width for a number of bits, if `prio` supports it.
    pub const fn from_bits(bits: u64) -> Option<Self> {
        match bits {
            16 => Some(FixedPointBitSize::BitSize16),
            32 => Some(FixedPointBitSize::BitSize32),
            64 => Some(FixedPointBitSize::BitSize64),
            _ => None,
        }
    }
}

impl fmt::Display for FixedPointBitSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.bits())
    }
}

/// Every VDAF dyad supports, with its parameters. All run with the two
/// aggregators of DAP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VdafInstance {
    /// Prio3Count (VDAF-08 section 7.4.1): each measurement is 0 or 1.
    Prio3Count,
    /// Prio3Sum (VDAF-08 section 7.4.2): each measurement is an integer in
    /// `[0, 2^bits)`, `1 <= bits <= 64`.
    Prio3Sum { bits: u8 },
    /// Prio3SumVec (VDAF-08 section 7.4.3): a vector of `length` integers, each
    /// in `[0, 2^bits)`, `1 <= bits <= 127`.
    Prio3SumVec {
        bits: u8,
        length: u32,
        chunk_length: u32,
    },
    /// Prio3Histogram (VDAF-08 section 7.4.4): each measurement is a bucket
    /// index in `[0, length)`.
    Prio3Histogram { length: u32, chunk_length: u32 },
    /// Prio3SumVec over Field64 with `proofs` proofs (VDAF-08 section 7.1.2)
    /// and XofHmacSha256Aes128, a private-use VDAF deployed by DAP-09
    /// aggregators; `proofs >= 2`, `1 <= bits <= 63`.
    Prio3SumVecField64MultiproofHmacSha256Aes128 {
        proofs: u8,
        bits: u8,
        length: u32,
        chunk_length: u32,
    },
    /// `prio`'s experimental Prio3FixedPointBoundedL2VecSum: a vector of
    /// `length` fixed-point numbers in `[-1, 1)` whose L2 norm is at most 1.
    Prio3FixedPointBoundedL2VecSum {
        bitsize: FixedPointBitSize,
        length: u32,
    },
    /// Poplar1 (VDAF-08 section 8) over `bits`-bit strings.
    Poplar1 { bits: u16 },
}

impl VdafInstance {
    /// The `type` of the VDAF object.
    pub const fn type_name(&self) -> &'static str {
        match self {
            VdafInstance::Prio3Count => PRIO3_COUNT,
            VdafInstance::Prio3Sum { .. } => PRIO3_SUM,
            VdafInstance::Prio3SumVec { .. } => PRIO3_SUM_VEC,
            VdafInstance::Prio3Histogram { .. } => PRIO3_HISTOGRAM,
            VdafInstance::Prio3SumVecField64MultiproofHmacSha256Aes128 { .. } => {
                PRIO3_SUM_VEC_FIELD64_MULTIPROOF
            }
            VdafInstance::Prio3FixedPointBoundedL2VecSum { .. } => PRIO3_FIXED_POINT,
            VdafInstance::Poplar1 { .. } => POPLAR1,
        }
    }

    /// `VERIFY_KEY_SIZE` (VDAF-08 section 5): the length in bytes of the
    /// verification key shared by the aggregators. It is the seed size of the
    /// VDAF's XOF: 16 for XofTurboShake128, 32 for XofHmacSha256Aes128.
    pub const fn verify_key_length(&self) -> usize {
        match self {
            VdafInstance::Prio3SumVecField64MultiproofHmacSha256Aes128 { .. } => {
                HMAC_SHA256_AES128_VERIFY_KEY_LEN
            }
            VdafInstance::Prio3Count
            | VdafInstance::Prio3Sum { .. }
            | VdafInstance::Prio3SumVec { .. }
            | VdafInstance::Prio3Histogram { .. }
            | VdafInstance::Prio3FixedPointBoundedL2VecSum { .. }
            | VdafInstance::Poplar1 { .. } => TURBOSHAKE128_VERIFY_KEY_LEN,
        }
    }

    /// Whether the VDAF is in the Prio3 family (one round of preparation, an
    /// empty aggregation parameter).
    pub const fn is_prio3(&self) -> bool {
        !matches!(self, VdafInstance::Poplar1 { .. })
    }
}
