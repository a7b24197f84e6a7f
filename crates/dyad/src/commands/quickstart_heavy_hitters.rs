//! The heavy-hitters round of `dyad quickstart` for a Poplar1 task: the
//! measurements it uploads (skewed, so that a few strings are heavy
//! hitters), the heavy hitters computed from them in plaintext, and the
//! walk down the prefix tree (`dyad_collector::heavy_hitters`, one
//! collection per level) whose answer the quickstart compares with them.

use crate::progress::Step;
use dyad_collector::{
    heavy_hitters, AnyVdaf, Collector, CollectorError, HeavyHitter, HeavyHitters,
};
use dyad_core::vdaf::Measurement;
use dyad_messages::draft09::Query;
use rand::Rng;
use std::collections::BTreeMap;

/// How many popular strings the measurements are drawn from.
const POPULAR: usize = 8;
/// The share of measurements that are one of the popular strings (the
/// rest are uniform over all strings).
const POPULAR_SHARE: f64 = 0.7;
/// The default threshold, as a divisor of the report count: 4%, which the
/// five or six most popular strings reach.
const DEFAULT_THRESHOLD_DIVISOR: u64 = 25;

/// `n` random strings of `bits` bits: [`POPULAR_SHARE`] of them drawn from
/// [`POPULAR`] random strings with weights 1/rank (Zipf), the rest uniform.
pub(super) fn skewed_measurements(bits: u16, n: u64, rng: &mut impl Rng) -> Vec<Measurement> {
    let random = |rng: &mut dyn rand::RngCore| (0..bits).map(|_| rng.gen()).collect::<Vec<bool>>();
    let popular: Vec<Vec<bool>> = (0..POPULAR).map(|_| random(rng)).collect();
    let weights: Vec<f64> = (1..=POPULAR).map(|rank| 1.0 / rank as f64).collect();
    let total: f64 = weights.iter().sum();
    (0..n)
        .map(|_| {
            let string = if rng.gen_bool(POPULAR_SHARE) {
                let mut pick = rng.gen_range(0.0..total);
                let mut chosen = &popular[POPULAR - 1];
                for (string, weight) in popular.iter().zip(&weights) {
                    if pick < *weight {
                        chosen = string;
                        break;
                    }
                    pick -= weight;
                }
                chosen.clone()
            } else {
                random(rng)
            };
            Measurement::Poplar1(string)
        })
        .collect()
}

/// The threshold when none is given: 4% of the reports, at least 2.
pub(super) fn default_threshold(reports: u64) -> u64 {
    (reports / DEFAULT_THRESHOLD_DIVISOR).max(2)
}

/// The strings among `measurements` measured at least `threshold` times,
/// in lexicographic order, with their counts: what the walk must find.
pub(super) fn plaintext_heavy_hitters(
    measurements: &[Measurement],
    threshold: u64,
) -> Vec<HeavyHitter> {
    let mut counts: BTreeMap<&[bool], u64> = BTreeMap::new();
    for measurement in measurements {
        if let Measurement::Poplar1(string) = measurement {
            *counts.entry(string.as_slice()).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .filter(|(_, count)| *count >= threshold)
        .map(|(string, count)| HeavyHitter {
            string: string.to_vec(),
            count,
        })
        .collect()
}

/// Walks the batch `query` names, showing each level on a progress bar.
pub(super) async fn walk(
    collector: &Collector<AnyVdaf>,
    query: Query,
    threshold: u64,
    levels: u64,
) -> Result<HeavyHitters, CollectorError> {
    let step = Step::counter("walk", levels, "levels");
    let walked = heavy_hitters(collector, query, threshold, |level| {
        step.set_position(level.level + 1);
        step.set_message(format!(
            "level {}: {} of {} prefixes reached {threshold}",
            level.level, level.survivors, level.candidates
        ));
    })
    .await;
    match &walked {
        Ok(found) => step.finish(&format!(
            "{} levels collected, {} heavy hitters",
            found.levels_collected,
            found.hitters.len()
        )),
        Err(_) => step.abandon(),
    }
    walked
}

/// A string as `0`s and `1`s.
pub(super) fn bit_string(bits: &[bool]) -> String {
    bits.iter().map(|b| if *b { '1' } else { '0' }).collect()
}

/// Heavy hitters on one line: `0110…: 12, 1000…: 7`.
pub(super) fn format_hitters(hitters: &[HeavyHitter]) -> String {
    if hitters.is_empty() {
        return "none".to_owned();
    }
    hitters
        .iter()
        .map(|h| format!("{}: {}", bit_string(&h.string), h.count))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn skewed_measurements_have_heavy_hitters_at_the_default_threshold() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let measurements = skewed_measurements(16, 1000, &mut rng);
        assert_eq!(measurements.len(), 1000);
        let hitters = plaintext_heavy_hitters(&measurements, default_threshold(1000));
        assert!(hitters.len() >= 3, "{hitters:?}");
        assert!(hitters
            .iter()
            .all(|h| h.count >= 40 && h.string.len() == 16));
        assert!(
            hitters.windows(2).all(|w| w[0].string < w[1].string),
            "in order"
        );
    }

    #[test]
    fn the_default_threshold_is_four_percent_and_at_least_two() {
        assert_eq!(default_threshold(1000), 40);
        assert_eq!(default_threshold(10), 2);
    }

    #[test]
    fn hitters_print_as_bit_strings_with_counts() {
        let hitters = [
            HeavyHitter {
                string: vec![false, true],
                count: 12,
            },
            HeavyHitter {
                string: vec![true, false],
                count: 7,
            },
        ];
        assert_eq!(format_hitters(&hitters), "01: 12, 10: 7");
        assert_eq!(format_hitters(&[]), "none");
    }
}
