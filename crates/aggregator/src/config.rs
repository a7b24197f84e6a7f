//! [`AggregatorConfig`]: the aggregator's YAML configuration file.
//!
//! ```yaml
//! listen_address: "0.0.0.0:8080"        # required with the `aggregator` role
//! tls:                                  # HTTPS only on listen_address (reloaded on SIGHUP)
//!   certificate_file: /etc/dyad/tls/chain.pem   # PEM chain, server certificate first
//!   private_key_file: /etc/dyad/tls/key.pem     # PEM PKCS#8, RSA or SEC1 key
//! datastore: "sqlite:///var/lib/dyad/dyad.sqlite"   # or postgres://USER:PASSWORD@HOST/DB
//! datastore_keys: ["<16 random bytes, base64url>"]  # or DYAD_DATASTORE_KEYS=k1,k2 (wins)
//! datastore_pool:                       # defaults if absent
//!   max_connections: 8
//!   acquire_timeout_secs: 30
//!   statement_timeout_secs: 30
//!   max_transaction_attempts: 10        # retries of busy/serialization-failed transactions
//!   max_transaction_secs: 300           # one run of a transaction body, then abandoned
//! datastore_apply_migrations: true      # default: true for SQLite, false for PostgreSQL
//! roles: [aggregator, aggregation-job-creator, aggregation-job-driver, collection-job-driver]
//! max_upload_body_bytes: 1048576        # PUT .../reports
//! max_request_body_bytes: 67108864      # every other request with a body
//! collection_retry_after_secs: 5        # longest Retry-After of a pending collection job
//! upload:
//!   max_batch_reports: 100              # reports written per transaction
//!   max_batch_delay_ms: 5               # longest a report waits for its batch
//! server:                               # limits of the HTTP server; defaults if absent
//!   max_connections: 16384              # default: from the open-file limit
//!   max_buffered_bodies: 1024           # request bodies being received at once
//!   max_buffered_body_bytes: 268435456  # their bytes, all together
//!   header_read_timeout_secs: 10        # a started request head must arrive by then
//!   body_read_timeout_secs: 60          # a request body must arrive by then (else 408)
//!   idle_timeout_secs: 60               # a connection with no request closes after this
//!   tls_handshake_timeout_secs: 10
//!   shutdown_grace_secs: 10             # the whole process stops within this after SIGTERM (HTTP and drivers)
//!   retry_after_secs: 1                 # Retry-After of a 503 past a limit
//! http_client:                          # requests to the Helper
//!   connect_timeout_secs: 10
//!   request_timeout_secs: 60
//!   extra_root_certificates: [/etc/dyad/tls/private-ca.pem]  # trusted besides the system's
//! log:
//!   level: info                         # a tracing-subscriber EnvFilter directive
//!   format: text                        # text | json
//! hpke_keys:                            # the global HPKE keys' cache (see crate::hpke_keys)
//!   refresh_interval_secs: 60           # every replica sees key changes within this
//!   config_max_age_secs: 86400          # Cache-Control max-age of GET /hpke_config
//! key_rotator: {}                       # the key-rotator role (see crate::key_rotator)
//!   format: text                        # text | json (one object per line, span fields included)
//! health_listen_address: "0.0.0.0:9001" # GET /healthz, /readyz (any role); none when absent
//! metrics_listen_address: "0.0.0.0:9464"  # GET /metrics, Prometheus text; none when absent
//! metrics:                              # see crate::telemetry::config
//!   queue_depth_interval_secs: 30
//!   otlp: {endpoint: "http://otel-collector:4318/v1/metrics", interval_secs: 60}
//! aggregation_job_creator: {}           # sections of the Leader's jobs; defaults if absent
//! aggregation_job_driver: {}
//! collection_job_driver: {}
//! garbage_collector: {}                 # the garbage-collector role (both aggregators)
//! management_listen_address: "127.0.0.1:9002"  # the management API (role management-api)
//! management_api:                       # see crate::management
//!   # path_prefix: "/api/"              # instead: on the DAP listener
//!   auth_tokens: ["<bearer token>"]     # or DYAD_API_TOKENS=t1,t2 (wins); never logged
//!   dap_url: "https://dap.example.com/" # this aggregator's public DAP URL, for GET /
//! taskprov:                             # tasks advertised in-band (see crate::taskprov)
//!   enabled: false                      # off: the dap-taskprov header is ignored
//!   max_task_lifetime_secs: 2592000     # refuse tasks expiring later than now + this
//!   min_batch_size_floor: 1             # refuse tasks with a smaller min_batch_size
//! ```
//!
//! Unknown fields are rejected (in the sections this crate owns), and
//! [`AggregatorConfig::validate`] checks what serde cannot: a supported
//! datastore URL, at least one role and none twice, a listen address when the
//! HTTP API runs, positive limits.
//!
//! ## Where is
//!
//! - what deserialization cannot check: datastore URL, roles, listen address,
//!   positive limits → [`AggregatorConfig::validate`]
//! - `DYAD_DATASTORE_KEYS` wins over `datastore_keys` →
//!   [`AggregatorConfig::datastore_keys`]
//! - a datastore password never in logs or `Debug` → [`redacted_url`]
//! - the client to the Helper follows no redirect, so its token never reaches
//!   another host → [`HttpClientConfig::build_client`]
//! - the default connection maximum, from the open-file limit →
//!   [`ServerConfig::limits`]
//! - the HTTP API's options from this file → [`AggregatorConfig::api_config`]
//!   (in [`crate::state`])
//! - the Leader's sections → [`crate::leader::JobCreatorConfig::validate`],
//!   [`crate::leader::JobDriverConfig::validate`],
//!   [`crate::leader::CollectionDriverConfig::validate`]
//! - the `tls` section → [`TlsConfig`] (in [`crate::tls`])
//! - the `key_rotator` section → [`KeyRotatorConfig::validate`] (in
//!   [`crate::key_rotator`]); the `hpke_keys` section → [`HpkeKeysConfig`]
//! - the `garbage_collector` section →
//!   [`crate::garbage_collector::GarbageCollectorConfig::validate`]
//! - the health and metrics listeners, three distinct addresses, and the
//!   `metrics` section → [`AggregatorConfig::validate_telemetry`],
//!   [`MetricsConfig::validate`] (in [`crate::telemetry`])
//! - the `taskprov` section → [`TaskprovConfig::opt_out`] (in
//!   [`crate::taskprov`])
//! - the management API's listener and tokens, `DYAD_API_TOKENS` winning
//!   over `management_api.auth_tokens` → [`ManagementApiConfig`],
//!   [`AggregatorConfig::management_tokens`]

