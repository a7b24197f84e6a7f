//! The one dispatch point from a [`VdafInstance`](super::VdafInstance) to a
//! concrete `prio` type: [`vdaf_dispatch!`](crate::vdaf_dispatch). Code that
//! runs a VDAF is written once, generic over `prio::vdaf::{Vdaf, Client,
//! Aggregator, Collector}` and [`CatalogueVdaf`](super::CatalogueVdaf), and
//! called from inside the macro's body.
//!
//! # Where is
//!
//! - each instance's `prio` type and constructor ->
//!   [`vdaf_dispatch!`](crate::vdaf_dispatch).

/// Constructs the concrete `prio` VDAF an instance names and runs `body` with it.
///
/// ```
/// use dyad_core::vdaf::{PrioVdafError, VdafInstance};
/// use prio::vdaf::{Aggregator, Vdaf};
///
/// // Generic code, written once.
/// fn describe<V: Aggregator<L, 16>, const L: usize>(vdaf: &V) -> (u32, usize) {
///     (vdaf.algorithm_id(), L)
/// }
///
/// let instance: VdafInstance = r#"{"type":"Prio3Sum","bits":"8"}"#.parse().unwrap();
/// let described = dyad_core::vdaf_dispatch!(&instance, |vdaf, V, VERIFY_KEY_LEN| {
///     Ok::<_, PrioVdafError>(describe::<V, VERIFY_KEY_LEN>(&vdaf))
/// });
/// assert_eq!(described.unwrap(), (0x0000_0001, 16));
/// ```
///
/// Inside `body`:
/// - `vdaf` is the constructed VDAF (a value of type `V`);
/// - `V` is a type alias for its concrete type, which implements
///   `Client<16>`, `Aggregator<VERIFY_KEY_LEN, 16>`, `Collector` and
///   [`CatalogueVdaf`](crate::vdaf::CatalogueVdaf);
/// - `VERIFY_KEY_LEN` is a `const usize`: the verification key length, equal to
///   [`VdafInstance::verify_key_length`](crate::vdaf::VdafInstance::verify_key_length).
///
/// The body is expanded once per VDAF, so it must compile for every one of
/// them (Poplar1 included): write it against the traits, not a specific type.
///
/// `instance` may be a `VdafInstance` or a reference to one. The body must
/// evaluate to `Result<T, E>` with `E: From<prio::vdaf::VdafError>`; the macro
/// evaluates to that `Result`, and to `Err` if the instance's parameters are
/// invalid and `prio` refuses to construct it. As in any block, `?` and
/// `return` in the body act on the enclosing function.
#[macro_export]
macro_rules! vdaf_dispatch {
    ($instance:expr, |$vdaf:ident, $Vdaf:ident, $VERIFY_KEY_LEN:ident| $body:expr) => {{
        #[allow(unused_imports)]
        use $crate::vdaf::concrete as __dyad_vdaf;
        let __dyad_instance: $crate::vdaf::VdafInstance =
            *::core::borrow::Borrow::<$crate::vdaf::VdafInstance>::borrow(&$instance);
        match __dyad_instance {
            $crate::vdaf::VdafInstance::Prio3Count => {
                $crate::vdaf_dispatch!(@arm
                    __dyad_vdaf::new_prio3_count(),
                    __dyad_vdaf::Prio3Count,
                    __dyad_vdaf::TURBOSHAKE128_VERIFY_KEY_LEN,
                    $vdaf, $Vdaf, $VERIFY_KEY_LEN, $body)
            }
            $crate::vdaf::VdafInstance::Prio3Sum { bits } => {
                $crate::vdaf_dispatch!(@arm
                    __dyad_vdaf::new_prio3_sum(bits),
                    __dyad_vdaf::Prio3Sum,
                    __dyad_vdaf::TURBOSHAKE128_VERIFY_KEY_LEN,
                    $vdaf, $Vdaf, $VERIFY_KEY_LEN, $body)
            }
            $crate::vdaf::VdafInstance::Prio3SumVec {
                bits,
                length,
                chunk_length,
            } => {
                $crate::vdaf_dispatch!(@arm
                    __dyad_vdaf::new_prio3_sum_vec(bits, length, chunk_length),
                    __dyad_vdaf::Prio3SumVec,
                    __dyad_vdaf::TURBOSHAKE128_VERIFY_KEY_LEN,
                    $vdaf, $Vdaf, $VERIFY_KEY_LEN, $body)
            }
            $crate::vdaf::VdafInstance::Prio3Histogram {
                length,
                chunk_length,
            } => {
                $crate::vdaf_dispatch!(@arm
                    __dyad_vdaf::new_prio3_histogram(length, chunk_length),
                    __dyad_vdaf::Prio3Histogram,
                    __dyad_vdaf::TURBOSHAKE128_VERIFY_KEY_LEN,
                    $vdaf, $Vdaf, $VERIFY_KEY_LEN, $body)
            }
            $crate::vdaf::VdafInstance::Prio3SumVecField64MultiproofHmacSha256Aes128 {
                proofs,
                bits,
                length,
                chunk_length,
            } => {
                $crate::vdaf_dispatch!(@arm
                    __dyad_vdaf::new_prio3_sum_vec_field64_multiproof_hmac_sha256_aes128(
                        proofs, bits, length, chunk_length,
                    ),
                    __dyad_vdaf::Prio3SumVecField64MultiproofHmacSha256Aes128,
                    __dyad_vdaf::HMAC_SHA256_AES128_VERIFY_KEY_LEN,
                    $vdaf, $Vdaf, $VERIFY_KEY_LEN, $body)
            }
            $crate::vdaf::VdafInstance::Prio3FixedPointBoundedL2VecSum {
                bitsize: $crate::vdaf::FixedPointBitSize::BitSize16,
                length,
            } => {
                $crate::vdaf_dispatch!(@arm
                    __dyad_vdaf::new_prio3_fixed_point_bounded_l2_vec_sum(length),
                    __dyad_vdaf::Prio3FixedPointBoundedL2VecSum16,
                    __dyad_vdaf::TURBOSHAKE128_VERIFY_KEY_LEN,
                    $vdaf, $Vdaf, $VERIFY_KEY_LEN, $body)
            }
            $crate::vdaf::VdafInstance::Prio3FixedPointBoundedL2VecSum {
                bitsize: $crate::vdaf::FixedPointBitSize::BitSize32,
                length,
            } => {
                $crate::vdaf_dispatch!(@arm
                    __dyad_vdaf::new_prio3_fixed_point_bounded_l2_vec_sum(length),
                    __dyad_vdaf::Prio3FixedPointBoundedL2VecSum32,
                    __dyad_vdaf::TURBOSHAKE128_VERIFY_KEY_LEN,
                    $vdaf, $Vdaf, $VERIFY_KEY_LEN, $body)
            }
            $crate::vdaf::VdafInstance::Prio3FixedPointBoundedL2VecSum {
                bitsize: $crate::vdaf::FixedPointBitSize::BitSize64,
                length,
            } => {
                $crate::vdaf_dispatch!(@arm
                    __dyad_vdaf::new_prio3_fixed_point_bounded_l2_vec_sum(length),
                    __dyad_vdaf::Prio3FixedPointBoundedL2VecSum64,
                    __dyad_vdaf::TURBOSHAKE128_VERIFY_KEY_LEN,
                    $vdaf, $Vdaf, $VERIFY_KEY_LEN, $body)
            }
            $crate::vdaf::VdafInstance::Poplar1 { bits } => {
                $crate::vdaf_dispatch!(@arm
                    __dyad_vdaf::new_poplar1(bits),
                    __dyad_vdaf::Poplar1TurboShake128,
                    __dyad_vdaf::TURBOSHAKE128_VERIFY_KEY_LEN,
                    $vdaf, $Vdaf, $VERIFY_KEY_LEN, $body)
            }
        }
    }};

    (@arm $construct:expr, $ty:ty, $len:expr,
        $vdaf:ident, $Vdaf:ident, $VERIFY_KEY_LEN:ident, $body:expr) => {{
        #[allow(non_camel_case_types, dead_code)]
        type $Vdaf = $ty;
        #[allow(non_upper_case_globals, dead_code)]
        const $VERIFY_KEY_LEN: usize = $len;
        let __dyad_constructed: ::core::result::Result<$Vdaf, $crate::vdaf::PrioVdafError> =
            $construct;
        // The body is expanded once per concrete type; for Prio3 the
        // aggregation parameter is `()`, which these lints would flag in
        // code that is generic at its source.
        #[allow(clippy::let_unit_value, clippy::unit_arg)]
        let __dyad_result = match __dyad_constructed {
            #[allow(unused_variables)]
            ::core::result::Result::Ok($vdaf) => $body,
            ::core::result::Result::Err(error) => {
                ::core::result::Result::Err(::core::convert::From::from(error))
            }
        };
        __dyad_result
    }};
}

