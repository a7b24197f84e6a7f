//! Fixed-point arithmetic for Prio3FixedPointBoundedL2VecSum, done the way
//! `prio` does it: each entry is a signed fixed-point number with one integer
//! bit and `n - 1` fractional bits (`n` the bit size), i.e. the integer
//! `b = x * 2^(n-1)` in `[-2^(n-1), 2^(n-1))`; the L2 norm bound is
//! `sum(b^2) < 2^(2n-2)`; and a sum of entries decodes to
//! `sum(b) * 2^(1-n)` as an `f64`.
//!
//! # Where is
//!
//! - an entry as its integer, outside `[-1, 1)` refused -> [`to_fixed_bits`];
//! - the strict L2 norm bound -> [`check_vector`];
//! - a sum decoded -> [`decode_sum`]; a random vector within the bound ->
//!   [`random_vector`].

use super::instance::FixedPointBitSize;
use fixed::types::extra::{U15, U31, U63};
use fixed::{FixedI16, FixedI32, FixedI64};
use rand::Rng;

/// The fixed-point integer `b` for `x`, rounded as the `fixed` crate rounds,
/// or `None` if `x` is not finite or outside `[-1, 1)` after rounding.
pub(crate) fn to_fixed_bits(bitsize: FixedPointBitSize, x: f64) -> Option<i128> {
    if !x.is_finite() {
        return None;
    }
    match bitsize {
        FixedPointBitSize::BitSize16 => {
            FixedI16::<U15>::checked_from_num(x).map(|f| i128::from(f.to_bits()))
        }
        FixedPointBitSize::BitSize32 => {
            FixedI32::<U31>::checked_from_num(x).map(|f| i128::from(f.to_bits()))
        }
        FixedPointBitSize::BitSize64 => {
            FixedI64::<U63>::checked_from_num(x).map(|f| i128::from(f.to_bits()))
        }
    }
}

/// `sum * 2^(1-n)`: the decoding `prio` applies to a sum of entries.
pub(crate) fn decode_sum(bitsize: FixedPointBitSize, sum: i128) -> f64 {
    // Both i128 and u128 convert to f64 by rounding the magnitude to nearest,
    // so this equals prio's `(|sum| as f64) * sign * 2^(1-n)` bit for bit.
    (sum as f64) * 2f64.powi(1 - bitsize.bits() as i32)
}

/// Checks that every entry is representable and that the norm is in bounds.
pub(crate) fn check_vector(bitsize: FixedPointBitSize, values: &[f64]) -> Result<(), String> {
    let mut norm: u128 = 0;
    for value in values {
        let b = to_fixed_bits(bitsize, *value).ok_or_else(|| {
            format!("entry {value} is not a {bitsize}-bit fixed-point number in [-1, 1)")
        })?;
        norm = b
            .unsigned_abs()
            .checked_mul(b.unsigned_abs())
            .and_then(|square| norm.checked_add(square))
            .ok_or("L2 norm too large")?;
    }
    let bound = 1u128 << (2 * bitsize.bits() - 2);
    if norm >= bound {
        return Err("L2 norm is not below 1".to_string());
    }
    Ok(())
}

/// A random vector of `length` entries, each exactly representable at
/// `bitsize`, with L2 norm below 1.
pub(crate) fn random_vector<R: Rng + ?Sized>(
    bitsize: FixedPointBitSize,
    length: u32,
    rng: &mut R,
) -> Vec<f64> {
    let scale = 2f64.powi(bitsize.bits() as i32 - 1);
    // Entries within 0.9 / sqrt(length) keep the norm below 0.9 before
    // rounding; rounding adds at most sqrt(length) * 2^(1-n).
    let bound = 0.9 / f64::from(length.max(1)).sqrt();
    for _ in 0..8 {
        let vector: Vec<f64> = (0..length)
            .map(|_| {
                let x = rng.gen_range(-bound..=bound);
                to_fixed_bits(bitsize, x).map_or(0.0, |b| b as f64 / scale)
            })
            .collect();
        if check_vector(bitsize, &vector).is_ok() {
            return vector;
        }
    }
    vec![0.0; length as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_to_the_width() {
        use FixedPointBitSize::*;
        assert_eq!(to_fixed_bits(BitSize16, 0.5), Some(1 << 14));
        assert_eq!(to_fixed_bits(BitSize16, -1.0), Some(-(1 << 15)));
        assert_eq!(to_fixed_bits(BitSize16, 1.0), None);
        assert_eq!(to_fixed_bits(BitSize32, f64::INFINITY), None);
        assert_eq!(to_fixed_bits(BitSize64, 0.25), Some(1 << 61));
        assert_eq!(decode_sum(BitSize16, 3 << 14), 1.5);
        assert_eq!(decode_sum(BitSize64, -(1 << 63)), -1.0);
    }

    #[test]
    fn norm_bound_is_strict() {
        use FixedPointBitSize::*;
        assert!(check_vector(BitSize16, &[0.5, 0.5]).is_ok());
        // 0.75^2 + 0.75^2 = 1.125
        assert!(check_vector(BitSize16, &[0.75, -0.75]).is_err());
        // -1 alone has norm exactly 1: not below the bound.
        assert!(check_vector(BitSize32, &[-1.0]).is_err());
    }
}
