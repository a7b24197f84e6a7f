//! The HTTP plumbing of the client's requests, on the shared
//! `dyad-http-client` crate, with its failures as [`ClientError`]s naming the
//! aggregator: base URLs and DAP resource paths (DAP-09 section 4.3), the
//! upload token's header, the built-in HTTP client, bounded body reads, and
//! retrying transient failures under a [`RetryPolicy`], telling a
//! [`RetryObserver`] of each retry.
//!
//! # Where is
//!
//! - an aggregator's base URL and resources -> [`endpoint_base`],
//!   [`resource`];
//! - the upload token's header (DAP-09 section 7.3) -> [`auth_header`];
//! - the built-in HTTP client and the extra-roots rule -> [`http_client`];
//! - a body read under a cap -> [`read_body`];
//! - retries, told to the observer -> [`with_retry`].

use crate::error::ClientError;
use dyad_core::retry::RetryPolicy;
use dyad_core::task::AuthenticationToken;
use dyad_http_client::{BodyError, HttpClientError, InvalidEndpoint};
use dyad_messages::draft09::Role;
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::Response;
use std::future::Future;
use std::sync::Arc;
use url::Url;

pub(crate) use dyad_http_client::error_response;

/// What a [`RetryObserver`] hears before each retry of a request that
/// failed transiently: the operation (`"upload report"` or `"fetch HPKE
/// config"`), the aggregator, the failed attempt (from 1), the error, the
/// wait before the next attempt and the time since the first began.
pub type RetryNotice<'a> = dyad_http_client::RetryNotice<'a, ClientError>;

/// Told of every retry (see [`crate::ClientBuilder::on_retry`]).
pub type RetryObserver = Arc<dyn Fn(&RetryNotice<'_>) + Send + Sync>;

fn invalid_endpoint(role: Role, error: InvalidEndpoint) -> ClientError {
    ClientError::InvalidEndpoint {
        role,
        url: error.url,
        reason: error.reason,
    }
}

/// An aggregator's base URL, ready for DAP resource paths to be joined to
/// it (see [`dyad_http_client::endpoint_base`]).
pub(crate) fn endpoint_base(role: Role, url: Url) -> Result<Url, ClientError> {
    dyad_http_client::endpoint_base(url).map_err(|e| invalid_endpoint(role, e))
}

/// `base` joined with a relative resource path.
pub(crate) fn resource(role: Role, base: &Url, path: &str) -> Result<Url, ClientError> {
    dyad_http_client::resource(base, path).map_err(|e| invalid_endpoint(role, e))
}

/// The header presenting the upload token, marked sensitive.
pub(crate) fn auth_header(
    token: &AuthenticationToken,
) -> Result<(HeaderName, HeaderValue), ClientError> {
    dyad_http_client::auth_header(token).map_err(|_| {
        ClientError::InvalidConfiguration("the upload token is not a valid header value".into())
    })
}

/// The HTTP client given, or the built-in one (see
/// [`dyad_http_client::http_client`]).
pub(crate) fn http_client(
    given: Option<reqwest::Client>,
    extra_roots: Vec<reqwest::Certificate>,
) -> Result<reqwest::Client, ClientError> {
    dyad_http_client::http_client(
        concat!("dyad-client/", env!("CARGO_PKG_VERSION")),
        given,
        extra_roots,
    )
    .map_err(|error| match error {
        HttpClientError::Build(error) => ClientError::HttpClient(error),
        refused @ HttpClientError::RootsWithOwnClient => {
            ClientError::InvalidConfiguration(refused.to_string())
        }
    })
}

/// Reads a whole body of at most `limit` bytes from the aggregator `role`.
pub(crate) async fn read_body(
    role: Role,
    response: Response,
    limit: usize,
) -> Result<Vec<u8>, ClientError> {
    dyad_http_client::read_body(response, limit)
        .await
        .map_err(|error| match error {
            BodyError::TooLarge { limit } => ClientError::BodyTooLarge { role, limit },
            BodyError::Http(error) => ClientError::Http(error),
        })
}

/// Runs `attempt` until it succeeds, fails permanently, or `policy` says to
/// stop, sleeping between attempts and telling `observer` of each retry.
pub(crate) async fn with_retry<T, F, Fut>(
    policy: &RetryPolicy,
    observer: Option<&RetryObserver>,
    role: Role,
    operation: &'static str,
    attempt: F,
) -> Result<T, ClientError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ClientError>>,
{
    let on_retry = |notice: &RetryNotice<'_>| {
        if let Some(observer) = observer {
            observer(notice);
        }
    };
    dyad_http_client::with_retry(policy, role, operation, on_retry, attempt).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unusable_endpoint_names_the_aggregator() {
        let error = endpoint_base(Role::Helper, "ftp://a.example/".parse().unwrap()).unwrap_err();
        assert!(
            matches!(
                &error,
                ClientError::InvalidEndpoint {
                    role: Role::Helper,
                    ..
                }
            ),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "invalid helper endpoint \"ftp://a.example/\": scheme must be http or https"
        );
    }
}
