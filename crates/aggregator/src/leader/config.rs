//! The configuration of the Leader's three background processes, one YAML
//! section each ([`JobCreatorConfig`] is `aggregation_job_creator`,
//! [`JobDriverConfig`] `aggregation_job_driver`, [`CollectionDriverConfig`]
//! `collection_job_driver`).
//!
//! Durations are integers whose unit is in the field name (`_ms` or
//! `_secs`), like the rest of the aggregator's configuration file. Leases and
//! retry delays are stored by the datastore in whole seconds (DAP times), so
//! those are given in seconds; the wake-up intervals are in milliseconds.
//! Every field has a default, so an empty section (`{}`) or none at all is a
//! working configuration; the defaults let a single node aggregate and
//! collect a thousand reports within seconds.
//!
//! ```yaml
//! aggregation_job_creator:
//!   interval_ms: 1000          # how often to look for unaggregated reports
//!   min_job_size: 1            # fewest reports in a job ...
//!   max_job_size: 256          # ... and most
//!   max_jobs_per_task: 16      # jobs created per task per wake-up
//!   max_report_wait_ms: 10000  # a remainder below min_job_size waits at most this long
//! aggregation_job_driver:
//!   interval_ms: 1000          # how often to look for jobs to drive
//!   max_concurrent_jobs: 8     # jobs driven at once by this process
//!   lease_duration_secs: 120   # how long a job is held before another process may take it
//!   max_attempts: 10           # failed attempts before the job is abandoned
//!   retry_initial_delay_secs: 1
//!   retry_max_delay_secs: 300  # backoff doubles from the initial delay up to this
//!   http_timeout_secs: 30      # one request to the Helper
//! collection_job_driver:
//!   interval_ms: 1000
//!   max_concurrent_jobs: 4
//!   lease_duration_secs: 120
//!   max_attempts: 10
//!   retry_initial_delay_secs: 1
//!   retry_max_delay_secs: 300
//!   not_ready_retry_secs: 1    # re-check delay while the batch is not ready (no attempt counted)
//!   http_timeout_secs: 30
//! ```

use dyad_core::retry::RetryPolicy;
use dyad_messages::draft09::Duration as DapDuration;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The aggregation job creator (YAML section `aggregation_job_creator`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobCreatorConfig {
    /// Time between two runs, in milliseconds.
    pub interval_ms: u64,
    /// Fewest reports in a job: fewer unaggregated reports wait for more
    /// (at most [`Self::max_report_wait_ms`]). A fixed-size batch with less
    /// room left than this still gets a smaller job, to fill it.
    pub min_job_size: u64,
    /// Most reports in a job.
    pub max_job_size: u64,
    /// Most jobs created for one task in one run (bounds a run's work).
    pub max_jobs_per_task: u64,
    /// Longest a remainder smaller than `min_job_size` waits before it is
    /// put in a job anyway, in milliseconds.
    pub max_report_wait_ms: u64,
}

impl Default for JobCreatorConfig {
    fn default() -> Self {
        Self {
            interval_ms: 1000,
            min_job_size: 1,
            max_job_size: 256,
            max_jobs_per_task: 16,
            max_report_wait_ms: 10_000,
        }
    }
}

impl JobCreatorConfig {
    /// Time between two runs.
    pub fn interval(&self) -> Duration {
        Duration::from_millis(self.interval_ms)
    }

    /// Longest an undersized remainder waits.
    pub fn max_report_wait(&self) -> Duration {
        Duration::from_millis(self.max_report_wait_ms)
    }

    /// Checks what serde cannot; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        positive("aggregation_job_creator.interval_ms", self.interval_ms)?;
        positive("aggregation_job_creator.min_job_size", self.min_job_size)?;
        positive(
            "aggregation_job_creator.max_jobs_per_task",
            self.max_jobs_per_task,
        )?;
        if self.max_job_size < self.min_job_size {
            return Err(format!(
                "aggregation_job_creator.max_job_size: {} is below min_job_size {}",
                self.max_job_size, self.min_job_size
            ));
        }
        if self.max_job_size > u64::from(u32::MAX) {
            return Err("aggregation_job_creator.max_job_size: too large".into());
        }
        Ok(())
    }
}

