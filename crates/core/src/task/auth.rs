//! Request authentication tokens (DAP-09 section 3.1, "HTTPS Request
//! Authentication"): the Leader authenticates to the Helper, and the
//! Collector to the Leader, by presenting a shared secret token.
//!
//! Two ways of presenting one are supported:
//! - the `DAP-Auth-Token` header, whose value is the token
//!   (draft-dcook-ppm-dap-interop-test-design, named by DAP-09 section 3.1);
//! - `Authorization: Bearer <token>` (RFC 6750 section 2.1).
//!
//! [`AuthenticationToken`] is the token itself, for the party that presents
//! it; [`AuthenticationTokenHash`] is its SHA-256 digest, all a party that
//! only verifies needs to keep; [`StoredAuthenticationToken`] is either, as a
//! task stores it. Tokens are redacted in `Debug` and `Display`, compared in
//! constant time, zeroized on drop, and serialized as base64url strings.
//!
//! # Where is
//!
//! - a token's allowed characters -> [`AuthenticationToken::new`];
//! - the token of a request, either header (the `Bearer` scheme stripped) ->
//!   [`AuthenticationToken::from_request_headers`];
//! - the header a token goes in -> [`AuthenticationToken::header_name`],
//!   [`AuthenticationToken::header_value`];
//! - keeping only a digest, checked in constant time ->
//!   [`AuthenticationToken::hash`], [`AuthenticationTokenHash::validate`].

use super::secret::{deserialize_secret, serialize_secret, BASE64URL};
use base64::Engine;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::{Choice, ConstantTimeEq};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// The header carrying a [`AuthenticationTokenType::DapAuth`] token.
pub const DAP_AUTH_HEADER: &str = "DAP-Auth-Token";
/// The header carrying a [`AuthenticationTokenType::Bearer`] token.
pub const AUTHORIZATION_HEADER: &str = "Authorization";

/// How many random bytes a generated token encodes (as unpadded base64url).
const RANDOM_TOKEN_BYTES: usize = 32;

/// Why a token, a token hash or a request's headers could not be used. No
/// variant carries token text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthenticationTokenError {
    /// The token is empty.
    #[error("{0} token is empty")]
    Empty(AuthenticationTokenType),
    /// The token has a character its header does not allow.
    #[error("{0} token contains a character that is not allowed")]
    InvalidCharacter(AuthenticationTokenType),
    /// A request carries more than one token.
    #[error("request carries more than one authentication token")]
    Ambiguous,
    /// A stored hash that is not a SHA-256 digest.
    #[error("authentication token hash must be 32 bytes, got {0}")]
    InvalidHash(usize),
}

/// The two ways of presenting a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuthenticationTokenType {
    /// `DAP-Auth-Token: <token>`.
    DapAuth,
    /// `Authorization: Bearer <token>`.
    Bearer,
}

impl AuthenticationTokenType {
    /// The name of the request header that carries the token.
    pub const fn header_name(&self) -> &'static str {
        match self {
            AuthenticationTokenType::DapAuth => DAP_AUTH_HEADER,
            AuthenticationTokenType::Bearer => AUTHORIZATION_HEADER,
        }
    }

    /// Checks that `token` may be sent this way. A `DAP-Auth-Token` value is
    /// any non-empty run of visible ASCII (it must be safe as an HTTP header
    /// value); a bearer token is RFC 6750's `b64token`:
    /// `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
    fn check(&self, token: &[u8]) -> Result<(), AuthenticationTokenError> {
        if token.is_empty() {
            return Err(AuthenticationTokenError::Empty(*self));
        }
        let valid = match self {
            AuthenticationTokenType::DapAuth => token.iter().all(|b| (0x21..=0x7e).contains(b)),
            AuthenticationTokenType::Bearer => {
                let body_len = token.len() - token.iter().rev().take_while(|&&b| b == b'=').count();
                body_len > 0
                    && token[..body_len]
                        .iter()
                        .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(b))
            }
        };
        if valid {
            Ok(())
        } else {
            Err(AuthenticationTokenError::InvalidCharacter(*self))
        }
    }
}

impl fmt::Display for AuthenticationTokenType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AuthenticationTokenType::DapAuth => "DAP-Auth-Token",
            AuthenticationTokenType::Bearer => "bearer",
        })
    }
}

/// The text of a `DAP-Auth-Token` token (checked when built).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct DapAuthToken(String);

