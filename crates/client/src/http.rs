//! The HTTP plumbing the client shares between its requests: base URLs and
//! DAP resource paths (DAP-09 section 4.3), bounded body reads, turning an
//! error answer into an [`ErrorResponse`], and retrying transient failures
//! under a [`RetryPolicy`], telling a [`RetryObserver`] of each retry.

use crate::error::{ClientError, ErrorResponse};
use dyad_core::retry::{parse_retry_after, RetryDecision, RetryPolicy};
use dyad_messages::draft09::Role;
use dyad_messages::media_type::is_problem_json;
use dyad_messages::problem::ProblemDocument;
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use reqwest::Response;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use url::Url;

/// The most of an error body read in search of a problem document.
const MAX_ERROR_BODY_LEN: usize = 64 * 1024;

/// An aggregator's base URL, ready for DAP resource paths to be joined to
/// it: `https://a.example/dap` becomes `https://a.example/dap/`, so that
/// `tasks/...` lands below it rather than replacing its last segment.
pub(crate) fn endpoint_base(role: Role, mut url: Url) -> Result<Url, ClientError> {
    let invalid = |url: &Url, reason: &str| ClientError::InvalidEndpoint {
        role,
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
pub(crate) fn resource(role: Role, base: &Url, path: &str) -> Result<Url, ClientError> {
    base.join(path).map_err(|e| ClientError::InvalidEndpoint {
        role,
        url: base.to_string(),
        reason: e.to_string(),
    })
}

/// Reads a whole body of at most `limit` bytes.
pub(crate) async fn read_body(
    role: Role,
    mut response: Response,
    limit: usize,
) -> Result<Vec<u8>, ClientError> {
    let too_large = ClientError::BodyTooLarge { role, limit };
    if response
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        return Err(too_large);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > limit {
            return Err(too_large);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The error answer `response` carries: its status, its `Retry-After`, and
/// its problem document if the body is one (by media type, or by naming a
/// DAP problem type when the media type is missing or generic).
pub(crate) async fn error_response(response: Response) -> ErrorResponse {
    let status = response.status().as_u16();
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let retry_after = header(RETRY_AFTER).and_then(|v| parse_retry_after(&v, SystemTime::now()));
    let declared_problem = header(CONTENT_TYPE).is_some_and(|v| is_problem_json(&v));
    // A body that fails to arrive, or is too long for a problem document,
    // leaves the status alone to tell what happened.
    let body = read_body(Role::Leader, response, MAX_ERROR_BODY_LEN)
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

/// What a [`RetryObserver`] hears before each retry of a request that
/// failed transiently.
#[derive(Debug)]
pub struct RetryNotice<'a> {
    /// What was being done: `"upload report"` or `"fetch HPKE config"`.
    pub operation: &'static str,
    /// The aggregator the request went to.
    pub role: Role,
    /// The attempt that failed, counting from 1.
    pub attempt: u32,
    /// Why it failed.
    pub error: &'a ClientError,
    /// The wait before the next attempt.
    pub delay: Duration,
    /// Time since the first attempt began.
    pub elapsed: Duration,
}

/// Told of every retry (see [`crate::ClientBuilder::on_retry`]).
pub type RetryObserver = Arc<dyn Fn(&RetryNotice<'_>) + Send + Sync>;

/// Runs `attempt` until it succeeds, fails permanently, or `policy` says to
/// stop, sleeping between attempts and telling `observer` of each retry.
pub(crate) async fn with_retry<T, F, Fut>(
    policy: &RetryPolicy,
    observer: Option<&RetryObserver>,
    role: Role,
    operation: &'static str,
    mut attempt: F,
) -> Result<T, ClientError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ClientError>>,
{
    let start = Instant::now();
    let mut backoff = policy.backoff();
    loop {
        let error = match attempt().await {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        let elapsed = start.elapsed();
        match backoff.decide(&error, elapsed) {
            RetryDecision::Retry(delay) => {
                let failed_attempt = backoff.attempts() - 1;
                tracing::warn!(
                    operation,
                    %role,
                    attempt = failed_attempt,
                    delay_ms = delay.as_millis() as u64,
                    error = %error,
                    "transient failure, retrying"
                );
                if let Some(observer) = observer {
                    observer(&RetryNotice {
                        operation,
                        role,
                        attempt: failed_attempt,
                        error: &error,
                        delay,
                        elapsed,
                    });
                }
                tokio::time::sleep(delay).await;
            }
            RetryDecision::GiveUp => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(s: &str) -> Result<Url, ClientError> {
        endpoint_base(Role::Leader, Url::parse(s).unwrap())
    }

    #[test]
    fn resource_paths_land_below_the_base_path() {
        let with_slash = base("https://a.example/dap/").unwrap();
        let without = base("https://a.example/dap").unwrap();
        assert_eq!(with_slash, without);
        let url = resource(Role::Leader, &without, "tasks/abc/reports").unwrap();
        assert_eq!(url.as_str(), "https://a.example/dap/tasks/abc/reports");
        let root = base("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            resource(Role::Helper, &root, "hpke_config")
                .unwrap()
                .as_str(),
            "http://127.0.0.1:8080/hpke_config"
        );
    }

    #[test]
    fn unusable_endpoints_are_rejected() {
        for bad in [
            "mailto:someone@example.com",
            "ftp://a.example/",
            "https://a.example/?x=1",
            "https://a.example/#frag",
        ] {
            assert!(
                matches!(base(bad), Err(ClientError::InvalidEndpoint { .. })),
                "{bad}"
            );
        }
    }
}