/// The aggregation job driver (YAML section `aggregation_job_driver`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobDriverConfig {
    /// Time between two looks for jobs, in milliseconds (a finished job
    /// makes the driver look again at once).
    pub interval_ms: u64,
    /// Jobs this process drives at once.
    pub max_concurrent_jobs: u64,
    /// How long a job is leased, in seconds: another process may take it
    /// over once the lease runs out.
    pub lease_duration_secs: u64,
    /// Attempts (acquisitions) before a job that keeps failing transiently
    /// is abandoned; deleting it at the Helper gets as many more.
    pub max_attempts: u32,
    /// Delay before the first retry after a transient failure, in seconds;
    /// doubled for each further one.
    pub retry_initial_delay_secs: u64,
    /// Longest delay between two retries, in seconds.
    pub retry_max_delay_secs: u64,
    /// Timeout of one request to the Helper, in seconds.
    pub http_timeout_secs: u64,
}

impl Default for JobDriverConfig {
    fn default() -> Self {
        Self {
            interval_ms: 1000,
            max_concurrent_jobs: 8,
            lease_duration_secs: 120,
            max_attempts: 10,
            retry_initial_delay_secs: 1,
            retry_max_delay_secs: 300,
            http_timeout_secs: 30,
        }
    }
}

impl JobDriverConfig {
    /// The shared lease and retry settings.
    pub(crate) fn driver_settings(&self) -> DriverSettings {
        DriverSettings {
            interval: Duration::from_millis(self.interval_ms),
            max_concurrent: self.max_concurrent_jobs,
            lease_duration: DapDuration::from_seconds(self.lease_duration_secs),
            max_attempts: self.max_attempts,
            retry_initial_delay: Duration::from_secs(self.retry_initial_delay_secs),
            retry_max_delay: Duration::from_secs(self.retry_max_delay_secs),
            http_timeout: Duration::from_secs(self.http_timeout_secs),
        }
    }

    /// Checks what serde cannot; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        self.driver_settings().validate("aggregation_job_driver")
    }
}

/// The collection job driver (YAML section `collection_job_driver`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CollectionDriverConfig {
    /// Time between two looks for jobs, in milliseconds.
    pub interval_ms: u64,
    /// Jobs this process drives at once.
    pub max_concurrent_jobs: u64,
    /// How long a job is leased, in seconds.
    pub lease_duration_secs: u64,
    /// Attempts (acquisitions that failed transiently) before a job is
    /// abandoned. Waiting for the batch to be ready does not count.
    pub max_attempts: u32,
    /// Delay before the first retry after a transient failure, in seconds.
    pub retry_initial_delay_secs: u64,
    /// Longest delay between two retries, in seconds.
    pub retry_max_delay_secs: u64,
    /// Delay before checking again a batch that is not ready (aggregation
    /// still running, or fewer than `min_batch_size` reports), in seconds.
    pub not_ready_retry_secs: u64,
    /// Timeout of one request to the Helper, in seconds.
    pub http_timeout_secs: u64,
}

impl Default for CollectionDriverConfig {
    fn default() -> Self {
        Self {
            interval_ms: 1000,
            max_concurrent_jobs: 4,
            lease_duration_secs: 120,
            max_attempts: 10,
            retry_initial_delay_secs: 1,
            retry_max_delay_secs: 300,
            not_ready_retry_secs: 1,
            http_timeout_secs: 30,
        }
    }
}

impl CollectionDriverConfig {
    /// The shared lease and retry settings.
    pub(crate) fn driver_settings(&self) -> DriverSettings {
        DriverSettings {
            interval: Duration::from_millis(self.interval_ms),
            max_concurrent: self.max_concurrent_jobs,
            lease_duration: DapDuration::from_seconds(self.lease_duration_secs),
            max_attempts: self.max_attempts,
            retry_initial_delay: Duration::from_secs(self.retry_initial_delay_secs),
            retry_max_delay: Duration::from_secs(self.retry_max_delay_secs),
            http_timeout: Duration::from_secs(self.http_timeout_secs),
        }
    }

    /// Checks what serde cannot; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        self.driver_settings().validate("collection_job_driver")
    }
}

/// What the two drivers have in common.
#[derive(Clone, Debug)]
pub(crate) struct DriverSettings {
    pub interval: Duration,
    pub max_concurrent: u64,
    pub lease_duration: DapDuration,
    pub max_attempts: u32,
    pub retry_initial_delay: Duration,
    pub retry_max_delay: Duration,
    pub http_timeout: Duration,
}