#[cfg(test)]
mod tests {
    use crate::vdaf::{FixedPointBitSize, VdafInstance};
    use prio::vdaf::{Aggregator, Vdaf};

    /// The verification key length `prio`'s type itself declares: the
    /// `VERIFY_KEY_SIZE` parameter of its one `Aggregator` implementation,
    /// inferred by the compiler from the type.
    fn prio_verify_key_size<const L: usize, V: Aggregator<L, 16>>(_: &V) -> usize {
        L
    }

    fn every_family() -> Vec<VdafInstance> {
        vec![
            VdafInstance::Prio3Count,
            VdafInstance::Prio3Sum { bits: 8 },
            VdafInstance::Prio3SumVec {
                bits: 8,
                length: 3,
                chunk_length: 2,
            },
            VdafInstance::Prio3Histogram {
                length: 3,
                chunk_length: 2,
            },
            VdafInstance::Prio3SumVecField64MultiproofHmacSha256Aes128 {
                proofs: 3,
                bits: 8,
                length: 3,
                chunk_length: 2,
            },
            VdafInstance::Prio3FixedPointBoundedL2VecSum {
                bitsize: FixedPointBitSize::BitSize16,
                length: 3,
            },
            VdafInstance::Prio3FixedPointBoundedL2VecSum {
                bitsize: FixedPointBitSize::BitSize32,
                length: 3,
            },
            VdafInstance::Prio3FixedPointBoundedL2VecSum {
                bitsize: FixedPointBitSize::BitSize64,
                length: 3,
            },
            VdafInstance::Poplar1 { bits: 8 },
        ]
    }

