//! Statistical tests of the noise: many draws through
//! [`add_noise_to_aggregate_share`] (the function both aggregators call) on
//! a zero aggregate share, read back with [`unshard_noised`], and the sample
//! mean and variance compared with the strategy's distribution.
//!
//! Tolerance: each statistic may be off by at most 6 of its standard errors
//! (the mean's `sqrt(var / n)`, the variance's `sqrt((m4 - var^2) / n)`
//! with `m4` the sample's fourth central moment); a correct sampler fails
//! that with probability about 2e-9 per statistic. A scale wrong by a
//! factor of 2 moves the variance by a factor of about 4, dozens of
//! standard errors away; no noise at all gives variance 0. Both are checked
//! below to fail the same check.

use super::*;
use num_bigint::BigUint;
use num_rational::Ratio;
use prio::dp::distributions::{DiscreteGaussian, DiscreteLaplace};
use rand::distributions::Distribution as _;

fn budget(n: u32, d: u32) -> crate::vdaf::DpBudget {
    crate::vdaf::DpBudget::new(BigUint::from(n), BigUint::from(d)).unwrap()
}

/// The encoded zero aggregate share of `length` elements of `field_bytes`
/// bytes each (every field element encodes as its bytes, zero as zeros).
fn zero_share(length: usize, field_bytes: usize) -> Vec<u8> {
    vec![0; length * field_bytes]
}

/// `draws` noised zero shares of an integer VDAF, as signed samples.
fn integer_noise(
    vdaf: &VdafInstance,
    strategy: &DpStrategy,
    length: usize,
    field_bytes: usize,
    draws: usize,
) -> Vec<f64> {
    let zero = zero_share(length, field_bytes);
    let mut samples = Vec::with_capacity(length * draws);
    for _ in 0..draws {
        let noised = add_noise_to_aggregate_share(vdaf, strategy, &zero, 0).unwrap();
        match unshard_noised(vdaf, &noised, &zero, 0).unwrap() {
            NoisedResult::Integers(values) => samples.extend(values.iter().map(|v| *v as f64)),
            other => panic!("{other:?}"),
        }
    }
    samples
}

/// Variance of the discrete Laplace distribution of scale `t`
/// (`P(x) ~ exp(-|x| / t)`): `2q / (1 - q)^2` with `q = exp(-1 / t)`.
fn discrete_laplace_variance(t: f64) -> f64 {
    let q = (-1.0 / t).exp();
    2.0 * q / (1.0 - q).powi(2)
}

/// Checks mean 0 and the expected variance within 6 standard errors.
fn matches(samples: &[f64], expected_variance: f64) -> Result<(), String> {
    let n = samples.len() as f64;
    let mean = samples.iter().sum::<f64>() / n;
    let variance = samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    let m4 = samples.iter().map(|x| (x - mean).powi(4)).sum::<f64>() / n;
    let mean_tolerance = 6.0 * (expected_variance / n).sqrt();
    let variance_tolerance = 6.0 * ((m4 - variance * variance).max(0.0) / n).sqrt();
    if mean.abs() > mean_tolerance {
        return Err(format!(
            "mean {mean} is more than {mean_tolerance} (6 standard errors) from 0"
        ));
    }
    if (variance - expected_variance).abs() > variance_tolerance {
        return Err(format!(
            "variance {variance} is more than {variance_tolerance} (6 standard errors) from \
             {expected_variance}"
        ));
    }
    Ok(())
}

#[test]
fn histogram_noise_is_discrete_laplace_with_scale_two_over_epsilon() {
    // A histogram's L1 sensitivity is 2 (one report moves one count down
    // and another up), so prio's scale is 2 / epsilon: 4 for epsilon 1/2.
    let vdaf = VdafInstance::Prio3Histogram {
        length: 100,
        chunk_length: 10,
    };
    let strategy = DpStrategy::PureDpDiscreteLaplace {
        budget: budget(1, 2),
    };
    let samples = integer_noise(&vdaf, &strategy, 100, 16, 200);
    assert_eq!(samples.len(), 20_000);
    let expected = discrete_laplace_variance(4.0);
    matches(&samples, expected).unwrap();

    // The same check fails without noise and at half or twice the scale.
    let none = integer_noise(&vdaf, &DpStrategy::NoDifferentialPrivacy, 100, 16, 10);
    assert!(none.iter().all(|x| *x == 0.0));
    assert!(matches(&none, expected).is_err());
    for wrong_scale in [2u32, 8] {
        let laplace =
            DiscreteLaplace::new(Ratio::from_integer(BigUint::from(wrong_scale))).unwrap();
        let mut rng = rand::thread_rng();
        let wrong: Vec<f64> = (0..20_000)
            .map(|_| {
                let sample: num_bigint::BigInt = laplace.sample(&mut rng);
                i64::try_from(sample).unwrap() as f64
            })
            .collect();
        assert!(matches(&wrong, expected).is_err(), "scale {wrong_scale}");
    }
}

