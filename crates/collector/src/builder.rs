//! [`CollectorBuilder`]: a collector's task parameters (task ID, Leader
//! endpoint, authentication token, HPKE keypair) and its optional settings
//! (HTTP client or extra root certificates, retry policy, polling policy).
//! [`Collector::new`] lives here too, so that the collector's module does
//! not import its builder.
//!
//! # Where is
//!
//! - the collector authenticates to the Leader (DAP-09 section 4.6.1) ->
//!   [`CollectorBuilder::new`] takes the token;
//! - the default polling pace (250 ms doubling to 30 s, 10 minutes in all)
//!   -> [`CollectorBuilder::DEFAULT_POLL_INITIAL_DELAY`],
//!   [`CollectorBuilder::DEFAULT_POLL_MAX_DELAY`],
//!   [`CollectorBuilder::DEFAULT_MAX_WAIT`], set in [`CollectorBuilder::new`];
//! - extra root certificates only with the built-in HTTP client ->
//!   [`CollectorBuilder::extra_root_certificate`], checked in
//!   [`CollectorBuilder::build`];
//! - a task defined by a taskprov `TaskConfig` (taskprov-06 section 7: the
//!   task ID its hash, the `dap-taskprov` header on every request) ->
//!   [`CollectorBuilder::from_task_config`]; waiting for the Leader to opt
//!   in -> [`CollectorBuilder::wait_for_unrecognized_task`].

use crate::collector::{Collector, Shared};
use crate::error::CollectorError;
use crate::http::{auth_header, endpoint_base, http_client};
use crate::vdaf::CollectorVdaf;
use dyad_core::hpke::HpkeKeypair;
use dyad_core::retry::RetryPolicy;
use dyad_core::task::AuthenticationToken;
use dyad_core::task_config::{task_id_of_encoded, vdaf_instance_of, TaskConfigError};
use dyad_messages::draft09::TaskId;
use dyad_messages::taskprov::{QueryTypeConfig, TaskConfig};
use dyad_messages::Encode;
use reqwest::header::HeaderValue;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// Builds a [`Collector`]. The four task parameters are required; everything
/// else has a default.
pub struct CollectorBuilder {
    task_id: TaskId,
    leader: Url,
    auth_token: AuthenticationToken,
    keypair: HpkeKeypair,
    http: Option<reqwest::Client>,
    extra_roots: Vec<reqwest::Certificate>,
    retry_policy: RetryPolicy,
    poll_policy: RetryPolicy,
    taskprov_header: Option<HeaderValue>,
    unrecognized_task_wait: Duration,
}

impl CollectorBuilder {
    /// The first delay between polls (shorter if the Leader's `Retry-After`
    /// asks for less).
    pub const DEFAULT_POLL_INITIAL_DELAY: Duration = Duration::from_millis(250);
    /// The longest delay between polls (shorter if the Leader's
    /// `Retry-After` asks for less).
    pub const DEFAULT_POLL_MAX_DELAY: Duration = Duration::from_secs(30);
    /// How long [`Collector::collect`] waits for a job by default.
    pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(600);

    /// A collector for the task `task_id` whose Leader has the base URL
    /// `leader`, authenticating with `auth_token` (DAP-09 section 4.6.1:
    /// Collectors must authenticate to the Leader) and opening aggregate
    /// shares with `keypair`, the task's collector HPKE key.
    pub fn new(
        task_id: TaskId,
        leader: Url,
        auth_token: AuthenticationToken,
        keypair: HpkeKeypair,
    ) -> Self {
        Self {
            task_id,
            leader,
            auth_token,
            keypair,
            http: None,
            extra_roots: Vec::new(),
            retry_policy: RetryPolicy::default(),
            poll_policy: RetryPolicy::new(
                Self::DEFAULT_POLL_INITIAL_DELAY,
                Self::DEFAULT_POLL_MAX_DELAY,
            )
            .with_jitter(0.25)
            .with_max_elapsed(Self::DEFAULT_MAX_WAIT),
            taskprov_header: None,
            unrecognized_task_wait: Duration::ZERO,
        }
    }

    /// A collector for the task `config` defines
    /// (draft-wang-ppm-dap-taskprov-06): the task ID is the SHA-256 hash of
    /// the encoded `config`, the Leader is its `leader_aggregator_endpoint`,
    /// and every request carries the `dap-taskprov` header. `auth_token` and
    /// `keypair` are the collector's own, which the Leader's operator
    /// configured for its peer. Fails, as the Collector opts out
    /// (taskprov-06 sections 3.3 and 7), when the VDAF, DP mechanism or query
    /// type is not supported.
    pub fn from_task_config(
        config: &TaskConfig,
        auth_token: AuthenticationToken,
        keypair: HpkeKeypair,
    ) -> Result<Self, CollectorError> {
        let unsupported = |e: TaskConfigError| CollectorError::InvalidConfiguration(e.to_string());
        vdaf_instance_of(&config.vdaf_config).map_err(unsupported)?;
        if let QueryTypeConfig::Other { code, .. } = config.query_config.query {
            return Err(unsupported(TaskConfigError::UnknownQueryType(code)));
        }
        let encoded = config.get_encoded()?;
        let header = HeaderValue::from_str(&config.to_header_value()?).map_err(|_| {
            CollectorError::InvalidConfiguration("the task config is not a header value".into())
        })?;
        let leader_url = config.leader_aggregator_endpoint.as_str();
        let leader = Url::parse(leader_url).map_err(|e| CollectorError::InvalidEndpoint {
            url: leader_url.to_owned(),
            reason: e.to_string(),
        })?;
        let mut builder = Self::new(task_id_of_encoded(&encoded), leader, auth_token, keypair);
        builder.taskprov_header = Some(header);
        Ok(builder)
    }

