//! [`VdafInstance`]: one entry of the catalogue, naming a VDAF and its
//! parameters. The names and parameters of the interop test API's VDAF object
//! (draft-dcook-ppm-dap-interop-test-design-07 section 4.1.1, "VDAF") are used for
//! the VDAFs it defines; the other entries follow the same pattern.
//!
//! A `VdafInstance` is plain data. [`VdafInstance::validate`] checks its
//! parameters (parsing does so too), and [`crate::vdaf_dispatch!`] turns it into
//! the concrete `prio` type.

use super::concrete::{HMAC_SHA256_AES128_VERIFY_KEY_LEN, TURBOSHAKE128_VERIFY_KEY_LEN};
use super::error::VdafInstanceError;
use std::fmt;
use std::str::FromStr;

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

    /// Checks the parameters: each in its range, and together accepted by
    /// `prio`. Parsing (serde, [`FromStr`]) validates too; call this for an
    /// instance built by hand.
    pub fn validate(&self) -> Result<(), VdafInstanceError> {
        let vdaf = self.type_name();
        let out_of_range = |param: &'static str, value: u64, reason: &str| {
            Err(VdafInstanceError::OutOfRange {
                vdaf,
                param,
                value,
                reason: reason.to_string(),
            })
        };
        let nonzero = |param: &'static str, value: u32| {
            if value == 0 {
                out_of_range(param, 0, "must be at least 1")
            } else {
                Ok(())
            }
        };
        match *self {
            VdafInstance::Prio3Count => {}
            VdafInstance::Prio3Sum { bits } => {
                if !(1..=64).contains(&bits) {
                    return out_of_range("bits", bits.into(), "must be in 1..=64");
                }
            }
            VdafInstance::Prio3SumVec {
                bits,
                length,
                chunk_length,
            } => {
                if !(1..=127).contains(&bits) {
                    return out_of_range("bits", bits.into(), "must be in 1..=127");
                }
                nonzero("length", length)?;
                nonzero("chunk_length", chunk_length)?;
            }
            VdafInstance::Prio3Histogram {
                length,
                chunk_length,
            } => {
                nonzero("length", length)?;
                if length == u32::MAX {
                    return out_of_range("length", length.into(), "must be below 2^32 - 1");
                }
                nonzero("chunk_length", chunk_length)?;
            }
            VdafInstance::Prio3SumVecField64MultiproofHmacSha256Aes128 {
                proofs,
                bits,
                length,
                chunk_length,
            } => {
                // A single proof over a 64-bit field is not sound enough: the
                // point of multiple proofs (VDAF-08 sections 7.1.2 and 9.5).
                if proofs < 2 {
                    return out_of_range(
                        "proofs",
                        proofs.into(),
                        "Field64 needs at least 2 proofs for soundness",
                    );
                }
                if !(1..=63).contains(&bits) {
                    return out_of_range("bits", bits.into(), "must be in 1..=63");
                }
                nonzero("length", length)?;
                nonzero("chunk_length", chunk_length)?;
            }
            VdafInstance::Prio3FixedPointBoundedL2VecSum { length, .. } => {
                nonzero("length", length)?;
            }
            VdafInstance::Poplar1 { bits } => {
                if bits == 0 {
                    return out_of_range("bits", 0, "must be at least 1");
                }
            }
        }
        // Whatever else prio checks (for example, that a fixed-point vector's
        // norm fits the field) is found by constructing the VDAF, which is cheap.
        crate::vdaf_dispatch!(self, |_vdaf, _Vdaf, _VERIFY_KEY_LEN| {
            Ok::<(), prio::vdaf::VdafError>(())
        })
        .map_err(|e| VdafInstanceError::Rejected {
            vdaf,
            reason: e.to_string(),
        })
    }
}

/// The VDAF object as compact JSON, e.g. `{"type":"Prio3Sum","bits":"8"}`.
impl fmt::Display for VdafInstance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let json = serde_json::to_string(self).map_err(|_| fmt::Error)?;
        f.write_str(&json)
    }
}

/// Parses the VDAF object from JSON and validates it.
impl FromStr for VdafInstance {
    type Err = VdafInstanceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let object: super::json::VdafObject =
            serde_json::from_str(s).map_err(|e| VdafInstanceError::Malformed(e.to_string()))?;
        VdafInstance::try_from(object)
    }
}
