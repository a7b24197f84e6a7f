//! The plumbing every interop test API server shares
//! (draft-dcook-ppm-dap-interop-test-design-07 section 4, "Interoperation
//! Test API"): reading a request's JSON object, answering with a JSON object
//! carrying a `status`, the `/internal/test/ready` command, the 404 answer
//! for unknown `/internal/test/` paths, base64url blobs and the
//! integers-as-decimal-strings rule.
//!
//! Every recognised command answers 200 OK, whether the DAP work behind it
//! succeeded or not: the outcome is the body's `status` (section 4: "200 OK
//! if the command was received, recognized, and parsed"). A body that does
//! not parse is still a recognised command, so it also gets 200, with
//! `"status": "error"` and a message saying what was wrong, which the test
//! runner shows in its logs.

use anyhow::{anyhow, bail, Context as _};
use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::Router;
use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use serde_json::{Map, Value};
use std::fmt;
use std::future::Future;
use url::Url;

/// The prefix of every interop test API path.
pub const PREFIX: &str = "/internal/test";

/// base64url (RFC 4648 section 5) as the interop API writes blobs: unpadded
/// on output; padding is tolerated on input, since the draft does not say.
const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The JSON object answering a command; always sent with 200 OK.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply(Map<String, Value>);

impl Reply {
    /// A reply with this `status` and nothing else.
    pub fn status(status: &str) -> Self {
        let mut map = Map::new();
        map.insert("status".to_owned(), Value::from(status));
        Self(map)
    }

    /// `{"status": "success"}`.
    pub fn success() -> Self {
        Self::status("success")
    }

    /// `{"status": "error", "error": message}`.
    pub fn error(message: impl fmt::Display) -> Self {
        Self::status("error").with("error", message.to_string())
    }

