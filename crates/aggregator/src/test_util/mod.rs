//! In-process test harness: a temporary SQLite datastore on a [`MockClock`],
//! the API router over it, requests sent with `tower::ServiceExt::oneshot`,
//! and read-only views of the stored state to check that a refused request
//! changed nothing.
//!
//! [`served`] serves the real API on a loopback port over either backend;
//! [`table_dump`] reads every row of every table, for before-and-after
//! comparisons.

pub mod fixtures;
pub mod served;
pub mod table_dump;

use crate::http::router;
use crate::state::ApiConfig;
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use dyad_core::clock::MockClock;
use dyad_core::task::{AuthenticationToken, Task};
use dyad_datastore::models::{AggregationJob, BatchAggregation, CollectionJob, ReportAggregation};
use dyad_datastore::sqlite::SqliteDatastore;
use dyad_datastore::{Datastore, DatastoreExt};
use dyad_messages::draft09::{AggregationJobId, CollectionJobId, TaskId};
use dyad_messages::media_type::DapMediaType;
use dyad_messages::problem::{DapProblemType, ProblemDocument};
use dyad_messages::{Decode, Encode};
use std::sync::Arc;
use tower::ServiceExt;

/// A router over a fresh datastore.
pub struct TestEnv {
    pub clock: MockClock,
    pub datastore: Arc<dyn Datastore>,
    pub router: Router,
    _dir: tempfile::TempDir,
}

impl TestEnv {
    pub async fn new() -> Self {
        Self::with_config(ApiConfig::default()).await
    }

    pub async fn with_config(config: ApiConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("test.sqlite").display());
        let clock = MockClock::default();
        let datastore: Arc<dyn Datastore> = Arc::new(
            SqliteDatastore::open(
                &url,
                Arc::new(clock.clone()),
                &dyad_datastore::DatastoreOptions::new(dyad_datastore::DatastoreKeys::generate()),
            )
            .await
            .unwrap(),
        );
        let router = router(datastore.clone(), config);
        Self {
            clock,
            datastore,
            router,
            _dir: dir,
        }
    }

    /// An environment holding `tasks`.
    pub async fn with_tasks(tasks: &[&Task]) -> Self {
        let env = Self::new().await;
        for task in tasks {
            env.put_task(task).await;
        }
        env
    }

    pub async fn put_task(&self, task: &Task) {
        let task = task.clone();
        self.datastore
            .run_tx("test_put_task", move |tx| {
                let task = task.clone();
                Box::pin(async move { Ok(tx.put_task(&task).await?) })
            })
            .await
            .unwrap();
    }

    /// Stores a global HPKE key in `state`. Store keys before the first
    /// request: the router's copy of the global keys is read on first use.
    pub async fn put_global_key(
        &self,
        keypair: &dyad_core::hpke::HpkeKeypair,
        state: dyad_datastore::models::HpkeKeyState,
    ) {
        let keypair = keypair.clone();
        self.datastore
            .run_tx("test_put_global_key", move |tx| {
                let keypair = keypair.clone();
                Box::pin(async move { Ok(tx.put_global_hpke_key(&keypair, state).await?) })
            })
            .await
            .unwrap();
    }

    pub async fn send(&self, request: TestRequest) -> TestResponse {
        let mut builder = Request::builder().method(request.method).uri(request.uri);
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let response = self
            .router
            .clone()
            .oneshot(builder.body(Body::from(request.body)).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        TestResponse {
            status,
            headers,
            body,
        }
    }

    /// How many reports are stored for the task (none is aggregated in
    /// these tests).
    pub async fn report_count(&self, task_id: TaskId) -> u64 {
        self.datastore
            .run_read_tx("test_count", move |tx| {
                Box::pin(
                    async move { Ok(tx.count_unaggregated_client_reports(&task_id, None).await?) },
                )
            })
            .await
            .unwrap()
    }

    /// A stored aggregation job, its reports and its batch aggregations.
    pub async fn aggregation_job(
        &self,
        task_id: TaskId,
        job_id: AggregationJobId,
    ) -> Option<(
        AggregationJob,
        Vec<ReportAggregation>,
        Vec<BatchAggregation>,
    )> {
        self.datastore
            .run_read_tx("test_job", move |tx| {
                Box::pin(async move {
                    let Some(job) = tx.get_aggregation_job(&task_id, &job_id).await? else {
                        return Ok(None);
                    };
                    let reports = tx.get_report_aggregations(&task_id, &job_id).await?;
                    let rows = tx.get_batch_aggregations_for_job(&task_id, &job_id).await?;
                    Ok(Some((job, reports, rows)))
                })
            })
            .await
            .unwrap()
    }

    pub async fn collection_job(
        &self,
        task_id: TaskId,
        job_id: CollectionJobId,
    ) -> Option<CollectionJob> {
        self.datastore
            .run_read_tx("test_collection_job", move |tx| {
                Box::pin(async move { Ok(tx.get_collection_job(&task_id, &job_id).await?) })
            })
            .await
            .unwrap()
    }
}

