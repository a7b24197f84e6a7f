//! The concrete `prio` 0.16 types behind each catalogue entry, and one
//! constructor per entry. Every constructor builds the two-aggregator
//! instance DAP uses (DAP-09 section 4: one Leader, one Helper).
//!
//! Most entries are `prio`'s own instantiations (VDAF-08 sections 7.4 and 8).
//! [`Prio3SumVecField64MultiproofHmacSha256Aes128`] is assembled here from
//! `prio`'s parts: Prio3 (VDAF-08 section 7) with the SumVec circuit over
//! Field64, `proofs` proofs (VDAF-08 section 7.1.2) and XofHmacSha256Aes128,
//! under the private-use algorithm ID
//! [`PRIO3_SUM_VEC_FIELD64_MULTIPROOF_ALGORITHM_ID`].
//!
//! # Where is
//!
//! - two aggregators (DAP-09 section 4) -> [`NUM_AGGREGATORS`];
//! - the nonce length, a report ID's (DAP-09 section 4.4.2) -> [`NONCE_LEN`];
//! - each XOF's seed size (`VERIFY_KEY_SIZE`) ->
//!   [`TURBOSHAKE128_VERIFY_KEY_LEN`], [`HMAC_SHA256_AES128_VERIFY_KEY_LEN`];
//! - the multiproof SumVec over Field64 ->
//!   [`new_prio3_sum_vec_field64_multiproof_hmac_sha256_aes128`].

use fixed::types::extra::{U15, U31, U63};
use fixed::{FixedI16, FixedI32, FixedI64};
use prio::field::Field64;
use prio::flp::gadgets::{Mul, ParallelSum};
use prio::flp::types::fixedpoint_l2::compatible_float::CompatibleFloat;
use prio::flp::types::SumVec;
use prio::vdaf::poplar1::Poplar1;
use prio::vdaf::prio3::Prio3;
use prio::vdaf::xof::{XofHmacSha256Aes128, XofTurboShake128};
use prio::vdaf::VdafError;

pub use prio::vdaf::prio3::{
    Prio3Count, Prio3FixedPointBoundedL2VecSum, Prio3Histogram, Prio3Sum, Prio3SumVec,
};

/// DAP has exactly two aggregators, so every VDAF is instantiated with two shares.
pub const NUM_AGGREGATORS: u8 = 2;

/// `NONCE_SIZE` of every catalogued VDAF: DAP-09 uses the 16-byte report ID as
/// the VDAF nonce (section 4, "Protocol Definition").
pub const NONCE_LEN: usize = 16;

/// `VERIFY_KEY_SIZE` of VDAFs using XofTurboShake128: its `SEED_SIZE`, 16
/// (VDAF-08 section 6.2.1; Prio3 in section 7.2 and Poplar1 in section 8.2
/// set `VERIFY_KEY_SIZE = Xof.SEED_SIZE`).
pub const TURBOSHAKE128_VERIFY_KEY_LEN: usize = 16;

/// `VERIFY_KEY_SIZE` of VDAFs using XofHmacSha256Aes128: its 32-byte seed
/// (the `Xof<32>` implementation in `prio`).
pub const HMAC_SHA256_AES128_VERIFY_KEY_LEN: usize = 32;

/// The algorithm ID (VDAF-08 section 10, private-use range `0xFFFF0000` and
/// up) under which DAP-09 deployments run
/// [`Prio3SumVecField64MultiproofHmacSha256Aes128`]; it is also that VDAF's
/// taskprov type code. It enters Prio3's domain separation tags, so a peer
/// using another ID rejects every report.
pub const PRIO3_SUM_VEC_FIELD64_MULTIPROOF_ALGORITHM_ID: u32 = 0xFFFF_1003;

/// Prio3SumVec over Field64 with several proofs and XofHmacSha256Aes128.
pub type Prio3SumVecField64MultiproofHmacSha256Aes128 = Prio3<
    SumVec<Field64, ParallelSum<Field64, Mul<Field64>>>,
    XofHmacSha256Aes128,
    HMAC_SHA256_AES128_VERIFY_KEY_LEN,
