//! The small sections of the configuration file, each with its defaults
//! and its checks: `upload`, `http_client`, `server`, `log`, `hpke_keys`
//! `datastore_pool` and `management_api` (see [`super::AggregatorConfig`], which holds them
//! and checks them all).

use super::error::{invalid, ConfigError};
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// The upload path's batching writer (see [`crate::upload::writer`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UploadConfig {
    /// Most reports written in one transaction.
    pub max_batch_reports: usize,
    /// Longest a report waits for others to share its transaction.
    pub max_batch_delay_ms: u64,
}

impl Default for UploadConfig {
    fn default() -> Self {
        Self {
            max_batch_reports: 100,
            max_batch_delay_ms: 5,
        }
    }
}

impl UploadConfig {
    /// [`UploadConfig::max_batch_delay_ms`] as a duration.
    pub fn max_batch_delay(&self) -> Duration {
        Duration::from_millis(self.max_batch_delay_ms)
    }
}

/// The HTTP client the Leader's jobs use to reach the Helper.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpClientConfig {
    pub connect_timeout_secs: u64,
    pub request_timeout_secs: u64,
    /// PEM files of CA certificates trusted for the Helper's HTTPS besides
    /// the system's roots, e.g. a private CA.
    pub extra_root_certificates: Vec<PathBuf>,
}

impl Default for HttpClientConfig {
    fn default() -> Self {
        Self {
            connect_timeout_secs: 10,
            request_timeout_secs: 60,
            extra_root_certificates: Vec::new(),
        }
    }
}

impl HttpClientConfig {
    /// A client with these timeouts and extra roots. It follows no
    /// redirects, so the `DAP-Auth-Token` sent to the Helper is never
    /// forwarded to another host. Fails, naming the file, if a root
    /// certificate file cannot be read or holds no certificate.
    pub fn build_client(&self) -> anyhow::Result<reqwest::Client> {
        let roots = crate::tls::read_root_certificates(
            "http_client.extra_root_certificates",
            &self.extra_root_certificates,
        )?;
        Ok(reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(self.connect_timeout_secs))
            .timeout(Duration::from_secs(self.request_timeout_secs))
            .user_agent(concat!("dyad/", env!("CARGO_PKG_VERSION")))
            .tls_certs_merge(roots)
            .build()?)
    }
}

/// The HTTP server's limits and timeouts (see [`crate::server`]). Every
/// value must be positive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Connections served at once; past it, `503`. Default: the open-file
    /// limit less room for the datastore and outgoing connections
    /// ([`crate::server::open_files::default_max_connections`]).
    pub max_connections: Option<usize>,
    pub max_buffered_bodies: usize,
    pub max_buffered_body_bytes: usize,
    pub header_read_timeout_secs: u64,
    pub body_read_timeout_secs: u64,
    pub idle_timeout_secs: u64,
    pub tls_handshake_timeout_secs: u64,
    pub shutdown_grace_secs: u64,
    pub retry_after_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        let limits = crate::server::ServerLimits::default();
        Self {
            max_connections: None,
            max_buffered_bodies: limits.max_buffered_bodies,
            max_buffered_body_bytes: limits.max_buffered_body_bytes,
            header_read_timeout_secs: limits.header_read_timeout.as_secs(),
            body_read_timeout_secs: limits.body_read_timeout.as_secs(),
            idle_timeout_secs: limits.idle_timeout.as_secs(),
            tls_handshake_timeout_secs: limits.tls_handshake_timeout.as_secs(),
            shutdown_grace_secs: limits.shutdown_grace.as_secs(),
            retry_after_secs: limits.retry_after.as_secs(),
        }
    }
}

