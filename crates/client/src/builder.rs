//! [`ClientBuilder`]: a client's task parameters (task ID, aggregator
//! endpoints, time precision) and its optional settings (HTTP client or
//! extra root certificates, upload authentication, retry policy and
//! observer, clock, extensions). [`Client::new`] lives here too, so that
//! the client's module does not import its builder.
//!
//! # Where is
//!
//! - a time precision of at least one second (DAP-09 section 4.2) ->
//!   [`ClientBuilder::build`];
//! - the upload resource `{leader}tasks/{task-id}/reports` (DAP-09 section
//!   4.4.2) and each aggregator's `hpke_config` (section 4.4.1) ->
//!   [`ClientBuilder::build`];
//! - extra root certificates only with the built-in HTTP client ->
//!   [`ClientBuilder::extra_root_certificate`], checked in
//!   [`ClientBuilder::build`];
//! - the upload token (DAP-09 section 7.3) -> [`ClientBuilder::auth_token`],
//!   never shown by `Debug`;
//! - a task defined by a taskprov `TaskConfig` (taskprov-06 section 4: the
//!   task ID its hash, the `taskprov` extension in both input shares, the
//!   `dap-taskprov` header on uploads, HPKE configs fetched without a task
//!   ID) -> [`ClientBuilder::from_task_config`].

use crate::client::{Client, Shared, Taskprov};
use crate::error::ClientError;
use crate::hpke_config::HpkeConfigSource;
use crate::http::{auth_header, endpoint_base, http_client, resource, RetryNotice, RetryObserver};
use crate::time_source::{system_time, TimeSource};
use crate::vdaf::ClientVdaf;
use dyad_core::retry::RetryPolicy;
use dyad_core::task::AuthenticationToken;
use dyad_core::task_config::{task_id_of_encoded, vdaf_instance_of, TaskConfigError};
use dyad_messages::draft09::{Duration, Extension, Role, TaskId, Time};
use dyad_messages::taskprov::{taskprov_extension, QueryTypeConfig, TaskConfig};
use dyad_messages::Encode;
use reqwest::header::HeaderValue;
use std::fmt;
use std::sync::Arc;
use url::Url;

/// Builds a [`Client`]. The four task parameters are required; everything
/// else has a default.
pub struct ClientBuilder {
    task_id: TaskId,
    leader: Url,
    helper: Url,
    time_precision: Duration,
    http: Option<reqwest::Client>,
    extra_roots: Vec<reqwest::Certificate>,
    auth_token: Option<AuthenticationToken>,
    retry_policy: RetryPolicy,
    retry_observer: Option<RetryObserver>,
    clock: TimeSource,
    leader_extensions: Vec<Extension>,
    helper_extensions: Vec<Extension>,
    taskprov: Option<Taskprov>,
}

impl ClientBuilder {
    /// A client for the task `task_id`, whose Leader and Helper have the base
    /// URLs `leader` and `helper` (DAP resource paths are resolved below
    /// them), and whose reports carry timestamps rounded down to
    /// `time_precision`.
    pub fn new(task_id: TaskId, leader: Url, helper: Url, time_precision: Duration) -> Self {
        Self {
            task_id,
            leader,
            helper,
            time_precision,
            http: None,
            extra_roots: Vec::new(),
            auth_token: None,
            retry_policy: RetryPolicy::default(),
            retry_observer: None,
            clock: Arc::new(system_time),
            leader_extensions: Vec::new(),
            helper_extensions: Vec::new(),
            taskprov: None,
        }
    }

