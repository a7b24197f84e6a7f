//! [`ApiError`]: the one place every failure of a request becomes an HTTP
//! response, a problem document (RFC 9457, `application/problem+json`) as
//! DAP-09 section 3.2 ("Errors") asks.
//!
//! - A DAP abort ([`ProtocolError`] with a problem type, or one raised here)
//!   answers with the type's URN, title and detail, the status of
//!   [`DapProblemType::http_status`] (400, or 403 for `unauthorizedRequest`),
//!   and `taskid` whenever the task is known.
//! - A path segment that does not percent-decode is `invalidMessage`
//!   ([`super::request::DapPath`]), not axum's plain-text 400.
//! - A few HTTP-level failures keep their HTTP status but still carry a DAP
//!   type where one fits: 415 (wrong `Content-Type`) and 413 (body too large)
//!   with `invalidMessage`; 409 (a PUT that conflicts with the stored job)
//!   with `invalidMessage`; 404 (unknown collection job, unknown route) and
//!   405 (a method the path does not serve) with `about:blank`, since
//!   DAP-09 registers no type for them.
//! - Every handler adds the task's ID (`taskid`) to any error of a request
//!   naming a task it can parse, 500s included (section 3.2: "When the task
//!   ID is known ... SHOULD include").
//! - Everything else (datastore failures, internal protocol errors, bugs) is
//!   500 with a generic document: the detail is logged, never sent.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use dyad_datastore::{DatastoreError, TxError};
use dyad_messages::draft09::TaskId;
use dyad_messages::media_type::PROBLEM_JSON;
use dyad_messages::problem::{DapProblemType, ProblemDocument};
use dyad_messages::DecodeError;
use dyad_protocol::ProtocolError;
use std::fmt;

/// A failed request, ready to be answered.
pub struct ApiError {
    status: StatusCode,
    /// `None`: `about:blank`.
    problem_type: Option<DapProblemType>,
    /// Sent to the peer (never holds secrets).
    detail: Option<String>,
    task_id: Option<TaskId>,
    /// Logged only.
    internal: Option<String>,
    /// Sent as `Retry-After` (503 answers of an overloaded server).
    retry_after: Option<std::time::Duration>,
    /// Answer with `Connection: close` (the request's body was not read to
    /// its end, so the connection cannot carry another request).
    close_connection: bool,
}

