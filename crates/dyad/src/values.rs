//! Measurements and aggregate results as the command line writes them.
//!
//! | VDAF family | measurement text | result text |
//! |---|---|---|
//! | Prio3Count | `0`, `1`, `true`, `false` | `17` |
//! | Prio3Sum | `42` | `4242` |
//! | Prio3SumVec (both fields) | `1,0,3` | `[10, 0, 31]` |
//! | Prio3Histogram | the bucket index, `2` | `[3, 0, 9]` |
//! | Prio3FixedPointBoundedL2VecSum | `0.25,-0.5` | `[1.5, -2.25]` |
//! | Poplar1 | a bit string, `0110` | `[4, 1]` |

use anyhow::{bail, Context as _};
use dyad_core::vdaf::{AggregateResult, Measurement, VdafInstance};
use std::fmt::Write as _;

/// Parses `text` as a measurement for `instance` and checks it fits.
pub fn parse_measurement(instance: &VdafInstance, text: &str) -> anyhow::Result<Measurement> {
    let text = text.trim();
    let list = || -> anyhow::Result<Vec<u128>> {
        text.split(',')
            .map(|s| {
                s.trim()
                    .parse::<u128>()
                    .with_context(|| format!("{s:?} is not a non-negative integer"))
            })
            .collect()
    };
    let measurement = match instance {
        VdafInstance::Prio3Count => Measurement::Count(match text {
            "1" | "true" => true,
            "0" | "false" => false,
            _ => bail!("a Prio3Count measurement is 0, 1, true or false, not {text:?}"),
        }),
        VdafInstance::Prio3Sum { .. } => Measurement::Sum(
            text.parse()
                .with_context(|| format!("{text:?} is not a non-negative integer"))?,
        ),
        VdafInstance::Prio3SumVec { .. }
        | VdafInstance::Prio3SumVecField64MultiproofHmacSha256Aes128 { .. } => {
            Measurement::SumVec(list()?)
        }
        VdafInstance::Prio3Histogram { .. } => Measurement::Histogram(
            text.parse()
                .with_context(|| format!("{text:?} is not a bucket index"))?,
        ),
        VdafInstance::Prio3FixedPointBoundedL2VecSum { .. } => Measurement::FixedPointVec(
            text.split(',')
                .map(|s| {
                    s.trim()
                        .parse::<f64>()
                        .with_context(|| format!("{s:?} is not a number"))
                })
                .collect::<anyhow::Result<_>>()?,
        ),
        VdafInstance::Poplar1 { .. } => Measurement::Poplar1(
            text.chars()
                .map(|c| match c {
                    '0' => Ok(false),
                    '1' => Ok(true),
                    other => bail!("a Poplar1 measurement is a bit string; {other:?} is not a bit"),
                })
                .collect::<anyhow::Result<_>>()?,
        ),
    };
    measurement
        .check(instance)
        .with_context(|| format!("{text:?} does not fit {instance}"))?;
    Ok(measurement)
}

/// Writes an aggregate result the way the table above shows.
pub fn format_result(result: &AggregateResult) -> String {
    fn list<T: std::fmt::Display>(items: &[T]) -> String {
        let mut out = String::from("[");
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let _ = write!(out, "{item}");
        }
        out.push(']');
        out
    }
    match result {
        AggregateResult::Count(n) => n.to_string(),
        AggregateResult::Sum(n) => n.to_string(),
        AggregateResult::SumVec(v) | AggregateResult::Histogram(v) => list(v),
        AggregateResult::FixedPointVec(v) => list(v),
        AggregateResult::Poplar1(v) => list(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_family() {
        let sum: VdafInstance = r#"{"type":"Prio3Sum","bits":"8"}"#.parse().unwrap();
        assert_eq!(
            parse_measurement(&sum, "200").unwrap(),
            Measurement::Sum(200)
        );
        assert!(
            parse_measurement(&sum, "256").is_err(),
            "out of range for 8 bits"
        );
        assert_eq!(
            parse_measurement(&VdafInstance::Prio3Count, "true").unwrap(),
            Measurement::Count(true)
        );
        let hist: VdafInstance = r#"{"type":"Prio3Histogram","length":"4","chunk_length":"2"}"#
            .parse()
            .unwrap();
        assert_eq!(
            parse_measurement(&hist, "3").unwrap(),
            Measurement::Histogram(3)
        );
        assert!(parse_measurement(&hist, "4").is_err());
        let vec: VdafInstance =
            r#"{"type":"Prio3SumVec","bits":"2","length":"3","chunk_length":"3"}"#
                .parse()
                .unwrap();
        assert_eq!(
            parse_measurement(&vec, "1, 0,3").unwrap(),
            Measurement::SumVec(vec![1, 0, 3])
        );
        assert!(parse_measurement(&vec, "1,2").is_err(), "wrong length");
    }

    #[test]
    fn formats_results() {
        assert_eq!(format_result(&AggregateResult::Count(3)), "3");
        assert_eq!(
            format_result(&AggregateResult::Histogram(vec![1, 0, 2])),
            "[1, 0, 2]"
        );
    }
}
