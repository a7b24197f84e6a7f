//! [`GarbageCollectorConfig`]: the `garbage_collector` section of the
//! configuration file (see [`crate::garbage_collector`]).
//!
//! ```yaml
//! garbage_collector:
//!   interval_secs: 300                    # time between two runs
//!   max_rows_per_transaction: 1000        # rows one delete takes at most
//!   task_expiration_grace_secs: 604800    # an expired task's data stays this long (7 days)
//!   vacuum_pages_per_transaction: 2048    # SQLite: free pages given back per transaction
//!   clock_skew_margin_secs: 300           # rows are kept this much past their expiry age
//! ```

use serde::Deserialize;
use std::time::Duration;

/// The garbage collector's settings (YAML section `garbage_collector`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GarbageCollectorConfig {
    /// Time between two runs, in seconds.
    pub interval_secs: u64,
    /// Most rows one delete takes in one transaction.
    pub max_rows_per_transaction: u64,
    /// How long after its `task_expiration` a task's data is kept (the
    /// Collector may still collect), in seconds; then the task goes.
    pub task_expiration_grace_secs: u64,
    /// SQLite: most free pages given back to the file system in one
    /// transaction (a page is 4 KiB by default).
    pub vacuum_pages_per_transaction: u64,
    /// How far past the report expiry age rows are kept, in seconds: the
    /// most the clocks of the replicas may disagree. A Helper replica whose
    /// clock is behind the collector's still refuses a report as too old
    /// (`report_dropped`) only once the collector's cutoff has passed it by
    /// this margin, so its anti-replay row is never gone while the report
    /// could still be accepted (DAP-09 section 4.5.1.4).
    pub clock_skew_margin_secs: u64,
}

impl Default for GarbageCollectorConfig {
    fn default() -> Self {
        Self {
            interval_secs: 300,
            max_rows_per_transaction: 1000,
            task_expiration_grace_secs: 7 * 86_400,
            vacuum_pages_per_transaction: 2048,
            clock_skew_margin_secs: 300,
        }
    }
}

impl GarbageCollectorConfig {
    /// [`Self::interval_secs`] as a duration.
    pub fn interval(&self) -> Duration {
        Duration::from_secs(self.interval_secs)
    }

    /// Checks the values; the reason names the field.
    pub fn validate(&self) -> Result<(), String> {
        for (field, value) in [
            ("interval_secs", self.interval_secs),
            ("max_rows_per_transaction", self.max_rows_per_transaction),
            (
                "vacuum_pages_per_transaction",
                self.vacuum_pages_per_transaction,
            ),
        ] {
            if value == 0 {
                return Err(format!("{field} must be positive"));
            }
        }
        if self.max_rows_per_transaction > 1_000_000 {
            return Err("max_rows_per_transaction must be at most 1000000".into());
        }
        if self.interval_secs > 7 * 86_400 {
            return Err("interval_secs must be at most 604800 (a week)".into());
        }
        if self.clock_skew_margin_secs > 86_400 {
            return Err("clock_skew_margin_secs must be at most 86400 (a day)".into());
        }
        if self.task_expiration_grace_secs > 10 * 365 * 86_400 {
            return Err("task_expiration_grace_secs must be at most ten years".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_section_takes_the_defaults() {
        let config: GarbageCollectorConfig = serde_yaml::from_str("{}").unwrap();
        assert_eq!(config, GarbageCollectorConfig::default());
        assert_eq!(config.validate(), Ok(()));
    }

    #[test]
    fn unknown_fields_and_zero_limits_are_refused() {
        assert!(serde_yaml::from_str::<GarbageCollectorConfig>("{interval: 5}").is_err());
        let zero = GarbageCollectorConfig {
            max_rows_per_transaction: 0,
            ..Default::default()
        };
        assert_eq!(
            zero.validate(),
            Err("max_rows_per_transaction must be positive".into())
        );
        let grace_zero = GarbageCollectorConfig {
            task_expiration_grace_secs: 0,
            ..Default::default()
        };
        assert_eq!(grace_zero.validate(), Ok(()));
    }
}
