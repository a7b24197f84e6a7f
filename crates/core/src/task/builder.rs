//! [`TaskBuilder`]: gathers task parameters and checks them into a [`Task`].
//! It is also the serde form a task is read from (YAML task files, the
//! management API), so a task file passes the same checks.
//!
//! The checks: every required parameter is present; the role is an
//! aggregator's; the endpoints are absolute http(s) base URLs, not equal; the
//! VDAF's parameters are valid, its differential-privacy strategy is one it
//! supports, and the verify key has its length
//! (VDAF-08 section 5, `VERIFY_KEY_SIZE`); `min_batch_size`, `time_precision`
//! and `max_batch_query_count` are positive and a fixed-size task's
//! `max_batch_size` is at least `min_batch_size` (DAP-09 section 4.1); the
//! collector's HPKE configuration uses a suite dyad can seal to; the Leader
//! holds the token it sends the Helper and the Collector's token, the Helper
//! holds no Collector token (DAP-09 section 3.1); HPKE configuration IDs are
//! distinct; a taskprov task's ID is the SHA-256 of its `TaskConfig`
//! (draft-wang-ppm-dap-taskprov-06, "Deriving the Task ID").
//!
//! # Where is
//!
//! - every check above -> [`TaskBuilder::build`]; endpoints as base URLs ->
//!   [`base_url`];
//! - the default clock skew -> [`DEFAULT_TOLERABLE_CLOCK_SKEW`];
//! - a task read (serde) through the same checks -> `Deserialize for Task`,
//!   here.

use super::aggregator_task::Task;
use super::auth::StoredAuthenticationToken;
use super::batch_mode::BatchMode;
use super::error::TaskError;
use super::secret::VerifyKey;
use crate::hpke::{HpkeCiphersuite, HpkeKeypair};
use crate::vdaf::{DpStrategy, VdafInstance};
use dyad_messages::draft09::{Duration, HpkeConfig, Role, TaskId, Time};
use serde::{Deserialize, Deserializer};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use url::Url;

/// The clock skew tolerated when none is configured: one minute.
pub const DEFAULT_TOLERABLE_CLOCK_SKEW: Duration = Duration::from_seconds(60);

/// Task parameters being gathered. Defaults: `max_batch_query_count` 1, no
/// `task_expiration`, no report expiry, [`DEFAULT_TOLERABLE_CLOCK_SKEW`], no
/// collector token, no task-specific HPKE keys.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskBuilder {
    task_id: Option<TaskId>,
    role: Option<Role>,
    leader_aggregator_endpoint: Option<Url>,
    helper_aggregator_endpoint: Option<Url>,
    vdaf: Option<VdafInstance>,
    #[serde(default)]
    dp_strategy: DpStrategy,
    vdaf_verify_key: Option<VerifyKey>,
    batch_mode: Option<BatchMode>,
    min_batch_size: Option<u64>,
    time_precision: Option<Duration>,
    #[serde(default = "default_max_batch_query_count")]
    max_batch_query_count: u64,
    #[serde(default)]
    task_expiration: Option<Time>,
    #[serde(default)]
    report_expiry_age: Option<Duration>,
    #[serde(default = "default_tolerable_clock_skew")]
    tolerable_clock_skew: Duration,
    collector_hpke_config: Option<HpkeConfig>,
    aggregator_auth_token: Option<StoredAuthenticationToken>,
    #[serde(default)]
    collector_auth_token: Option<StoredAuthenticationToken>,
    #[serde(default)]
    hpke_keys: Vec<HpkeKeypair>,
    #[serde(default, deserialize_with = "deserialize_taskprov_config")]
    taskprov_config: Option<Vec<u8>>,
}

fn deserialize_taskprov_config<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<u8>>, D::Error> {
    use base64::Engine as _;
    let Some(text) = Option::<String>::deserialize(d)? else {
        return Ok(None);
    };
    super::secret::BASE64URL
        .decode(text.as_bytes())
        .map(Some)
        .map_err(|_| serde::de::Error::custom("taskprov_config is not valid base64url"))
}

