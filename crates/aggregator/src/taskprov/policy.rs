//! [`TaskprovConfig`]: the `taskprov` section of the configuration file,
//! the operator's opt-in policy (draft-wang-ppm-dap-taskprov-06,
//! "Configuring a Task": a participant MAY opt out of a task whose
//! configuration is deemed insufficient for privacy or whose lifetime is
//! too long).
//!
//! ```yaml
//! taskprov:
//!   enabled: true                    # default false: the header is ignored
//!   max_task_lifetime_secs: 2592000  # refuse tasks expiring later than now + this
//!   min_batch_size_floor: 100        # refuse tasks with a smaller min_batch_size
//! ```
//!
//! ## Where is
//!
//! - the policy's refusals → [`TaskprovConfig::opt_out`]

use dyad_messages::draft09::Time;
use dyad_messages::taskprov::TaskConfig;
use serde::Deserialize;

/// The operator's taskprov policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TaskprovConfig {
    /// Whether tasks are provisioned from the `dap-taskprov` header. When
    /// off, the header is ignored and an unknown task stays unknown
    /// (`unrecognizedTask`), as for an aggregator without taskprov.
    pub enabled: bool,
    /// The longest time from now to a task's `task_expiration` accepted;
    /// no limit when absent.
    pub max_task_lifetime_secs: Option<u64>,
    /// The smallest `min_batch_size` accepted (at least 1).
    pub min_batch_size_floor: u32,
}

impl Default for TaskprovConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            max_task_lifetime_secs: None,
            min_batch_size_floor: 1,
        }
    }
}

impl TaskprovConfig {
    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_task_lifetime_secs == Some(0) {
            return Err("max_task_lifetime_secs must be positive (omit it for no limit)".into());
        }
        Ok(())
    }

    /// Why the policy refuses `config` at `now`, if it does.
    pub fn opt_out(&self, config: &TaskConfig, now: Time) -> Option<String> {
        let expiration = config.task_expiration.as_seconds_since_epoch();
        if let Some(max) = self.max_task_lifetime_secs {
            let latest = now.as_seconds_since_epoch().saturating_add(max);
            if expiration > latest {
                return Some(format!(
                    "the task expires more than {max} s from now, beyond this aggregator's limit"
                ));
            }
        }
        let min_batch_size = config.query_config.min_batch_size;
        if min_batch_size < self.min_batch_size_floor {
            return Some(format!(
                "min_batch_size {min_batch_size} is below this aggregator's floor of {}",
                self.min_batch_size_floor
            ));
        }
        None
    }
}
