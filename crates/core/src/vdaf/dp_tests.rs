//! Tests of `dp.rs`: the JSON form against janus_core 0.7's VDAF serde, the
//! checks on epsilon, the text form, and which VDAF takes which strategy.

use super::*;
use janus_core::vdaf::vdaf_dp_strategies;
use prio::dp::distributions::{PureDpDiscreteLaplace, ZCdpDiscreteGaussian};
use prio::dp::{DifferentialPrivacyStrategy, PureDpBudget, Rational, ZCdpBudget};
use serde_json::json;

fn budget(n: u32, d: u32) -> DpBudget {
    DpBudget::new(BigUint::from(n), BigUint::from(d)).unwrap()
}

fn pure(n: u32, d: u32) -> DpStrategy {
    DpStrategy::PureDpDiscreteLaplace {
        budget: budget(n, d),
    }
}

fn zcdp(n: u32, d: u32) -> DpStrategy {
    DpStrategy::ZCdpDiscreteGaussian {
        budget: budget(n, d),
    }
}

#[test]
fn json_forms_are_janus_cores_vdaf_serde_forms() {
    let janus_pure = vdaf_dp_strategies::Prio3Histogram::PureDpDiscreteLaplace(
        PureDpDiscreteLaplace::from_budget(
            PureDpBudget::new(Rational::from_unsigned(3u32, 4u32).unwrap()).unwrap(),
        ),
    );
    let janus_zcdp = vdaf_dp_strategies::Prio3FixedPointBoundedL2VecSum::ZCdpDiscreteGaussian(
        ZCdpDiscreteGaussian::from_budget(ZCdpBudget::new(
            Rational::from_unsigned(5u32, 1u32).unwrap(),
        )),
    );
    let janus_none = vdaf_dp_strategies::Prio3SumVec::NoDifferentialPrivacy;
    let cases = [
        (pure(3, 4), serde_json::to_value(&janus_pure).unwrap()),
        (zcdp(5, 1), serde_json::to_value(&janus_zcdp).unwrap()),
        (
            DpStrategy::NoDifferentialPrivacy,
            serde_json::to_value(&janus_none).unwrap(),
        ),
    ];
    for (ours, theirs) in cases {
        assert_eq!(serde_json::to_value(&ours).unwrap(), theirs, "{ours}");
        let read: DpStrategy = serde_json::from_value(theirs.clone()).unwrap();
        assert_eq!(read, ours);
    }
    // The forms spelled out, as the brief and the aggregator API give them.
    assert_eq!(
        serde_json::to_value(pure(1, 1)).unwrap(),
        json!({"dp_strategy": "PureDpDiscreteLaplace", "budget": {"epsilon": [[1], [1]]}})
    );
    assert_eq!(
        serde_json::to_value(DpStrategy::default()).unwrap(),
        json!({"dp_strategy": "NoDifferentialPrivacy"})
    );
    // And janus reads ours back.
    let back: vdaf_dp_strategies::Prio3Histogram =
        serde_json::from_value(serde_json::to_value(pure(3, 4)).unwrap()).unwrap();
    assert_eq!(back, janus_pure);
    let back: vdaf_dp_strategies::Prio3FixedPointBoundedL2VecSum =
        serde_json::from_value(serde_json::to_value(zcdp(5, 1)).unwrap()).unwrap();
    assert_eq!(back, janus_zcdp);
}

#[test]
fn a_big_epsilon_keeps_every_digit() {
    // 2^32 + 1 over 3: two base-2^32 digits in the numerator.
    let value =
        json!({"dp_strategy": "ZCdpDiscreteGaussian", "budget": {"epsilon": [[1, 1], [3]]}});
    let strategy: DpStrategy = serde_json::from_value(value.clone()).unwrap();
    assert_eq!(serde_json::to_value(&strategy).unwrap(), value);
    assert_eq!(strategy.budget().unwrap().epsilon_text(), "4294967297/3");
}

#[test]
fn a_zero_or_malformed_epsilon_is_refused() {
    for epsilon in [
        json!([[0], [1]]),
        json!([[1], [0]]),
        json!([[], [1]]),
        json!("1"),
    ] {
        for name in ["PureDpDiscreteLaplace", "ZCdpDiscreteGaussian"] {
            let value = json!({"dp_strategy": name, "budget": {"epsilon": epsilon}});
            assert!(
                serde_json::from_value::<DpStrategy>(value.clone()).is_err(),
                "{value}"
            );
        }
    }
    let missing = json!({"dp_strategy": "PureDpDiscreteLaplace"});
    assert!(serde_json::from_value::<DpStrategy>(missing).is_err());
    let unknown = json!({"dp_strategy": "ApproximateDp"});
    assert!(serde_json::from_value::<DpStrategy>(unknown).is_err());
    assert!(DpBudget::new(BigUint::from(0u8), BigUint::from(1u8)).is_err());
}

