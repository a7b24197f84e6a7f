//! [`DpStrategy`]: a task's differential-privacy strategy, carried beside
//! its VDAF. Each aggregator adds noise drawn by `prio`'s samplers to its
//! aggregate share before sealing it, so the Collector learns only a noisy
//! total (the noise itself is in `noise.rs`). This is the approach of
//! DAP-09 section 7.4: each aggregator adds two-sided noise to its aggregate
//! share independently, so privacy holds while one of them is honest.
//!
//! The JSON form is the one DAP deployments already exchange (the
//! `dp_strategy` member of a VDAF in the aggregator API):
//! `{"dp_strategy": "NoDifferentialPrivacy"}`,
//! `{"dp_strategy": "PureDpDiscreteLaplace", "budget": {"epsilon": [[1], [2]]}}`
//! or `{"dp_strategy": "ZCdpDiscreteGaussian", "budget": {"epsilon": ...}}`,
//! epsilon being an exact ratio of two unsigned integers, each written as
//! its base-2^32 digits, least significant first (`prio`'s serde form). The
//! text form (`FromStr`) also takes `NAME:EPSILON`, e.g.
//! `PureDpDiscreteLaplace:1/2` or `ZCdpDiscreteGaussian:0.25`.
//!
//! Which VDAF takes which strategy is what `prio` 0.16 implements:
//! `PureDpDiscreteLaplace` for Prio3Histogram and Prio3SumVec (either field),
//! `ZCdpDiscreteGaussian` for Prio3FixedPointBoundedL2VecSum; every VDAF takes
//! `NoDifferentialPrivacy`.
//!
//! # Where is
//!
//! - the strategies and their JSON form -> [`DpStrategy`], [`DpBudget`];
//! - a strategy that the VDAF supports -> [`DpStrategy::check_for`];
//! - a positive epsilon -> [`DpBudget::new`] (also on deserialization);
//! - the text form -> `FromStr for DpStrategy`.

use super::instance::VdafInstance;
use num_bigint::BigUint;
use num_rational::Ratio;
use num_traits::{ToPrimitive as _, Zero as _};
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;
use std::str::FromStr;

/// A task's differential-privacy strategy. The default adds no noise.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "dp_strategy")]
pub enum DpStrategy {
    /// No noise: the Collector gets the exact aggregate.
    #[default]
    NoDifferentialPrivacy,
    /// Pure epsilon-DP: each aggregator adds discrete Laplace noise to every
    /// entry of its share, with scale `sensitivity / epsilon` (L1
    /// sensitivity: 2 for a histogram, `(2^bits - 1) * length` for a sum
    /// vector).
    PureDpDiscreteLaplace { budget: DpBudget },
    /// `epsilon^2 / 2`-zero-concentrated DP: each aggregator adds discrete
    /// Gaussian noise with standard deviation `sensitivity / epsilon` (L2
    /// sensitivity `2^bits` of a fixed-point entry).
    ZCdpDiscreteGaussian { budget: DpBudget },
}

/// A DP budget: its epsilon, an exact positive rational.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct DpBudget {
    epsilon: Ratio<BigUint>,
}

/// A strategy that cannot be used as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DpStrategyError {
    /// The VDAF has no implementation of the strategy.
    #[error("{vdaf} does not support dp_strategy {strategy} (it supports {supported})")]
    Unsupported {
        strategy: &'static str,
        vdaf: &'static str,
        supported: String,
    },
    /// The text is not a strategy.
    #[error("{0}")]
    Malformed(String),
}

const NONE: &str = "NoDifferentialPrivacy";
const PURE_DP: &str = "PureDpDiscreteLaplace";
const ZCDP: &str = "ZCdpDiscreteGaussian";

impl DpStrategy {
    /// Whether the strategy adds no noise.
    pub fn is_none(&self) -> bool {
        matches!(self, DpStrategy::NoDifferentialPrivacy)
    }

    /// The strategy's name, as in its JSON form.
    pub const fn name(&self) -> &'static str {
        match self {
            DpStrategy::NoDifferentialPrivacy => NONE,
            DpStrategy::PureDpDiscreteLaplace { .. } => PURE_DP,
            DpStrategy::ZCdpDiscreteGaussian { .. } => ZCDP,
        }
    }

    /// The budget, for a strategy that adds noise.
    pub fn budget(&self) -> Option<&DpBudget> {
        match self {
            DpStrategy::NoDifferentialPrivacy => None,
            DpStrategy::PureDpDiscreteLaplace { budget }
            | DpStrategy::ZCdpDiscreteGaussian { budget } => Some(budget),
        }
    }

    /// The noising strategies `vdaf` supports (besides
    /// `NoDifferentialPrivacy`, which every VDAF supports).
    pub fn noising_strategies_of(vdaf: &VdafInstance) -> &'static [&'static str] {
        match vdaf {
            VdafInstance::Prio3Histogram { .. }
            | VdafInstance::Prio3SumVec { .. }
            | VdafInstance::Prio3SumVecField64MultiproofHmacSha256Aes128 { .. } => &[PURE_DP],
            VdafInstance::Prio3FixedPointBoundedL2VecSum { .. } => &[ZCDP],
            VdafInstance::Prio3Count
            | VdafInstance::Prio3Sum { .. }
            | VdafInstance::Poplar1 { .. } => &[],
        }
    }

    /// `Ok` if `vdaf` has an implementation of this strategy in `prio`.
    pub fn check_for(&self, vdaf: &VdafInstance) -> Result<(), DpStrategyError> {
        let supported = Self::noising_strategies_of(vdaf);
        if self.is_none() || supported.contains(&self.name()) {
            return Ok(());
        }
        Err(DpStrategyError::Unsupported {
            strategy: self.name(),
            vdaf: vdaf.type_name(),
            supported: std::iter::once(NONE)
                .chain(supported.iter().copied())
                .collect::<Vec<_>>()
                .join(" or "),
        })
    }
}

