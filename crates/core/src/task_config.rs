//! What a Client or Collector learns from a taskprov `TaskConfig`
//! (draft-wang-ppm-dap-taskprov-06) without any task provisioned for it:
//! the task ID it hashes to, the VDAF it names, and whether this build can
//! take part at all (the "opt in" of taskprov-06 section 3.3, as a Client or
//! Collector applies it).
//!
//! # Where is
//!
//! - `task_id = SHA-256(task_config)` (taskprov-06 section 3.1) ->
//!   [`task_id_of`], [`task_id_of_encoded`];
//! - a VDAF, DP mechanism or query type this build does not support means
//!   opting out (taskprov-06 section 3.3) -> [`vdaf_instance_of`],
//!   [`check_supported`];
//! - an expired task is opted out of (taskprov-06 section 3.3) ->
//!   [`check_supported`].

use crate::vdaf::VdafInstance;
use dyad_messages::draft09::{TaskId, Time};
use dyad_messages::taskprov::{DpMechanism, QueryTypeConfig, TaskConfig, VdafConfig, VdafType};
use dyad_messages::{Encode, EncodeError};

/// Why a Client or Collector cannot take part in a `TaskConfig`'s task.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskConfigError {
    /// The configuration could not be encoded (an empty `task_info`, say).
    #[error("the task config cannot be encoded: {0}")]
    Encode(#[from] EncodeError),
    /// A VDAF code point this build does not implement.
    #[error("the task config names VDAF type {0:#010x}, which dyad does not support")]
    UnknownVdaf(u32),
    /// VDAF parameters dyad refuses (a zero length, say).
    #[error("the task config's VDAF parameters are invalid: {0}")]
    InvalidVdaf(String),
    /// A differential privacy mechanism other than `none`.
    #[error(
        "the task config asks for DP mechanism {0}, which dyad does not support (only none(1))"
    )]
    UnsupportedDp(u8),
    /// A query type this build does not implement.
    #[error("the task config names query type {0}, which dyad does not support")]
    UnknownQueryType(u8),
    /// The task expired at `expiration`.
    #[error("the task expired at {expiration} (now {now})")]
    Expired { expiration: Time, now: Time },
}

/// The task ID of an encoded `TaskConfig`: its SHA-256 hash (taskprov-06
/// section 3.1), as the aggregators derive it ([`crate::taskprov::task_id_of`]).
pub fn task_id_of_encoded(encoded: &[u8]) -> TaskId {
    crate::taskprov::task_id_of(encoded)
}

/// The task ID of `config`: the SHA-256 hash of its encoding.
pub fn task_id_of(config: &TaskConfig) -> Result<TaskId, TaskConfigError> {
    Ok(task_id_of_encoded(&config.get_encoded()?))
}

/// The catalogue VDAF a `VdafConfig` names, if dyad supports it with its DP
/// mechanism (only `none`: taskprov-06 defines no other).
pub fn vdaf_instance_of(config: &VdafConfig) -> Result<VdafInstance, TaskConfigError> {
    if let DpMechanism::Other { code, .. } = config.dp_config.dp_mechanism {
        return Err(TaskConfigError::UnsupportedDp(code));
    }
    let instance = catalogue_vdaf(&config.vdaf_type)
        .ok_or_else(|| TaskConfigError::UnknownVdaf(config.vdaf_type.code()))?;
    instance
        .validate()
        .map_err(|e| TaskConfigError::InvalidVdaf(e.to_string()))?;
    Ok(instance)
}

/// The catalogue VDAF a taskprov `VdafType` names (VDAF-08's codepoints),
/// its parameters not yet checked; `None` for a type dyad does not know.
pub fn catalogue_vdaf(vdaf: &VdafType) -> Option<VdafInstance> {
    Some(match *vdaf {
        VdafType::Prio3Count => VdafInstance::Prio3Count,
        VdafType::Prio3Sum { bits } => VdafInstance::Prio3Sum { bits },
        VdafType::Prio3SumVec {
            length,
            bits,
            chunk_length,
        } => VdafInstance::Prio3SumVec {
            bits,
            length,
            chunk_length,
        },
        VdafType::Prio3Histogram {
            length,
            chunk_length,
        } => VdafInstance::Prio3Histogram {
            length,
            chunk_length,
        },
        VdafType::Poplar1 { bits } => VdafInstance::Poplar1 { bits },
        VdafType::Other { .. } => return None,
    })
}