/// The text of a bearer token (checked when built).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct BearerToken(String);

/// A request authentication token and the way it is presented.
#[derive(Clone)]
pub enum AuthenticationToken {
    /// Sent as `DAP-Auth-Token: <token>`.
    DapAuth(DapAuthToken),
    /// Sent as `Authorization: Bearer <token>`.
    Bearer(BearerToken),
}

impl AuthenticationToken {
    /// A token presented the given way, checked for the characters that way
    /// allows.
    pub fn new(
        kind: AuthenticationTokenType,
        token: impl Into<String>,
    ) -> Result<Self, AuthenticationTokenError> {
        let token = Zeroizing::new(token.into());
        kind.check(token.as_bytes())?;
        let token = String::clone(&token);
        Ok(match kind {
            AuthenticationTokenType::DapAuth => AuthenticationToken::DapAuth(DapAuthToken(token)),
            AuthenticationTokenType::Bearer => AuthenticationToken::Bearer(BearerToken(token)),
        })
    }

    /// A `DAP-Auth-Token` token.
    pub fn new_dap_auth(token: impl Into<String>) -> Result<Self, AuthenticationTokenError> {
        Self::new(AuthenticationTokenType::DapAuth, token)
    }

    /// A bearer token.
    pub fn new_bearer(token: impl Into<String>) -> Result<Self, AuthenticationTokenError> {
        Self::new(AuthenticationTokenType::Bearer, token)
    }

    /// A fresh token: 32 bytes from a cryptographically secure source, as
    /// unpadded base64url (valid both ways).
    pub fn random(kind: AuthenticationTokenType) -> Self {
        let mut bytes = Zeroizing::new([0u8; RANDOM_TOKEN_BYTES]);
        rand::Rng::fill(&mut rand::thread_rng(), bytes.as_mut_slice());
        let token = BASE64URL.encode(bytes.as_slice());
        match kind {
            AuthenticationTokenType::DapAuth => AuthenticationToken::DapAuth(DapAuthToken(token)),
            AuthenticationTokenType::Bearer => AuthenticationToken::Bearer(BearerToken(token)),
        }
    }

    /// How the token is presented.
    pub fn kind(&self) -> AuthenticationTokenType {
        match self {
            AuthenticationToken::DapAuth(_) => AuthenticationTokenType::DapAuth,
            AuthenticationToken::Bearer(_) => AuthenticationTokenType::Bearer,
        }
    }

    /// The token's text.
    pub fn as_str(&self) -> &str {
        match self {
            AuthenticationToken::DapAuth(DapAuthToken(token))
            | AuthenticationToken::Bearer(BearerToken(token)) => token,
        }
    }

    /// The token's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.as_str().as_bytes()
    }

    /// The name of the request header to send.
    pub fn header_name(&self) -> &'static str {
        self.kind().header_name()
    }

    /// The value of the request header to send: the token, or
    /// `Bearer <token>`.
    pub fn header_value(&self) -> Zeroizing<String> {
        Zeroizing::new(match self {
            AuthenticationToken::DapAuth(DapAuthToken(token)) => token.clone(),
            AuthenticationToken::Bearer(BearerToken(token)) => format!("Bearer {token}"),
        })
    }

    /// The token a request presents, from its header (name, value) pairs:
    /// `DAP-Auth-Token`, or `Authorization` with the `Bearer` scheme (names
    /// and the scheme are case-insensitive; surrounding whitespace is
    /// ignored). `Ok(None)` if there is none (an `Authorization` header with
    /// another scheme does not count); an error if a value is not a valid
    /// token, or if more than one token is presented.
    pub fn from_request_headers<'a, I>(headers: I) -> Result<Option<Self>, AuthenticationTokenError>
    where
        I: IntoIterator<Item = (&'a str, &'a [u8])>,
    {
        let mut found = None;
        for (name, value) in headers {
            let value = value.trim_ascii();
            let token = if name.eq_ignore_ascii_case(DAP_AUTH_HEADER) {
                Self::from_bytes(AuthenticationTokenType::DapAuth, value)?
            } else if name.eq_ignore_ascii_case(AUTHORIZATION_HEADER) {
                match strip_bearer_scheme(value) {
                    Some(token) => Self::from_bytes(AuthenticationTokenType::Bearer, token)?,
                    None => continue,
                }
            } else {
                continue;
            };
            if found.replace(token).is_some() {
                return Err(AuthenticationTokenError::Ambiguous);
            }
        }
        Ok(found)
    }

    fn from_bytes(
        kind: AuthenticationTokenType,
        bytes: &[u8],
    ) -> Result<Self, AuthenticationTokenError> {
        kind.check(bytes)?;
        // `check` admits only ASCII.
        let text = String::from_utf8(bytes.to_vec())
            .map_err(|_| AuthenticationTokenError::InvalidCharacter(kind))?;
        Self::new(kind, text)
    }

    /// The SHA-256 digest to store where the token is only verified.
    pub fn hash(&self) -> AuthenticationTokenHash {
        AuthenticationTokenHash {
            kind: self.kind(),
            digest: Sha256::digest(self.as_bytes()).into(),
        }
    }
}

