//! Reading a DAP request and writing a DAP response: identifiers in the
//! path (DAP-09 section 4.3: unpadded base64url), request authentication
//! (section 3.1), media types (section 8.1), size-capped bodies, and
//! encoded message responses.
//!
//! Decisions where the spec is silent:
//! - an identifier that is not unpadded base64url of the right length is
//!   `invalidMessage` (the request is malformed; no task can be named);
//! - a wrong or missing `Content-Type` is 415 Unsupported Media Type (RFC
//!   9110 section 15.5.16), typed `invalidMessage`; parameters such as
//!   `charset` are ignored;
//! - a task's token is accepted in either header, `DAP-Auth-Token` or
//!   `Authorization: Bearer` (the stored kind only says which one dyad
//!   sends); a missing, malformed, ambiguous or wrong token is 403
//!   `unauthorizedRequest`, as deployed DAP-09 peers answer.

use super::problem::{ApiError, ApiResult};
use crate::server::body::BodyLimitError;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use dyad_core::task::{AuthenticationToken, AuthenticationTokenHash, Task};
use dyad_messages::draft09::TaskId;
use dyad_messages::media_type::DapMediaType;
use dyad_messages::{Decode, Encode};
use serde::de::DeserializeOwned;
use std::str::FromStr;

/// axum's `Path` extractor whose rejection (a segment that does not
/// percent-decode to UTF-8) is an `invalidMessage` problem document, with
/// the task's ID if the path names one that parses, rather than axum's
/// plain-text 400.
pub struct DapPath<T>(pub T);

impl<T, S> FromRequestParts<S> for DapPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(DapPath(value)),
            Err(rejection) => {
                let error = ApiError::invalid_message(format!(
                    "malformed request path: {}",
                    rejection.body_text()
                ));
                Err(match super::fallback::task_id_of(&parts.uri) {
                    Some(task_id) => error.with_task_id(task_id),
                    None => error,
                })
            }
        }
    }
}

/// Parses an identifier from the request path or query.
pub fn parse_id<T>(text: &str, what: &str) -> ApiResult<T>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    text.parse()
        .map_err(|e| ApiError::invalid_message(format!("malformed {what}: {e}")))
}

/// Who must have sent a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requester {
    /// The Leader, presenting the task's aggregator token (to the Helper).
    Leader,
    /// The Collector, presenting the task's collector token (to the Leader).
    Collector,
}

/// Checks the request's token against the task's (DAP-09 section 3.1), in
/// constant time.
pub fn authenticate(task: &Task, headers: &HeaderMap, requester: Requester) -> ApiResult<()> {
    let task_id = *task.task_id();
    let refuse = |detail: &str| ApiError::unauthorized(task_id, detail);
    let presented = AuthenticationToken::from_request_headers(
        headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_bytes())),
    )
    // The error names the problem, never the token.
    .map_err(|e| refuse(&format!("unusable authentication header: {e}")))?
    .ok_or_else(|| refuse("no authentication token"))?;
    let stored = match requester {
        Requester::Leader => Some(task.aggregator_auth_token()),
        Requester::Collector => task.collector_auth_token(),
    };
    let Some(stored) = stored else {
        return Err(refuse("the task has no token for this requester"));
    };
    let expected = AuthenticationTokenHash::from_digest(presented.kind(), stored.hash().digest())
        .map_err(|e| ApiError::internal(format!("stored token hash: {e}")))?;
    if expected.validate(&presented) {
        Ok(())
    } else {
        Err(refuse("the authentication token is not valid for the task"))
    }
}

/// Checks the request's `Content-Type` (DAP-09 section 8.1).
pub fn require_media_type(headers: &HeaderMap, expected: DapMediaType) -> ApiResult<()> {
    let value = headers.get(header::CONTENT_TYPE);
    match value.and_then(|v| v.to_str().ok()) {
        Some(found) if expected.matches(found) => Ok(()),
        found => Err(ApiError::unsupported_media_type(
            expected.as_str(),
            found.or(value.map(|_| "<not text>")),
        )),
    }
}

/// Reads the whole body, refusing one longer than `limit` bytes with 413.
/// A body the server cut off (see [`crate::server::body`]) is 408 when it
/// came too slowly, 503 with `Retry-After` when the server holds too many
/// body bytes; each of these closes the connection, whose rest of body is
/// left unread.
pub async fn read_body(body: Body, limit: usize) -> ApiResult<Bytes> {
    // A body whose declared length (Content-Length) is over the limit is
    // refused before any of it is read, rather than after waiting for it.
    if http_body::Body::size_hint(&body).lower() > limit as u64 {
        return Err(ApiError::body_too_large(limit).closing_connection());
    }
    axum::body::to_bytes(body, limit).await.map_err(|error| {
        if is_length_limit(&error) {
            return ApiError::body_too_large(limit).closing_connection();
        }
        match body_limit_error(&error) {
            Some(BodyLimitError::TimedOut(_)) => {
                ApiError::request_timeout(error_chain_text(&error)).closing_connection()
            }
            Some(BodyLimitError::Overloaded { retry_after }) => {
                ApiError::unavailable(error_chain_text(&error), retry_after).closing_connection()
            }
            Some(BodyLimitError::TooLarge { limit }) => {
                ApiError::body_too_large(limit).closing_connection()
            }
            // Others come from the connection.
            None => ApiError::invalid_message(format!("reading the request body: {error}")),
        }
    })
}