mod error;
mod sections;

use crate::garbage_collector::GarbageCollectorConfig;
pub use crate::key_rotator::KeyRotatorConfig;
use crate::leader::{CollectionDriverConfig, JobCreatorConfig, JobDriverConfig};
pub use crate::taskprov::TaskprovConfig;
pub use crate::telemetry::config::{MetricsConfig, OtlpConfig};
pub use crate::tls::config::TlsConfig;
use dyad_datastore::{DatastoreKeys, DatastoreOptions, KEYS_ENV};
use error::invalid;
pub use error::ConfigError;
pub use sections::{
    DatastorePoolConfig, HpkeKeysConfig, HttpClientConfig, LogConfig, LogFormat,
    ManagementApiConfig, ServerConfig, UploadConfig, API_TOKENS_ENV, DAP_PATH_ROOTS,
};
use serde::Deserialize;
use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// One process role the configuration may ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProcessRole {
    /// The DAP HTTP API (both the Leader's and the Helper's endpoints).
    Aggregator,
    /// The Leader's aggregation job creator.
    AggregationJobCreator,
    /// The Leader's aggregation job driver.
    AggregationJobDriver,
    /// The Leader's collection job driver.
    CollectionJobDriver,
    /// Rotates the global HPKE keys (see [`crate::key_rotator`]).
    KeyRotator,
    /// Deletes expired data (either aggregator; see
    /// [`crate::garbage_collector`]).
    GarbageCollector,
    /// The management API on `management_listen_address` (see
    /// [`crate::management`]).
    ManagementApi,
}