>;

/// Prio3FixedPointBoundedL2VecSum over 16-bit fixed-point numbers.
pub type Prio3FixedPointBoundedL2VecSum16 = Prio3FixedPointBoundedL2VecSum<FixedI16<U15>>;
/// Prio3FixedPointBoundedL2VecSum over 32-bit fixed-point numbers.
pub type Prio3FixedPointBoundedL2VecSum32 = Prio3FixedPointBoundedL2VecSum<FixedI32<U31>>;
/// Prio3FixedPointBoundedL2VecSum over 64-bit fixed-point numbers.
pub type Prio3FixedPointBoundedL2VecSum64 = Prio3FixedPointBoundedL2VecSum<FixedI64<U63>>;

/// Poplar1 with XofTurboShake128 (VDAF-08 section 8.4).
pub type Poplar1TurboShake128 = Poplar1<XofTurboShake128, TURBOSHAKE128_VERIFY_KEY_LEN>;

/// Prio3Count for two aggregators.
pub fn new_prio3_count() -> Result<Prio3Count, VdafError> {
    Prio3::new_count(NUM_AGGREGATORS)
}

/// Prio3Sum of `bits`-bit integers for two aggregators.
pub fn new_prio3_sum(bits: u8) -> Result<Prio3Sum, VdafError> {
    Prio3::new_sum(NUM_AGGREGATORS, bits.into())
}

/// Prio3SumVec of `length` `bits`-bit integers for two aggregators.
pub fn new_prio3_sum_vec(
    bits: u8,
    length: u32,
    chunk_length: u32,
) -> Result<Prio3SumVec, VdafError> {
    Prio3::new_sum_vec(
        NUM_AGGREGATORS,
        bits.into(),
        to_usize(length)?,
        to_usize(chunk_length)?,
    )
}

/// Prio3Histogram over `length` buckets for two aggregators.
pub fn new_prio3_histogram(length: u32, chunk_length: u32) -> Result<Prio3Histogram, VdafError> {
    Prio3::new_histogram(NUM_AGGREGATORS, to_usize(length)?, to_usize(chunk_length)?)
}

/// Prio3SumVec over Field64 with `proofs` proofs and XofHmacSha256Aes128, for
/// two aggregators. At least two proofs are required: one proof over a 64-bit
/// field is not sound enough (VDAF-08 sections 7.1.2 and 9.5).
pub fn new_prio3_sum_vec_field64_multiproof_hmac_sha256_aes128(
    proofs: u8,
    bits: u8,
    length: u32,
    chunk_length: u32,
) -> Result<Prio3SumVecField64MultiproofHmacSha256Aes128, VdafError> {
    if proofs < 2 {
        return Err(VdafError::Uncategorized(format!(
            "Prio3SumVec over Field64 needs at least 2 proofs, got {proofs}"
        )));
    }
    Prio3::new(
        NUM_AGGREGATORS,
        proofs,
        PRIO3_SUM_VEC_FIELD64_MULTIPROOF_ALGORITHM_ID,
        SumVec::new(bits.into(), to_usize(length)?, to_usize(chunk_length)?)?,
    )
}

/// Prio3FixedPointBoundedL2VecSum of `length` entries of type `Fx` for two
/// aggregators.
pub fn new_prio3_fixed_point_bounded_l2_vec_sum<Fx>(
    length: u32,
) -> Result<Prio3FixedPointBoundedL2VecSum<Fx>, VdafError>
where
    Fx: fixed::traits::Fixed + CompatibleFloat,
{
    Prio3::new_fixedpoint_boundedl2_vec_sum(NUM_AGGREGATORS, to_usize(length)?)
}