fn default_max_batch_query_count() -> u64 {
    1
}

fn default_tolerable_clock_skew() -> Duration {
    DEFAULT_TOLERABLE_CLOCK_SKEW
}

impl Default for TaskBuilder {
    fn default() -> Self {
        Self {
            task_id: None,
            role: None,
            leader_aggregator_endpoint: None,
            helper_aggregator_endpoint: None,
            vdaf: None,
            dp_strategy: DpStrategy::NoDifferentialPrivacy,
            vdaf_verify_key: None,
            batch_mode: None,
            min_batch_size: None,
            time_precision: None,
            max_batch_query_count: default_max_batch_query_count(),
            task_expiration: None,
            report_expiry_age: None,
            tolerable_clock_skew: DEFAULT_TOLERABLE_CLOCK_SKEW,
            collector_hpke_config: None,
            aggregator_auth_token: None,
            collector_auth_token: None,
            hpke_keys: Vec::new(),
            taskprov_config: None,
        }
    }
}

impl TaskBuilder {
    pub fn task_id(mut self, task_id: TaskId) -> Self {
        self.task_id = Some(task_id);
        self
    }

    pub fn role(mut self, role: Role) -> Self {
        self.role = Some(role);
        self
    }

    pub fn leader_aggregator_endpoint(mut self, url: Url) -> Self {
        self.leader_aggregator_endpoint = Some(url);
        self
    }

    pub fn helper_aggregator_endpoint(mut self, url: Url) -> Self {
        self.helper_aggregator_endpoint = Some(url);
        self
    }

    pub fn vdaf(mut self, vdaf: VdafInstance) -> Self {
        self.vdaf = Some(vdaf);
        self
    }

    pub fn dp_strategy(mut self, strategy: DpStrategy) -> Self {
        self.dp_strategy = strategy;
        self
    }

    pub fn vdaf_verify_key(mut self, key: VerifyKey) -> Self {
        self.vdaf_verify_key = Some(key);
        self
    }

    pub fn batch_mode(mut self, batch_mode: BatchMode) -> Self {
        self.batch_mode = Some(batch_mode);
        self
    }

    pub fn min_batch_size(mut self, min_batch_size: u64) -> Self {
        self.min_batch_size = Some(min_batch_size);
        self
    }

    pub fn time_precision(mut self, time_precision: Duration) -> Self {
        self.time_precision = Some(time_precision);
        self
    }

    pub fn max_batch_query_count(mut self, count: u64) -> Self {
        self.max_batch_query_count = count;
        self
    }

    pub fn task_expiration(mut self, expiration: Option<Time>) -> Self {
        self.task_expiration = expiration;
        self
    }

    pub fn report_expiry_age(mut self, age: Option<Duration>) -> Self {
        self.report_expiry_age = age;
        self
    }

    pub fn tolerable_clock_skew(mut self, skew: Duration) -> Self {
        self.tolerable_clock_skew = skew;
        self
    }

    pub fn collector_hpke_config(mut self, config: HpkeConfig) -> Self {
        self.collector_hpke_config = Some(config);
        self
    }

    pub fn aggregator_auth_token(mut self, token: impl Into<StoredAuthenticationToken>) -> Self {
        self.aggregator_auth_token = Some(token.into());
        self
    }

    pub fn collector_auth_token(mut self, token: impl Into<StoredAuthenticationToken>) -> Self {
        self.collector_auth_token = Some(token.into());
        self
    }

    /// Removes the collector token (as for a Helper's task).
    pub fn clear_collector_auth_token(mut self) -> Self {
        self.collector_auth_token = None;
        self
    }

    pub fn hpke_keys(mut self, keys: Vec<HpkeKeypair>) -> Self {
        self.hpke_keys = keys;
        self
    }

    /// The encoded `TaskConfig` of a task provisioned by taskprov
    /// (draft-wang-ppm-dap-taskprov-06); the task ID must be its SHA-256.
    pub fn taskprov_config(mut self, config: Option<Vec<u8>>) -> Self {
        self.taskprov_config = config;
        self
    }

