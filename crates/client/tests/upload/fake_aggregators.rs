//! An in-process Leader and Helper (one axum server, under `/leader/` and
//! `/helper/`) that do what a real aggregator's upload path does with a
//! report: serve HPKE config lists, check the request, and open both input
//! shares with the private keys. Tests script failures ahead of time and read
//! back what arrived.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::Router;
use dyad_core::hpke::{open_input_share, HpkeKeypair};
use dyad_core::task::AuthenticationToken;
use dyad_messages::draft09::{
    HpkeConfig, HpkeConfigId, HpkeConfigList, InputShareAad, PlaintextInputShare, Report,
    ReportMetadata, Role, TaskId,
};
use dyad_messages::media_type::{DapMediaType, PROBLEM_JSON};
use dyad_messages::problem::{DapProblemType, ProblemDocument};
use dyad_messages::{Decode, Encode};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use url::Url;

/// A report as the aggregators saw it once both shares were opened.
#[derive(Clone, Debug)]
pub struct ReceivedReport {
    pub metadata: ReportMetadata,
    pub public_share: Vec<u8>,
    pub leader_share: PlaintextInputShare,
    pub helper_share: PlaintextInputShare,
    pub leader_config_id: HpkeConfigId,
}

/// A canned answer to the next request of some kind.
#[derive(Clone, Debug)]
pub enum Scripted {
    /// A bare status with an empty body.
    Status(u16),
    /// A problem document of this type, with its status.
    Problem(DapProblemType),
}

/// One aggregator's keys and what its `hpke_config` endpoint says.
struct Aggregator {
    /// Keys whose ciphertexts it can open; the first one is current.
    keys: Vec<HpkeKeypair>,
    /// Served before the keys' configs (to test that the client skips
    /// configs it cannot use).
    extra_configs: Vec<HpkeConfig>,
    /// Whether to serve only `extra_configs`.
    only_extra: bool,
    cache_control: Option<&'static str>,
    config_requests: usize,
    config_failures: VecDeque<Scripted>,
}

impl Aggregator {
    fn new(id: u8) -> Self {
        Self {
            keys: vec![HpkeKeypair::generate_default(HpkeConfigId(id))],
            extra_configs: Vec::new(),
            only_extra: false,
            cache_control: None,
            config_requests: 0,
            config_failures: VecDeque::new(),
        }
    }

    fn served(&self) -> HpkeConfigList {
        let mut configs = self.extra_configs.clone();
        if !self.only_extra {
            configs.extend(self.keys.iter().map(|k| k.config().clone()));
        }
        HpkeConfigList(configs)
    }

    fn key(&self, id: HpkeConfigId) -> Option<&HpkeKeypair> {
        self.keys.iter().find(|k| k.id() == id)
    }
}

struct Inner {
    leader: Aggregator,
    helper: Aggregator,
    /// The status of a successful upload (201, or 200 as Janus 0.7 sends).
    upload_status: u16,
    upload_token: Option<AuthenticationToken>,
    upload_failures: VecDeque<Scripted>,
    upload_requests: usize,
    reports: Vec<ReceivedReport>,
    /// Serve HPKE configs only when asked without a task ID, as for a
    /// taskprov task.
    task_independent_configs: bool,
    /// The `dap-taskprov` header of each upload.
    taskprov_headers: Vec<Option<String>>,
}

struct Shared {
    task_id: TaskId,
    time_precision: u64,
    inner: Mutex<Inner>,
}

/// The running server; dropped with the test's runtime.
pub struct FakeAggregators {
    pub leader_url: Url,
    pub helper_url: Url,
    /// The Helper's base URL without its trailing slash, as a user might
    /// write it.
    pub helper_url_without_slash: Url,
    shared: Arc<Shared>,
}

impl FakeAggregators {
    pub async fn start(task_id: TaskId, time_precision: u64) -> Self {
        Self::start_with(time_precision, |_, _| task_id).await
    }

