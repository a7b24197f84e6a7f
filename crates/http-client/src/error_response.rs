//! [`ErrorResponse`]: a peer's HTTP error answer with its problem document
//! (DAP-09 section 3.2) and the wait its `Retry-After` asks for.
//!
//! # Where is
//!
//! - a body taken as a problem document when its media type says so, or
//!   when it names a DAP problem type under a missing or generic one ->
//!   [`error_response`];
//! - the `Retry-After` header (seconds or an HTTP date) -> [`retry_after`].

use crate::body::read_body;
use dyad_core::retry::parse_retry_after;
use dyad_messages::media_type::is_problem_json;
use dyad_messages::problem::{DapProblemType, ProblemDocument};
use reqwest::header::{HeaderMap, CONTENT_TYPE, RETRY_AFTER};
use reqwest::Response;
use std::fmt;
use std::time::{Duration, SystemTime};

/// The most of an error body read in search of a problem document.
pub const MAX_ERROR_BODY_LEN: usize = 64 * 1024;

/// An HTTP error status from a peer, with the problem document it carried,
/// if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorResponse {
    /// The HTTP status code (4xx or 5xx).
    pub status: u16,
    /// The RFC 9457 problem document of the body, when there was one.
    pub problem: Option<ProblemDocument>,
    /// The delay the `Retry-After` header asked for, if any.
    pub retry_after: Option<Duration>,
}

impl ErrorResponse {
    /// The DAP problem type of the document, if it names one.
    pub fn problem_type(&self) -> Option<DapProblemType> {
        self.problem.as_ref().and_then(ProblemDocument::dap_type)
    }
}

impl fmt::Display for ErrorResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if let Some(problem) = &self.problem {
            write!(f, ": {problem}")?;
        }
        Ok(())
    }
}

/// The delay a response's `Retry-After` header asks for, if it has a
/// readable one.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()))
}

/// The error answer `response` carries: its status, its `Retry-After`, and
/// its problem document if the body is one (by media type, or by naming a
/// DAP problem type when the media type is missing or generic).
pub async fn error_response(response: Response) -> ErrorResponse {
    let status = response.status().as_u16();
    let retry_after = retry_after(response.headers());
    let declared_problem = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(is_problem_json);
    // A body that fails to arrive, or is too long for a problem document,
    // leaves the status alone to tell what happened.
    let body = read_body(response, MAX_ERROR_BODY_LEN)
        .await
        .unwrap_or_default();
    let problem = ProblemDocument::from_json(&body)
        .ok()
        .filter(|doc| declared_problem || doc.dap_type().is_some());
    ErrorResponse {
        status,
        problem,
        retry_after,
    }
}
