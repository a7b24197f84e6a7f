//! The HTTP plumbing of the collector's requests, on the shared
//! `dyad-http-client` crate, with its failures as [`CollectorError`]s: the
//! Leader's base URL and DAP resource paths (DAP-09 section 4.3), the
//! collector token's header, the built-in HTTP client, bounded body reads,
//! and retrying transient failures under a [`RetryPolicy`].
//!
//! # Where is
//!
//! - the Leader's base URL and resources -> [`endpoint_base`], [`resource`];
//! - the collector's token header (DAP-09 section 4.6.1: Collectors
//!   authenticate to the Leader) -> [`auth_header`];
//! - the built-in HTTP client and the extra-roots rule -> [`http_client`];
//! - a body read under a cap -> [`read_body`];
//! - retries -> [`with_retry`].

use crate::error::CollectorError;
use dyad_core::retry::RetryPolicy;
use dyad_core::task::AuthenticationToken;
use dyad_http_client::{BodyError, HttpClientError, InvalidEndpoint};
use dyad_messages::draft09::Role;
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::Response;
use std::future::Future;
use url::Url;

pub(crate) use dyad_http_client::{error_response, retry_after};

fn invalid_endpoint(error: InvalidEndpoint) -> CollectorError {
    CollectorError::InvalidEndpoint {
        url: error.url,
        reason: error.reason,
    }
}

/// The Leader's base URL, ready for DAP resource paths to be joined to it
/// (see [`dyad_http_client::endpoint_base`]).
pub(crate) fn endpoint_base(url: Url) -> Result<Url, CollectorError> {
    dyad_http_client::endpoint_base(url).map_err(invalid_endpoint)
}

/// `base` joined with a relative resource path.
pub(crate) fn resource(base: &Url, path: &str) -> Result<Url, CollectorError> {
    dyad_http_client::resource(base, path).map_err(invalid_endpoint)
}

/// The header presenting the collector's token, marked sensitive.
pub(crate) fn auth_header(
    token: &AuthenticationToken,
) -> Result<(HeaderName, HeaderValue), CollectorError> {
    dyad_http_client::auth_header(token).map_err(|_| {
        CollectorError::InvalidConfiguration("the token is not a valid header value".into())
    })
}

/// The HTTP client given, or the built-in one (see
/// [`dyad_http_client::http_client`]).
pub(crate) fn http_client(
    given: Option<reqwest::Client>,
    extra_roots: Vec<reqwest::Certificate>,
) -> Result<reqwest::Client, CollectorError> {
    dyad_http_client::http_client(
        concat!("dyad-collector/", env!("CARGO_PKG_VERSION")),
        given,
        extra_roots,
    )
    .map_err(|error| match error {
        HttpClientError::Build(error) => CollectorError::HttpClient(error),
        refused @ HttpClientError::RootsWithOwnClient => {
            CollectorError::InvalidConfiguration(refused.to_string())
        }
    })
}

/// Reads a whole body of at most `limit` bytes.
pub(crate) async fn read_body(response: Response, limit: usize) -> Result<Vec<u8>, CollectorError> {
    dyad_http_client::read_body(response, limit)
        .await
        .map_err(|error| match error {
            BodyError::TooLarge { limit } => CollectorError::BodyTooLarge(limit),
            BodyError::Http(error) => CollectorError::Http(error),
        })
}

/// Runs `attempt` against the Leader until it succeeds, fails permanently,
/// or `policy` says to stop, sleeping between attempts.
pub(crate) async fn with_retry<T, F, Fut>(
    policy: &RetryPolicy,
    operation: &'static str,
    attempt: F,
) -> Result<T, CollectorError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, CollectorError>>,
{
    dyad_http_client::with_retry(policy, Role::Leader, operation, |_| {}, attempt).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unusable_endpoint_is_the_leaders() {
        let error = endpoint_base("unix:/run/sock".parse().unwrap()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid leader endpoint \"unix:/run/sock\": scheme must be http or https"
        );
        let base = endpoint_base("https://leader.example/dap".parse().unwrap()).unwrap();
        assert_eq!(
            resource(&base, "tasks/t/collection_jobs/j")
                .unwrap()
                .as_str(),
            "https://leader.example/dap/tasks/t/collection_jobs/j"
        );
    }

    #[test]
    fn the_collector_token_header_is_sensitive() {
        let token = AuthenticationToken::new_bearer("collector-token").unwrap();
        let (name, value) = auth_header(&token).unwrap();
        assert_eq!(name, "authorization");
        assert!(value.is_sensitive());
    }
}