    /// The reply with one more member.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.0.insert(key.to_owned(), value.into());
        self
    }

    /// The reply's JSON object.
    pub fn into_json(self) -> Value {
        Value::Object(self.0)
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        json_response(StatusCode::OK, &self.into_json())
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    // Serializing a `Value` cannot fail.
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Runs a command's body; a failure becomes `{"status": "error"}` with the
/// whole error chain as the message (and a warning in the log).
pub async fn answer<F>(command: &'static str, work: F) -> Reply
where
    F: Future<Output = anyhow::Result<Reply>>,
{
    match work.await {
        Ok(reply) => reply,
        Err(error) => {
            let message = format!("{error:#}");
            tracing::warn!(command, error = %message, "interop command failed");
            Reply::error(message)
        }
    }
}

/// A command's JSON object, read member by member so that every error
/// names the member at fault. Errors never repeat a string member's value
/// (it may be a token).
#[derive(Clone, Debug)]
pub struct Request(Map<String, Value>);

impl Request {
    /// Parses a request body, which must be a JSON object.
    pub fn parse(body: &[u8]) -> anyhow::Result<Self> {
        match serde_json::from_slice(body) {
            Ok(Value::Object(object)) => Ok(Self(object)),
            Ok(_) => bail!("the request body must be a JSON object"),
            Err(e) => bail!("the request body is not JSON: {e}"),
        }
    }

    /// A JSON value that must be an object (a nested query, say).
    pub fn from_value(what: &str, value: &Value) -> anyhow::Result<Self> {
        match value {
            Value::Object(object) => Ok(Self(object.clone())),
            _ => bail!("{what} must be an object"),
        }
    }

    /// A required member.
    pub fn value(&self, key: &str) -> anyhow::Result<&Value> {
        self.optional(key).with_context(|| format!("missing {key}"))
    }

    /// A member that may be absent (or null).
    pub fn optional(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|value| !value.is_null())
    }

    /// A required string member.
    pub fn string(&self, key: &str) -> anyhow::Result<&str> {
        self.value(key)?
            .as_str()
            .with_context(|| format!("{key} must be a string"))
    }

    /// An optional string member.
    pub fn optional_string(&self, key: &str) -> anyhow::Result<Option<&str>> {
        self.optional(key)
            .map(|value| {
                value
                    .as_str()
                    .with_context(|| format!("{key} must be a string"))
            })
            .transpose()
    }

    /// A required non-negative integer, a JSON number (the draft writes
    /// task parameters, times and query fields as numbers).
    pub fn number(&self, key: &str) -> anyhow::Result<u64> {
        number(key, self.value(key)?)
    }

    /// An optional non-negative integer (absent or null: `None`).
    pub fn optional_number(&self, key: &str) -> anyhow::Result<Option<u64>> {
        self.optional(key)
            .map(|value| number(key, value))
            .transpose()
    }

    /// A required base64url member, decoded.
    pub fn base64(&self, key: &str) -> anyhow::Result<Vec<u8>> {
        decode_base64(key, self.string(key)?)
    }

    /// A required base64url identifier (task ID, batch ID).
    pub fn id<T>(&self, key: &str) -> anyhow::Result<T>
    where
        T: for<'a> TryFrom<&'a [u8]>,
        for<'a> <T as TryFrom<&'a [u8]>>::Error: fmt::Display,
    {
        parse_id(key, self.string(key)?)
    }

    /// A required absolute http(s) URL.
    pub fn url(&self, key: &str) -> anyhow::Result<Url> {
        let text = self.string(key)?;
        let url = Url::parse(text).map_err(|e| anyhow!("{key} is not an absolute URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            bail!("{key} must be an http or https URL");
        }
        Ok(url)
    }
}

fn number(key: &str, value: &Value) -> anyhow::Result<u64> {
    value
        .as_u64()
        .with_context(|| format!("{key} must be a non-negative integer JSON number, not {value}"))
}

/// Decodes a base64url blob (named `what` in errors).
pub fn decode_base64(what: &str, text: &str) -> anyhow::Result<Vec<u8>> {
    BASE64URL
        .decode(text)
        .map_err(|e| anyhow!("{what} is not base64url: {e}"))
}

/// Encodes a blob as unpadded base64url.
pub fn encode_base64(bytes: &[u8]) -> String {
    BASE64URL.encode(bytes)
}

/// Parses a base64url identifier (task ID, batch ID) of its fixed length.
pub fn parse_id<T>(what: &str, text: &str) -> anyhow::Result<T>
where
    T: for<'a> TryFrom<&'a [u8]>,
    for<'a> <T as TryFrom<&'a [u8]>>::Error: fmt::Display,
{
    let bytes = decode_base64(what, text)?;
    T::try_from(bytes.as_slice()).map_err(|e| anyhow!("{what}: {e}"))
}

/// An integer written in base 10 as a JSON string (section 4: "Any integer
/// values in the parameters, measurement, or aggregate result of a VDAF
/// will be encoded as strings in base 10"). Only ASCII digits: no sign, no
/// spaces, no JSON number.
pub fn decimal_string<T: std::str::FromStr>(what: &str, value: &Value) -> anyhow::Result<T> {
    let Value::String(text) = value else {
        bail!("{what} must be an integer written as a base-10 string, not {value}");
    };
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        bail!("{what} must be a base-10 integer, not {text:?}");
    }
    text.parse()
        .map_err(|_| anyhow!("{what} {text} is out of range"))
}

/// An array of base-10 strings.
pub fn decimal_strings<T: std::str::FromStr>(what: &str, value: &Value) -> anyhow::Result<Vec<T>> {
    let Value::Array(items) = value else {
        bail!("{what} must be an array of base-10 strings, not {value}");
    };
    items
        .iter()
        .enumerate()
        .map(|(index, item)| decimal_string(&format!("{what}[{index}]"), item))
        .collect()
}

/// `/internal/test/ready` (sections 4.2.1, 4.3.1 and 4.4.1): 200 OK once
/// the server serves requests.
pub async fn ready() -> Reply {
    Reply::success()
}

/// The answer to any other path below `/internal/test/` (section 4: "a
/// status code of 404 Not Found SHOULD be returned").
async fn unknown_command() -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        &Reply::error("no such interop test API command").into_json(),
    )
}

