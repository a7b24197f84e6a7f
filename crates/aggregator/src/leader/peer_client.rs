//! [`HelperClient`]: the Leader's HTTP client to the Helper (DAP-09 sections
//! 4.5.1.1, 4.5.2.1 and 4.6.2).
//!
//! - `PUT {helper}tasks/{task-id}/aggregation_jobs/{job-id}` with an
//!   `AggregationJobInitReq`;
//! - `POST` to the same URI with an `AggregationJobContinueReq`;
//! - `DELETE` on it when the Leader abandons a job (section 4.5.2.2: "SHOULD
//!   send an HTTP DELETE request ... so that the Helper knows it can clean
//!   up its state");
//! - `POST {helper}tasks/{task-id}/aggregate_shares` with an
//!   `AggregateShareReq`.
//!
//! Every request carries the task's aggregator authentication token the way
//! the task says (`DAP-Auth-Token` or `Authorization: Bearer`, section 3.1);
//! the token never appears in an error or a log. A task provisioned by
//! taskprov is advertised on every request too: its `TaskConfig` in the
//! `dap-taskprov` header (draft-wang-ppm-dap-taskprov-06 sections 5.2 and
//! 5.3: "every request incident to the task"), see [`taskprov_header`].
//! Failures are [`PeerError`]s,
//! which say whether retrying may help ([`Retryable`]): connection failures,
//! timeouts, 408, 429 and 5xx are transient; other statuses (with their
//! problem document, if any) and undecodable answers are permanent.
//!
//! Each answer is read with a size cap derived from its request
//! ([`super::response_limit`]); an answer over it is
//! [`PeerError::ResponseTooLarge`], transient like a lost connection. The
//! request's time limit covers reading the body, so a Helper that trickles
//! its answer fails with a timeout.

use super::response_limit::{
    aggregate_share_cap, aggregation_job_resp_cap, read_capped, ReadError, TooLarge,
    MAX_ERROR_BODY_LEN,
};
use dyad_core::retry::{parse_retry_after, RetryClass, Retryable};
use dyad_core::task::Task;
use dyad_messages::draft09::{
    AggregateShare, AggregateShareReq, AggregationJobContinueReq, AggregationJobId,
    AggregationJobInitReq, AggregationJobResp,
};
use dyad_messages::media_type::is_problem_json;
use dyad_messages::problem::{DapProblemType, ProblemDocument};
use dyad_messages::taskprov::TASKPROV_HEADER;
use dyad_messages::{Decode, Encode};
use std::fmt;
use std::time::{Duration, SystemTime};

/// Why a request to the Helper failed.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// The task holds only the hash of its aggregator token, so the Leader
    /// cannot authenticate (a misconfigured task).
    #[error("the task holds no aggregator auth token to send")]
    MissingAuthToken,
    /// The request URL could not be formed from the task's Helper endpoint.
    #[error("invalid Helper URL: {0}")]
    Url(String),
    /// The request could not be encoded.
    #[error("encoding the request: {0}")]
    Encode(#[from] dyad_messages::EncodeError),
    /// The request did not complete: connection refused or reset, timeout.
    #[error("request to the Helper failed: {0}")]
    Transport(String),
    /// The Helper answered with an error status.
    #[error("the Helper answered HTTP {status}{}", describe_problem(.problem.as_deref()))]
    Status {
        status: u16,
        problem: Option<Box<ProblemDocument>>,
        retry_after: Option<Duration>,
    },
    /// The Helper's answer passed the size cap of its request: a broken or
    /// hostile Helper, or one that will answer sanely on a later try.
    #[error("{0}")]
    ResponseTooLarge(TooLarge),
    /// The Helper answered with success but a body that does not decode.
    #[error("invalid response from the Helper: {0}")]
    InvalidResponse(String),
}

fn describe_problem(problem: Option<&ProblemDocument>) -> String {
    match problem {
        Some(problem) => format!(" ({problem})"),
        None => String::new(),
    }
}

impl PeerError {
    /// The DAP problem type the Helper answered with, if any.
    pub fn problem_type(&self) -> Option<DapProblemType> {
        match self {
            PeerError::Status {
                problem: Some(problem),
                ..
            } => problem.dap_type(),
            _ => None,
        }
    }

    /// The Helper's problem detail, if any.
    pub fn problem_detail(&self) -> Option<&str> {
        match self {
            PeerError::Status {
                problem: Some(problem),
                ..
            } => problem.detail.as_deref().or(problem.title.as_deref()),
            _ => None,
        }
    }
}

