//! Aggregation parameters as the protocol around a VDAF sees them (VDAF-08
//! section 5, DAP-09 sections 4.5.1.4 and 4.6): which parameter a VDAF
//! aggregates with before anyone asks, whether an encoded parameter is well
//! formed for an instance, which parameters a report may be prepared with
//! again (`is_valid`), and in which order one batch may be collected with
//! several parameters.
//!
//! The rules are written once over [`ParamKind`], what a family's
//! parameter is to the protocol:
//!
//! - [`ParamKind::Single`]: the VDAF has exactly one parameter, known in
//!   advance (Prio3: the empty string). Reports are aggregated as they
//!   arrive and never twice.
//! - [`ParamKind::Levelled`]: the Collector chooses each parameter, and each
//!   names a level of a walk down a prefix tree (Poplar1: the IDPF level of
//!   its candidate prefixes, VDAF-08 section 8). A report is prepared at
//!   most once per level (`is_valid`), and a batch is collected at most
//!   once per level, in any order. A later VDAF of the same shape (Mastic, whose
//!   parameter also carries a level) is one more arm of [`param_kind`] and
//!   [`decode_level`].
//!
//! # Where is
//!
//! | rule | section | function |
//! |---|---|---|
//! | the parameter known before collection (Prio3's empty one) | VDAF-08 7, DAP-09 4.6.1 | [`VdafInstance::fixed_aggregation_parameter`] |
//! | an encoded parameter in catalogue form | VDAF-08 8.2.6.4 | [`VdafInstance::decode_aggregation_parameter`] |
//! | a parameter well formed for the instance (Poplar1: a level below `bits`, prefixes of that length, sorted and distinct) | VDAF-08 8.2.6.6, 8.2.3 | [`VdafInstance::check_aggregation_parameter`] |
//! | `is_valid(agg_param, previous_agg_params)`: Prio3 never twice, Poplar1 never twice at one level | VDAF-08 7.2.3, 8.2.3 | [`VdafInstance::agg_param_is_valid`] |
//! | the parameters of one batch's collections: a repeated parameter is the same collection; a new one must name a level not collected yet (any order) | DAP-09 4.6.5, VDAF-08 8.2.3 | [`VdafInstance::check_batch_agg_params`] |

use super::instance::VdafInstance;
use super::measurement::AggregationParam;
use prio::codec::Decode;
use prio::vdaf::poplar1::Poplar1AggregationParam;

/// What a VDAF family's aggregation parameter is to the protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// Exactly one parameter, with this encoding, known before collection.
    Single(Vec<u8>),
    /// Chosen by the Collector; each names a level of a prefix tree below
    /// `levels`.
    Levelled { levels: u64 },
}

/// Why an aggregation parameter is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AggParamError {
    /// It does not decode, or breaks the VDAF's own rules.
    #[error("the aggregation parameter is malformed: {0}")]
    Malformed(String),
    /// It is well formed but may not follow the batch's earlier collections.
    #[error("{0}")]
    OutOfSequence(String),
}

/// The kind of parameter `vdaf` takes.
pub fn param_kind(vdaf: &VdafInstance) -> ParamKind {
    match vdaf {
        VdafInstance::Poplar1 { bits } => ParamKind::Levelled {
            levels: u64::from(*bits),
        },
        // Every Prio3 VDAF's one parameter, `()`, is encoded as the empty
        // string (VDAF-08 section 7).
        _ => ParamKind::Single(Vec::new()),
    }
}

/// The level an encoded parameter of a levelled VDAF names, after checking
/// it is well formed (decodes, prefixes of one length, sorted, distinct).
fn decode_level(vdaf: &VdafInstance, bytes: &[u8]) -> Result<u64, AggParamError> {
    match vdaf {
        VdafInstance::Poplar1 { .. } => {
            check_poplar1_claimed_length(bytes)?;
            let param = Poplar1AggregationParam::get_decoded(bytes)
                .map_err(|e| AggParamError::Malformed(format!("Poplar1: {e}")))?;
            Ok(param.level() as u64)
        }
        other => Err(AggParamError::Malformed(format!(
            "{} takes no levelled parameter",
            other.type_name()
        ))),
    }
}

