//! The heavy-hitters walk (VDAF-08 section 8, "Poplar1", its use for
//! heavy hitters): the strings measured at least `threshold` times in one
//! batch, found without anyone seeing a single measurement.
//!
//! The walk collects the batch once per level of the prefix tree, each
//! collection a DAP collection job whose aggregation parameter is that
//! level's candidate prefixes (DAP-09 section 4.6.1). Level 0's candidates
//! are `0` and `1`; each next level's are the two children of every prefix
//! whose count reached the threshold, in lexicographic order (the order
//! VDAF-08 section 8.2.6.6 requires). The walk ends at the last level, or
//! early when no prefix reaches the threshold. The counts of a level are
//! exact: every report of the batch is counted at every level, by both
//! aggregators, once per level.
//!
//! Running the walk again over the same batch repeats the same parameters
//! (the counts, hence the candidates, are the same), which the Leader
//! answers as the same collections: an interrupted walk is resumed by
//! starting it again.
//!
//! # Where is
//!
//! | rule | section | function |
//! |---|---|---|
//! | one collection per level, candidates from the survivors | VDAF-08 8 | [`heavy_hitters`] |
//! | the candidates of the next level, sorted and distinct | VDAF-08 8.2.6.6 | [`next_candidates`] |
//! | the levels a catalogue VDAF's tree has | VDAF-08 8 | [`tree_levels`] |

use crate::collector::Collector;
use crate::error::CollectorError;
use crate::vdaf::AnyVdaf;
use dyad_core::vdaf::{
    param_kind, AggregateResult, AggregationParam, ParamKind, VdafInstance, VdafRunError,
};
use dyad_messages::draft09::Query;

/// One heavy hitter: a full-length string and how many reports hold it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct HeavyHitter {
    /// The string, most significant bit first.
    pub string: Vec<bool>,
    /// Reports whose measurement is this string.
    pub count: u64,
}

/// What one level of the walk did, for progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LevelProgress {
    /// The level (prefix length minus one).
    pub level: u64,
    /// The levels of the whole tree.
    pub levels: u64,
    /// Candidate prefixes collected at this level.
    pub candidates: usize,
    /// Those whose count reached the threshold.
    pub survivors: usize,
    /// Reports in the batch.
    pub report_count: u64,
}

/// The outcome of a walk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeavyHitters {
    /// The heavy hitters, in lexicographic order of their strings.
    pub hitters: Vec<HeavyHitter>,
    /// Reports in the batch (the last collection's count).
    pub report_count: u64,
    /// The levels collected.
    pub levels_collected: u64,
}

/// How many levels the prefix tree of a catalogue VDAF has (its string
/// length), or an error for a VDAF without one.
pub fn tree_levels(vdaf: &VdafInstance) -> Result<u64, VdafRunError> {
    match param_kind(vdaf) {
        ParamKind::Levelled { levels } if levels > 0 => Ok(levels),
        _ => Err(VdafRunError::Mismatch {
            vdaf: vdaf.type_name(),
            reason: "heavy hitters need a VDAF over bit strings, such as Poplar1".to_owned(),
        }),
    }
}

/// The candidates of the level after `survivors` (prefixes of one length,
/// in lexicographic order): each one's two children, in order.
pub fn next_candidates(survivors: &[Vec<bool>]) -> Vec<Vec<bool>> {
    let mut sorted = survivors.to_vec();
    sorted.sort();
    sorted.dedup();
    sorted
        .iter()
        .flat_map(|prefix| {
            [false, true].map(|bit| {
                let mut child = prefix.clone();
                child.push(bit);
                child
            })
        })
        .collect()
}

/// The catalogue parameter of `candidates` for `vdaf`.
fn prefix_param(vdaf: &VdafInstance, candidates: Vec<Vec<bool>>) -> AggregationParam {
    match vdaf {
        VdafInstance::Poplar1 { .. } => AggregationParam::Poplar1 {
            prefixes: candidates,
        },
        // `tree_levels` admitted only the VDAFs above.
        _ => AggregationParam::Empty,
    }
}

/// The count of each candidate in a collected result.
fn prefix_counts(
    vdaf: &VdafInstance,
    result: AggregateResult,
    candidates: usize,
) -> Result<Vec<u64>, VdafRunError> {
    match result {
        AggregateResult::Poplar1(counts) if counts.len() == candidates => Ok(counts),
        other => Err(VdafRunError::Mismatch {
            vdaf: vdaf.type_name(),
            reason: format!("expected {candidates} prefix counts, the collection gave {other:?}"),
        }),
    }
}

/// Walks the prefix tree of the batch `query` names, one collection per
/// level, keeping the prefixes counted at least `threshold` times; tells
/// `observer` after each level. `threshold` 0 is refused (every string of
/// the tree would be a candidate).
pub async fn heavy_hitters(
    collector: &Collector<AnyVdaf>,
    query: Query,
    threshold: u64,
    mut observer: impl FnMut(&LevelProgress),
) -> Result<HeavyHitters, CollectorError> {
    let vdaf = collector.vdaf().0;
    let levels = tree_levels(&vdaf)?;
    if threshold == 0 {
        return Err(CollectorError::InvalidConfiguration(
            "the heavy-hitters threshold must be at least 1".into(),
        ));
    }
    let mut candidates = next_candidates(&[Vec::new()]);
    let mut report_count = 0;
    let mut level = 0;
    while level < levels {
        let collection = collector
            .collect(query, &prefix_param(&vdaf, candidates.clone()))
            .await?;
        report_count = collection.report_count;
        let candidate_count = candidates.len();
        let counts = prefix_counts(&vdaf, collection.aggregate_result, candidate_count)?;
        let survivors: Vec<(Vec<bool>, u64)> = candidates
            .into_iter()
            .zip(counts)
            .filter(|(_, count)| *count >= threshold)
            .collect();
        tracing::info!(
            task_id = %collector.task_id(),
            level,
            survivors = survivors.len(),
            report_count,
            "heavy-hitters level collected"
        );
        observer(&LevelProgress {
            level,
            levels,
            candidates: candidate_count,
            survivors: survivors.len(),
            report_count,
        });
        level += 1;
        if level == levels || survivors.is_empty() {
            let hitters = if level == levels {
                survivors
                    .into_iter()
                    .map(|(string, count)| HeavyHitter { string, count })
                    .collect()
            } else {
                Vec::new()
            };
            return Ok(HeavyHitters {
                hitters,
                report_count,
                levels_collected: level,
            });
        }
        let prefixes: Vec<Vec<bool>> = survivors.into_iter().map(|(p, _)| p).collect();
        candidates = next_candidates(&prefixes);
    }
    Ok(HeavyHitters {
        hitters: Vec::new(),
        report_count,
        levels_collected: level,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(s: &str) -> Vec<bool> {
        s.chars().map(|c| c == '1').collect()
    }

    #[test]
    fn the_next_level_holds_both_children_of_each_survivor_in_order() {
        assert_eq!(next_candidates(&[vec![]]), vec![bits("0"), bits("1")]);
        assert_eq!(
            next_candidates(&[bits("11"), bits("01"), bits("11")]),
            vec![bits("010"), bits("011"), bits("110"), bits("111")]
        );
        assert!(next_candidates(&[]).is_empty());
    }

    #[test]
    fn only_vdafs_over_bit_strings_have_a_tree() {
        assert_eq!(
            tree_levels(&VdafInstance::Poplar1 { bits: 16 }).unwrap(),
            16
        );
        assert!(tree_levels(&VdafInstance::Prio3Count).is_err());
    }
}