    /// A client for the task `config` defines (draft-wang-ppm-dap-taskprov-06),
    /// which neither aggregator needs to know beforehand: the task ID is the
    /// SHA-256 hash of the encoded `config`, the endpoints and time precision
    /// are its own, both input shares carry the empty `taskprov` extension,
    /// every upload carries the `dap-taskprov` header, and the aggregators'
    /// HPKE configurations are fetched without a task ID (taskprov-06
    /// section 3.4). Fails, as the Client opts out (taskprov-06 sections 3.3
    /// and 4), when the VDAF, DP mechanism or query type is not supported;
    /// uploads fail once the task has expired. Build it with the VDAF
    /// [`dyad_core::task_config::vdaf_instance_of`] names, e.g.
    /// `AnyVdaf(vdaf_instance_of(&config.vdaf_config)?)`.
    pub fn from_task_config(config: &TaskConfig) -> Result<Self, ClientError> {
        vdaf_instance_of(&config.vdaf_config)?;
        if let QueryTypeConfig::Other { code, .. } = config.query_config.query {
            return Err(TaskConfigError::UnknownQueryType(code).into());
        }
        let encoded = config.get_encoded()?;
        let header = HeaderValue::from_str(&config.to_header_value()?).map_err(|_| {
            ClientError::InvalidConfiguration("the task config is not a header value".into())
        })?;
        let url = |url: &dyad_messages::draft09::Url, role: Role| {
            Url::parse(url.as_str()).map_err(|e| ClientError::InvalidEndpoint {
                role,
                url: url.as_str().to_owned(),
                reason: e.to_string(),
            })
        };
        let mut builder = Self::new(
            task_id_of_encoded(&encoded),
            url(&config.leader_aggregator_endpoint, Role::Leader)?,
            url(&config.helper_aggregator_endpoint, Role::Helper)?,
            config.query_config.time_precision,
        );
        builder.leader_extensions = vec![taskprov_extension()];
        builder.helper_extensions = vec![taskprov_extension()];
        builder.taskprov = Some(Taskprov {
            header,
            task_expiration: config.task_expiration,
        });
        Ok(builder)
    }

    /// The HTTP client to send requests with. By default the client builds
    /// its own, which follows no redirects (so that an upload token is never
    /// forwarded to another host) and times requests out after a minute.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Trusts `certificate` as a root for the aggregators' HTTPS, besides
    /// the system's roots: for aggregators whose certificates come from a
    /// private CA. Read a PEM file with `reqwest::Certificate::from_pem`
    /// (or `from_pem_bundle` for several). Applies to the client's own HTTP
    /// client: together with [`ClientBuilder::http_client`], `build` fails.
    pub fn extra_root_certificate(mut self, certificate: reqwest::Certificate) -> Self {
        self.extra_roots.push(certificate);
        self
    }

    /// The token to authenticate uploads with (DAP-09 section 7.3, "Client
    /// Authentication"), when the Leader asks for one.
    pub fn auth_token(mut self, token: AuthenticationToken) -> Self {
        self.auth_token = Some(token);
        self
    }

