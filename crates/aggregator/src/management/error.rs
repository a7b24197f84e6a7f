//! [`ManagementError`]: how a management API request fails. Each failure
//! has the status the aggregator API gives it (404 unknown, 409 conflict,
//! 400 bad input, 500 ours) and a body that is an RFC 9457 problem document
//! saying why once. Like every answer of this API it carries the API's
//! versioned media type ([`super::media_type::MEDIA_TYPE`]); clients of that API
//! read error bodies as opaque text, which a problem document is too.
//!
//! An internal failure's detail is logged, never sent.

use super::media_type::MEDIA_TYPE;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use dyad_datastore::{DatastoreError, TxError};

/// A failed management request: its status and what to tell the caller.
#[derive(Debug)]
pub struct ManagementError {
    status: StatusCode,
    detail: String,
}

/// The result of a management handler.
pub type ManagementResult<T> = Result<T, ManagementError>;

impl ManagementError {
    /// 400: the request is malformed or invalid.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }

    /// 404: nothing has this ID.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, detail)
    }

    /// 409: the request conflicts with what is stored.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, detail)
    }

    /// 401: no valid bearer token.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "a valid \"Authorization: Bearer <token>\" header is required",
        )
    }

    /// 500: our fault; `detail` is logged, the caller learns only that it
    /// failed.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "management API request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error (details in the aggregator's log)",
        )
    }

    pub(super) fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: detail.into(),
        }
    }

    /// The status the caller gets.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<TxError> for ManagementError {
    fn from(error: TxError) -> Self {
        match error {
            TxError::Datastore(error) => error.into(),
            TxError::Aborted(aborted) => match aborted.downcast::<ManagementError>() {
                Ok(error) => *error,
                Err(other) => Self::internal(other),
            },
        }
    }
}

impl From<DatastoreError> for ManagementError {
    fn from(error: DatastoreError) -> Self {
        Self::internal(error)
    }
}

impl std::fmt::Display for ManagementError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.detail)
    }
}

impl std::error::Error for ManagementError {}

impl IntoResponse for ManagementError {
    fn into_response(self) -> Response {
        let document = serde_json::json!({
            "type": "about:blank",
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        (
            self.status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE))],
            document.to_string(),
        )
            .into_response()
    }
}