#[test]
fn sum_vec_noise_is_discrete_laplace_scaled_by_its_sensitivity() {
    // SumVec's L1 sensitivity is (2^bits - 1) * length: 3 * 50 = 150 here,
    // so epsilon 50 gives scale 3. The Field64 multiproof variant is the
    // same circuit over another field.
    let strategy = DpStrategy::PureDpDiscreteLaplace {
        budget: budget(50, 1),
    };
    let expected = discrete_laplace_variance(3.0);
    let sum_vec = VdafInstance::Prio3SumVec {
        bits: 2,
        length: 50,
        chunk_length: 7,
    };
    matches(&integer_noise(&sum_vec, &strategy, 50, 16, 300), expected).unwrap();
    let multiproof = VdafInstance::Prio3SumVecField64MultiproofHmacSha256Aes128 {
        proofs: 2,
        bits: 2,
        length: 50,
        chunk_length: 7,
    };
    matches(&integer_noise(&multiproof, &strategy, 50, 8, 300), expected).unwrap();
    // Checked against twice the scale, the same draws fail.
    assert!(matches(
        &integer_noise(&sum_vec, &strategy, 50, 16, 100),
        discrete_laplace_variance(6.0)
    )
    .is_err());
}

#[test]
fn fixed_point_noise_is_discrete_gaussian_with_sigma_sensitivity_over_epsilon() {
    // L2 sensitivity of a 16-bit fixed-point entry is 2^16; epsilon 4
    // gives sigma 2^14 in the field, i.e. 2^14 * 2^-15 = 0.5 once decoded.
    let vdaf = VdafInstance::Prio3FixedPointBoundedL2VecSum {
        bitsize: crate::vdaf::FixedPointBitSize::BitSize16,
        length: 100,
    };
    let strategy = DpStrategy::ZCdpDiscreteGaussian {
        budget: budget(4, 1),
    };
    let zero = zero_share(100, 16);
    let mut samples = Vec::new();
    for _ in 0..100 {
        let noised = add_noise_to_aggregate_share(&vdaf, &strategy, &zero, 0).unwrap();
        match unshard_noised(&vdaf, &noised, &zero, 0).unwrap() {
            // Back to field units: exact, the values are integers times 2^-15.
            NoisedResult::FixedPointVec(values) => {
                samples.extend(values.iter().map(|v| v * 32768.0))
            }
            other => panic!("{other:?}"),
        }
    }
    let sigma = 16384.0f64;
    // For sigma this large the discrete Gaussian's variance equals sigma^2
    // to far below the tolerance.
    matches(&samples, sigma * sigma).unwrap();

    let mut rng = rand::thread_rng();
    for wrong_sigma in [8192u32, 32768] {
        let gaussian =
            DiscreteGaussian::new(Ratio::from_integer(BigUint::from(wrong_sigma))).unwrap();
        let wrong: Vec<f64> = (0..10_000)
            .map(|_| {
                let sample: num_bigint::BigInt = gaussian.sample(&mut rng);
                i64::try_from(sample).unwrap() as f64
            })
            .collect();
        assert!(
            matches(&wrong, sigma * sigma).is_err(),
            "sigma {wrong_sigma}"
        );
    }
}

#[test]
fn a_negative_noisy_count_reads_as_negative_not_wrapped() {
    use prio::field::{Field128, FieldElement as _};
    let vdaf = VdafInstance::Prio3Histogram {
        length: 3,
        chunk_length: 1,
    };
    let encode = |values: [Field128; 3]| {
        values
            .iter()
            .flat_map(|v| prio::codec::Encode::get_encoded(v).unwrap())
            .collect::<Vec<u8>>()
    };
    let leader = encode([Field128::zero(), Field128::from(5), -Field128::from(2)]);
    let helper = encode([-Field128::from(1), Field128::from(2), Field128::zero()]);
    assert_eq!(
        unshard_noised(&vdaf, &leader, &helper, 7).unwrap(),
        NoisedResult::Integers(vec![-1, 7, -2])
    );
    assert_eq!(signed(-Field128::one()), -1);
    assert_eq!(signed(Field128::from(3)), 3);
}

#[test]
fn a_noisy_fixed_point_sum_decodes_around_the_report_offset() {
    use prio::field::Field128;
    // Two reports of 16 bits: each entry is b + 2^15, so the sum carries
    // 2 * 2^15. A sum of 2 * 2^15 - 2^14 is -0.5; below the offset the
    // field element wraps only if the noise exceeds it, read signed too.
    let vdaf = VdafInstance::Prio3FixedPointBoundedL2VecSum {
        bitsize: crate::vdaf::FixedPointBitSize::BitSize16,
        length: 2,
    };
    let encode = |values: [Field128; 2]| {
        values
            .iter()
            .flat_map(|v| prio::codec::Encode::get_encoded(v).unwrap())
            .collect::<Vec<u8>>()
    };
    let leader = encode([Field128::from(65536 - 16384), -Field128::from(70000)]);
    let helper = encode([Field128::from(0), Field128::from(0)]);
    let NoisedResult::FixedPointVec(values) = unshard_noised(&vdaf, &leader, &helper, 2).unwrap()
    else {
        panic!("not a vector")
    };
    assert_eq!(values[0], -0.5);
    assert_eq!(values[1], (-70000.0 - 65536.0) / 32768.0);
}

#[test]
fn noise_on_a_vdaf_without_the_strategy_is_an_error_not_a_panic() {
    let strategy = DpStrategy::PureDpDiscreteLaplace {
        budget: budget(1, 1),
    };
    let error = add_noise_to_aggregate_share(&VdafInstance::Prio3Count, &strategy, &[0; 8], 1)
        .unwrap_err()
        .to_string();
    assert!(error.contains("does not support"), "{error}");
    // A share that does not decode is an error too.
    let histogram = VdafInstance::Prio3Histogram {
        length: 2,
        chunk_length: 1,
    };
    assert!(add_noise_to_aggregate_share(&histogram, &strategy, &[0; 5], 1).is_err());
    assert!(unshard_noised(&VdafInstance::Prio3Count, &[0; 8], &[0; 8], 1).is_err());
}