/// `Bearer <token>` with any capitalization of the scheme and one or more
/// spaces (RFC 9110 section 11.4: `credentials = auth-scheme [ 1*SP token68 ]`).
fn strip_bearer_scheme(value: &[u8]) -> Option<&[u8]> {
    const SCHEME: &[u8] = b"bearer";
    if value.len() <= SCHEME.len() || !value[..SCHEME.len()].eq_ignore_ascii_case(SCHEME) {
        return None;
    }
    let rest = &value[SCHEME.len()..];
    if rest[0] != b' ' {
        return None;
    }
    Some(rest.trim_ascii_start())
}

/// Constant time in the contents: both tokens are hashed and the digests
/// compared, so neither the bytes nor the lengths leak through timing.
impl ConstantTimeEq for AuthenticationToken {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.hash().ct_eq(&other.hash())
    }
}

impl PartialEq for AuthenticationToken {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for AuthenticationToken {}

impl fmt::Debug for AuthenticationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthenticationToken::DapAuth(_) => f.write_str("DapAuth(<redacted>)"),
            AuthenticationToken::Bearer(_) => f.write_str("Bearer(<redacted>)"),
        }
    }
}

impl fmt::Display for AuthenticationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} token <redacted>", self.kind())
    }
}

/// The serialized form: `{type: DapAuth|Bearer, token: <base64url of the token's bytes>}`.
#[derive(Serialize)]
struct TokenRef<'a> {
    #[serde(rename = "type")]
    kind: AuthenticationTokenType,
    #[serde(serialize_with = "serialize_str_secret")]
    token: &'a str,
}

fn serialize_str_secret<S: Serializer>(token: &&str, s: S) -> Result<S::Ok, S::Error> {
    serialize_secret(token.as_bytes(), s)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenFields {
    #[serde(rename = "type")]
    kind: AuthenticationTokenType,
    #[serde(deserialize_with = "deserialize_token_bytes")]
    token: Zeroizing<Vec<u8>>,
}

fn deserialize_token_bytes<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Zeroizing<Vec<u8>>, D::Error> {
    deserialize_secret(d, "authentication token")
}

impl Serialize for AuthenticationToken {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        TokenRef {
            kind: self.kind(),
            token: self.as_str(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for AuthenticationToken {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let fields = TokenFields::deserialize(d)?;
        AuthenticationToken::from_bytes(fields.kind, &fields.token)
            .map_err(serde::de::Error::custom)
    }
}

/// The SHA-256 digest of a token, and how the token is presented: what a
/// party that only verifies a token keeps.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct AuthenticationTokenHash {
    #[zeroize(skip)]
    kind: AuthenticationTokenType,
    digest: [u8; 32],
}

impl AuthenticationTokenHash {
    /// A hash from a stored SHA-256 digest.
    pub fn from_digest(
        kind: AuthenticationTokenType,
        digest: &[u8],
    ) -> Result<Self, AuthenticationTokenError> {
        let digest = digest
            .try_into()
            .map_err(|_| AuthenticationTokenError::InvalidHash(digest.len()))?;
        Ok(Self { kind, digest })
    }

    /// How the token is presented.
    pub fn kind(&self) -> AuthenticationTokenType {
        self.kind
    }

    /// The digest.
    pub fn digest(&self) -> &[u8; 32] {
        &self.digest
    }

    /// Whether `presented` is the token this is the hash of, presented the
    /// same way. The digests are compared in constant time.
    pub fn validate(&self, presented: &AuthenticationToken) -> bool {
        self.ct_eq(&presented.hash()).into()
    }
}

impl ConstantTimeEq for AuthenticationTokenHash {
    fn ct_eq(&self, other: &Self) -> Choice {
        // How a token is presented is not secret.
        Choice::from(u8::from(self.kind == other.kind)) & self.digest.ct_eq(&other.digest)
    }
}

impl PartialEq for AuthenticationTokenHash {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for AuthenticationTokenHash {}

impl fmt::Debug for AuthenticationTokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuthenticationTokenHash({:?}, <redacted>)", self.kind)
    }
}

/// A token as a task stores it: the token itself, where this party presents
/// it, or only its hash, where this party only verifies it.
///
/// Serialized as `{type, token}` or `{type, hash}`, each a base64url string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoredAuthenticationToken {
    Token(AuthenticationToken),
    Hash(AuthenticationTokenHash),
}