    /// How to retry transient failures; [`RetryPolicy::default`] otherwise.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry_policy = policy;
        self
    }

    /// Calls `observer` before each retry of a request that failed
    /// transiently (an unreachable aggregator, a 5xx answer), with the cause
    /// and the wait before the next attempt, so that a program can tell its
    /// user why an upload is slow. Nothing is called by default; the retries
    /// themselves are the same either way.
    pub fn on_retry(mut self, observer: impl Fn(&RetryNotice<'_>) + Send + Sync + 'static) -> Self {
        self.retry_observer = Some(Arc::new(observer));
        self
    }

    /// Where report timestamps come from; the system clock otherwise.
    pub fn clock(mut self, clock: impl Fn() -> Time + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Every report is timestamped `time` (before rounding), as in tests.
    pub fn fixed_time(self, time: Time) -> Self {
        self.clock(move || time)
    }

    /// Extensions for the Leader's `PlaintextInputShare` (none by default;
    /// the `taskprov` extension for a [`ClientBuilder::from_task_config`]
    /// client, which a caller replacing them must keep).
    pub fn leader_extensions(mut self, extensions: Vec<Extension>) -> Self {
        self.leader_extensions = extensions;
        self
    }

    /// Extensions for the Helper's `PlaintextInputShare` (none by default).
    pub fn helper_extensions(mut self, extensions: Vec<Extension>) -> Self {
        self.helper_extensions = extensions;
        self
    }

    /// The client, sharding with `vdaf`.
    pub fn build<V: ClientVdaf>(self, vdaf: V) -> Result<Client<V>, ClientError> {
        if self.time_precision.as_seconds() == 0 {
            return Err(ClientError::InvalidConfiguration(
                "time precision must be at least one second".to_owned(),
            ));
        }
        let leader = endpoint_base(Role::Leader, self.leader)?;
        let helper = endpoint_base(Role::Helper, self.helper)?;
        let reports_url = resource(
            Role::Leader,
            &leader,
            &format!("tasks/{}/reports", self.task_id),
        )?;
        let http = http_client(self.http, self.extra_roots)?;
        let auth_header = self.auth_token.as_ref().map(auth_header).transpose()?;
        // A taskprov task may be unknown to the aggregators until this
        // client's first upload: ask for their task-independent configs.
        let config_task_id = self.taskprov.is_none().then_some(&self.task_id);
        let shared = Shared {
            task_id: self.task_id,
            leader_config: HpkeConfigSource::new(Role::Leader, &leader, config_task_id)?,
            helper_config: HpkeConfigSource::new(Role::Helper, &helper, config_task_id)?,
            reports_url,
            time_precision: self.time_precision,
            http,
            auth_header,
            retry_policy: self.retry_policy,
            retry_observer: self.retry_observer,
            clock: self.clock,
            leader_extensions: self.leader_extensions,
            helper_extensions: self.helper_extensions,
            taskprov: self.taskprov,
        };
        Ok(Client::from_parts(Arc::new(shared), Arc::new(vdaf)))
    }
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("task_id", &self.task_id)
            .field("leader", &self.leader.as_str())
            .field("helper", &self.helper.as_str())
            .field("time_precision", &self.time_precision)
            .field("auth_token", &self.auth_token)
            .field("retry_policy", &self.retry_policy)
            .field("taskprov", &self.taskprov.is_some())
            .finish_non_exhaustive()
    }
}

impl<V: ClientVdaf> Client<V> {
    /// A client with default settings; see [`ClientBuilder`] for the others.
    pub fn new(
        task_id: TaskId,
        leader: Url,
        helper: Url,
        time_precision: Duration,
        vdaf: V,
    ) -> Result<Self, ClientError> {
        ClientBuilder::new(task_id, leader, helper, time_precision).build(vdaf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builder() -> ClientBuilder {
        ClientBuilder::new(
            TaskId::random(),
            "https://leader.example/dap".parse().unwrap(),
            "https://helper.example/".parse().unwrap(),
            Duration::from_seconds(300),
        )
    }

    #[test]
    fn zero_time_precision_is_refused() {
        let builder = ClientBuilder::new(
            TaskId::random(),
            "https://leader.example/".parse().unwrap(),
            "https://helper.example/".parse().unwrap(),
            Duration::ZERO,
        );
        assert!(matches!(
            builder.build(dyad_core::vdaf::new_prio3_count().unwrap()),
            Err(ClientError::InvalidConfiguration(_))
        ));
    }

    #[test]
    fn debug_never_shows_the_token() {
        let token = AuthenticationToken::new_bearer("s3cr3t-upload-token").unwrap();
        let (name, value) = auth_header(&token).unwrap();
        assert_eq!(name.as_str(), token.header_name().to_ascii_lowercase());
        assert!(value.is_sensitive());
        let builder = builder().auth_token(token);
        assert!(!format!("{builder:?}").contains("s3cr3t"));
        let client = builder
            .build(dyad_core::vdaf::new_prio3_count().unwrap())
            .unwrap();
        assert!(!format!("{client:?}").contains("s3cr3t"));
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
            matches!(&built, Err(ClientError::InvalidConfiguration(m)) if m.contains("http_client")),
            "{:?}",
            built.err()
        );
    }
}