    /// How long creating a collection job keeps retrying while the Leader
    /// answers `unrecognizedTask` (taskprov-06 section 5.3: a Leader that
    /// has not yet opted in to a taskprov task answers so, and the
    /// Collector may retry after a wait). Zero, the default, does not retry.
    pub fn wait_for_unrecognized_task(mut self, wait: Duration) -> Self {
        self.unrecognized_task_wait = wait;
        self
    }

    /// The HTTP client to send requests with. By default the collector
    /// builds its own, which follows no redirects (so that the token is
    /// never forwarded to another host) and times requests out after a
    /// minute.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Trusts `certificate` as a root for the Leader's HTTPS, besides the
    /// system's roots: for a Leader whose certificate comes from a private
    /// CA. Read a PEM file with `reqwest::Certificate::from_pem` (or
    /// `from_pem_bundle` for several). Applies to the collector's own HTTP
    /// client: together with [`CollectorBuilder::http_client`], `build`
    /// fails.
    pub fn extra_root_certificate(mut self, certificate: reqwest::Certificate) -> Self {
        self.extra_roots.push(certificate);
        self
    }

    /// How to retry a request that failed transiently;
    /// [`RetryPolicy::default`] otherwise.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry_policy = policy;
        self
    }

    /// How [`Collector::collect`] paces its polls (each delay cut to the
    /// Leader's `Retry-After` when it asks for less), and (through the
    /// policy's `max_elapsed`) how long it waits in all: 250 ms doubling up
    /// to 30 s, for at most 10 minutes, by default. A policy without
    /// `max_elapsed` waits for as long as the job stays pending.
    pub fn poll_policy(mut self, policy: RetryPolicy) -> Self {
        self.poll_policy = policy;
        self
    }

    /// The collector, finishing collections with `vdaf`.
    pub fn build<V: CollectorVdaf>(self, vdaf: V) -> Result<Collector<V>, CollectorError> {
        let leader = endpoint_base(self.leader)?;
        let http = http_client(self.http, self.extra_roots)?;
        let shared = Shared {
            task_id: self.task_id,
            leader,
            auth_header: auth_header(&self.auth_token)?,
            keypair: self.keypair,
            http,
            retry_policy: self.retry_policy,
            poll_policy: self.poll_policy,
            taskprov_header: self.taskprov_header,
            unrecognized_task_wait: self.unrecognized_task_wait,
        };
        Ok(Collector::from_parts(Arc::new(shared), Arc::new(vdaf)))
    }
}

impl fmt::Debug for CollectorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CollectorBuilder")
            .field("task_id", &self.task_id)
            .field("leader", &self.leader.as_str())
            .field("auth_token", &self.auth_token)
            .field("hpke_config", self.keypair.config())
            .field("retry_policy", &self.retry_policy)
            .field("poll_policy", &self.poll_policy)
            .field("taskprov", &self.taskprov_header.is_some())
            .finish_non_exhaustive()
    }
}

impl<V: CollectorVdaf> Collector<V> {
    /// A collector with default settings; see [`CollectorBuilder`] for the
    /// others.
    pub fn new(
        task_id: TaskId,
        leader: Url,
        auth_token: AuthenticationToken,
        keypair: HpkeKeypair,
        vdaf: V,
    ) -> Result<Self, CollectorError> {
        CollectorBuilder::new(task_id, leader, auth_token, keypair).build(vdaf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::next_poll_delay;
    use dyad_messages::draft09::HpkeConfigId;

    const MS: Duration = Duration::from_millis(1);

    fn builder() -> CollectorBuilder {
        CollectorBuilder::new(
            TaskId::random(),
            "https://leader.example/".parse().unwrap(),
            AuthenticationToken::new_bearer("collector-token").unwrap(),
            HpkeKeypair::generate_default(HpkeConfigId(1)),
        )
    }

    #[test]
    fn extra_roots_and_an_own_http_client_are_exclusive() {
        // `from_der` only keeps the bytes; they would be parsed when the
        // HTTP client is built, which the refused combination never reaches.
        let root = reqwest::Certificate::from_der(&[0x30, 0x00]).unwrap();
        let built = builder()
            .http_client(reqwest::Client::new())
            .extra_root_certificate(root)
            .build(dyad_core::vdaf::new_prio3_count().unwrap());
        assert!(
            matches!(&built, Err(CollectorError::InvalidConfiguration(m)) if m.contains("http_client")),
            "{:?}",
            built.err()
        );
    }

    #[test]
    fn the_default_pace_starts_short_and_doubles_up_to_retry_after() {
        let policy = RetryPolicy::new(
            CollectorBuilder::DEFAULT_POLL_INITIAL_DELAY,
            CollectorBuilder::DEFAULT_POLL_MAX_DELAY,
        )
        .with_jitter(0.0);
        let delays: Vec<Duration> = policy
            .backoff_seeded(1)
            .take(6)
            .map(|delay| next_poll_delay(delay, Some(1000 * MS)))
            .collect();
        assert_eq!(
            delays,
            [
                250 * MS,
                500 * MS,
                1000 * MS,
                1000 * MS,
                1000 * MS,
                1000 * MS
            ]
        );
        // Without a Retry-After the delays keep growing to the policy's
        // maximum.
        let delays: Vec<Duration> = policy
            .backoff_seeded(1)
            .take(9)
            .map(|delay| next_poll_delay(delay, None))
            .collect();
        assert_eq!(delays[3], 2000 * MS);
        assert_eq!(delays[8], 30_000 * MS);
    }
}