/// `prio` decodes a Poplar1 parameter by allocating what its header claims
/// (`(level + 1) * count` bits) before reading: the claim is checked against
/// the bytes present first (VDAF-08 section 8.2.6.4: `level: u16`,
/// `count: u32`, then the packed prefixes).
fn check_poplar1_claimed_length(bytes: &[u8]) -> Result<(), AggParamError> {
    let (Some(level), Some(count)) = (bytes.get(0..2), bytes.get(2..6)) else {
        return Err(AggParamError::Malformed(
            "Poplar1: shorter than its 6-byte header".into(),
        ));
    };
    let level = u64::from(u16::from_be_bytes([level[0], level[1]]));
    let count = u64::from(u32::from_be_bytes([count[0], count[1], count[2], count[3]]));
    let packed = (level + 1).saturating_mul(count).div_ceil(8);
    if packed > (bytes.len() - 6) as u64 {
        return Err(AggParamError::Malformed(format!(
            "Poplar1: {count} prefixes of {} bits need {packed} bytes, {} present",
            level + 1,
            bytes.len() - 6
        )));
    }
    Ok(())
}

impl VdafInstance {
    /// The parameter to aggregate reports with as they arrive, or `None` if
    /// the Collector chooses it (DAP-09 section 4.6.1: "for some VDAFs, it
    /// is not possible to begin running aggregation jobs until the Collector
    /// initiates a collection job").
    pub fn fixed_aggregation_parameter(&self) -> Option<Vec<u8>> {
        match param_kind(self) {
            ParamKind::Single(param) => Some(param),
            ParamKind::Levelled { .. } => None,
        }
    }

    /// Checks that `bytes` is a well-formed parameter for this instance
    /// (Poplar1: it decodes, its prefixes are of one length, sorted and
    /// distinct, VDAF-08 section 8.2.6.6, and its level is below `bits`).
    pub fn check_aggregation_parameter(&self, bytes: &[u8]) -> Result<(), AggParamError> {
        match param_kind(self) {
            ParamKind::Single(param) if param == bytes => Ok(()),
            ParamKind::Single(_) => Err(AggParamError::Malformed(format!(
                "{} takes only the empty aggregation parameter",
                self.type_name()
            ))),
            ParamKind::Levelled { levels } => {
                let level = decode_level(self, bytes)?;
                if level >= levels {
                    return Err(AggParamError::Malformed(format!(
                        "level {level} is beyond the {levels}-bit strings of the task"
                    )));
                }
                Ok(())
            }
        }
    }

    /// The catalogue form of an encoded parameter, checked as
    /// [`Self::check_aggregation_parameter`] does.
    pub fn decode_aggregation_parameter(
        &self,
        bytes: &[u8],
    ) -> Result<AggregationParam, AggParamError> {
        self.check_aggregation_parameter(bytes)?;
        match self {
            VdafInstance::Poplar1 { .. } => {
                let param = Poplar1AggregationParam::get_decoded(bytes)
                    .map_err(|e| AggParamError::Malformed(format!("Poplar1: {e}")))?;
                Ok(AggregationParam::Poplar1 {
                    prefixes: param
                        .prefixes()
                        .iter()
                        .map(|prefix| prefix.iter().collect())
                        .collect(),
                })
            }
            _ => Ok(AggregationParam::Empty),
        }
    }

    /// VDAF-08's `is_valid(agg_param, previous_agg_params)` (sections 7.2.3
    /// and 8.2.3): whether a report prepared before with each of `previous`
    /// may be prepared with `current`. Prio3: never twice; Poplar1: never
    /// twice at one level. A parameter that does not decode clashes.
    pub fn agg_param_is_valid(&self, current: &[u8], previous: &[Vec<u8>]) -> bool {
        if previous.is_empty() {
            return true;
        }
        match param_kind(self) {
            ParamKind::Single(_) => false,
            ParamKind::Levelled { .. } => {
                let Ok(level) = decode_level(self, current) else {
                    return false;
                };
                previous
                    .iter()
                    .all(|p| decode_level(self, p).is_ok_and(|other| other != level))
            }
        }
    }

