//! The HTTP plumbing of the collector's requests: the Leader's base URL and
//! DAP resource paths (DAP-09 section 4.3), the authentication header,
//! bounded body reads, turning an error answer into an [`ErrorResponse`],
//! and retrying transient failures under a [`RetryPolicy`].

use crate::error::{CollectorError, ErrorResponse};
use dyad_core::retry::{parse_retry_after, RetryDecision, RetryPolicy};
use dyad_core::task::{AuthenticationToken, AuthenticationTokenType};
use dyad_messages::media_type::is_problem_json;
use dyad_messages::problem::ProblemDocument;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use reqwest::Response;
use std::future::Future;
use std::time::{Duration, Instant, SystemTime};
use url::Url;

/// The most of an error body read in search of a problem document.
const MAX_ERROR_BODY_LEN: usize = 64 * 1024;

/// The Leader's base URL, ready for DAP resource paths to be joined to it
/// (a missing trailing slash is added).
pub(crate) fn endpoint_base(mut url: Url) -> Result<Url, CollectorError> {
    let invalid = |url: &Url, reason: &str| CollectorError::InvalidEndpoint {
        url: url.to_string(),
        reason: reason.to_owned(),
    };
    if url.cannot_be_a_base() {
        return Err(invalid(&url, "not a base URL"));
    }
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(&url, "scheme must be http or https"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(&url, "must have no query or fragment"));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// `base` joined with a relative resource path.
pub(crate) fn resource(base: &Url, path: &str) -> Result<Url, CollectorError> {
    base.join(path)
        .map_err(|e| CollectorError::InvalidEndpoint {
            url: base.to_string(),
            reason: e.to_string(),
        })
}

/// The header presenting `token`, marked sensitive so that it is never
/// printed.
pub(crate) fn auth_header(
    token: &AuthenticationToken,
) -> Result<(HeaderName, HeaderValue), CollectorError> {
    let mut value = HeaderValue::from_str(&token.header_value()).map_err(|_| {
        CollectorError::InvalidConfiguration("the token is not a valid header value".into())
    })?;
    value.set_sensitive(true);
    let name = match token.kind() {
        AuthenticationTokenType::DapAuth => "dap-auth-token",
        AuthenticationTokenType::Bearer => "authorization",
    };
    Ok((HeaderName::from_static(name), value))
}

/// Reads a whole body of at most `limit` bytes.
pub(crate) async fn read_body(
    mut response: Response,
    limit: usize,
) -> Result<Vec<u8>, CollectorError> {
    if response
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        return Err(CollectorError::BodyTooLarge(limit));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > limit {
            return Err(CollectorError::BodyTooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The delay a response's `Retry-After` header asks for, if it has a
/// readable one.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()))
}

/// The error answer `response` carries: its status, its `Retry-After`, and
/// its problem document if the body is one (by media type, or by naming a
/// DAP problem type when the media type is missing or generic).
pub(crate) async fn error_response(response: Response) -> ErrorResponse {
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

/// Runs `attempt` until it succeeds, fails permanently, or `policy` says to
/// stop, sleeping between attempts.
pub(crate) async fn with_retry<T, F, Fut>(
    policy: &RetryPolicy,
    operation: &'static str,
    mut attempt: F,
) -> Result<T, CollectorError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, CollectorError>>,
{
    let start = Instant::now();
    let mut backoff = policy.backoff();
    loop {
        let error = match attempt().await {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        match backoff.decide(&error, start.elapsed()) {
            RetryDecision::Retry(delay) => {
                tracing::warn!(
                    operation,
                    attempt = backoff.attempts() - 1,
                    delay_ms = delay.as_millis() as u64,
                    error = %error,
                    "transient failure, retrying"
                );
                tokio::time::sleep(delay).await;
            }
            RetryDecision::GiveUp => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_paths_land_below_the_base_path() {
        let base = endpoint_base("https://leader.example/dap".parse().unwrap()).unwrap();
        assert_eq!(
            resource(&base, "tasks/t/collection_jobs/j")
                .unwrap()
                .as_str(),
            "https://leader.example/dap/tasks/t/collection_jobs/j"
        );
        assert!(endpoint_base("unix:/run/sock".parse().unwrap()).is_err());
        assert!(endpoint_base("https://leader.example/?a=b".parse().unwrap()).is_err());
    }

    #[test]
    fn auth_headers_are_sensitive() {
        let token = AuthenticationToken::new_bearer("collector-token").unwrap();
        let (name, value) = auth_header(&token).unwrap();
        assert_eq!(name, "authorization");
        assert_eq!(value, "Bearer collector-token");
        assert!(value.is_sensitive());
        let token = AuthenticationToken::new_dap_auth("collector-token").unwrap();
        let (name, value) = auth_header(&token).unwrap();
        assert_eq!(name, "dap-auth-token");
        assert_eq!(value, "collector-token");
    }
}
