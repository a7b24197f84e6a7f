//! [`ClientError`]: every way preparing or uploading a report can fail, and
//! [`ErrorResponse`], an aggregator's HTTP error answer with its problem
//! document (DAP-09 section 3.2).
//!
//! Each error knows whether retrying could help ([`Retryable`]): transport
//! failures, 5xx, 408 and 429 answers are transient; everything else is not.
//!
//! # Where is
//!
//! - which failures are worth retrying -> `ClientError::retry_class` (the
//!   transport's by [`transport_class`], shared with the collector; an
//!   answer's by [`RetryClass::from_http_status`]);
//! - the aggregator's answer, its problem document (DAP-09 section 3.2) and
//!   status -> [`ClientError::error_response`], [`ClientError::problem_type`],
//!   [`ClientError::status`];
//! - no supported HPKE configuration, the Client aborts (DAP-09 section
//!   4.4.1) -> [`ClientError::NoSupportedHpkeConfig`].

use dyad_core::hpke::HpkeError;
use dyad_core::retry::{RetryClass, Retryable};
use dyad_core::task_config::TaskConfigError;
use dyad_core::vdaf::VdafRunError;
use dyad_http_client::transport_class;
use dyad_messages::draft09::Role;
use dyad_messages::problem::{DapProblemType, ProblemDocument};
use dyad_messages::{DecodeError, EncodeError};
use std::time::Duration;

pub use dyad_http_client::ErrorResponse;

/// Why a report could not be prepared or uploaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// An aggregator endpoint that cannot serve as a base URL.
    #[error("invalid {role} endpoint {url:?}: {reason}")]
    InvalidEndpoint {
        role: Role,
        url: String,
        reason: String,
    },

    /// A parameter of the client that cannot work (a zero time precision,
    /// say).
    #[error("invalid client configuration: {0}")]
    InvalidConfiguration(String),

    /// The HTTP client could not be built.
    #[error("building the HTTP client failed: {0}")]
    HttpClient(#[source] reqwest::Error),

    /// The request did not get an HTTP answer, or its body could not be read.
    #[error("HTTP request failed: {0}")]
    Http(#[from] reqwest::Error),

    /// The aggregator answered with an error status.
    #[error("the {role} answered {response}")]
    ErrorResponse {
        role: Role,
        response: Box<ErrorResponse>,
    },

    /// The aggregator answered with a status that is neither success nor
    /// error (a redirect, which the client does not follow).
    #[error("the {role} answered with unexpected HTTP status {status}")]
    UnexpectedStatus { role: Role, status: u16 },

    /// A response body larger than the client accepts.
    #[error("the {role}'s response body exceeds {limit} bytes")]
    BodyTooLarge { role: Role, limit: usize },

    /// The HPKE configuration list could not be decoded.
    #[error("the {role} sent an invalid HPKE config list: {source}")]
    InvalidHpkeConfigList {
        role: Role,
        #[source]
        source: DecodeError,
    },

    /// None of the aggregator's HPKE configurations uses a ciphersuite dyad
    /// supports (DAP-09 section 4.4.1: the Client aborts).
    #[error("none of the {role}'s HPKE configs uses a supported ciphersuite")]
    NoSupportedHpkeConfig { role: Role },

    /// Sharding the measurement failed (it does not fit the VDAF, say).
    #[error("sharding the measurement failed: {0}")]
    Vdaf(#[from] VdafRunError),

    /// Sealing an input share failed.
    #[error("sealing an input share failed: {0}")]
    Hpke(#[from] HpkeError),

    /// The report could not be encoded.
    #[error("encoding the report failed: {0}")]
    Encode(#[from] EncodeError),

    /// The taskprov `TaskConfig` names a task this client cannot take part
    /// in (an unsupported VDAF, an expired task): the Client opts out
    /// (taskprov-06 sections 3.3 and 4).
    #[error("{0}")]
    TaskConfig(#[from] TaskConfigError),
}

impl ClientError {
    /// The aggregator's error answer, if this is one.
    pub fn error_response(&self) -> Option<&ErrorResponse> {
        match self {
            ClientError::ErrorResponse { response, .. } => Some(response),
            _ => None,
        }
    }

    /// The problem document the aggregator answered with, if any.
    pub fn problem(&self) -> Option<&ProblemDocument> {
        self.error_response()?.problem.as_ref()
    }

    /// The DAP problem type the aggregator answered with, if any.
    pub fn problem_type(&self) -> Option<DapProblemType> {
        self.error_response()?.problem_type()
    }

    /// The HTTP status the aggregator answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::ErrorResponse { response, .. } => Some(response.status),
            ClientError::UnexpectedStatus { status, .. } => Some(*status),
            ClientError::Http(error) => error.status().map(|s| s.as_u16()),
            _ => None,
        }
    }
}

impl Retryable for ClientError {
    fn retry_class(&self) -> RetryClass {
        match self {
            ClientError::Http(error) => transport_class(error),
            ClientError::ErrorResponse { response, .. } => {
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

    fn response(status: u16, problem: Option<DapProblemType>) -> ClientError {
        ClientError::ErrorResponse {
            role: Role::Leader,
            response: Box::new(ErrorResponse {
                status,
                problem: problem.map(ProblemDocument::new),
                retry_after: Some(Duration::from_secs(3)),
            }),
        }
    }

    #[test]
    fn server_errors_and_throttling_are_transient_client_errors_are_not() {
        assert!(response(500, None).retry_class().is_transient());
        assert!(response(503, None).retry_class().is_transient());
        assert!(response(429, None).retry_class().is_transient());
        let rejected = response(400, Some(DapProblemType::ReportRejected));
        assert!(!rejected.retry_class().is_transient());
        assert_eq!(
            rejected.problem_type(),
            Some(DapProblemType::ReportRejected)
        );
        assert_eq!(rejected.status(), Some(400));
        assert_eq!(rejected.retry_after(), Some(Duration::from_secs(3)));
        assert!(!ClientError::NoSupportedHpkeConfig { role: Role::Helper }
            .retry_class()
            .is_transient());
    }

    #[test]
    fn display_names_the_peer_and_the_problem() {
        let text = response(400, Some(DapProblemType::OutdatedConfig)).to_string();
        assert!(text.starts_with("the leader answered HTTP 400"), "{text}");
        assert!(text.contains("outdatedConfig"), "{text}");
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
        let error = crate::http::read_body(Role::Leader, response, 1024)
            .await
            .unwrap_err();
        assert!(
            matches!(&error, ClientError::Http(e) if dyad_http_client::cut_mid_body(e)),
            "{error:?}"
        );
        assert!(error.retry_class().is_transient());
    }
}