    #[test]
    fn verify_key_length_matches_prio_types() {
        for instance in every_family() {
            let (declared, inferred) =
                crate::vdaf_dispatch!(instance, |vdaf, V, VERIFY_KEY_LEN| {
                    Ok::<_, prio::vdaf::VdafError>((VERIFY_KEY_LEN, prio_verify_key_size(&vdaf)))
                })
                .unwrap();
            assert_eq!(declared, inferred, "{instance}");
            assert_eq!(instance.verify_key_length(), inferred, "{instance}");
        }
        assert_eq!(VdafInstance::Prio3Count.verify_key_length(), 16);
        assert_eq!(
            VdafInstance::Prio3SumVecField64MultiproofHmacSha256Aes128 {
                proofs: 2,
                bits: 1,
                length: 1,
                chunk_length: 1
            }
            .verify_key_length(),
            32
        );
        assert_eq!(VdafInstance::Poplar1 { bits: 1 }.verify_key_length(), 16);
    }

    #[test]
    fn dispatch_builds_the_named_vdaf() {
        let ids: Vec<u32> = every_family()
            .iter()
            .map(|instance| {
                crate::vdaf_dispatch!(instance, |vdaf, V, VERIFY_KEY_LEN| {
                    assert_eq!(vdaf.num_aggregators(), 2);
                    Ok::<_, prio::vdaf::VdafError>(vdaf.algorithm_id())
                })
                .unwrap()
            })
            .collect();
        // Codepoints of VDAF-08 section 10, prio's private-use ID for the
        // fixed-point VDAF, and the deployed ID of the Field64 multiproof VDAF.
        assert_eq!(
            ids,
            [
                0x0000_0000,
                0x0000_0001,
                0x0000_0002,
                0x0000_0003,
                0xFFFF_1003,
                0xFFFF_0000,
                0xFFFF_0000,
                0xFFFF_0000,
                0x0000_1000
            ]
        );
    }

    #[test]
    fn dispatch_reports_invalid_parameters_as_an_error() {
        let result: Result<(), prio::vdaf::VdafError> = crate::vdaf_dispatch!(
            VdafInstance::Prio3SumVec {
                bits: 8,
                length: 0,
                chunk_length: 1
            },
            |vdaf, V, VERIFY_KEY_LEN| Ok(())
        );
        assert!(result.is_err());
        let result: Result<(), prio::vdaf::VdafError> = crate::vdaf_dispatch!(
            &VdafInstance::Poplar1 { bits: 0 },
            |vdaf, V, VERIFY_KEY_LEN| Ok(())
        );
        assert!(result.is_err());
    }
}