    /// Starts the aggregators for the task `task_id_of` names given their
    /// Leader and Helper URLs (a taskprov task's ID hashes its endpoints).
    pub async fn start_with(
        time_precision: u64,
        task_id_of: impl FnOnce(&Url, &Url) -> TaskId,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let leader_url: Url = format!("http://{addr}/leader/").parse().unwrap();
        let helper_url: Url = format!("http://{addr}/helper/").parse().unwrap();
        let task_id = task_id_of(&leader_url, &helper_url);
        let shared = Arc::new(Shared {
            task_id,
            time_precision,
            inner: Mutex::new(Inner {
                leader: Aggregator::new(1),
                helper: Aggregator::new(101),
                upload_status: 201,
                upload_token: None,
                upload_failures: VecDeque::new(),
                upload_requests: 0,
                reports: Vec::new(),
                task_independent_configs: false,
                taskprov_headers: Vec::new(),
            }),
        });
        let router = Router::new()
            .route("/leader/hpke_config", get(leader_hpke_config))
            .route("/helper/hpke_config", get(helper_hpke_config))
            .route("/leader/tasks/{task_id}/reports", put(upload))
            .with_state(Arc::clone(&shared));
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self {
            leader_url,
            helper_url,
            helper_url_without_slash: format!("http://{addr}/helper").parse().unwrap(),
            shared,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.shared.inner.lock().unwrap())
    }

    fn aggregator<T>(&self, role: Role, f: impl FnOnce(&mut Aggregator) -> T) -> T {
        self.with(|inner| match role {
            Role::Leader => f(&mut inner.leader),
            _ => f(&mut inner.helper),
        })
    }

    /// Replaces the Leader's key: its old config is now outdated.
    pub fn rotate_leader_key(&self) -> HpkeConfigId {
        self.aggregator(Role::Leader, |a| {
            let id = HpkeConfigId(a.keys[0].id().0 + 1);
            a.keys = vec![HpkeKeypair::generate_default(id)];
            id
        })
    }

    pub fn set_upload_status(&self, status: u16) {
        self.with(|inner| inner.upload_status = status);
    }

    pub fn require_upload_token(&self, token: AuthenticationToken) {
        self.with(|inner| inner.upload_token = Some(token));
    }

    pub fn script_upload(&self, answers: impl IntoIterator<Item = Scripted>) {
        self.with(|inner| inner.upload_failures.extend(answers));
    }

    pub fn script_hpke_config(&self, role: Role, answers: impl IntoIterator<Item = Scripted>) {
        self.aggregator(role, |a| a.config_failures.extend(answers));
    }

    pub fn set_cache_control(&self, role: Role, value: &'static str) {
        self.aggregator(role, |a| a.cache_control = Some(value));
    }

    /// Serves `configs` ahead of the aggregator's own (or instead of them).
    pub fn serve_extra_configs(&self, role: Role, configs: Vec<HpkeConfig>, only: bool) {
        self.aggregator(role, |a| {
            a.extra_configs = configs;
            a.only_extra = only;
        });
    }

    pub fn config_requests(&self, role: Role) -> usize {
        self.aggregator(role, |a| a.config_requests)
    }

    pub fn upload_requests(&self) -> usize {
        self.with(|inner| inner.upload_requests)
    }

    pub fn reports(&self) -> Vec<ReceivedReport> {
        self.with(|inner| inner.reports.clone())
    }

    /// Serves HPKE configs only to requests without a task ID.
    pub fn serve_task_independent_configs(&self) {
        self.with(|inner| inner.task_independent_configs = true);
    }

    /// The `dap-taskprov` header of each upload that got that far.
    pub fn taskprov_headers(&self) -> Vec<Option<String>> {
        self.with(|inner| inner.taskprov_headers.clone())
    }
}

fn problem(shared: &Shared, problem_type: DapProblemType, detail: &str) -> Response {
    let doc = ProblemDocument::new(problem_type)
        .with_detail(detail)
        .with_task_id(shared.task_id);
    (
        StatusCode::from_u16(problem_type.http_status()).unwrap(),
        [(header::CONTENT_TYPE, PROBLEM_JSON)],
        doc.to_json(),
    )
        .into_response()
}

fn scripted(shared: &Shared, answer: Scripted) -> Response {
    match answer {
        Scripted::Status(status) => StatusCode::from_u16(status).unwrap().into_response(),
        Scripted::Problem(problem_type) => problem(shared, problem_type, "scripted"),
    }
}

