//! [`ManagementClient`]: the `dyad task` and `dyad hpke-key` commands'
//! way to a remote aggregator's management API (`--api URL`), instead of
//! its datastore. Every request carries `Authorization: Bearer` with the
//! token of `DYAD_API_TOKEN` (read from the environment only, so that it
//! never lands in shell history; marked sensitive, never printed) and the
//! API's versioned media type in `Accept` (and in `Content-Type` when it
//! has a body). The HTTP client is dyad's usual one (system roots plus
//! `--ca-cert`, no redirects, bounded timeouts).
//!
//! Failures come back as one `error:` line: an unreachable server with its
//! root cause, a refused token, or the server's problem document (its
//! `detail`), each with a hint where one helps. A 404 is an answer the
//! callers want to word themselves ([`ManagementClient::get_if_found`]).

use crate::report::hinted;
use anyhow::Context as _;
use dyad_aggregator::management::MEDIA_TYPE;
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use url::Url;

/// The environment variable holding the management API's bearer token.
pub const TOKEN_ENV: &str = "DYAD_API_TOKEN";

/// The most bytes read of one answer (a page of 5000 task IDs is ~225 KB).
const MAX_ANSWER_LEN: usize = 16 << 20;

const USER_AGENT: &str = concat!("dyad/", env!("CARGO_PKG_VERSION"));

/// A remote aggregator's management API.
pub struct ManagementClient {
    base: Url,
    http: reqwest::Client,
    /// `Bearer <token>`, marked sensitive.
    authorization: HeaderValue,
}

impl std::fmt::Debug for ManagementClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagementClient")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

/// A non-success answer of the API: its status and what the server said.
#[derive(Debug)]
pub struct ApiAnswer {
    pub status: StatusCode,
    /// The problem document's `detail` (or the plain-text body), if any.
    pub detail: Option<String>,
}

impl std::fmt::Display for ApiAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the management API answered {}", self.status)?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiAnswer {}

impl ManagementClient {
    /// A client for the API at `base`, with the token of `DYAD_API_TOKEN`
    /// and `extra_roots` trusted besides the system's roots.
    pub fn new(base: &Url, extra_roots: Vec<reqwest::Certificate>) -> anyhow::Result<Self> {
        let token = std::env::var(TOKEN_ENV).unwrap_or_default();
        Self::with_token(base, token.trim(), extra_roots)
    }

