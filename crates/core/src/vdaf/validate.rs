//! [`VdafInstance::validate`]: whether an instance's parameters make a VDAF
//! dyad can run: each in its range, then the whole accepted by `prio` (by
//! building the VDAF through [`vdaf_dispatch!`](crate::vdaf_dispatch)).
//! Parsing an instance (its JSON form) runs it too.
//!
//! # Where is
//!
//! - a Field64 multiproof VDAF needs at least 2 proofs (VDAF-08 sections
//!   7.1.2 and 9.5) -> [`VdafInstance::validate`];
//! - every other parameter range, and `prio`'s own checks ->
//!   [`VdafInstance::validate`], failing with [`VdafInstanceError`].

use super::error::VdafInstanceError;
use super::instance::VdafInstance;

impl VdafInstance {
    /// Checks the parameters: each in its range, and together accepted by
    /// `prio`. Parsing (serde, [`FromStr`](std::str::FromStr)) validates too; call this for an
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