    /// Checks the parameters (see the module documentation) and makes the task.
    pub fn build(self) -> Result<Task, TaskError> {
        let role = required(self.role, "role")?;
        if !role.is_aggregator() {
            return Err(TaskError::invalid(
                "role",
                format!("must be leader or helper, not {role}"),
            ));
        }
        let leader_aggregator_endpoint = base_url(
            required(
                self.leader_aggregator_endpoint,
                "leader_aggregator_endpoint",
            )?,
            "leader_aggregator_endpoint",
        )?;
        let helper_aggregator_endpoint = base_url(
            required(
                self.helper_aggregator_endpoint,
                "helper_aggregator_endpoint",
            )?,
            "helper_aggregator_endpoint",
        )?;
        if leader_aggregator_endpoint == helper_aggregator_endpoint {
            return Err(TaskError::invalid(
                "helper_aggregator_endpoint",
                "is the same as the leader's",
            ));
        }

        let vdaf = required(self.vdaf, "vdaf")?;
        vdaf.validate()
            .map_err(|e| TaskError::invalid("vdaf", e.to_string()))?;
        self.dp_strategy
            .check_for(&vdaf)
            .map_err(|e| TaskError::invalid("dp_strategy", e.to_string()))?;
        let vdaf_verify_key = required(self.vdaf_verify_key, "vdaf_verify_key")?;
        if vdaf_verify_key.len() != vdaf.verify_key_length() {
            return Err(TaskError::invalid(
                "vdaf_verify_key",
                format!(
                    "is {} bytes, {} needs {}",
                    vdaf_verify_key.len(),
                    vdaf.type_name(),
                    vdaf.verify_key_length()
                ),
            ));
        }

        let batch_mode = required(self.batch_mode, "batch_mode")?;
        let min_batch_size = required(self.min_batch_size, "min_batch_size")?;
        if min_batch_size == 0 {
            return Err(TaskError::invalid("min_batch_size", "must be at least 1"));
        }
        if let Some(max) = batch_mode.max_batch_size() {
            if max < min_batch_size {
                return Err(TaskError::invalid(
                    "max_batch_size",
                    format!("{max} is below min_batch_size {min_batch_size}"),
                ));
            }
        }
        let time_precision = required(self.time_precision, "time_precision")?;
        if time_precision == Duration::ZERO {
            return Err(TaskError::invalid("time_precision", "must be positive"));
        }
        if self.max_batch_query_count == 0 {
            return Err(TaskError::invalid(
                "max_batch_query_count",
                "must be at least 1",
            ));
        }
        if self.report_expiry_age == Some(Duration::ZERO) {
            return Err(TaskError::invalid(
                "report_expiry_age",
                "must be positive (omit it to keep reports)",
            ));
        }

        let collector_hpke_config = required(self.collector_hpke_config, "collector_hpke_config")?;
        let suite = HpkeCiphersuite::of(&collector_hpke_config);
        if !suite.is_supported() {
            return Err(TaskError::invalid(
                "collector_hpke_config",
                format!("unsupported ciphersuite {suite:?}"),
            ));
        }

        let aggregator_auth_token = required(self.aggregator_auth_token, "aggregator_auth_token")?;
        match role {
            Role::Leader => {
                if aggregator_auth_token.token().is_none() {
                    return Err(TaskError::invalid(
                        "aggregator_auth_token",
                        "the Leader must hold the token itself to send it, not its hash",
                    ));
                }
                if self.collector_auth_token.is_none() {
                    return Err(TaskError::Missing("collector_auth_token"));
                }
            }
            _ => {
                if self.collector_auth_token.is_some() {
                    return Err(TaskError::invalid(
                        "collector_auth_token",
                        "the Helper takes no requests from the Collector",
                    ));
                }
            }
        }

        let mut ids = HashSet::new();
        for keypair in &self.hpke_keys {
            if !ids.insert(keypair.id()) {
                return Err(TaskError::invalid(
                    "hpke_keys",
                    format!("configuration ID {} appears twice", keypair.id()),
                ));
            }
        }

        let task_id = required(self.task_id, "task_id")?;
        if let Some(config) = &self.taskprov_config {
            // draft-wang-ppm-dap-taskprov-06, "Deriving the Task ID".
            let digest: [u8; 32] = Sha256::digest(config).into();
            if digest != *task_id.as_bytes() {
                return Err(TaskError::invalid(
                    "taskprov_config",
                    "its SHA-256 is not the task ID",
                ));
            }
        }

        Ok(Task {
            task_id,
            role,
            leader_aggregator_endpoint,
            helper_aggregator_endpoint,
            vdaf,
            dp_strategy: self.dp_strategy,
            vdaf_verify_key,
            batch_mode,
            min_batch_size,
            time_precision,
            max_batch_query_count: self.max_batch_query_count,
            task_expiration: self.task_expiration,
            report_expiry_age: self.report_expiry_age,
            tolerable_clock_skew: self.tolerable_clock_skew,
            collector_hpke_config,
            aggregator_auth_token,
            collector_auth_token: self.collector_auth_token,
            hpke_keys: self.hpke_keys,
            taskprov_config: self.taskprov_config,
        })
    }
}