    /// [`ManagementClient::new`] with `token` given.
    pub(crate) fn with_token(
        base: &Url,
        token: &str,
        extra_roots: Vec<reqwest::Certificate>,
    ) -> anyhow::Result<Self> {
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(hinted(
                format!("--api {base} is not an http or https URL"),
                "give the management API's base URL, e.g. http://127.0.0.1:9002/",
            ));
        }
        if token.is_empty() {
            return Err(hinted(
                format!("--api needs a token: {TOKEN_ENV} is not set"),
                format!(
                    "export {TOKEN_ENV} with one of the aggregator's management API tokens \
                     (it is read from the environment only, never a flag, to keep it out of \
                     shell history)"
                ),
            ));
        }
        let well_formed = token
            .trim_end_matches('=')
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b));
        let mut authorization = HeaderValue::from_str(&format!("Bearer {token}"))
            .ok()
            .filter(|_| well_formed)
            .ok_or_else(|| {
                hinted(
                    format!("{TOKEN_ENV} is not a bearer token"),
                    "a token is letters, digits and -._~+/, then optional = padding",
                )
            })?;
        authorization.set_sensitive(true);
        let mut base = base.clone();
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let http = dyad_http_client::http_client(USER_AGENT, None, extra_roots)
            .context("setting up the HTTP client")?;
        Ok(Self {
            base,
            http,
            authorization,
        })
    }

    /// The API's base URL (ending in `/`).
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// `GET path` as JSON.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let body = self.request(Method::GET, path, None).await?;
        decode(&Method::GET, path, &body)
    }

    /// `GET path` as JSON, `None` if the API answers 404.
    pub async fn get_if_found<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<Option<T>> {
        match self.request(Method::GET, path, None).await {
            Ok(body) => decode(&Method::GET, path, &body).map(Some),
            Err(error) if is_not_found(&error) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// `method path` with `body` as JSON; the answer as JSON.
    pub async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        let answer = self.send_empty(method.clone(), path, body).await?;
        decode(&method, path, &answer)
    }

    /// `method path` with `body` as JSON; the answer's body, unread.
    pub async fn send_empty<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> anyhow::Result<Vec<u8>> {
        let body = serde_json::to_vec(body).context("encoding the request")?;
        self.request(method, path, Some(body)).await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> anyhow::Result<()> {
        self.request(Method::DELETE, path, None).await.map(drop)
    }

    /// Sends one request; the body of a 2xx answer, else the error saying
    /// why.
    async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> anyhow::Result<Vec<u8>> {
        let url = self
            .base
            .join(path)
            .with_context(|| format!("{path} under --api {}", self.base))?;
        let mut request = self
            .http
            .request(method.clone(), url)
            .header(AUTHORIZATION, self.authorization.clone())
            .header(ACCEPT, MEDIA_TYPE);
        if let Some(body) = body {
            request = request.header(CONTENT_TYPE, MEDIA_TYPE).body(body);
        }
        tracing::debug!(%method, path, "management API request");
        let response = request.send().await.map_err(|error| {
            hinted(
                format!(
                    "cannot reach the management API at {}: {}",
                    self.base,
                    crate::hints::root_cause(&error)
                ),
                "check --api: the management_listen_address of a `dyad serve` running the \
                 management-api role",
            )
        })?;
        let status = response.status();
        let body = dyad_http_client::read_body(response, MAX_ANSWER_LEN)
            .await
            .map_err(|error| match error {
                dyad_http_client::BodyError::TooLarge { limit } => anyhow::anyhow!(
                    "the management API's answer to {method} {path} is over {limit} bytes"
                ),
                dyad_http_client::BodyError::Http(error) => anyhow::anyhow!(
                    "reading the management API's answer to {method} {path}: {}",
                    crate::hints::root_cause(&error)
                ),
            })?;
        if status.is_success() {
            return Ok(body);
        }
        Err(refusal(status, &body))
    }
}

/// Whether `error` is the API's 404.
pub fn is_not_found(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<ApiAnswer>()
        .is_some_and(|answer| answer.status == StatusCode::NOT_FOUND)
}

/// The error for a non-success answer: a refused token and a server that
/// does not speak the API get their own words; every other answer says the
/// status and the server's `detail`.
fn refusal(status: StatusCode, body: &[u8]) -> anyhow::Error {
    match status {
        StatusCode::UNAUTHORIZED => hinted(
            "the management API refused the token",
            format!(
                "{TOKEN_ENV} must hold one of the aggregator's management API tokens \
                 (management_api.auth_tokens, or DYAD_API_TOKENS where it runs)"
            ),
        ),
        StatusCode::NOT_ACCEPTABLE | StatusCode::UNSUPPORTED_MEDIA_TYPE => hinted(
            format!("the server at --api does not speak the management API (it answered {status})"),
            "check --api: the management_listen_address, not the DAP listener",
        ),
        _ => anyhow::Error::new(ApiAnswer {
            status,
            detail: detail(body),
        }),
    }
}

/// What an error body says: a problem document's `detail` (or `title`),
/// or short plain text as it is.
fn detail(body: &[u8]) -> Option<String> {
    if let Ok(document) = serde_json::from_slice::<serde_json::Value>(body) {
        return ["detail", "title"]
            .iter()
            .find_map(|member| document.get(member)?.as_str())
            .map(str::to_owned);
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    (!text.is_empty() && text.len() <= 1000 && !text.contains('\n')).then(|| text.to_owned())
}

fn decode<T: DeserializeOwned>(method: &Method, path: &str, body: &[u8]) -> anyhow::Result<T> {
    serde_json::from_slice(body).with_context(|| {
        format!("the management API's answer to {method} /{path} is not in the form dyad expects")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        "http://127.0.0.1:9/api".parse().unwrap()
    }

    fn rendered(error: &anyhow::Error) -> String {
        crate::report::render(error)
    }

    #[test]
    fn no_token_says_which_variable_to_set() {
        let error = ManagementClient::with_token(&base(), "", Vec::new()).unwrap_err();
        let shown = rendered(&error);
        assert!(
            shown.starts_with("error: --api needs a token: DYAD_API_TOKEN is not set\n"),
            "{shown}"
        );
        assert!(shown.contains("hint: export DYAD_API_TOKEN"), "{shown}");
    }

    #[test]
    fn a_malformed_token_is_refused_without_echoing_it() {
        for bad in ["sec ret", "secret\u{7f}", "bad=token"] {
            let error = ManagementClient::with_token(&base(), bad, Vec::new()).unwrap_err();
            let shown = rendered(&error);
            assert!(
                shown.starts_with("error: DYAD_API_TOKEN is not a bearer token"),
                "{shown}"
            );
            assert!(!shown.contains(bad), "{shown}");
        }
    }

    #[test]
    fn the_base_gets_a_trailing_slash_and_the_token_is_never_shown() {
        let client = ManagementClient::with_token(&base(), "s3cr3t-token==", Vec::new()).unwrap();
        assert_eq!(client.base().as_str(), "http://127.0.0.1:9/api/");
        assert!(client.authorization.is_sensitive());
        assert!(!format!("{client:?}").contains("s3cr3t"));
    }

    #[test]
    fn a_refused_token_and_a_problem_document_are_one_line_each() {
        let shown = rendered(&refusal(StatusCode::UNAUTHORIZED, b""));
        assert!(
            shown.starts_with("error: the management API refused the token\nhint: "),
            "{shown}"
        );
        let document = br#"{"type":"about:blank","title":"Bad Request","status":400,"detail":"unknown kem_id \"X\""}"#;
        assert_eq!(
            rendered(&refusal(StatusCode::BAD_REQUEST, document)),
            "error: the management API answered 400 Bad Request: unknown kem_id \"X\"\n"
        );
        assert_eq!(
            rendered(&refusal(StatusCode::CONFLICT, b"task exists\n")),
            "error: the management API answered 409 Conflict: task exists\n"
        );
        assert!(is_not_found(&refusal(StatusCode::NOT_FOUND, b"")));
        assert!(!is_not_found(&refusal(StatusCode::BAD_REQUEST, b"")));
    }
}