impl ApiError {
    /// A DAP abort of the given type (status per [`DapProblemType::http_status`]).
    pub fn dap(problem_type: DapProblemType, detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::from_u16(problem_type.http_status())
                .unwrap_or(StatusCode::BAD_REQUEST),
            problem_type: Some(problem_type),
            detail: Some(detail.into()),
            task_id: None,
            internal: None,
            retry_after: None,
            close_connection: false,
        }
    }

    /// `invalidMessage` (400).
    pub fn invalid_message(detail: impl Into<String>) -> Self {
        Self::dap(DapProblemType::InvalidMessage, detail)
    }

    /// `unrecognizedTask` (400).
    pub fn unrecognized_task(task_id: TaskId, detail: impl Into<String>) -> Self {
        Self::dap(DapProblemType::UnrecognizedTask, detail).with_task_id(task_id)
    }

    /// `unauthorizedRequest` (403).
    pub fn unauthorized(task_id: TaskId, detail: impl Into<String>) -> Self {
        Self::dap(DapProblemType::UnauthorizedRequest, detail).with_task_id(task_id)
    }

    /// 415 Unsupported Media Type (RFC 9110 section 15.5.16), typed
    /// `invalidMessage`.
    pub fn unsupported_media_type(expected: &str, found: Option<&str>) -> Self {
        let found = found.map_or_else(|| "none".to_owned(), |f| format!("{f:?}"));
        Self {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ..Self::invalid_message(format!("expected Content-Type {expected}, got {found}"))
        }
    }

    /// 413 Content Too Large (RFC 9110 section 15.5.14), typed `invalidMessage`.
    pub fn body_too_large(limit: usize) -> Self {
        Self {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            ..Self::invalid_message(format!("request body exceeds {limit} bytes"))
        }
    }

    /// 409 Conflict, typed `invalidMessage`: the request conflicts with the
    /// stored state of the resource (DAP-09 sections 4.5.1.2 and 4.6.1:
    /// "MUST fail with an HTTP client error status code").
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::CONFLICT,
            ..Self::invalid_message(detail)
        }
    }

    /// 404 Not Found, `about:blank`.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            problem_type: None,
            detail: Some(detail.into()),
            task_id: None,
            internal: None,
            retry_after: None,
            close_connection: false,
        }
    }

    /// 408 Request Timeout (RFC 9110 section 15.5.9), `about:blank`: the
    /// request's body did not arrive in time. The connection is closed.
    pub fn request_timeout(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::REQUEST_TIMEOUT,
            close_connection: true,
            ..Self::not_found(detail)
        }
    }

    /// 503 Service Unavailable (RFC 9110 section 15.6.4), `about:blank`,
    /// with `Retry-After`: this aggregator is overloaded for now.
    pub fn unavailable(detail: impl Into<String>, retry_after: std::time::Duration) -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            retry_after: Some(retry_after),
            ..Self::not_found(detail)
        }
    }

    /// Closes the connection after this answer.
    pub fn closing_connection(mut self) -> Self {
        self.close_connection = true;
        self
    }

    /// 405 Method Not Allowed (RFC 9110 section 15.5.6), `about:blank`.
    pub fn method_not_allowed(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::METHOD_NOT_ALLOWED,
            ..Self::not_found(detail)
        }
    }

    /// A failure of ours: 500, `detail` logged but not sent.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            problem_type: None,
            detail: None,
            task_id: None,
            internal: Some(detail.into()),
            retry_after: None,
            close_connection: false,
        }
    }

    /// 500 with a detail that may be shared (a state of ours, not a failure
    /// whose cause must stay private).
    pub fn server_error(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            problem_type: None,
            detail: Some(detail.into()),
            task_id: None,
            internal: None,
            retry_after: None,
            close_connection: false,
        }
    }

    /// A problem this aggregator decided earlier and stored (a failed
    /// collection job), answered as stored.
    pub fn stored(problem_type: DapProblemType, detail: String) -> Self {
        Self::dap(problem_type, detail)
    }

    /// Adds the task the error concerns (if it has none yet).
    pub fn with_task_id(mut self, task_id: TaskId) -> Self {
        self.task_id.get_or_insert(task_id);
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The DAP problem type, if any.
    pub fn problem_type(&self) -> Option<DapProblemType> {
        self.problem_type
    }

    /// The problem document to send.
    pub fn to_problem_document(&self) -> ProblemDocument {
        let status = self.status.as_u16();
        ProblemDocument {
            type_uri: self
                .problem_type
                .map_or_else(|| "about:blank".to_owned(), |t| t.urn().to_owned()),
            title: Some(match self.problem_type {
                Some(problem_type) => problem_type.title().to_owned(),
                None => self.status.canonical_reason().unwrap_or("Error").to_owned(),
            }),
            status: Some(status),
            detail: self.detail.clone(),
            instance: None,
            taskid: self.task_id,
        }
    }
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiError")
            .field("status", &self.status.as_u16())
            .field("problem_type", &self.problem_type.map(|t| t.name()))
            .field("detail", &self.detail)
            .field("task_id", &self.task_id)
            .field("internal", &self.internal)
            .field("retry_after", &self.retry_after)
            .field("close_connection", &self.close_connection)
            .finish()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.status.as_u16())?;
        if let Some(problem_type) = self.problem_type {
            write!(f, " {}", problem_type.name())?;
        }
        if let Some(detail) = self.detail.as_ref().or(self.internal.as_ref()) {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let task_id = self.task_id.map(|t| t.to_string()).unwrap_or_default();
        if self.status.is_server_error() {
            tracing::error!(
                status = self.status.as_u16(),
                task_id,
                error = self.internal.as_deref().unwrap_or_default(),
                "request failed"
            );
        } else {
            tracing::info!(
                status = self.status.as_u16(),
                task_id,
                problem = self.problem_type.map(|t| t.name()).unwrap_or("about:blank"),
                detail = self.detail.as_deref().unwrap_or_default(),
                "request refused"
            );
        }
        let body = self.to_problem_document().to_json();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(retry_after) = self.retry_after {
            let secs = retry_after.as_secs_f64().ceil().max(1.0) as u64;
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.close_connection {
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

impl From<ProtocolError> for ApiError {
    fn from(error: ProtocolError) -> Self {
        let mut api = match error.problem_type() {
            Some(problem_type) => ApiError::dap(problem_type, error.detail()),
            None => ApiError::internal(error.detail()),
        };
        if let Some(task_id) = error.task_id() {
            api = api.with_task_id(*task_id);
        }
        api
    }
}

impl From<DecodeError> for ApiError {
    fn from(error: DecodeError) -> Self {
        // Decode errors name structures, fields and lengths, never values.
        ApiError::invalid_message(format!("message does not decode: {error}"))
    }
}

/// How long a client is asked to wait when the datastore is busy or out of
/// reach.
const DATASTORE_RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(2);

impl From<DatastoreError> for ApiError {
    fn from(error: DatastoreError) -> Self {
        if error.is_unavailable() {
            // Busy or out of reach, not broken: a 503 tells the client to
            // come back (RFC 9110 section 15.6.4); the cause stays in the log.
            return ApiError {
                internal: Some(format!("datastore: {error}")),
                ..ApiError::unavailable(
                    "the aggregator's datastore is busy; retry later",
                    DATASTORE_RETRY_AFTER,
                )
            };
        }
        ApiError::internal(format!("datastore: {error}"))
    }
}

impl From<TxError> for ApiError {
    fn from(error: TxError) -> Self {
        let error = match error.downcast_aborted::<ApiError>() {
            Ok(api) => return api,
            Err(other) => other,
        };
        match error.downcast_aborted::<ProtocolError>() {
            Ok(protocol) => protocol.into(),
            Err(TxError::Datastore(datastore)) => datastore.into(),
            Err(other) => ApiError::internal(format!("transaction: {other}")),
        }
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(error: tokio::task::JoinError) -> Self {
        ApiError::internal(format!("worker task: {error}"))
    }
}

/// A handler's result.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    async fn document(error: ApiError) -> (StatusCode, Option<String>, serde_json::Value) {
        let response = error.into_response();
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, content_type, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn dap_problem_has_type_title_status_detail_and_task() {
        let task_id = TaskId::from_bytes([3; 32]);
        let error =
            ProtocolError::new(DapProblemType::BatchInvalid, "misaligned").with_task_id(task_id);
        let (status, content_type, json) = document(error.into()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(content_type.as_deref(), Some(PROBLEM_JSON));
        assert_eq!(json["type"], DapProblemType::BatchInvalid.urn());
        assert_eq!(json["title"], DapProblemType::BatchInvalid.title());
        assert_eq!(json["status"], 400);
        assert_eq!(json["detail"], "misaligned");
        assert_eq!(json["taskid"], task_id.to_string());
    }

    #[tokio::test]
    async fn internal_errors_reveal_nothing() {
        let error: ApiError = ProtocolError::internal("secret prep state 0xdeadbeef").into();
        let (status, _, json) = document(error).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(json["type"], "about:blank");
        assert!(json.get("detail").is_none());
        assert!(!json.to_string().contains("deadbeef"));
    }

    #[tokio::test]
    async fn transaction_aborts_keep_their_error() {
        let task_id = TaskId::from_bytes([5; 32]);
        let aborted = TxError::abort(ApiError::unauthorized(task_id, "no token"));
        let (status, _, json) = document(aborted.into()).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(json["type"], DapProblemType::UnauthorizedRequest.urn());
        let aborted = TxError::abort(ProtocolError::new(DapProblemType::BatchOverlap, "x"));
        let (status, _, json) = document(aborted.into()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(json["type"], DapProblemType::BatchOverlap.urn());
        let failed = TxError::Datastore(DatastoreError::Internal("boom"));
        let (status, _, _) = document(failed.into()).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[tokio::test]
    async fn a_busy_datastore_is_a_503_that_says_when_to_retry_and_hides_the_cause() {
        for busy in [
            DatastoreError::TransactionTimedOut {
                name: "upload",
                limit: std::time::Duration::from_secs(300),
                elapsed: std::time::Duration::from_secs(301),
            },
            DatastoreError::RetriesExhausted {
                name: "upload",
                attempts: 5,
                last_error: "database is locked".to_owned(),
            },
            DatastoreError::Database(sqlx::Error::PoolTimedOut),
        ] {
            let response = ApiError::from(TxError::Datastore(busy)).into_response();
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(response.headers()[header::RETRY_AFTER], "2");
            let body = axum::body::to_bytes(response.into_body(), 1 << 16)
                .await
                .unwrap();
            let text = String::from_utf8_lossy(&body);
            assert!(text.contains("datastore is busy"), "{text}");
            assert!(
                !text.contains("locked") && !text.contains("upload"),
                "{text}"
            );
        }
    }

    #[tokio::test]
    async fn http_level_failures_keep_their_status() {
        let (status, _, json) = document(ApiError::unsupported_media_type(
            "application/dap-report",
            None,
        ))
        .await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(json["status"], 415);
        assert_eq!(json["type"], DapProblemType::InvalidMessage.urn());
        let (status, _, json) = document(ApiError::not_found("no such job")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(json["type"], "about:blank");
        assert_eq!(json["title"], "Not Found");
        let (status, _, _) = document(ApiError::conflict("changed")).await;
        assert_eq!(status, StatusCode::CONFLICT);
        let (status, _, _) = document(ApiError::body_too_large(10)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[tokio::test]
    async fn overload_answers_say_when_to_retry_and_timeouts_close_the_connection() {
        let response =
            ApiError::unavailable("busy", std::time::Duration::from_millis(2500)).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "3");
        assert!(response.headers().get(header::CONNECTION).is_none());
        let response = ApiError::request_timeout("slow body").into_response();
        assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(response.headers()[header::CONNECTION], "close");
        assert!(response.headers().get(header::RETRY_AFTER).is_none());
    }
}

#[cfg(test)]
#[path = "task_id_tests.rs"]
mod task_id_tests;