impl fmt::Display for ProcessRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProcessRole::Aggregator => "aggregator",
            ProcessRole::AggregationJobCreator => "aggregation-job-creator",
            ProcessRole::AggregationJobDriver => "aggregation-job-driver",
            ProcessRole::CollectionJobDriver => "collection-job-driver",
            ProcessRole::KeyRotator => "key-rotator",
            ProcessRole::GarbageCollector => "garbage-collector",
            ProcessRole::ManagementApi => "management-api",
        })
    }
}

/// Where a process's datastore keys come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeysSource {
    /// The `DYAD_DATASTORE_KEYS` environment variable.
    Environment,
    /// The config file's `datastore_keys`.
    ConfigFile,
    /// A throwaway key made at start (test processes only).
    Generated,
}

impl fmt::Display for KeysSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeysSource::Environment => KEYS_ENV,
            KeysSource::ConfigFile => "the config file's datastore_keys",
            KeysSource::Generated => "a throwaway key made at start",
        })
    }
}

/// The datastore keys a configuration resolves to (see
/// [`AggregatorConfig::datastore_keys`]). `Debug` never shows the keys.
#[derive(Clone, Debug)]
pub struct ConfiguredKeys {
    pub keys: DatastoreKeys,
    pub source: KeysSource,
    /// How many keys the config file gives that the environment overrides
    /// (0 unless both give keys): worth a warning, since the file's keys
    /// are then silently unused.
    pub overridden_file_keys: usize,
}

/// The whole configuration file. `Debug` hides a password in the
/// datastore URL and the datastore keys.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregatorConfig {
    /// Where the HTTP API listens (required with the `aggregator` role).
    #[serde(default)]
    pub listen_address: Option<SocketAddr>,
    /// HTTPS on `listen_address` (plain HTTP when absent).
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// The datastore URL: `sqlite://PATH` or `postgres://...`.
    pub datastore: String,
    /// The keys task secrets are encrypted under at rest (the first
    /// encrypts, any decrypts); the `DYAD_DATASTORE_KEYS` environment
    /// variable, when set, is used instead (and `serve` warns that it
    /// overrides these).
    #[serde(default)]
    pub datastore_keys: Vec<String>,
    #[serde(default)]
    pub datastore_pool: DatastorePoolConfig,
    /// Whether to apply schema migrations at start (default: yes for
    /// SQLite; no for PostgreSQL, where `dyad migrate` does it once for all
    /// replicas).
    #[serde(default)]
    pub datastore_apply_migrations: Option<bool>,
    /// The roles this process runs.
    pub roles: Vec<ProcessRole>,
    #[serde(default = "default_max_upload_body_bytes")]
    pub max_upload_body_bytes: usize,
    #[serde(default = "default_max_request_body_bytes")]
    pub max_request_body_bytes: usize,
    /// The longest `Retry-After` of a pending collection job (shorter when
    /// little work is left on its batch).
    #[serde(default = "default_collection_retry_after_secs")]
    pub collection_retry_after_secs: u64,
    #[serde(default)]
    pub upload: UploadConfig,
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub http_client: HttpClientConfig,
    #[serde(default)]
    pub log: LogConfig,
    /// Where `/healthz` and `/readyz` are served (no listener when absent).
    #[serde(default)]
    pub health_listen_address: Option<SocketAddr>,
    /// Where `/metrics` is served (no listener when absent).
    #[serde(default)]
    pub metrics_listen_address: Option<SocketAddr>,
    #[serde(default)]
    pub metrics: MetricsConfig,
    #[serde(default)]
    pub aggregation_job_creator: JobCreatorConfig,
    #[serde(default)]
    pub aggregation_job_driver: JobDriverConfig,
    #[serde(default)]
    pub collection_job_driver: CollectionDriverConfig,
    #[serde(default)]
    pub hpke_keys: HpkeKeysConfig,
    #[serde(default)]
    pub key_rotator: KeyRotatorConfig,
    #[serde(default)]
    pub garbage_collector: GarbageCollectorConfig,
    /// Where the management API is served (required with the
    /// `management-api` role).
    #[serde(default)]
    pub management_listen_address: Option<SocketAddr>,
    #[serde(default)]
    pub management_api: ManagementApiConfig,
    /// Taskprov's opt-in policy (see [`crate::taskprov`]); off by default.
    #[serde(default)]
    pub taskprov: TaskprovConfig,
}

