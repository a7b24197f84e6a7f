//! [`BatchMode`]: how a task groups reports into batches, i.e. its query
//! configuration (DAP-09 section 4.1: the `time_interval` and `fixed_size`
//! query types; later drafts call them batch modes).
//!
//! # Where is
//!
//! - the `QueryType` code point -> [`BatchMode::query_type_code`];
//! - a fixed-size task's largest batch -> [`BatchMode::max_batch_size`].

use serde::{Deserialize, Serialize};

/// A task's query type and the parameters specific to it. The parameters
/// common to both (`min_batch_size`, `time_precision`) live on the task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum BatchMode {
    /// `time_interval` (DAP-09 section 4.1.1): the Collector names an interval
    /// of report timestamps.
    TimeInterval,
    /// `fixed_size` (DAP-09 section 4.1.2): the Leader forms batches of about
    /// `min_batch_size` reports, at most `max_batch_size` if given.
    FixedSize {
        #[serde(default)]
        max_batch_size: Option<u64>,
    },
}

impl BatchMode {
    /// The `QueryType` code point (DAP-09 section 4.1): 1 for `time_interval`,
    /// 2 for `fixed_size`.
    pub const fn query_type_code(&self) -> u8 {
        match self {
            BatchMode::TimeInterval => 1,
            BatchMode::FixedSize { .. } => 2,
        }
    }

    /// The maximum batch size, for a fixed-size task that has one.
    pub const fn max_batch_size(&self) -> Option<u64> {
        match self {
            BatchMode::TimeInterval => None,
            BatchMode::FixedSize { max_batch_size } => *max_batch_size,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_form() {
        let modes = [
            (BatchMode::TimeInterval, r#"{"type":"time_interval"}"#),
            (
                BatchMode::FixedSize {
                    max_batch_size: Some(100),
                },
                r#"{"type":"fixed_size","max_batch_size":100}"#,
            ),
            (
                BatchMode::FixedSize {
                    max_batch_size: None,
                },
                r#"{"type":"fixed_size","max_batch_size":null}"#,
            ),
        ];
        for (mode, json) in modes {
            assert_eq!(serde_json::to_string(&mode).unwrap(), json);
            assert_eq!(serde_json::from_str::<BatchMode>(json).unwrap(), mode);
            let yaml = serde_yaml::to_string(&mode).unwrap();
            assert_eq!(serde_yaml::from_str::<BatchMode>(&yaml).unwrap(), mode);
        }
        assert_eq!(
            serde_yaml::from_str::<BatchMode>("type: fixed_size").unwrap(),
            BatchMode::FixedSize {
                max_batch_size: None
            }
        );
        assert!(serde_json::from_str::<BatchMode>(r#"{"type":"leader_selected"}"#).is_err());
    }

    #[test]
    fn codes_and_max() {
        assert_eq!(BatchMode::TimeInterval.query_type_code(), 1);
        let fixed = BatchMode::FixedSize {
            max_batch_size: Some(7),
        };
        assert_eq!(fixed.query_type_code(), 2);
        assert_eq!(fixed.max_batch_size(), Some(7));
        assert_eq!(BatchMode::TimeInterval.max_batch_size(), None);
    }
}