impl Retryable for PeerError {
    fn retry_class(&self) -> RetryClass {
        match self {
            PeerError::Transport(_) | PeerError::ResponseTooLarge(_) => RetryClass::Transient,
            PeerError::Status { status, .. } => RetryClass::from_http_status(*status),
            PeerError::MissingAuthToken
            | PeerError::Url(_)
            | PeerError::Encode(_)
            | PeerError::InvalidResponse(_) => RetryClass::Permanent,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            PeerError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// The `dap-taskprov` header's value for a task provisioned by taskprov: its
/// encoded `TaskConfig` in unpadded base64url; `None` for other tasks.
pub(crate) fn taskprov_header(task: &Task) -> Option<String> {
    use base64::Engine as _;
    task.taskprov_config()
        .map(|config| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(config))
}

/// The Leader's client for one Helper request at a time; cheap to clone.
#[derive(Clone)]
pub struct HelperClient {
    http: reqwest::Client,
    timeout: Duration,
}

impl fmt::Debug for HelperClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HelperClient")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// What a request sends.
struct Outgoing<'a> {
    method: reqwest::Method,
    path: String,
    body: Option<(&'static str, Vec<u8>)>,
    accept: Option<&'a str>,
    /// The most of a successful answer to read.
    response_cap: usize,
}

impl HelperClient {
    /// A client sending through `http`, each request limited to `timeout`.
    pub fn new(http: reqwest::Client, timeout: Duration) -> Self {
        Self { http, timeout }
    }

    /// `PUT` an `AggregationJobInitReq` (DAP-09 section 4.5.1.1).
    pub async fn init_aggregation_job(
        &self,
        task: &Task,
        job_id: &AggregationJobId,
        request: &AggregationJobInitReq,
    ) -> Result<AggregationJobResp, PeerError> {
        let encoded = request.get_encoded()?;
        let response_cap = aggregation_job_resp_cap(encoded.len(), request.prepare_inits.len());
        let body = self
            .send(
                task,
                Outgoing {
                    method: reqwest::Method::PUT,
                    path: job_path(task, job_id),
                    body: Some((AggregationJobInitReq::MEDIA_TYPE, encoded)),
                    accept: Some(AggregationJobResp::MEDIA_TYPE),
                    response_cap,
                },
            )
            .await?;
        decode(&body)
    }

    /// `POST` an `AggregationJobContinueReq` (DAP-09 section 4.5.2.1).
    pub async fn continue_aggregation_job(
        &self,
        task: &Task,
        job_id: &AggregationJobId,
        request: &AggregationJobContinueReq,
    ) -> Result<AggregationJobResp, PeerError> {
        let encoded = request.get_encoded()?;
        let response_cap = aggregation_job_resp_cap(encoded.len(), request.prepare_continues.len());
        let body = self
            .send(
                task,
                Outgoing {
                    method: reqwest::Method::POST,
                    path: job_path(task, job_id),
                    body: Some((AggregationJobContinueReq::MEDIA_TYPE, encoded)),
                    accept: Some(AggregationJobResp::MEDIA_TYPE),
                    response_cap,
                },
            )
            .await?;
        decode(&body)
    }

    /// `DELETE` an abandoned aggregation job (DAP-09 section 4.5.2.2).
    pub async fn delete_aggregation_job(
        &self,
        task: &Task,
        job_id: &AggregationJobId,
    ) -> Result<(), PeerError> {
        self.send(
            task,
            Outgoing {
                method: reqwest::Method::DELETE,
                path: job_path(task, job_id),
                body: None,
                accept: None,
                // DELETE's answer has no body to speak of.
                response_cap: MAX_ERROR_BODY_LEN,
            },
        )
        .await
        .map(drop)
    }

    /// `POST` an `AggregateShareReq` (DAP-09 section 4.6.2) for a batch
    /// whose Leader aggregate share encodes to `leader_share_len` bytes (the
    /// Helper's share has the same size, which bounds its answer).
    pub async fn request_aggregate_share(
        &self,
        task: &Task,
        request: &AggregateShareReq,
        leader_share_len: usize,
    ) -> Result<AggregateShare, PeerError> {
        let body = self
            .send(
                task,
                Outgoing {
                    method: reqwest::Method::POST,
                    path: format!("tasks/{}/aggregate_shares", task.task_id()),
                    body: Some((AggregateShareReq::MEDIA_TYPE, request.get_encoded()?)),
                    accept: Some(AggregateShare::MEDIA_TYPE),
                    response_cap: aggregate_share_cap(leader_share_len),
                },
            )
            .await?;
        decode(&body)
    }

    async fn send(&self, task: &Task, outgoing: Outgoing<'_>) -> Result<Vec<u8>, PeerError> {
        let token = task
            .aggregator_auth_token()
            .token()
            .ok_or(PeerError::MissingAuthToken)?;
        let url = helper_url(task, &outgoing.path)?;
        let mut request = self
            .http
            .request(outgoing.method, url)
            .timeout(self.timeout)
            .header(token.header_name(), token.header_value().as_str());
        if let Some(accept) = outgoing.accept {
            request = request.header(reqwest::header::ACCEPT, accept);
        }
        if let Some(config) = taskprov_header(task) {
            request = request.header(TASKPROV_HEADER, config);
        }
        if let Some((media_type, body)) = outgoing.body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, media_type)
                .body(body);
        }
        let response = request.send().await.map_err(transport_error)?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, SystemTime::now()));
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        if status.is_success() {
            return read_capped(response, outgoing.response_cap).await.map_err(
                |error| match error {
                    ReadError::TooLarge(too_large) => PeerError::ResponseTooLarge(too_large),
                    ReadError::Transport(error) => transport_error(error),
                },
            );
        }
        // An error answer that fails to arrive, or is too long for a problem
        // document, leaves the status alone to tell what happened.
        let body = read_capped(response, MAX_ERROR_BODY_LEN)
            .await
            .unwrap_or_default();
        // A problem document is read if the Helper says it sent one, or if
        // the body happens to be one (some peers omit the media type).
        let problem = match content_type.as_deref() {
            Some(value) if is_problem_json(value) => ProblemDocument::from_json(&body).ok(),
            _ => ProblemDocument::from_json(&body)
                .ok()
                .filter(|p| p.dap_type().is_some()),
        };
        Err(PeerError::Status {
            status: status.as_u16(),
            problem: problem.map(Box::new),
            retry_after,
        })
    }
}

