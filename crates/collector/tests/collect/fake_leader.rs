//! An in-process Leader's collection endpoints (axum): it authenticates the
//! collector, decodes each `CollectionReq`, answers polls with 202 (and a
//! scripted `Retry-After`) until the test lets the job finish, and then
//! serves a `Collection` whose aggregate shares it seals to the collector's
//! HPKE config with the AAD built from the stored request, as DAP-09
//! section 4.6.4 says an aggregator does.

use crate::aggregate_shares::AggregateShares;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use axum::Router;
use dyad_core::hpke::seal_aggregate_share;
use dyad_core::task::AuthenticationToken;
use dyad_messages::draft09::{
    AggregateShareAad, BatchId, BatchSelector, Collection, CollectionReq, HpkeConfig, Interval,
    PartialBatchSelector, Query, Role, TaskId,
};
use dyad_messages::media_type::{DapMediaType, PROBLEM_JSON};
use dyad_messages::problem::{DapProblemType, ProblemDocument};
use dyad_messages::{Decode, Encode};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use url::Url;

/// A canned answer to the next request of some kind.
#[derive(Clone, Debug)]
pub enum Scripted {
    Status(u16),
    Problem(DapProblemType),
}

/// What the batch holds once the job is done.
pub struct Batch {
    pub shares: AggregateShares,
    pub interval: Interval,
    /// The batch ID the Leader picks for fixed_size queries.
    pub batch_id: BatchId,
}

struct Job {
    request: CollectionReq,
    deleted: bool,
}

struct Inner {
    batch: Option<Batch>,
    jobs: HashMap<String, Job>,
    /// One 202 per entry, with the entry as its `Retry-After` value.
    pending: VecDeque<Option<String>>,
    create_failures: VecDeque<Scripted>,
    poll_failures: VecDeque<Scripted>,
    /// Seal the Helper's share for another batch than the query's.
    tamper_helper_aad: bool,
    create_requests: usize,
    poll_requests: usize,
    delete_requests: usize,
    /// The `dap-taskprov` header of each request that named the task.
    taskprov_headers: Vec<Option<String>>,
}

struct Shared {
    task_id: TaskId,
    collector_config: HpkeConfig,
    token: AuthenticationToken,
    inner: Mutex<Inner>,
}

pub struct FakeLeader {
    pub url: Url,
    shared: Arc<Shared>,
}

impl FakeLeader {
    pub async fn start(
        task_id: TaskId,
        collector_config: HpkeConfig,
        token: AuthenticationToken,
    ) -> Self {
        Self::start_with(|_| task_id, collector_config, token).await
    }

    /// Starts the Leader for the task `task_id_of` names given the Leader's
    /// URL (a taskprov task's ID hashes its endpoints).
    pub async fn start_with(
        task_id_of: impl FnOnce(&Url) -> TaskId,
        collector_config: HpkeConfig,
        token: AuthenticationToken,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // No trailing slash: the collector must add it.
        let url: Url = format!("http://{addr}/dap").parse().unwrap();
        let task_id = task_id_of(&url);
        let shared = Arc::new(Shared {
            task_id,
            collector_config,
            token,
            inner: Mutex::new(Inner {
                batch: None,
                jobs: HashMap::new(),
                pending: VecDeque::new(),
                create_failures: VecDeque::new(),
                poll_failures: VecDeque::new(),
                tamper_helper_aad: false,
                create_requests: 0,
                poll_requests: 0,
                delete_requests: 0,
                taskprov_headers: Vec::new(),
            }),
        });
        let router = Router::new()
            .route(
                "/dap/tasks/{task_id}/collection_jobs/{job_id}",
                put(create).post(poll).delete(delete),
            )
            .with_state(Arc::clone(&shared));
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { url, shared }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.shared.inner.lock().unwrap())
    }

    pub fn set_batch(&self, batch: Batch) {
        self.with(|inner| inner.batch = Some(batch));
    }

    /// Answers the next polls with 202, each with the given `Retry-After`.
    pub fn pending_polls(&self, retry_after: impl IntoIterator<Item = Option<String>>) {
        self.with(|inner| inner.pending.extend(retry_after));
    }

    /// Lets every job finish on its next poll.
    pub fn finish_jobs(&self) {
        self.with(|inner| inner.pending.clear());
    }

    pub fn script_create(&self, answers: impl IntoIterator<Item = Scripted>) {
        self.with(|inner| inner.create_failures.extend(answers));
    }

    pub fn script_poll(&self, answers: impl IntoIterator<Item = Scripted>) {
        self.with(|inner| inner.poll_failures.extend(answers));
    }

    pub fn tamper_helper_aad(&self) {
        self.with(|inner| inner.tamper_helper_aad = true);
    }

    /// The `dap-taskprov` header of each request that named the task.
    pub fn taskprov_headers(&self) -> Vec<Option<String>> {
        self.with(|inner| inner.taskprov_headers.clone())
    }

    pub fn create_requests(&self) -> usize {
        self.with(|inner| inner.create_requests)
    }

    pub fn poll_requests(&self) -> usize {
        self.with(|inner| inner.poll_requests)
    }

    pub fn delete_requests(&self) -> usize {
        self.with(|inner| inner.delete_requests)
    }

    /// The aggregation parameter the collector sent for its only job.
    pub fn sent_aggregation_parameter(&self) -> Vec<u8> {
        self.with(|inner| {
            assert_eq!(inner.jobs.len(), 1);
            inner
                .jobs
                .values()
                .next()
                .unwrap()
                .request
                .aggregation_parameter
                .clone()
        })
    }
}

