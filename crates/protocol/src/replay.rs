//! The report replay rule: whether a report may be aggregated again, decided
//! here and nowhere else (DAP-09 section 4.5.1.4, "Input Share
//! Validation", with VDAF-08's `is_valid`).
//!
//! # Where is
//!
//! | rule | DAP-09 | function |
//! |---|---|---|
//! | a report aggregated before is `report_replayed` unless `Vdaf.is_valid(current, previous)` | 4.5.1.4 | [`decide`] |
//! | `Vdaf.is_valid` of each VDAF of the catalogue | VDAF-08 7.3, 8.3 | [`is_valid`] |
//! | where the check sits among the other input-share checks | 4.5.1.4 | [`crate::helper_init::helper_initialize`] (through [`ReportFacts::previous_agg_params`](crate::helper_init::ReportFacts::previous_agg_params)) |
//!
//! What needs the store is the aggregator's, named for this module: its
//! Helper reads the parameters each report was aggregated with
//! (`helper::replay::lookup_seen`, before preparing and again, authoritative,
//! in the transaction that stores the job), hands them to [`decide`], and
//! finally records the reports it accepts as seen
//! (`helper::replay::record_seen`): a report recorded meanwhile with the same
//! parameter by a concurrent request is `report_replayed` too, since
//! `is_valid` refuses a repeated parameter for every VDAF.
//!
//! The Leader's own rule for a repeated report ID is section 4.4.2's ("the
//! Leader MUST ignore it"): the store keeps the first upload and reports the
//! copy as a duplicate, which the upload handler answers with 201 Created;
//! nothing is decided here, as the copy never reaches aggregation.

use dyad_core::vdaf::VdafInstance;

/// Whether a report may be aggregated (again).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replay {
    /// Never aggregated with a clashing parameter: it may be aggregated.
    Fresh,
    /// It must be rejected with `report_replayed`.
    Replayed,
}

/// Decides a report about to be aggregated under the encoded parameter
/// `current`, that was aggregated before under each of `previous` (empty if
/// never): DAP-09 section 4.5.1.4, "If [`Vdaf.is_valid`](is_valid) returns
/// false, the input share MUST be marked as invalid with the error
/// `report_replayed`".
pub fn decide(vdaf: &VdafInstance, current: &[u8], previous: &[Vec<u8>]) -> Replay {
    if is_valid(vdaf, current, previous) {
        Replay::Fresh
    } else {
        Replay::Replayed
    }
}

/// VDAF-08's `is_valid(agg_param, previous_agg_params)` (sections 7.3 and
/// 8.3): whether a report aggregated before with `previous` parameters may
/// be aggregated with `current`. Prio3: never twice. Poplar1: never twice
/// at the same level. A parameter that does not decode counts as a clash.
/// The catalogue holds the rule for each VDAF
/// ([`VdafInstance::agg_param_is_valid`]).
pub fn is_valid(vdaf: &VdafInstance, current: &[u8], previous: &[Vec<u8>]) -> bool {
    vdaf.agg_param_is_valid(current, previous)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prio::codec::Encode as _;
    use prio::idpf::IdpfInput;
    use prio::vdaf::poplar1::Poplar1AggregationParam;

    fn poplar_param(level_bits: &[bool]) -> Vec<u8> {
        Poplar1AggregationParam::try_from_prefixes(vec![IdpfInput::from_bools(level_bits)])
            .unwrap()
            .get_encoded()
            .unwrap()
    }

    #[test]
    fn prio3_reports_are_aggregated_once() {
        let prio3 = VdafInstance::Prio3Count;
        assert_eq!(decide(&prio3, &[], &[]), Replay::Fresh);
        assert_eq!(decide(&prio3, &[], &[vec![]]), Replay::Replayed);
    }

    #[test]
    fn poplar1_reports_are_aggregated_once_per_level() {
        let poplar = VdafInstance::Poplar1 { bits: 4 };
        let level0 = poplar_param(&[false]);
        let level0_other = poplar_param(&[true]);
        let level1 = poplar_param(&[false, true]);
        assert_eq!(
            decide(&poplar, &level1, std::slice::from_ref(&level0)),
            Replay::Fresh
        );
        assert_eq!(
            decide(&poplar, &level0_other, std::slice::from_ref(&level0)),
            Replay::Replayed
        );
        assert_eq!(decide(&poplar, &level1, &[vec![0xff]]), Replay::Replayed);
        assert_eq!(decide(&poplar, &[0xff], &[level0]), Replay::Replayed);
    }
}