fn required<T>(value: Option<T>, name: &'static str) -> Result<T, TaskError> {
    value.ok_or(TaskError::Missing(name))
}

/// An absolute http(s) URL with a host and no query or fragment, its path
/// ending in `/` so that DAP's resource paths (DAP-09 section 4.3) join onto it.
fn base_url(mut url: Url, field: &'static str) -> Result<Url, TaskError> {
    if !matches!(url.scheme(), "https" | "http") {
        return Err(TaskError::invalid(
            field,
            format!("scheme must be https (or http), not {:?}", url.scheme()),
        ));
    }
    if url.host().is_none() {
        return Err(TaskError::invalid(field, "has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(TaskError::invalid(
            field,
            "must not have a query or fragment",
        ));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

impl From<Task> for TaskBuilder {
    fn from(task: Task) -> Self {
        Self {
            task_id: Some(task.task_id),
            role: Some(task.role),
            leader_aggregator_endpoint: Some(task.leader_aggregator_endpoint),
            helper_aggregator_endpoint: Some(task.helper_aggregator_endpoint),
            vdaf: Some(task.vdaf),
            dp_strategy: task.dp_strategy,
            vdaf_verify_key: Some(task.vdaf_verify_key),
            batch_mode: Some(task.batch_mode),
            min_batch_size: Some(task.min_batch_size),
            time_precision: Some(task.time_precision),
            max_batch_query_count: task.max_batch_query_count,
            task_expiration: task.task_expiration,
            report_expiry_age: task.report_expiry_age,
            tolerable_clock_skew: task.tolerable_clock_skew,
            collector_hpke_config: Some(task.collector_hpke_config),
            aggregator_auth_token: Some(task.aggregator_auth_token),
            collector_auth_token: task.collector_auth_token,
            hpke_keys: task.hpke_keys,
            taskprov_config: task.taskprov_config,
        }
    }
}

impl Task {
    /// A builder with nothing set (see [`TaskBuilder`] for the defaults).
    pub fn builder() -> TaskBuilder {
        TaskBuilder::default()
    }

    /// A builder holding this task's parameters, to derive a changed task.
    pub fn to_builder(&self) -> TaskBuilder {
        TaskBuilder::from(self.clone())
    }
}

impl TryFrom<TaskBuilder> for Task {
    type Error = TaskError;

    fn try_from(builder: TaskBuilder) -> Result<Self, Self::Error> {
        builder.build()
    }
}

/// A task is read as its builder and checked by [`TaskBuilder::build`], so a
/// task file passes the same checks as a task built in code.
impl<'de> Deserialize<'de> for Task {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Task::try_from(TaskBuilder::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}