impl ServerConfig {
    /// The limits, with the default connection maximum sized for a soft
    /// open-file limit of `open_files` and `datastore_connections` pooled
    /// datastore connections.
    pub fn limits(
        &self,
        open_files: u64,
        datastore_connections: u32,
    ) -> crate::server::ServerLimits {
        let secs = Duration::from_secs;
        crate::server::ServerLimits {
            max_connections: self.max_connections.unwrap_or_else(|| {
                crate::server::open_files::default_max_connections(
                    open_files,
                    u64::from(datastore_connections),
                )
            }),
            max_buffered_bodies: self.max_buffered_bodies,
            max_buffered_body_bytes: self.max_buffered_body_bytes,
            header_read_timeout: secs(self.header_read_timeout_secs),
            body_read_timeout: secs(self.body_read_timeout_secs),
            idle_timeout: secs(self.idle_timeout_secs),
            tls_handshake_timeout: secs(self.tls_handshake_timeout_secs),
            shutdown_grace: secs(self.shutdown_grace_secs),
            retry_after: secs(self.retry_after_secs),
        }
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let counts = [
            ("server.max_connections", self.max_connections.unwrap_or(1)),
            ("server.max_buffered_bodies", self.max_buffered_bodies),
            (
                "server.max_buffered_body_bytes",
                self.max_buffered_body_bytes,
            ),
        ];
        let durations = [
            (
                "server.header_read_timeout_secs",
                self.header_read_timeout_secs,
            ),
            ("server.body_read_timeout_secs", self.body_read_timeout_secs),
            ("server.idle_timeout_secs", self.idle_timeout_secs),
            (
                "server.tls_handshake_timeout_secs",
                self.tls_handshake_timeout_secs,
            ),
            ("server.shutdown_grace_secs", self.shutdown_grace_secs),
            ("server.retry_after_secs", self.retry_after_secs),
        ];
        for (field, value) in counts {
            if value == 0 {
                return Err(invalid(field, "must be positive"));
            }
        }
        for (field, value) in durations {
            if value == 0 {
                return Err(invalid(field, "must be positive"));
            }
            if value > 86_400 {
                return Err(invalid(field, "must be at most 86400 (a day)"));
            }
        }
        if self.max_buffered_body_bytes > tokio::sync::Semaphore::MAX_PERMITS {
            return Err(invalid("server.max_buffered_body_bytes", "is too large"));
        }
        Ok(())
    }
}

/// The format of log lines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Logging (see [`crate::logging::init_logging`]).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A `tracing-subscriber` filter directive, e.g. `info` or
    /// `info,dyad_aggregator=debug`.
    pub level: String,
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".to_owned(),
            format: LogFormat::Text,
        }
    }
}

/// The global HPKE keys' cache of the HTTP API (see [`crate::hpke_keys`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HpkeKeysConfig {
    /// How often each replica reads the global keys again: a key added,
    /// promoted, expired or deleted anywhere is seen by every replica
    /// within this time.
    pub refresh_interval_secs: u64,
    /// The `Cache-Control: max-age` of `GET /hpke_config`: how long a
    /// Client may keep using a configuration it fetched. Keep it below
    /// the key rotator's `expired_secs`.
    pub config_max_age_secs: u64,
}

impl Default for HpkeKeysConfig {
    fn default() -> Self {
        Self {
            refresh_interval_secs: 60,
            config_max_age_secs: 86_400,
        }
    }
}

impl HpkeKeysConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.refresh_interval_secs == 0 {
            return Err(invalid(
                "hpke_keys.refresh_interval_secs",
                "must be positive",
            ));
        }
        if self.refresh_interval_secs > 86_400 {
            return Err(invalid(
                "hpke_keys.refresh_interval_secs",
                "must be at most 86400 (a day)",
            ));
        }
        if self.config_max_age_secs > 31_536_000 {
            return Err(invalid(
                "hpke_keys.config_max_age_secs",
                "must be at most 31536000 (a year)",
            ));
        }
        Ok(())
    }
}

/// The datastore's connection pool and transaction retries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatastorePoolConfig {
    pub max_connections: u32,
    pub acquire_timeout_secs: u64,
    pub statement_timeout_secs: u64,
    pub max_transaction_attempts: u32,
    /// How long one run of a transaction body may take before it is
    /// abandoned and rolled back (`DatastoreOptions::max_transaction_duration`).
    pub max_transaction_secs: u64,
}

