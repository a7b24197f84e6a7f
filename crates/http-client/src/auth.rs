//! The header that authenticates a request (DAP-09 section 3.1): a
//! `DAP-Auth-Token` or an `Authorization: Bearer` token.
//!
//! # Where is
//!
//! - the header's name and value, marked sensitive so that HTTP libraries
//!   never print it -> [`auth_header`].

use dyad_core::task::{AuthenticationToken, AuthenticationTokenType};
use reqwest::header::{HeaderName, HeaderValue, InvalidHeaderValue};

/// The header presenting `token`, marked sensitive so that it is never
/// printed. Fails if the token is no valid header value (the caller says
/// which token).
pub fn auth_header(
    token: &AuthenticationToken,
) -> Result<(HeaderName, HeaderValue), InvalidHeaderValue> {
    let mut value = HeaderValue::from_str(&token.header_value())?;
    value.set_sensitive(true);
    // Lower case: `HeaderName::from_static` wants it.
    let name = match token.kind() {
        AuthenticationTokenType::DapAuth => "dap-auth-token",
        AuthenticationTokenType::Bearer => "authorization",
    };
    Ok((HeaderName::from_static(name), value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_headers_are_sensitive_and_named_for_their_kind() {
        let token = AuthenticationToken::new_bearer("collector-token").unwrap();
        let (name, value) = auth_header(&token).unwrap();
        assert_eq!(name, "authorization");
        assert_eq!(name.as_str(), token.header_name().to_ascii_lowercase());
        assert_eq!(value, "Bearer collector-token");
        assert!(value.is_sensitive());
        let token = AuthenticationToken::new_dap_auth("collector-token").unwrap();
        let (name, value) = auth_header(&token).unwrap();
        assert_eq!(name, "dap-auth-token");
        assert_eq!(value, "collector-token");
        assert!(value.is_sensitive());
    }
}