/// Poplar1 over `bits`-bit strings with XofTurboShake128 (two aggregators is
/// the only kind of Poplar1).
pub fn new_poplar1(bits: u16) -> Result<Poplar1TurboShake128, VdafError> {
    if bits == 0 {
        return Err(VdafError::Uncategorized(
            "Poplar1 needs at least one bit".to_string(),
        ));
    }
    Ok(Poplar1::new_turboshake128(bits.into()))
}

fn to_usize(value: u32) -> Result<usize, VdafError> {
    usize::try_from(value)
        .map_err(|_| VdafError::Uncategorized(format!("{value} does not fit in usize")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use prio::vdaf::{Aggregator, Client, Collector, PrepareTransition, Vdaf};

    /// Janus, a deployed DAP-09 implementation, builds the same `prio` type for
    /// this VDAF; a report it shards must prepare and aggregate with ours,
    /// which only happens if the algorithm ID (part of every domain separation
    /// tag) and all parameters agree.
    #[test]
    fn field64_multiproof_interoperates_with_a_deployed_implementation() {
        let theirs = janus_core::vdaf::new_prio3_sum_vec_field64_multiproof_hmacsha256_aes128::<
            ParallelSum<Field64, Mul<Field64>>,
        >(3, 8, 5, 2)
        .unwrap();
        let ours = new_prio3_sum_vec_field64_multiproof_hmac_sha256_aes128(3, 8, 5, 2).unwrap();
        assert_eq!(theirs.algorithm_id(), ours.algorithm_id());
        assert_eq!(
            ours.algorithm_id(),
            PRIO3_SUM_VEC_FIELD64_MULTIPROOF_ALGORITHM_ID
        );
        assert_eq!(
            janus_core::vdaf::VERIFY_KEY_LENGTH_HMACSHA256_AES128,
            HMAC_SHA256_AES128_VERIFY_KEY_LEN
        );
        assert_eq!(
            janus_core::vdaf::VERIFY_KEY_LENGTH,
            TURBOSHAKE128_VERIFY_KEY_LEN
        );

        let verify_key = [9u8; HMAC_SHA256_AES128_VERIFY_KEY_LEN];
        let nonce = [4u8; NONCE_LEN];
        let measurement = vec![1, 2, 3, 200, 255];
        let (public_share, input_shares) = theirs.shard(&measurement, &nonce).unwrap();
        let mut states = Vec::new();
        let mut prep_shares = Vec::new();
        for (agg_id, input_share) in input_shares.iter().enumerate() {
            let (state, share) = ours
                .prepare_init(&verify_key, agg_id, &(), &nonce, &public_share, input_share)
                .unwrap();
            states.push(state);
            prep_shares.push(share);
        }
        let message = ours
            .prepare_shares_to_prepare_message(&(), prep_shares)
            .unwrap();
        let mut aggregate_shares = Vec::new();
        for state in states {
            let PrepareTransition::Finish(output_share) =
                ours.prepare_next(state, message.clone()).unwrap()
            else {
                panic!("Prio3 prepares in one round");
            };
            aggregate_shares.push(ours.aggregate(&(), [output_share]).unwrap());
        }
        assert_eq!(ours.unshard(&(), aggregate_shares, 1).unwrap(), measurement);
    }

    #[test]
    fn constructors_reject_invalid_parameters() {
        assert!(new_prio3_sum_vec_field64_multiproof_hmac_sha256_aes128(1, 8, 5, 2).is_err());
        assert!(new_prio3_sum_vec_field64_multiproof_hmac_sha256_aes128(2, 64, 5, 2).is_err());
        assert!(new_prio3_sum(65).is_err());
        assert!(new_prio3_sum_vec(8, 0, 1).is_err());
        assert!(new_prio3_histogram(4, 0).is_err());
        assert!(new_prio3_fixed_point_bounded_l2_vec_sum::<FixedI64<U63>>(1000).is_err());
        assert!(new_poplar1(0).is_err());
        assert!(new_poplar1(1).is_ok());
    }
}