/// Whether a Client or Collector may take part in `config`'s task at
/// `now`: a supported VDAF, DP mechanism and query type, and a task not yet
/// expired. Returns the VDAF.
pub fn check_supported(config: &TaskConfig, now: Time) -> Result<VdafInstance, TaskConfigError> {
    let vdaf = vdaf_instance_of(&config.vdaf_config)?;
    if let QueryTypeConfig::Other { code, .. } = config.query_config.query {
        return Err(TaskConfigError::UnknownQueryType(code));
    }
    if now >= config.task_expiration {
        return Err(TaskConfigError::Expired {
            expiration: config.task_expiration,
            now,
        });
    }
    Ok(vdaf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dyad_messages::draft09::{Duration, Url};
    use dyad_messages::taskprov::{DpConfig, QueryConfig};

    fn config(vdaf_type: VdafType, dp: DpMechanism) -> TaskConfig {
        TaskConfig {
            task_info: b"t".to_vec(),
            leader_aggregator_endpoint: Url::try_from("https://l.example/").unwrap(),
            helper_aggregator_endpoint: Url::try_from("https://h.example/").unwrap(),
            query_config: QueryConfig {
                time_precision: Duration::from_seconds(60),
                max_batch_query_count: 1,
                min_batch_size: 1,
                query: QueryTypeConfig::TimeInterval,
            },
            task_expiration: Time::from_seconds_since_epoch(2_000),
            vdaf_config: VdafConfig::new(DpConfig::new(dp), vdaf_type),
        }
    }

    #[test]
    fn the_task_id_is_the_sha256_of_the_encoding() {
        let c = config(VdafType::Prio3Count, DpMechanism::None);
        let encoded = c.get_encoded().unwrap();
        let id = task_id_of(&c).unwrap();
        assert_eq!(id, task_id_of_encoded(&encoded));
        let mut other = c.clone();
        other.task_info = b"u".to_vec();
        assert_ne!(task_id_of(&other).unwrap(), id);
        // SHA-256("") is a fixed, well-known value: the hash is the plain one.
        assert_eq!(
            task_id_of_encoded(b"").to_string(),
            "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
        );
    }

    #[test]
    fn supported_configs_map_to_the_catalogue() {
        let c = config(
            VdafType::Prio3Histogram {
                length: 4,
                chunk_length: 2,
            },
            DpMechanism::None,
        );
        assert_eq!(
            check_supported(&c, Time::from_seconds_since_epoch(1_000)).unwrap(),
            VdafInstance::Prio3Histogram {
                length: 4,
                chunk_length: 2
            }
        );
    }

    #[test]
    fn unsupported_or_expired_configs_are_opted_out_of() {
        let now = Time::from_seconds_since_epoch(1_000);
        let unknown = config(
            VdafType::Other {
                code: 0xffff_0001,
                data: vec![],
            },
            DpMechanism::None,
        );
        assert_eq!(
            check_supported(&unknown, now),
            Err(TaskConfigError::UnknownVdaf(0xffff_0001))
        );
        let dp = config(
            VdafType::Prio3Count,
            DpMechanism::Other {
                code: 2,
                data: vec![],
            },
        );
        assert_eq!(
            check_supported(&dp, now),
            Err(TaskConfigError::UnsupportedDp(2))
        );
        let zero = config(VdafType::Prio3Sum { bits: 0 }, DpMechanism::None);
        assert!(matches!(
            check_supported(&zero, now),
            Err(TaskConfigError::InvalidVdaf(_))
        ));
        let c = config(VdafType::Prio3Count, DpMechanism::None);
        assert!(matches!(
            check_supported(&c, Time::from_seconds_since_epoch(2_000)),
            Err(TaskConfigError::Expired { .. })
        ));
    }
}
