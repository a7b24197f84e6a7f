//! The HTTP client a library builds for itself when its user gives none.
//!
//! # Where is
//!
//! - no redirects (a token is never forwarded to another host), a 10 s
//!   connect and 60 s request timeout, extra root certificates besides the
//!   system's -> [`http_client`];
//! - extra roots together with a caller's own client refused ->
//!   [`HttpClientError::RootsWithOwnClient`].

use std::fmt;
use std::time::Duration;

/// Why the HTTP client could not be had.
#[derive(Debug)]
pub enum HttpClientError {
    /// Extra root certificates were given together with an HTTP client of
    /// the caller's: they would not apply to it.
    RootsWithOwnClient,
    /// reqwest could not build the client (its TLS setup failed, say).
    Build(reqwest::Error),
}

impl fmt::Display for HttpClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpClientError::RootsWithOwnClient => f.write_str(
                "extra root certificates apply to the built-in HTTP client: \
                 add them to the one given with http_client instead",
            ),
            HttpClientError::Build(error) => write!(f, "building the HTTP client failed: {error}"),
        }
    }
}

impl std::error::Error for HttpClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HttpClientError::RootsWithOwnClient => None,
            HttpClientError::Build(error) => Some(error),
        }
    }
}

/// The HTTP client to send requests with: `given` if the caller gave one
/// (and no `extra_roots`), else one built here that identifies itself as
/// `user_agent`, follows no redirects (so that a token is never forwarded
/// to another host), connects within 10 s, times requests out after a
/// minute and trusts `extra_roots` besides the system's roots.
pub fn http_client(
    user_agent: &'static str,
    given: Option<reqwest::Client>,
    extra_roots: Vec<reqwest::Certificate>,
) -> Result<reqwest::Client, HttpClientError> {
    match (given, extra_roots.is_empty()) {
        (Some(http), true) => Ok(http),
        (Some(_), false) => Err(HttpClientError::RootsWithOwnClient),
        (None, _) => reqwest::Client::builder()
            .tls_certs_merge(extra_roots)
            .user_agent(user_agent)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(HttpClientError::Build),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_roots_and_an_own_http_client_are_exclusive() {
        // `from_der` only keeps the bytes; they would be parsed when the
        // HTTP client is built, which the refused combination never reaches.
        let root = reqwest::Certificate::from_der(&[0x30, 0x00]).unwrap();
        let refused = http_client("test", Some(reqwest::Client::new()), vec![root]);
        assert!(
            matches!(refused, Err(HttpClientError::RootsWithOwnClient)),
            "{refused:?}"
        );
        assert!(http_client("test", Some(reqwest::Client::new()), Vec::new()).is_ok());
        assert!(http_client("test", None, Vec::new()).is_ok());
    }
}
