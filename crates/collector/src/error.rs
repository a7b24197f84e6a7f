//! [`CollectorError`]: every way creating, polling or finishing a collection
//! job can fail, and [`ErrorResponse`], the Leader's HTTP error answer with
//! its problem document (DAP-09 section 3.2).
//!
//! Each error knows whether retrying could help ([`Retryable`]): transport
//! failures, 5xx, 408 and 429 answers are transient; everything else,
//! including a problem document such as `invalidBatchSize`, is not.
//!
//! # Where is
//!
//! - which failures are worth retrying -> `CollectorError::retry_class`
//!   (the transport's by [`transport_class`], shared with the client; an
//!   answer's by [`RetryClass::from_http_status`]);
//! - the Leader's answer, its problem document (DAP-09 section 3.2) and
//!   status -> [`CollectorError::error_response`],
//!   [`CollectorError::problem_type`], [`CollectorError::status`];
//! - a job whose results the Leader deleted (204, DAP-09 section 4.6.1) ->
//!   [`CollectorError::CollectionDeleted`].

use dyad_core::hpke::HpkeError;
use dyad_core::retry::{RetryClass, Retryable};
use dyad_core::vdaf::VdafRunError;
use dyad_http_client::transport_class;
use dyad_messages::draft09::{BatchId, CollectionJobId, QueryType, Role};
use dyad_messages::problem::{DapProblemType, ProblemDocument};
use dyad_messages::{DecodeError, EncodeError};
use std::time::Duration;

pub use dyad_http_client::ErrorResponse;

/// Why a collection failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CollectorError {
    /// A Leader endpoint that cannot serve as a base URL.
    #[error("invalid leader endpoint {url:?}: {reason}")]
    InvalidEndpoint { url: String, reason: String },

    /// A parameter of the collector that cannot work.
    #[error("invalid collector configuration: {0}")]
    InvalidConfiguration(String),

    /// The HTTP client could not be built.
    #[error("building the HTTP client failed: {0}")]
    HttpClient(#[source] reqwest::Error),

    /// The request did not get an HTTP answer, or its body could not be read.
    #[error("HTTP request failed: {0}")]
    Http(#[from] reqwest::Error),

    /// The Leader answered with an error status (for instance 400
    /// `invalidBatchSize` when it checks the batch size eagerly, or the error
    /// a failed collection job ends in).
    #[error("the leader answered {0}")]
    ErrorResponse(Box<ErrorResponse>),

    /// The Leader answered with a status DAP does not give it here.
    #[error("the leader answered with unexpected HTTP status {0}")]
    UnexpectedStatus(u16),

    /// A response body larger than the collector accepts.
    #[error("the leader's response body exceeds {0} bytes")]
    BodyTooLarge(usize),

    /// 204 No Content: the Leader has deleted the job's results (DAP-09
    /// section 4.6.1).
    #[error("the leader has deleted collection job {0}")]
    CollectionDeleted(CollectionJobId),

    /// The `Collection` could not be decoded.
    #[error("the leader sent an invalid Collection: {0}")]
    InvalidCollection(#[source] DecodeError),

    /// The `Collection`'s batch selector is for another query type than the
    /// query.
    #[error("the collection is for a {received} batch, the query was {requested}")]
    QueryTypeMismatch {
        requested: QueryType,
        received: QueryType,
    },

    /// The `Collection` is for another batch than the one queried by ID.
    #[error("the collection is for batch {received}, the query asked for {requested}")]
    BatchMismatch {
        requested: BatchId,
        received: BatchId,
    },

    /// An aggregate share did not open with the collector's key and the AAD
    /// of this task, aggregation parameter and batch.
    #[error("the {role}'s aggregate share does not open: {source}")]
    OpenAggregateShare {
        role: Role,
        #[source]
        source: HpkeError,
    },

    /// A report count that does not fit this platform's `usize`.
    #[error("the collection's report count {0} is too large for this platform")]
    ReportCountTooLarge(u64),

    /// The aggregate shares could not be decoded or unsharded, or the
    /// aggregation parameter does not fit the VDAF.
    #[error("VDAF: {0}")]
    Vdaf(#[from] VdafRunError),

    /// The collection request could not be encoded.
    #[error("encoding the collection request failed: {0}")]
    Encode(#[from] EncodeError),

    /// The job was still pending when the collector stopped waiting; poll it
    /// again later with the same job.
    #[error("collection job {job_id} still pending after {waited:?}")]
    Timeout {
        job_id: CollectionJobId,
        waited: Duration,
    },
}

impl CollectorError {
    /// The Leader's error answer, if this is one.
    pub fn error_response(&self) -> Option<&ErrorResponse> {
        match self {
            CollectorError::ErrorResponse(response) => Some(response),
            _ => None,
        }
    }

    /// The problem document the Leader answered with, if any.
    pub fn problem(&self) -> Option<&ProblemDocument> {
        self.error_response()?.problem.as_ref()
    }

    /// The DAP problem type the Leader answered with, if any.
    pub fn problem_type(&self) -> Option<DapProblemType> {
        self.error_response()?.problem_type()
    }

    /// The HTTP status the Leader answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            CollectorError::ErrorResponse(response) => Some(response.status),
            CollectorError::UnexpectedStatus(status) => Some(*status),
            CollectorError::CollectionDeleted(_) => Some(204),
            CollectorError::Http(error) => error.status().map(|s| s.as_u16()),
            _ => None,
        }
    }
}

impl Retryable for CollectorError {
    fn retry_class(&self) -> RetryClass {
        match self {
            CollectorError::Http(error) => transport_class(error),
            CollectorError::ErrorResponse(response) => {
                RetryClass::from_http_status(response.status)
            }
            _ => RetryClass::Permanent,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        self.error_response()?.retry_after
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_are_permanent_server_errors_transient() {
        let response = |status, problem: Option<DapProblemType>| {
            CollectorError::ErrorResponse(Box::new(ErrorResponse {
                status,
                problem: problem.map(ProblemDocument::new),
                retry_after: None,
            }))
        };
        let invalid = response(400, Some(DapProblemType::InvalidBatchSize));
        assert!(!invalid.retry_class().is_transient());
        assert_eq!(
            invalid.problem_type(),
            Some(DapProblemType::InvalidBatchSize)
        );
        assert!(invalid.to_string().contains("invalidBatchSize"));
        assert!(response(500, None).retry_class().is_transient());
        assert!(response(429, None).retry_class().is_transient());
        let deleted = CollectorError::CollectionDeleted(CollectionJobId::from_bytes([0; 16]));
        assert!(!deleted.retry_class().is_transient());
        assert_eq!(deleted.status(), Some(204));
    }

    /// An answer whose body stops before its `Content-Length` (the
    /// connection reset mid-body) is retried like a lost connection.
    #[tokio::test]
    async fn an_answer_cut_mid_body_is_transient() {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request).await;
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly part")
                .await
                .unwrap();
            stream.flush().await.unwrap();
            stream.set_zero_linger().unwrap();
        });
        let response = reqwest::get(format!("http://{address}/")).await.unwrap();
        let error = crate::http::read_body(response, 1024).await.unwrap_err();
        assert!(
            matches!(&error, CollectorError::Http(e) if dyad_http_client::cut_mid_body(e)),
            "{error:?}"
        );
        assert!(error.retry_class().is_transient());
    }
}