impl fmt::Debug for AggregatorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AggregatorConfig")
            .field("listen_address", &self.listen_address)
            .field("tls", &self.tls)
            .field("datastore", &redacted_url(&self.datastore))
            .field(
                "datastore_keys",
                &format_args!("[{} redacted]", self.datastore_keys.len()),
            )
            .field("datastore_pool", &self.datastore_pool)
            .field(
                "datastore_apply_migrations",
                &self.datastore_apply_migrations,
            )
            .field("roles", &self.roles)
            .field("max_upload_body_bytes", &self.max_upload_body_bytes)
            .field("max_request_body_bytes", &self.max_request_body_bytes)
            .field(
                "collection_retry_after_secs",
                &self.collection_retry_after_secs,
            )
            .field("upload", &self.upload)
            .field("server", &self.server)
            .field("http_client", &self.http_client)
            .field("log", &self.log)
            .field("health_listen_address", &self.health_listen_address)
            .field("metrics_listen_address", &self.metrics_listen_address)
            .field("metrics", &self.metrics)
            .field("aggregation_job_creator", &self.aggregation_job_creator)
            .field("aggregation_job_driver", &self.aggregation_job_driver)
            .field("collection_job_driver", &self.collection_job_driver)
            .field("hpke_keys", &self.hpke_keys)
            .field("key_rotator", &self.key_rotator)
            .field("garbage_collector", &self.garbage_collector)
            .field("management_listen_address", &self.management_listen_address)
            .field("management_api", &self.management_api)
            .field("taskprov", &self.taskprov)
            .finish()
    }
}

/// A URL with its password (if any) replaced, for logs.
pub fn redacted_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("REDACTED"));
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        Err(_) => "<unparseable URL>".to_owned(),
    }
}

/// Default cap on an uploaded report: 1 MiB.
pub const DEFAULT_MAX_UPLOAD_BODY_BYTES: usize = 1 << 20;
/// Default cap on other request bodies (aggregation jobs carry many
/// reports): 64 MiB.
pub const DEFAULT_MAX_REQUEST_BODY_BYTES: usize = 64 << 20;

fn default_max_upload_body_bytes() -> usize {
    DEFAULT_MAX_UPLOAD_BODY_BYTES
}

fn default_max_request_body_bytes() -> usize {
    DEFAULT_MAX_REQUEST_BODY_BYTES
}

fn default_collection_retry_after_secs() -> u64 {
    5
}

impl AggregatorConfig {
    /// Parses and validates a YAML document.
    pub fn from_yaml_str(yaml: &str) -> Result<Self, ConfigError> {
        let config: AggregatorConfig = serde_yaml::from_str(yaml)?;
        config.validate()?;
        Ok(config)
    }