impl fmt::Display for DpStrategy {
    /// `NoDifferentialPrivacy`, or the name and epsilon:
    /// `PureDpDiscreteLaplace (epsilon 1/2)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.budget() {
            None => f.write_str(self.name()),
            Some(budget) => write!(f, "{} (epsilon {})", self.name(), budget.epsilon_text()),
        }
    }
}

impl DpBudget {
    /// A budget of `numerator / denominator`; both must be positive.
    pub fn new(numerator: BigUint, denominator: BigUint) -> Result<Self, DpStrategyError> {
        if denominator.is_zero() {
            return Err(DpStrategyError::Malformed(
                "epsilon's denominator is zero".to_owned(),
            ));
        }
        if numerator.is_zero() {
            return Err(DpStrategyError::Malformed(
                "epsilon must be positive: a budget of 0 allows no noise scale".to_owned(),
            ));
        }
        // Kept as given (not reduced), so a budget reads back in the form
        // it was written; comparisons are by value.
        Ok(Self {
            epsilon: Ratio::new_raw(numerator, denominator),
        })
    }

    /// Epsilon, exactly.
    pub fn epsilon(&self) -> &Ratio<BigUint> {
        &self.epsilon
    }

    /// Epsilon as text: `2`, or `1/2` when it is not an integer.
    pub fn epsilon_text(&self) -> String {
        let epsilon = self.epsilon.reduced();
        if epsilon.is_integer() {
            epsilon.numer().to_string()
        } else {
            format!("{}/{}", epsilon.numer(), epsilon.denom())
        }
    }

    /// Epsilon as the nearest `f64` (for display and statistics only).
    pub fn epsilon_f64(&self) -> f64 {
        self.epsilon.to_f64().unwrap_or(f64::NAN)
    }

    /// `prio`'s form of the budget: the same serde form, so the one is read
    /// from the other.
    pub(crate) fn to_prio<B: serde::de::DeserializeOwned>(&self) -> Result<B, DpStrategyError> {
        serde_json::to_value(self)
            .and_then(serde_json::from_value)
            .map_err(|error| DpStrategyError::Malformed(format!("epsilon: {error}")))
    }
}

impl fmt::Debug for DpBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DpBudget(epsilon {})", self.epsilon_text())
    }
}

impl<'de> Deserialize<'de> for DpBudget {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Form {
            epsilon: Ratio<BigUint>,
        }
        let form = Form::deserialize(d)?;
        let (numerator, denominator) = form.epsilon.into();
        DpBudget::new(numerator, denominator).map_err(serde::de::Error::custom)
    }
}

impl FromStr for DpStrategy {
    type Err = DpStrategyError;

    /// The JSON form, or `NoDifferentialPrivacy`, or `NAME:EPSILON` with
    /// epsilon an integer, `N/D` or a decimal (`0.25`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.starts_with('{') {
            return serde_json::from_str(text).map_err(|error| {
                DpStrategyError::Malformed(format!("not a dp_strategy object: {error}"))
            });
        }
        let (name, epsilon) = match text.split_once(':') {
            Some((name, epsilon)) => (name.trim(), Some(epsilon.trim())),
            None => (text, None),
        };
        let budget = || -> Result<DpBudget, DpStrategyError> {
            let epsilon = epsilon.ok_or_else(|| {
                DpStrategyError::Malformed(format!("{name} needs its epsilon: {name}:EPSILON"))
            })?;
            parse_epsilon(epsilon)
        };
        match name {
            NONE if epsilon.is_none() => Ok(DpStrategy::NoDifferentialPrivacy),
            NONE => Err(DpStrategyError::Malformed(format!(
                "{NONE} takes no epsilon"
            ))),
            PURE_DP => Ok(DpStrategy::PureDpDiscreteLaplace { budget: budget()? }),
            ZCDP => Ok(DpStrategy::ZCdpDiscreteGaussian { budget: budget()? }),
            other => Err(DpStrategyError::Malformed(format!(
                "unknown dp_strategy {other:?}: expected {NONE}, {PURE_DP}:EPSILON or \
                 {ZCDP}:EPSILON (or the JSON form)"
            ))),
        }
    }
}

/// `N`, `N/D` or a decimal `I.F`, exactly.
fn parse_epsilon(text: &str) -> Result<DpBudget, DpStrategyError> {
    let bad = || {
        DpStrategyError::Malformed(format!(
            "epsilon {text:?} is not a positive number (an integer, N/D or a decimal such as 0.5)"
        ))
    };
    let digits = |s: &str| -> Result<BigUint, DpStrategyError> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse::<BigUint>().map_err(|_| bad())
    };
    let (numerator, denominator) = if let Some((n, d)) = text.split_once('/') {
        (digits(n.trim())?, digits(d.trim())?)
    } else if let Some((int, frac)) = text.split_once('.') {
        let int = if int.is_empty() { "0" } else { int };
        (
            digits(&format!("{int}{frac}"))?,
            BigUint::from(10u8).pow(u32::try_from(frac.len()).map_err(|_| bad())?),
        )
    } else {
        (digits(text)?, BigUint::from(1u8))
    };
    DpBudget::new(numerator, denominator)
}

#[cfg(test)]
#[path = "dp_tests.rs"]
mod tests;