/// The server's reason for cutting a body off, if it did.
fn body_limit_error(error: &axum::Error) -> Option<BodyLimitError> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        if let Some(limit) = current.downcast_ref::<BodyLimitError>() {
            return Some(*limit);
        }
        source = current.source();
    }
    None
}

/// The innermost message of an error chain (the server's own words).
fn error_chain_text(error: &axum::Error) -> String {
    let mut current: &(dyn std::error::Error + 'static) = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

fn is_length_limit(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        if current.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = current.source();
    }
    false
}

/// Reads a request's DAP message for the task `task_id`: checks the media
/// type, reads at most `limit` bytes and decodes them. Errors carry the task
/// ID. Returns the message and the bytes it was decoded from.
pub async fn read_message<M: Decode>(
    task_id: TaskId,
    headers: &HeaderMap,
    media_type: DapMediaType,
    body: Body,
    limit: usize,
) -> ApiResult<(M, Bytes)> {
    let with_task = |e: ApiError| e.with_task_id(task_id);
    require_media_type(headers, media_type).map_err(with_task)?;
    let bytes = read_body(body, limit).await.map_err(with_task)?;
    let message = decode(&bytes).map_err(with_task)?;
    Ok((message, bytes))
}

/// Decodes a message, the whole body and nothing more (`invalidMessage`
/// otherwise).
pub fn decode<M: Decode>(bytes: &[u8]) -> ApiResult<M> {
    Ok(M::get_decoded(bytes)?)
}

/// A response carrying an encoded message of `media_type`.
pub fn message_response<M: Encode>(
    status: StatusCode,
    media_type: DapMediaType,
    message: &M,
) -> ApiResult<Response> {
    let body = message
        .get_encoded()
        .map_err(|e| ApiError::internal(format!("encoding {media_type}: {e}")))?;
    Ok(bytes_response(status, media_type, body))
}

/// A response carrying already encoded bytes of `media_type`.
pub fn bytes_response(status: StatusCode, media_type: DapMediaType, body: Vec<u8>) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(media_type.as_str()),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::fixtures::TaskPair;
    use dyad_core::vdaf::VdafInstance;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn tokens_are_accepted_in_either_header() {
        let pair = TaskPair::time_interval(VdafInstance::Prio3Count);
        let token = pair.leader_token.as_str().to_owned();
        let helper = &pair.helper;
        for pairs in [
            vec![("DAP-Auth-Token", token.as_str())],
            vec![("authorization", &*format!("Bearer {token}"))],
        ] {
            assert!(authenticate(helper, &headers(&pairs), Requester::Leader).is_ok());
        }
        for pairs in [
            vec![],
            vec![("DAP-Auth-Token", "wrong")],
            vec![("Authorization", "Basic abc")],
            vec![
                ("DAP-Auth-Token", token.as_str()),
                ("authorization", &*format!("Bearer {token}")),
            ],
        ] {
            let error = authenticate(helper, &headers(&pairs), Requester::Leader).unwrap_err();
            assert_eq!(error.status(), StatusCode::FORBIDDEN);
        }
        // The Helper takes nothing from the Collector.
        let collector = pair.collector_token.as_str().to_owned();
        let error = authenticate(
            helper,
            &headers(&[("DAP-Auth-Token", &collector)]),
            Requester::Collector,
        )
        .unwrap_err();
        assert_eq!(error.status(), StatusCode::FORBIDDEN);
    }

    #[test]
    fn media_types_are_matched_without_parameters() {
        let ok = headers(&[("content-type", "Application/DAP-Report; charset=x")]);
        assert!(require_media_type(&ok, DapMediaType::Report).is_ok());
        for bad in [vec![], vec![("content-type", "application/octet-stream")]] {
            let error = require_media_type(&headers(&bad), DapMediaType::Report).unwrap_err();
            assert_eq!(error.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        }
    }

    /// A body that declares `length` bytes and never sends one.
    struct Declared {
        length: u64,
    }

    impl http_body::Body for Declared {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
            std::task::Poll::Pending
        }

        fn size_hint(&self) -> http_body::SizeHint {
            http_body::SizeHint::with_exact(self.length)
        }
    }

    #[tokio::test]
    async fn a_declared_length_over_the_limit_is_refused_without_waiting_for_the_body() {
        let body = Body::new(Declared {
            length: 2_000_000_000,
        });
        let error = tokio::time::timeout(std::time::Duration::from_secs(5), read_body(body, 10))
            .await
            .expect("refused at once")
            .unwrap_err();
        assert_eq!(error.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[tokio::test]
    async fn bodies_over_the_limit_are_refused() {
        let error = read_body(Body::from(vec![0u8; 11]), 10).await.unwrap_err();
        assert_eq!(error.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(
            read_body(Body::from(vec![1u8; 10]), 10)
                .await
                .unwrap()
                .len(),
            10
        );
    }
}