    /// Reads, parses and validates a YAML file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let yaml = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_yaml_str(&yaml)
    }

    /// Checks what deserialization cannot (see the module documentation).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let postgres = self.datastore.starts_with("postgres://")
            || self.datastore.starts_with("postgresql://");
        if !self.datastore.starts_with("sqlite://") && !postgres {
            let scheme = self.datastore.split(':').next().unwrap_or_default();
            return Err(invalid(
                "datastore",
                format!(
                    "unsupported datastore URL scheme {scheme:?}: expected sqlite://PATH or postgres://..."
                ),
            ));
        }
        if self.datastore.len() <= "sqlite://".len() {
            return Err(invalid("datastore", "URL without a path or host"));
        }
        if !self.datastore_keys.is_empty() {
            DatastoreKeys::from_encoded(&self.datastore_keys)
                .map_err(|e| invalid("datastore_keys", e.to_string()))?;
        }
        for (field, value) in [
            (
                "datastore_pool.max_connections",
                u64::from(self.datastore_pool.max_connections),
            ),
            (
                "datastore_pool.acquire_timeout_secs",
                self.datastore_pool.acquire_timeout_secs,
            ),
            (
                "datastore_pool.statement_timeout_secs",
                self.datastore_pool.statement_timeout_secs,
            ),
            (
                "datastore_pool.max_transaction_attempts",
                u64::from(self.datastore_pool.max_transaction_attempts),
            ),
            (
                "datastore_pool.max_transaction_secs",
                self.datastore_pool.max_transaction_secs,
            ),
        ] {
            if value == 0 {
                return Err(invalid(field, "must be positive"));
            }
        }
        if self.roles.is_empty() {
            return Err(invalid("roles", "at least one role is required"));
        }
        let mut seen = HashSet::new();
        for role in &self.roles {
            if !seen.insert(role) {
                return Err(invalid("roles", format!("{role} is listed twice")));
            }
        }
        if self.has_role(ProcessRole::Aggregator) && self.listen_address.is_none() {
            return Err(invalid(
                "listen_address",
                "required when the aggregator role runs",
            ));
        }
        if let Some(tls) = &self.tls {
            if !self.has_role(ProcessRole::Aggregator) {
                return Err(invalid(
                    "tls",
                    "only the aggregator role listens: add it to roles or remove tls",
                ));
            }
            for (field, path) in [
                ("tls.certificate_file", &tls.certificate_file),
                ("tls.private_key_file", &tls.private_key_file),
            ] {
                if path.as_os_str().is_empty() {
                    return Err(invalid(field, "must name a PEM file"));
                }
            }
        }
        for (field, value) in [
            ("max_upload_body_bytes", self.max_upload_body_bytes),
            ("max_request_body_bytes", self.max_request_body_bytes),
            ("upload.max_batch_reports", self.upload.max_batch_reports),
        ] {
            if value == 0 {
                return Err(invalid(field, "must be positive"));
            }
        }
        self.server.validate()?;
        if self.http_client.request_timeout_secs == 0 {
            return Err(invalid(
                "http_client.request_timeout_secs",
                "must be positive",
            ));
        }
        for (field, checked) in [
            (
                "aggregation_job_creator",
                self.aggregation_job_creator.validate(),
            ),
            (
                "aggregation_job_driver",
                self.aggregation_job_driver.validate(),
            ),
            (
                "collection_job_driver",
                self.collection_job_driver.validate(),
            ),
            ("key_rotator", self.key_rotator.validate()),
            ("garbage_collector", self.garbage_collector.validate()),
        ] {
            checked.map_err(|reason| invalid(field, reason))?;
        }
        self.hpke_keys.validate()?;
        self.taskprov
            .validate()
            .map_err(|reason| invalid("taskprov", reason))?;
        self.management_api.validate()?;
        if self.management_api.path_prefix.is_some() {
            if self.has_role(ProcessRole::ManagementApi) {
                return Err(invalid(
                    "management_api.path_prefix",
                    "set either the prefix (the API on the DAP listener) or the management-api \
                     role (the API on management_listen_address), not both",
                ));
            }
            if !self.has_role(ProcessRole::Aggregator) {
                return Err(invalid(
                    "management_api.path_prefix",
                    "needs the aggregator role, whose DAP listener serves the prefix; for a \
                     listener of its own use the management-api role",
                ));
            }
        }
        if self.has_role(ProcessRole::ManagementApi) && self.management_listen_address.is_none() {
            return Err(invalid(
                "management_listen_address",
                "required when the management-api role runs",
            ));
        }
        self.validate_telemetry()?;
        if self.upload.max_batch_delay_ms > 60_000 {
            return Err(invalid(
                "upload.max_batch_delay_ms",
                "must be at most 60000 (a client waits this long for its answer)",
            ));
        }
        Ok(())
    }

    /// The datastore keys and where they come from: `DYAD_DATASTORE_KEYS`
    /// if set (overriding `datastore_keys`), else `datastore_keys`; an
    /// error if neither gives any.
    pub fn datastore_keys(&self) -> Result<ConfiguredKeys, ConfigError> {
        let from_env =
            DatastoreKeys::from_env().map_err(|e| invalid("datastore_keys", e.to_string()))?;
        match from_env {
            Some(keys) => Ok(ConfiguredKeys {
                keys,
                source: KeysSource::Environment,
                overridden_file_keys: self.datastore_keys.len(),
            }),
            None if !self.datastore_keys.is_empty() => Ok(ConfiguredKeys {
                keys: DatastoreKeys::from_encoded(&self.datastore_keys)
                    .map_err(|e| invalid("datastore_keys", e.to_string()))?,
                source: KeysSource::ConfigFile,
                overridden_file_keys: 0,
            }),
            None => Err(invalid(
                "datastore_keys",
                format!(
                    "no datastore keys: set {KEYS_ENV} or datastore_keys \
                     (make one with `dyad datastore-key generate`)"
                ),
            )),
        }
    }

    /// The management API's bearer tokens: `DYAD_API_TOKENS` if set
    /// (overriding `management_api.auth_tokens`), else the file's; an error
    /// if neither gives any (an API no token opens is of no use).
    pub fn management_tokens(&self) -> Result<Vec<String>, ConfigError> {
        self.management_tokens_with(std::env::var(API_TOKENS_ENV).ok())
    }

    /// [`Self::management_tokens`] with the environment variable's value.
    fn management_tokens_with(&self, from_env: Option<String>) -> Result<Vec<String>, ConfigError> {
        let tokens = match from_env {
            Some(value) if !value.trim().is_empty() => sections::split_tokens(&value),
            _ => self.management_api.auth_tokens.clone(),
        };
        if tokens.is_empty() {
            return Err(invalid(
                "management_api.auth_tokens",
                format!("no token: set {API_TOKENS_ENV} or management_api.auth_tokens"),
            ));
        }
        for token in &tokens {
            sections::check_token(token)
                .map_err(|reason| invalid("management_api.auth_tokens", reason))?;
        }
        Ok(tokens)
    }

    /// The options to open the datastore with: the keys of
    /// [`Self::datastore_keys`], the pool and migration settings.
    pub fn datastore_options(&self) -> Result<DatastoreOptions, ConfigError> {
        let keys = self.datastore_keys()?.keys;
        let pool = &self.datastore_pool;
        let mut options = DatastoreOptions::new(keys);
        options.max_connections = pool.max_connections;
        options.acquire_timeout = Duration::from_secs(pool.acquire_timeout_secs);
        options.statement_timeout = Duration::from_secs(pool.statement_timeout_secs);
        options.retry.max_attempts = pool.max_transaction_attempts;
        options.max_transaction_duration = Duration::from_secs(pool.max_transaction_secs);
        options.apply_migrations = self
            .datastore_apply_migrations
            .unwrap_or_else(|| DatastoreOptions::migrates_by_default(&self.datastore));
        Ok(options)
    }

    /// The health and metrics listeners and the `metrics` section.
    fn validate_telemetry(&self) -> Result<(), ConfigError> {
        self.metrics
            .validate()
            .map_err(|(field, reason)| invalid(field, reason))?;
        let addresses = [
            ("listen_address", self.listen_address),
            ("health_listen_address", self.health_listen_address),
            ("metrics_listen_address", self.metrics_listen_address),
            ("management_listen_address", self.management_listen_address),
        ];
        for (i, (field, address)) in addresses.iter().enumerate() {
            let Some(address) = address else { continue };
            if address.port() == 0 {
                continue;
            }
            if let Some((other, _)) = addresses[..i]
                .iter()
                .find(|(_, earlier)| *earlier == Some(*address))
            {
                return Err(invalid(
                    field,
                    format!("{address} is already {other}: each listener needs its own address"),
                ));
            }
        }
        Ok(())
    }

    /// Whether metrics are exported at all (a listener or OTLP).
    pub fn exports_metrics(&self) -> bool {
        self.metrics_listen_address.is_some() || self.metrics.otlp.is_some()
    }

    /// Whether the configuration asks for `role`.
    pub fn has_role(&self, role: ProcessRole) -> bool {
        self.roles.contains(&role)
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