/// The routes every role shares: `ready` and the 404 for unknown commands.
/// Each role adds its own commands (as `POST` routes under [`PREFIX`]).
pub fn base_router() -> Router {
    Router::new()
        .route(&format!("{PREFIX}/ready"), post(ready))
        .route(&format!("{PREFIX}/{{*command}}"), any(unknown_command))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decimal_strings_are_strict() {
        assert_eq!(decimal_string::<u64>("x", &json!("42")).unwrap(), 42);
        assert_eq!(decimal_string::<u8>("x", &json!("007")).unwrap(), 7);
        for bad in [
            json!(42),
            json!("-1"),
            json!("+1"),
            json!(" 1"),
            json!(""),
            json!("1e3"),
            json!(null),
        ] {
            assert!(decimal_string::<u64>("x", &bad).is_err(), "{bad}");
        }
        let error = decimal_string::<u8>("bits", &json!("256")).unwrap_err();
        assert!(error.to_string().contains("out of range"), "{error}");
        assert_eq!(
            decimal_strings::<u128>("m", &json!(["1", "2"])).unwrap(),
            vec![1, 2]
        );
        let error = decimal_strings::<u128>("m", &json!(["1", 2])).unwrap_err();
        assert!(error.to_string().contains("m[1]"), "{error}");
        assert!(decimal_strings::<u128>("m", &json!("1,2")).is_err());
    }

    #[test]
    fn base64url_is_decoded_with_or_without_padding_and_encoded_without() {
        assert_eq!(decode_base64("x", "_-8").unwrap(), vec![0xff, 0xef]);
        assert_eq!(decode_base64("x", "_-8=").unwrap(), vec![0xff, 0xef]);
        assert_eq!(encode_base64(&[0xff, 0xef]), "_-8");
        let error = decode_base64("task_id", "a+b/").unwrap_err();
        assert!(error.to_string().contains("task_id"), "{error}");
        let error = parse_id::<dyad_messages::draft09::TaskId>("task_id", "AAAA").unwrap_err();
        assert!(error.to_string().contains("32"), "{error}");
    }

    #[test]
    fn request_members_are_checked_and_named() {
        let request = Request::parse(
            br#"{"n": 3, "s": "x", "neg": -1, "str_n": "3", "null": null, "u": "http://a.example/", "rel": "/x", "tok": 5}"#,
        )
        .unwrap();
        assert_eq!(request.number("n").unwrap(), 3);
        assert_eq!(request.optional_number("null").unwrap(), None);
        assert_eq!(request.optional_number("absent").unwrap(), None);
        assert_eq!(request.string("s").unwrap(), "x");
        assert_eq!(request.url("u").unwrap().as_str(), "http://a.example/");
        for (result, needle) in [
            (
                request.number("neg").map(drop),
                "neg must be a non-negative integer",
            ),
            (
                request.number("str_n").map(drop),
                "str_n must be a non-negative integer",
            ),
            (request.number("absent").map(drop), "missing absent"),
            (request.string("tok").map(drop), "tok must be a string"),
            (request.url("rel").map(drop), "rel is not an absolute URL"),
            (request.url("s").map(drop), "s is not an absolute URL"),
        ] {
            let error = result.unwrap_err().to_string();
            assert!(error.contains(needle), "{needle}: {error}");
        }
        assert!(Request::parse(b"[1]").is_err());
        assert!(Request::parse(b"{").is_err());
        assert!(Request::parse(b"").is_err());
    }

    #[test]
    fn replies_are_status_objects() {
        assert_eq!(Reply::success().into_json(), json!({"status": "success"}));
        assert_eq!(
            Reply::error("boom").with("x", 1).into_json(),
            json!({"status": "error", "error": "boom", "x": 1})
        );
    }
}