async fn leader_hpke_config(State(shared): State<Arc<Shared>>, query: RawQuery) -> Response {
    hpke_config(&shared, Role::Leader, query)
}

async fn helper_hpke_config(State(shared): State<Arc<Shared>>, query: RawQuery) -> Response {
    hpke_config(&shared, Role::Helper, query)
}

fn hpke_config(shared: &Shared, role: Role, RawQuery(query): RawQuery) -> Response {
    let mut inner = shared.inner.lock().unwrap();
    let task_independent = inner.task_independent_configs;
    let aggregator = match role {
        Role::Leader => &mut inner.leader,
        _ => &mut inner.helper,
    };
    aggregator.config_requests += 1;
    if let Some(answer) = aggregator.config_failures.pop_front() {
        return scripted(shared, answer);
    }
    let expected = format!("task_id={}", shared.task_id);
    match query {
        None if task_independent => {}
        Some(query) if task_independent => {
            return problem(shared, DapProblemType::UnrecognizedTask, &query);
        }
        None => return problem(shared, DapProblemType::MissingTaskId, "no task_id"),
        Some(query) if query != expected => {
            return problem(shared, DapProblemType::UnrecognizedTask, &query);
        }
        Some(_) => {}
    }
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(DapMediaType::HpkeConfigList.as_str()),
    );
    if let Some(cache_control) = aggregator.cache_control {
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(cache_control),
        );
    }
    (headers, aggregator.served().get_encoded().unwrap()).into_response()
}

async fn upload(
    State(shared): State<Arc<Shared>>,
    Path(task_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut inner = shared.inner.lock().unwrap();
    inner.upload_requests += 1;
    if let Some(answer) = inner.upload_failures.pop_front() {
        return scripted(&shared, answer);
    }
    if task_id != shared.task_id.to_string() {
        return problem(&shared, DapProblemType::UnrecognizedTask, &task_id);
    }
    let taskprov_header = headers
        .get("dap-taskprov")
        .map(|v| v.to_str().unwrap().to_owned());
    inner.taskprov_headers.push(taskprov_header);
    if let Some(expected) = &inner.upload_token {
        let presented = AuthenticationToken::from_request_headers(
            headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes())),
        );
        if !matches!(presented, Ok(Some(ref token)) if token == expected) {
            return problem(&shared, DapProblemType::UnauthorizedRequest, "bad token");
        }
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !DapMediaType::Report.matches(content_type) {
        return StatusCode::UNSUPPORTED_MEDIA_TYPE.into_response();
    }
    let report = match Report::get_decoded(&body) {
        Ok(report) => report,
        Err(e) => return problem(&shared, DapProblemType::InvalidMessage, &e.to_string()),
    };
    let time = report.metadata.time.as_seconds_since_epoch();
    if time % shared.time_precision != 0 {
        return problem(
            &shared,
            DapProblemType::ReportRejected,
            "time not rounded to the precision",
        );
    }
    let leader_config_id = report.leader_encrypted_input_share.config_id;
    // Only the Leader's current key is accepted.
    if leader_config_id != inner.leader.keys[0].id() {
        return problem(&shared, DapProblemType::OutdatedConfig, "leader config");
    }
    let aad = InputShareAad::new(shared.task_id, report.metadata, report.public_share.clone());
    let leader_ct = &report.leader_encrypted_input_share;
    let helper_ct = &report.helper_encrypted_input_share;
    let leader_share = inner
        .leader
        .key(leader_ct.config_id)
        .and_then(|key| open_input_share(key, Role::Leader, &aad, leader_ct).ok());
    let helper_share = inner
        .helper
        .key(helper_ct.config_id)
        .and_then(|key| open_input_share(key, Role::Helper, &aad, helper_ct).ok());
    let (Some(leader_share), Some(helper_share)) = (leader_share, helper_share) else {
        return problem(
            &shared,
            DapProblemType::InvalidMessage,
            "share does not open",
        );
    };
    inner.reports.push(ReceivedReport {
        metadata: report.metadata,
        public_share: report.public_share,
        leader_share,
        helper_share,
        leader_config_id,
    });
    StatusCode::from_u16(inner.upload_status)
        .unwrap()
        .into_response()
}