fn problem(shared: &Shared, problem_type: DapProblemType) -> Response {
    let doc = ProblemDocument::new(problem_type)
        .with_detail("from the fake leader")
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
        Scripted::Problem(problem_type) => problem(shared, problem_type),
    }
}

/// Checks the task and the collector's token.
fn check(shared: &Shared, task_id: &str, headers: &HeaderMap) -> Option<Response> {
    if task_id != shared.task_id.to_string() {
        return Some(problem(shared, DapProblemType::UnrecognizedTask));
    }
    let presented = AuthenticationToken::from_request_headers(
        headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes())),
    );
    match presented {
        Ok(Some(token)) if token == shared.token => None,
        _ => Some(problem(shared, DapProblemType::UnauthorizedRequest)),
    }
}

async fn create(
    State(shared): State<Arc<Shared>>,
    Path((task_id, job_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut inner = shared.inner.lock().unwrap();
    inner.create_requests += 1;
    if let Some(refusal) = check(&shared, &task_id, &headers) {
        return refusal;
    }
    let taskprov_header = headers
        .get("dap-taskprov")
        .map(|v| v.to_str().unwrap().to_owned());
    inner.taskprov_headers.push(taskprov_header);
    if let Some(answer) = inner.create_failures.pop_front() {
        return scripted(&shared, answer);
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !DapMediaType::CollectionReq.matches(content_type) {
        return StatusCode::UNSUPPORTED_MEDIA_TYPE.into_response();
    }
    let Ok(request) = CollectionReq::get_decoded(&body) else {
        return problem(&shared, DapProblemType::InvalidMessage);
    };
    if let Some(existing) = inner.jobs.get(&job_id) {
        if existing.request != request {
            return StatusCode::CONFLICT.into_response();
        }
    }
    inner.jobs.insert(
        job_id,
        Job {
            request,
            deleted: false,
        },
    );
    StatusCode::CREATED.into_response()
}

async fn poll(
    State(shared): State<Arc<Shared>>,
    Path((task_id, job_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let mut inner = shared.inner.lock().unwrap();
    inner.poll_requests += 1;
    if let Some(refusal) = check(&shared, &task_id, &headers) {
        return refusal;
    }
    if let Some(answer) = inner.poll_failures.pop_front() {
        return scripted(&shared, answer);
    }
    let Some(job) = inner.jobs.get(&job_id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if job.deleted {
        return StatusCode::NO_CONTENT.into_response();
    }
    let request = job.request.clone();
    if let Some(retry_after) = inner.pending.pop_front() {
        let mut response = StatusCode::ACCEPTED.into_response();
        if let Some(value) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, value.parse().unwrap());
        }
        return response;
    }
    let batch = inner.batch.as_ref().expect("the test set a batch");
    let (partial_batch_selector, selector) = match request.query {
        Query::TimeInterval(interval) => (
            PartialBatchSelector::TimeInterval,
            BatchSelector::TimeInterval(interval),
        ),
        // The fake Leader answers every fixed-size query with its one batch,
        // whichever was asked for, so that the collector's check of the
        // batch ID can be tested.
        Query::FixedSize(_) => (
            PartialBatchSelector::FixedSize(batch.batch_id),
            BatchSelector::FixedSize(batch.batch_id),
        ),
    };
    let aad = AggregateShareAad::new(
        shared.task_id,
        request.aggregation_parameter.clone(),
        selector,
    );
    let mut helper_aad = aad.clone();
    if inner.tamper_helper_aad {
        helper_aad.batch_selector = BatchSelector::FixedSize(BatchId::from_bytes([0xee; 32]));
    }
    let config = &shared.collector_config;
    let collection = Collection {
        partial_batch_selector,
        report_count: batch.shares.report_count,
        interval: batch.interval,
        leader_encrypted_agg_share: seal_aggregate_share(
            config,
            Role::Leader,
            &aad,
            &batch.shares.leader,
        )
        .unwrap(),
        helper_encrypted_agg_share: seal_aggregate_share(
            config,
            Role::Helper,
            &helper_aad,
            &batch.shares.helper,
        )
        .unwrap(),
    };
    (
        [(header::CONTENT_TYPE, DapMediaType::Collection.as_str())],
        collection.get_encoded().unwrap(),
    )
        .into_response()
}

async fn delete(
    State(shared): State<Arc<Shared>>,
    Path((task_id, job_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let mut inner = shared.inner.lock().unwrap();
    inner.delete_requests += 1;
    if let Some(refusal) = check(&shared, &task_id, &headers) {
        return refusal;
    }
    match inner.jobs.get_mut(&job_id) {
        Some(job) => {
            job.deleted = true;
            StatusCode::NO_CONTENT.into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