#[test]
fn the_text_form_takes_json_or_name_and_epsilon() {
    assert_eq!(
        "NoDifferentialPrivacy".parse::<DpStrategy>().unwrap(),
        DpStrategy::NoDifferentialPrivacy
    );
    assert_eq!(
        "PureDpDiscreteLaplace:1/2".parse::<DpStrategy>().unwrap(),
        pure(1, 2)
    );
    assert_eq!(
        "ZCdpDiscreteGaussian:0.25".parse::<DpStrategy>().unwrap(),
        zcdp(1, 4)
    );
    assert_eq!(
        "PureDpDiscreteLaplace:3".parse::<DpStrategy>().unwrap(),
        pure(3, 1)
    );
    assert_eq!(
        r#"{"dp_strategy":"PureDpDiscreteLaplace","budget":{"epsilon":[[1],[2]]}}"#
            .parse::<DpStrategy>()
            .unwrap(),
        pure(1, 2)
    );
    for bad in [
        "PureDpDiscreteLaplace",
        "PureDpDiscreteLaplace:0",
        "PureDpDiscreteLaplace:-1",
        "PureDpDiscreteLaplace:1/0",
        "PureDpDiscreteLaplace:abc",
        "NoDifferentialPrivacy:1",
        "Laplace:1",
        "{not json",
    ] {
        let error = bad.parse::<DpStrategy>().unwrap_err().to_string();
        assert!(!error.is_empty(), "{bad}");
    }
    let error = "Laplace:1".parse::<DpStrategy>().unwrap_err().to_string();
    assert!(error.contains("PureDpDiscreteLaplace:EPSILON"), "{error}");
}

#[test]
fn display_names_the_strategy_and_its_epsilon() {
    assert_eq!(
        pure(2, 4).to_string(),
        "PureDpDiscreteLaplace (epsilon 1/2)"
    );
    assert_eq!(zcdp(4, 2).to_string(), "ZCdpDiscreteGaussian (epsilon 2)");
    assert_eq!(
        DpStrategy::NoDifferentialPrivacy.to_string(),
        "NoDifferentialPrivacy"
    );
    assert_eq!(format!("{:?}", budget(1, 2)), "DpBudget(epsilon 1/2)");
    assert!((budget(1, 4).epsilon_f64() - 0.25).abs() < 1e-12);
}

#[test]
fn each_vdaf_takes_the_strategies_prio_implements_for_it() {
    let histogram = VdafInstance::Prio3Histogram {
        length: 4,
        chunk_length: 2,
    };
    let sum_vec = VdafInstance::Prio3SumVec {
        bits: 1,
        length: 4,
        chunk_length: 2,
    };
    let multiproof = VdafInstance::Prio3SumVecField64MultiproofHmacSha256Aes128 {
        proofs: 2,
        bits: 1,
        length: 4,
        chunk_length: 2,
    };
    let fixed = VdafInstance::Prio3FixedPointBoundedL2VecSum {
        bitsize: crate::vdaf::FixedPointBitSize::BitSize16,
        length: 4,
    };
    for vdaf in [histogram, sum_vec, multiproof] {
        assert!(pure(1, 1).check_for(&vdaf).is_ok(), "{vdaf}");
        assert!(zcdp(1, 1).check_for(&vdaf).is_err(), "{vdaf}");
    }
    assert!(zcdp(1, 1).check_for(&fixed).is_ok());
    assert!(pure(1, 1).check_for(&fixed).is_err());
    for vdaf in [
        VdafInstance::Prio3Count,
        VdafInstance::Prio3Sum { bits: 8 },
        VdafInstance::Poplar1 { bits: 8 },
    ] {
        assert!(DpStrategy::NoDifferentialPrivacy.check_for(&vdaf).is_ok());
        let error = pure(1, 1).check_for(&vdaf).unwrap_err().to_string();
        assert!(
            error.contains("does not support dp_strategy PureDpDiscreteLaplace"),
            "{error}"
        );
        assert!(error.contains("supports NoDifferentialPrivacy)"), "{error}");
    }
}