/// `tasks/{task-id}/aggregation_jobs/{job-id}`, relative to the Helper.
fn job_path(task: &Task, job_id: &AggregationJobId) -> String {
    format!("tasks/{}/aggregation_jobs/{}", task.task_id(), job_id)
}

/// The Helper's endpoint joined with `path`; the endpoint is a base URL, so
/// its path is taken as a directory whether or not it ends with `/`.
fn helper_url(task: &Task, path: &str) -> Result<url::Url, PeerError> {
    let mut base = task.helper_aggregator_endpoint().clone();
    if !base.path().ends_with('/') {
        let with_slash = format!("{}/", base.path());
        base.set_path(&with_slash);
    }
    base.join(path).map_err(|e| PeerError::Url(e.to_string()))
}

fn transport_error(error: reqwest::Error) -> PeerError {
    // reqwest's message names the URL (task and job IDs, no secret) and the
    // cause; the request headers are never part of it.
    let kind = if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connect"
    } else {
        "transport"
    };
    PeerError::Transport(format!("{kind}: {error}"))
}

fn decode<M: Decode>(body: &[u8]) -> Result<M, PeerError> {
    M::get_decoded(body).map_err(|e| PeerError::InvalidResponse(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leader::tests::fixtures::leader_task_with_helper;

    #[test]
    fn urls_join_with_or_without_a_trailing_slash() {
        for (endpoint, expected) in [
            ("https://helper.example/", "https://helper.example/tasks/"),
            (
                "https://helper.example/dap",
                "https://helper.example/dap/tasks/",
            ),
            (
                "https://helper.example/dap/",
                "https://helper.example/dap/tasks/",
            ),
        ] {
            let task = leader_task_with_helper(endpoint.parse().unwrap());
            let job_id = AggregationJobId::from_bytes([7; 16]);
            let url = helper_url(&task, &job_path(&task, &job_id)).unwrap();
            assert_eq!(
                url.as_str(),
                format!("{expected}{}/aggregation_jobs/{job_id}", task.task_id())
            );
        }
    }

    #[test]
    fn statuses_are_classified() {
        let status = |code| PeerError::Status {
            status: code,
            problem: None,
            retry_after: None,
        };
        assert!(status(503).retry_class().is_transient());
        assert!(status(429).retry_class().is_transient());
        assert!(!status(400).retry_class().is_transient());
        assert!(!status(403).retry_class().is_transient());
        assert!(PeerError::Transport("connect".into())
            .retry_class()
            .is_transient());
        assert!(!PeerError::InvalidResponse("x".into())
            .retry_class()
            .is_transient());
        let with_problem = PeerError::Status {
            status: 400,
            problem: Some(Box::new(
                ProblemDocument::new(DapProblemType::BatchMismatch).with_detail("counts differ"),
            )),
            retry_after: None,
        };
        assert_eq!(
            with_problem.problem_type(),
            Some(DapProblemType::BatchMismatch)
        );
        assert_eq!(with_problem.problem_detail(), Some("counts differ"));
        assert!(with_problem.to_string().contains("batchMismatch"));
    }
}