impl Default for DatastorePoolConfig {
    fn default() -> Self {
        Self {
            max_connections: 8,
            acquire_timeout_secs: 30,
            statement_timeout_secs: 30,
            max_transaction_attempts: 10,
            max_transaction_secs: dyad_datastore::DEFAULT_MAX_TRANSACTION_DURATION.as_secs(),
        }
    }
}

/// The environment variable whose comma-separated tokens open the
/// management API, instead of `management_api.auth_tokens`.
pub const API_TOKENS_ENV: &str = "DYAD_API_TOKENS";

/// The `management_api` section (see [`crate::management`]). `Debug` never
/// shows the tokens.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ManagementApiConfig {
    /// Bearer tokens, any of which opens the API (several, to rotate);
    /// `DYAD_API_TOKENS` wins when set.
    pub auth_tokens: Vec<String>,
    /// This aggregator's public DAP URL, as `GET /` reports it (the URL
    /// peers and Clients use; dyad cannot guess it behind a proxy).
    pub dap_url: Option<url::Url>,
    /// Serve the API on the DAP listener under this path (`/api/`), with
    /// the `aggregator` role, instead of on a listener of its own.
    pub path_prefix: Option<String>,
}

impl std::fmt::Debug for ManagementApiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagementApiConfig")
            .field(
                "auth_tokens",
                &format_args!("[{} redacted]", self.auth_tokens.len()),
            )
            .field("dap_url", &self.dap_url)
            .field("path_prefix", &self.path_prefix)
            .finish()
    }
}

impl ManagementApiConfig {
    /// Each token of the file is usable as a bearer token.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for token in &self.auth_tokens {
            check_token(token).map_err(|reason| invalid("management_api.auth_tokens", reason))?;
        }
        if let Some(prefix) = &self.path_prefix {
            check_path_prefix(prefix)
                .map_err(|reason| invalid("management_api.path_prefix", reason))?;
        }
        Ok(())
    }
}

/// The first path segment of every route of the DAP API (see the DAP
/// router, `crate::http`): a management path prefix must not begin with
/// one, so it never shadows a DAP route.
pub const DAP_PATH_ROOTS: &[&str] = &["hpke_config", "tasks"];

/// A path prefix is `/`, one or more segments of letters, digits and
/// `-._~` each followed by `/` (e.g. `/api/`, `/admin/v1/`), whose first
/// segment is none of the DAP API's.
fn check_path_prefix(prefix: &str) -> Result<(), String> {
    let form = "must look like \"/api/\": segments of letters, digits and -._~, \
                each between slashes";
    let Some(inner) = prefix
        .strip_prefix('/')
        .and_then(|rest| rest.strip_suffix('/'))
    else {
        return Err(format!("{prefix:?} {form}"));
    };
    let segments: Vec<&str> = inner.split('/').collect();
    let valid = |segment: &&str| {
        !segment.is_empty()
            && *segment != "."
            && *segment != ".."
            && segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
    };
    if !segments.iter().all(valid) {
        return Err(format!("{prefix:?} {form}"));
    }
    if DAP_PATH_ROOTS.contains(&segments[0]) {
        return Err(format!(
            "{prefix:?} would shadow the DAP API's /{}/ routes: choose another first segment",
            segments[0]
        ));
    }
    Ok(())
}

/// Splits `DYAD_API_TOKENS`: comma-separated, blanks around each ignored.
pub(crate) fn split_tokens(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A token must be a `token68` (RFC 9110 section 11.2), the form a bearer
/// token takes in `Authorization`; the reason (never the token) otherwise.
pub(crate) fn check_token(token: &str) -> Result<(), String> {
    let body = token.trim_end_matches('=');
    if body.is_empty() {
        return Err("a token is empty".to_owned());
    }
    // The offending character is not shown: it is part of a secret.
    if !body
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-._~+/".contains(c))
    {
        return Err("a token holds a character not allowed in a bearer token: \
             use letters, digits and -._~+/ (then optional =)"
            .to_owned());
    }
    Ok(())
}