impl DriverSettings {
    fn validate(&self, section: &str) -> Result<(), String> {
        let checks = [
            ("interval_ms", self.interval.as_millis() > 0),
            ("max_concurrent_jobs", self.max_concurrent > 0),
            ("lease_duration_secs", self.lease_duration.as_seconds() > 0),
            ("max_attempts", self.max_attempts > 0),
            ("http_timeout_secs", !self.http_timeout.is_zero()),
        ];
        for (field, ok) in checks {
            if !ok {
                return Err(format!("{section}.{field}: must be positive"));
            }
        }
        // A request is only started while it can end (with a second to
        // spare) before the lease runs out.
        if self.http_timeout.as_secs().saturating_add(1) >= self.lease_duration.as_seconds() {
            return Err(format!(
                "{section}.http_timeout_secs: must be at least 2 seconds shorter than lease_duration_secs"
            ));
        }
        Ok(())
    }

    /// How long to wait before the next attempt after `attempts` failed ones
    /// (exponential from the initial delay, capped, with jitter), rounded up
    /// to whole seconds as the datastore keeps it.
    pub fn retry_delay(&self, attempts: u32) -> DapDuration {
        let policy = RetryPolicy::new(self.retry_initial_delay, self.retry_max_delay);
        let delay = policy
            .backoff()
            .nth(attempts.saturating_sub(1) as usize)
            .unwrap_or(self.retry_max_delay);
        let seconds = delay.as_secs() + u64::from(delay.subsec_nanos() > 0);
        DapDuration::from_seconds(seconds)
    }
}

fn positive(field: &str, value: u64) -> Result<(), String> {
    if value == 0 {
        Err(format!("{field}: must be positive"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_sections_take_the_defaults() {
        let creator: JobCreatorConfig = serde_yaml::from_str("{}").unwrap();
        assert_eq!(creator, JobCreatorConfig::default());
        let driver: JobDriverConfig = serde_yaml::from_str("{}").unwrap();
        assert_eq!(driver, JobDriverConfig::default());
        let collection: CollectionDriverConfig = serde_yaml::from_str("{}").unwrap();
        assert_eq!(collection, CollectionDriverConfig::default());
        assert!(creator.validate().is_ok());
        assert!(driver.validate().is_ok());
        assert!(collection.validate().is_ok());
    }

    #[test]
    fn fields_parse_and_unknown_ones_are_refused() {
        let creator: JobCreatorConfig =
            serde_yaml::from_str("interval_ms: 250\nmin_job_size: 5\nmax_job_size: 9\n").unwrap();
        assert_eq!(creator.interval(), Duration::from_millis(250));
        assert_eq!((creator.min_job_size, creator.max_job_size), (5, 9));
        assert!(serde_yaml::from_str::<JobCreatorConfig>("interval: 1\n").is_err());
        assert!(serde_yaml::from_str::<JobDriverConfig>("lease_duration: 1\n").is_err());
    }

    #[test]
    fn invalid_values_name_their_field() {
        let creator = JobCreatorConfig {
            min_job_size: 10,
            max_job_size: 5,
            ..Default::default()
        };
        assert!(creator.validate().unwrap_err().contains("max_job_size"));
        let driver = JobDriverConfig {
            http_timeout_secs: 500,
            ..Default::default()
        };
        assert!(driver.validate().unwrap_err().contains("http_timeout_secs"));
        let collection = CollectionDriverConfig {
            max_attempts: 0,
            ..Default::default()
        };
        assert!(collection.validate().unwrap_err().contains("max_attempts"));
    }

    #[test]
    fn retry_delay_grows_and_is_capped() {
        let settings = JobDriverConfig {
            retry_initial_delay_secs: 2,
            retry_max_delay_secs: 10,
            ..Default::default()
        }
        .driver_settings();
        // Jitter shortens by at most half; rounding up to whole seconds.
        let first = settings.retry_delay(1).as_seconds();
        assert!((1..=2).contains(&first), "{first}");
        let late = settings.retry_delay(30).as_seconds();
        assert!((5..=10).contains(&late), "{late}");
    }
}