/// A request under construction.
pub struct TestRequest {
    method: Method,
    uri: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl TestRequest {
    pub fn new(method: Method, uri: impl Into<String>) -> Self {
        Self {
            method,
            uri: uri.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn get(uri: impl Into<String>) -> Self {
        Self::new(Method::GET, uri)
    }

    pub fn put(uri: impl Into<String>) -> Self {
        Self::new(Method::PUT, uri)
    }

    pub fn post(uri: impl Into<String>) -> Self {
        Self::new(Method::POST, uri)
    }

    pub fn delete(uri: impl Into<String>) -> Self {
        Self::new(Method::DELETE, uri)
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The token in its own header.
    pub fn token(self, token: &AuthenticationToken) -> Self {
        let value = token.header_value();
        self.header(token.header_name(), &value)
    }

    /// A message body with its media type.
    pub fn message<M: Encode>(self, media_type: DapMediaType, message: &M) -> Self {
        self.bytes(media_type, message.get_encoded().unwrap())
    }

    /// Raw bytes with a media type.
    pub fn bytes(mut self, media_type: DapMediaType, body: Vec<u8>) -> Self {
        self.body = body;
        self.header(header::CONTENT_TYPE.as_str(), media_type.as_str())
    }

    /// A raw body without a media type.
    pub fn raw_body(mut self, body: Vec<u8>) -> Self {
        self.body = body;
        self
    }
}

/// A response, read whole.
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl TestResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The problem document, checking its media type and status member.
    pub fn problem(&self) -> ProblemDocument {
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "status {}",
            self.status
        );
        let document = ProblemDocument::from_json(&self.body).unwrap();
        assert_eq!(document.status, Some(self.status.as_u16()));
        document
    }

    /// The DAP type of the problem document.
    pub fn problem_type(&self) -> Option<DapProblemType> {
        self.problem().dap_type()
    }

    /// Asserts a DAP problem of `problem_type` with its status, about
    /// `task_id` if given.
    pub fn assert_problem(&self, problem_type: DapProblemType, task_id: Option<TaskId>) {
        let document = self.problem();
        assert_eq!(document.dap_type(), Some(problem_type), "{document}");
        assert_eq!(
            self.status.as_u16(),
            problem_type.http_status(),
            "{document}"
        );
        assert_eq!(document.taskid, task_id, "{document}");
    }

    /// The body as a message of `media_type`.
    pub fn message<M: Decode>(&self, media_type: DapMediaType) -> M {
        assert_eq!(
            self.header("content-type"),
            Some(media_type.as_str()),
            "status {}: {:?}",
            self.status,
            String::from_utf8_lossy(&self.body)
        );
        M::get_decoded(&self.body).unwrap()
    }
}

/// Requests the Leader sends the Helper, authenticated with the pair's
/// Leader token.
pub mod helper_requests {
    use super::fixtures::TaskPair;
    use super::TestRequest;
    use dyad_messages::draft09::{
        AggregateShareReq, AggregationJobContinueReq, AggregationJobId, AggregationJobInitReq,
    };
    use dyad_messages::media_type::DapMediaType;

    pub fn job_uri(pair: &TaskPair, job_id: AggregationJobId) -> String {
        format!("/tasks/{}/aggregation_jobs/{job_id}", pair.task_id())
    }

    pub fn init(
        pair: &TaskPair,
        job_id: AggregationJobId,
        request: &AggregationJobInitReq,
    ) -> TestRequest {
        TestRequest::put(job_uri(pair, job_id))
            .token(&pair.leader_token)
            .message(DapMediaType::AggregationJobInitReq, request)
    }

    pub fn continue_job(
        pair: &TaskPair,
        job_id: AggregationJobId,
        request: &AggregationJobContinueReq,
    ) -> TestRequest {
        TestRequest::post(job_uri(pair, job_id))
            .token(&pair.leader_token)
            .message(DapMediaType::AggregationJobContinueReq, request)
    }

    pub fn delete_job(pair: &TaskPair, job_id: AggregationJobId) -> TestRequest {
        TestRequest::delete(job_uri(pair, job_id)).token(&pair.leader_token)
    }

    pub fn aggregate_share(pair: &TaskPair, request: &AggregateShareReq) -> TestRequest {
        TestRequest::post(format!("/tasks/{}/aggregate_shares", pair.task_id()))
            .token(&pair.leader_token)
            .message(DapMediaType::AggregateShareReq, request)
    }
}