impl StoredAuthenticationToken {
    /// How the token is presented.
    pub fn kind(&self) -> AuthenticationTokenType {
        match self {
            StoredAuthenticationToken::Token(token) => token.kind(),
            StoredAuthenticationToken::Hash(hash) => hash.kind(),
        }
    }

    /// The token itself, if it is stored.
    pub fn token(&self) -> Option<&AuthenticationToken> {
        match self {
            StoredAuthenticationToken::Token(token) => Some(token),
            StoredAuthenticationToken::Hash(_) => None,
        }
    }

    /// The token's hash.
    pub fn hash(&self) -> AuthenticationTokenHash {
        match self {
            StoredAuthenticationToken::Token(token) => token.hash(),
            StoredAuthenticationToken::Hash(hash) => hash.clone(),
        }
    }

    /// Whether `presented` is this token, compared in constant time.
    pub fn validate(&self, presented: &AuthenticationToken) -> bool {
        self.hash().validate(presented)
    }
}

impl From<AuthenticationToken> for StoredAuthenticationToken {
    fn from(token: AuthenticationToken) -> Self {
        StoredAuthenticationToken::Token(token)
    }
}

impl From<AuthenticationTokenHash> for StoredAuthenticationToken {
    fn from(hash: AuthenticationTokenHash) -> Self {
        StoredAuthenticationToken::Hash(hash)
    }
}

#[derive(Serialize)]
struct HashRef<'a> {
    #[serde(rename = "type")]
    kind: AuthenticationTokenType,
    #[serde(serialize_with = "serialize_digest")]
    hash: &'a [u8; 32],
}

fn serialize_digest<S: Serializer>(digest: &&[u8; 32], s: S) -> Result<S::Ok, S::Error> {
    serialize_secret(digest.as_slice(), s)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredFields {
    #[serde(rename = "type")]
    kind: AuthenticationTokenType,
    #[serde(default, deserialize_with = "deserialize_optional_token")]
    token: Option<Zeroizing<Vec<u8>>>,
    #[serde(default, deserialize_with = "deserialize_optional_hash")]
    hash: Option<Zeroizing<Vec<u8>>>,
}

fn deserialize_optional_token<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Zeroizing<Vec<u8>>>, D::Error> {
    deserialize_secret(d, "authentication token").map(Some)
}

fn deserialize_optional_hash<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Zeroizing<Vec<u8>>>, D::Error> {
    deserialize_secret(d, "authentication token hash").map(Some)
}

impl Serialize for AuthenticationTokenHash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        HashRef {
            kind: self.kind,
            hash: &self.digest,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for AuthenticationTokenHash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match StoredAuthenticationToken::deserialize(d)? {
            StoredAuthenticationToken::Hash(hash) => Ok(hash),
            StoredAuthenticationToken::Token(_) => Err(serde::de::Error::custom(
                "expected an authentication token hash, found a token",
            )),
        }
    }
}

impl Serialize for StoredAuthenticationToken {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            StoredAuthenticationToken::Token(token) => token.serialize(s),
            StoredAuthenticationToken::Hash(hash) => hash.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for StoredAuthenticationToken {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let fields = StoredFields::deserialize(d)?;
        match (fields.token, fields.hash) {
            (Some(token), None) => AuthenticationToken::from_bytes(fields.kind, &token)
                .map(StoredAuthenticationToken::Token)
                .map_err(D::Error::custom),
            (None, Some(digest)) => AuthenticationTokenHash::from_digest(fields.kind, &digest)
                .map(StoredAuthenticationToken::Hash)
                .map_err(D::Error::custom),
            _ => Err(D::Error::custom(
                "an authentication token needs exactly one of \"token\" and \"hash\"",
            )),
        }
    }
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