    /// The leading bytes of an encoded parameter that decide `is_valid`:
    /// two well-formed parameters clash exactly when these are equal.
    /// Prio3: none (every parameter clashes with every other, there being
    /// one). Poplar1: the level, the encoding's first two bytes (VDAF-08
    /// section 8.2.6.6), as `is_valid` compares levels only (section
    /// 8.2.3). The Helper's anti-replay lookup reads only the earlier
    /// parameters sharing it, so a report aggregated at many levels costs
    /// the same to check at the last level as at the first.
    pub fn agg_param_clash_prefix<'a>(&self, param: &'a [u8]) -> &'a [u8] {
        match param_kind(self) {
            ParamKind::Single(_) => &[],
            ParamKind::Levelled { .. } => param.get(..2).unwrap_or(param),
        }
    }

    /// The rule for collecting one batch with several parameters (DAP-09
    /// section 4.6.5 bounds how many; this says which): `current` after
    /// the batch was collected with each of `previous`. The same parameter
    /// again is the same collection and always passes. Otherwise a
    /// levelled VDAF refuses a level the batch was already collected at
    /// with other prefixes, in any order: VDAF-08 section 8.2.3 ("no
    /// aggregation parameter with the same level has been used with the
    /// same input share before") asks only for distinct levels, not
    /// increasing ones, so a Collector may skip levels or go back up to one
    /// not collected yet. Every report of a collected batch was prepared
    /// at each of its levels, so this is `is_valid` for all of them at once,
    /// refused before any report is prepared again.
    pub fn check_batch_agg_params(
        &self,
        current: &[u8],
        previous: &[Vec<u8>],
    ) -> Result<(), AggParamError> {
        if previous.iter().any(|p| p.as_slice() == current) {
            return Ok(());
        }
        self.check_aggregation_parameter(current)?;
        match param_kind(self) {
            // Two distinct parameters of a single-parameter VDAF cannot both
            // be well formed; nothing more to check.
            ParamKind::Single(_) => Ok(()),
            ParamKind::Levelled { .. } => {
                let level = decode_level(self, current)?;
                let used = previous
                    .iter()
                    .any(|p| decode_level(self, p).is_ok_and(|other| other == level));
                if used {
                    return Err(AggParamError::OutOfSequence(format!(
                        "the batch was already collected at level {level} with other \
                         prefixes; a report is aggregated once per level"
                    )));
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prio::codec::Encode as _;
    use prio::idpf::IdpfInput;

    fn param(prefixes: &[&[bool]]) -> Vec<u8> {
        Poplar1AggregationParam::try_from_prefixes(
            prefixes.iter().map(|p| IdpfInput::from_bools(p)).collect(),
        )
        .unwrap()
        .get_encoded()
        .unwrap()
    }

    /// Encodes prefixes without the sorting and uniqueness checks of
    /// `try_from_prefixes`, as a careless Collector might (VDAF-08 section
    /// 8.2.6.4): level, count, then the prefixes packed into one big-endian
    /// integer, the first prefix in the lowest bits.
    fn raw_poplar(level: u16, prefixes: &[u64]) -> Vec<u8> {
        let width = u32::from(level) + 1;
        let mut packed: u128 = 0;
        for (i, prefix) in prefixes.iter().enumerate() {
            // A prefix read as an integer (first bit most significant)
            // sits in the packed integer as it is.
            packed |= u128::from(*prefix) << (i as u32 * width);
        }
        let len = (width as usize * prefixes.len()).div_ceil(8);
        let mut out = level.to_be_bytes().to_vec();
        out.extend((prefixes.len() as u32).to_be_bytes());
        out.extend(&packed.to_be_bytes()[16 - len..]);
        out
    }

    #[test]
    fn prio3_has_one_parameter_known_in_advance() {
        let count = VdafInstance::Prio3Count;
        assert_eq!(count.fixed_aggregation_parameter(), Some(vec![]));
        assert!(count.check_aggregation_parameter(&[]).is_ok());
        assert!(count.check_aggregation_parameter(&[0]).is_err());
        assert!(count.agg_param_is_valid(&[], &[]));
        assert!(!count.agg_param_is_valid(&[], &[vec![]]));
        assert!(count.check_batch_agg_params(&[], &[vec![]]).is_ok());
    }

    #[test]
    fn poplar1_parameters_are_chosen_at_collection_and_checked() {
        let poplar = VdafInstance::Poplar1 { bits: 4 };
        assert_eq!(poplar.fixed_aggregation_parameter(), None);
        assert!(poplar
            .check_aggregation_parameter(&param(&[&[false, true], &[true, false]]))
            .is_ok());
        // The raw encoder agrees with prio's on a sorted list.
        assert_eq!(
            raw_poplar(1, &[0b01, 0b10]),
            param(&[&[false, true], &[true, false]])
        );
        let unsorted = raw_poplar(1, &[0b10, 0b01]);
        let duplicated = raw_poplar(1, &[0b01, 0b01]);
        for bad in [unsorted, duplicated] {
            assert!(matches!(
                poplar.check_aggregation_parameter(&bad),
                Err(AggParamError::Malformed(_))
            ));
        }
        // Level 4 names 5-bit prefixes: beyond 4-bit strings.
        let too_deep = param(&[&[true; 5]]);
        assert!(poplar.check_aggregation_parameter(&too_deep).is_err());
        // A header claiming far more prefixes than present.
        let mut greedy = raw_poplar(3, &[1]);
        greedy[2..6].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(poplar.check_aggregation_parameter(&greedy).is_err());
        assert!(poplar.check_aggregation_parameter(&[]).is_err());
        assert_eq!(
            poplar
                .decode_aggregation_parameter(&param(&[&[false, true], &[true, false]]))
                .unwrap(),
            AggregationParam::Poplar1 {
                prefixes: vec![vec![false, true], vec![true, false]]
            }
        );
        assert_eq!(
            VdafInstance::Prio3Count
                .decode_aggregation_parameter(&[])
                .unwrap(),
            AggregationParam::Empty
        );
    }

    #[test]
    fn poplar1_reports_are_prepared_once_per_level() {
        let poplar = VdafInstance::Poplar1 { bits: 4 };
        let level0 = param(&[&[false]]);
        let level0_other = param(&[&[true]]);
        let level1 = param(&[&[false, true]]);
        assert!(poplar.agg_param_is_valid(&level1, std::slice::from_ref(&level0)));
        // VDAF-08 section 8.2.3 only asks for distinct levels.
        assert!(poplar.agg_param_is_valid(&level0, std::slice::from_ref(&level1)));
        assert!(!poplar.agg_param_is_valid(&level0_other, std::slice::from_ref(&level0)));
        assert!(!poplar.agg_param_is_valid(&level1, &[vec![0xff]]));
        assert!(!poplar.agg_param_is_valid(&[0xff], &[level0]));
    }

    #[test]
    fn parameters_clash_exactly_when_their_clash_prefixes_are_equal() {
        let poplar = VdafInstance::Poplar1 { bits: 4 };
        let params = [
            param(&[&[false]]),
            param(&[&[false], &[true]]),
            param(&[&[true, false]]),
            param(&[&[false, true], &[true, true]]),
            param(&[&[true, true, false]]),
            param(&[&[true, true, false, true]]),
            param(&[&[false, false, false, false], &[true, true, true, true]]),
        ];
        for a in &params {
            for b in &params {
                let clash = poplar.agg_param_clash_prefix(a) == poplar.agg_param_clash_prefix(b);
                assert_eq!(
                    poplar.agg_param_is_valid(a, std::slice::from_ref(b)),
                    !clash,
                    "{a:?} after {b:?}"
                );
            }
        }
        let count = VdafInstance::Prio3Count;
        assert_eq!(count.agg_param_clash_prefix(&[]), &[] as &[u8]);
        assert!(!count.agg_param_is_valid(&[], &[vec![]]));
    }

    #[test]
    fn a_batch_is_collected_once_per_level_in_any_order() {
        let poplar = VdafInstance::Poplar1 { bits: 4 };
        let level0 = param(&[&[false], &[true]]);
        let level1 = param(&[&[true, false]]);
        let level1_other = param(&[&[true, true]]);
        let level2 = param(&[&[true, true, false]]);
        let level3 = param(&[&[true, true, false, false]]);
        assert!(poplar.check_batch_agg_params(&level0, &[]).is_ok());
        assert!(poplar
            .check_batch_agg_params(&level1, std::slice::from_ref(&level0))
            .is_ok());
        // Levels may be skipped.
        assert!(poplar
            .check_batch_agg_params(&level3, &[level0.clone(), level1.clone()])
            .is_ok());
        // The same collection again.
        assert!(poplar
            .check_batch_agg_params(&level1, &[level0.clone(), level1.clone()])
            .is_ok());
        // A level already collected with other prefixes: refused.
        assert!(matches!(
            poplar.check_batch_agg_params(&level1_other, &[level0.clone(), level1.clone()]),
            Err(AggParamError::OutOfSequence(_))
        ));
        assert!(matches!(
            poplar.check_batch_agg_params(&level1_other, &[level3.clone(), level1.clone()]),
            Err(AggParamError::OutOfSequence(_))
        ));
        // A shallower level not collected yet: VDAF-08 section 8.2.3 asks
        // only for distinct levels.
        assert!(poplar
            .check_batch_agg_params(&level0, &[level1.clone(), level3.clone()])
            .is_ok());
        assert!(poplar
            .check_batch_agg_params(&level2, &[level0, level1, level3])
            .is_ok());
    }
}
