//! Tests of request authentication tokens (DAP-09 section 3.1).

use super::*;

fn headers<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Iterator<Item = (&'a str, &'a [u8])> {
    pairs.iter().map(|(n, v)| (*n, v.as_bytes()))
}

#[test]
fn header_name_and_value() {
    let dap = AuthenticationToken::new_dap_auth("s3cr3t.token").unwrap();
    assert_eq!(dap.header_name(), "DAP-Auth-Token");
    assert_eq!(dap.header_value().as_str(), "s3cr3t.token");
    let bearer = AuthenticationToken::new_bearer("abc-DEF_123~+/==").unwrap();
    assert_eq!(bearer.header_name(), "Authorization");
    assert_eq!(bearer.header_value().as_str(), "Bearer abc-DEF_123~+/==");
}

#[test]
fn tokens_are_checked_for_their_header() {
    use AuthenticationTokenError::*;
    use AuthenticationTokenType::*;
    assert_eq!(
        AuthenticationToken::new_dap_auth("").unwrap_err(),
        Empty(DapAuth)
    );
    assert_eq!(
        AuthenticationToken::new_dap_auth("has space").unwrap_err(),
        InvalidCharacter(DapAuth)
    );
    assert_eq!(
        AuthenticationToken::new_dap_auth("line\nbreak").unwrap_err(),
        InvalidCharacter(DapAuth)
    );
    assert_eq!(
        AuthenticationToken::new_dap_auth("ünïcode").unwrap_err(),
        InvalidCharacter(DapAuth)
    );
    // Visible ASCII that a bearer token may not hold is fine in DAP-Auth-Token.
    assert!(AuthenticationToken::new_dap_auth("a!b@c#").is_ok());
    assert_eq!(
        AuthenticationToken::new_bearer("a!b").unwrap_err(),
        InvalidCharacter(Bearer)
    );
    assert_eq!(
        AuthenticationToken::new_bearer("ab=c").unwrap_err(),
        InvalidCharacter(Bearer)
    );
    assert_eq!(
        AuthenticationToken::new_bearer("==").unwrap_err(),
        InvalidCharacter(Bearer)
    );
    assert_eq!(
        AuthenticationToken::new_bearer("").unwrap_err(),
        Empty(Bearer)
    );
}

#[test]
fn random_tokens_are_distinct_and_valid_both_ways() {
    for kind in [
        AuthenticationTokenType::DapAuth,
        AuthenticationTokenType::Bearer,
    ] {
        let a = AuthenticationToken::random(kind);
        let b = AuthenticationToken::random(kind);
        assert_eq!(a.kind(), kind);
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 43);
        AuthenticationToken::new(AuthenticationTokenType::DapAuth, a.as_str()).unwrap();
        AuthenticationToken::new(AuthenticationTokenType::Bearer, a.as_str()).unwrap();
    }
}

#[test]
fn tokens_parse_from_request_headers() {
    let parse = |pairs: &[(&str, &str)]| AuthenticationToken::from_request_headers(headers(pairs));
    assert_eq!(
        parse(&[("content-type", "x"), ("dap-auth-token", " tok ")]).unwrap(),
        Some(AuthenticationToken::new_dap_auth("tok").unwrap())
    );
    assert_eq!(
        parse(&[("AUTHORIZATION", "bEaReR   tok")]).unwrap(),
        Some(AuthenticationToken::new_bearer("tok").unwrap())
    );
    assert_eq!(
        parse(&[("Authorization", "Basic dXNlcjpwYXNz")]).unwrap(),
        None
    );
    assert_eq!(parse(&[("Authorization", "Bearertok")]).unwrap(), None);
    assert_eq!(parse(&[]).unwrap(), None);
    assert_eq!(
        parse(&[("DAP-Auth-Token", "a"), ("Authorization", "Bearer b")]).unwrap_err(),
        AuthenticationTokenError::Ambiguous
    );
    assert_eq!(
        parse(&[("DAP-Auth-Token", "a"), ("DAP-Auth-Token", "a")]).unwrap_err(),
        AuthenticationTokenError::Ambiguous
    );
    assert_eq!(
        parse(&[("DAP-Auth-Token", "")]).unwrap_err(),
        AuthenticationTokenError::Empty(AuthenticationTokenType::DapAuth)
    );
    assert_eq!(
        parse(&[("Authorization", "Bearer a!b")]).unwrap_err(),
        AuthenticationTokenError::InvalidCharacter(AuthenticationTokenType::Bearer)
    );
    let raw = [("DAP-Auth-Token", &[0xff_u8, 0x41][..])];
    assert!(AuthenticationToken::from_request_headers(raw.iter().copied()).is_err());
}

#[test]
fn rendered_header_parses_back() {
    for kind in [
        AuthenticationTokenType::DapAuth,
        AuthenticationTokenType::Bearer,
    ] {
        let token = AuthenticationToken::random(kind);
        let value = token.header_value();
        let parsed =
            AuthenticationToken::from_request_headers([(token.header_name(), value.as_bytes())])
                .unwrap();
        assert_eq!(parsed, Some(token));
    }
}

#[test]
fn equality_needs_same_kind_and_bytes() {
    let a = AuthenticationToken::new_dap_auth("abc").unwrap();
    assert_eq!(a, AuthenticationToken::new_dap_auth("abc").unwrap());
    assert_ne!(a, AuthenticationToken::new_dap_auth("abd").unwrap());
    assert_ne!(a, AuthenticationToken::new_dap_auth("abcd").unwrap());
    assert_ne!(a, AuthenticationToken::new_bearer("abc").unwrap());
}

#[test]
fn hashes_verify_only_the_right_token() {
    let token = AuthenticationToken::new_bearer("the-token").unwrap();
    let hash = token.hash();
    // SHA-256("the-token")
    let expected: [u8; 32] = Sha256::digest(b"the-token").into();
    assert_eq!(hash.digest(), &expected);
    assert!(hash.validate(&token));
    assert!(!hash.validate(&AuthenticationToken::new_bearer("the-tokem").unwrap()));
    assert!(!hash.validate(&AuthenticationToken::new_dap_auth("the-token").unwrap()));
    assert_eq!(
        AuthenticationTokenHash::from_digest(AuthenticationTokenType::Bearer, &expected).unwrap(),
        hash
    );
    assert_eq!(
        AuthenticationTokenHash::from_digest(AuthenticationTokenType::Bearer, &expected[..31])
            .unwrap_err(),
        AuthenticationTokenError::InvalidHash(31)
    );
    let stored = StoredAuthenticationToken::Hash(hash.clone());
    assert!(stored.validate(&token));
    assert!(stored.token().is_none());
    let stored = StoredAuthenticationToken::from(token.clone());
    assert!(stored.validate(&token));
    assert_eq!(stored.hash(), hash);
}

#[test]
fn debug_and_display_are_redacted() {
    let token = AuthenticationToken::new_dap_auth("VERYSECRETVALUE").unwrap();
    let hash = token.hash();
    let b64 = BASE64URL.encode(token.as_bytes());
    let hash_b64 = BASE64URL.encode(hash.digest());
    let hash_hex: String = hash.digest().iter().map(|b| format!("{b:02x}")).collect();
    for text in [
        format!("{token:?}"),
        format!("{token:#?}"),
        format!("{token}"),
        format!("{hash:?}"),
        format!("{:?}", StoredAuthenticationToken::Token(token.clone())),
        format!("{:?}", AuthenticationTokenError::Empty(token.kind())),
    ] {
        assert!(!text.contains("VERYSECRET"), "{text}");
        assert!(!text.contains(&b64), "{text}");
        assert!(!text.contains(&hash_b64), "{text}");
        assert!(!text.contains(&hash_hex), "{text}");
    }
    assert_eq!(format!("{token:?}"), "DapAuth(<redacted>)");
    assert_eq!(format!("{token}"), "DAP-Auth-Token token <redacted>");
}

#[test]
fn serde_forms() {
    let token = AuthenticationToken::new_bearer("tok+/=").unwrap();
    let json = serde_json::to_value(&token).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"type": "Bearer", "token": BASE64URL.encode("tok+/=")})
    );
    assert_eq!(
        serde_json::from_value::<AuthenticationToken>(json).unwrap(),
        token
    );

    let stored: StoredAuthenticationToken =
        serde_yaml::from_str(&serde_yaml::to_string(&token.hash()).unwrap()).unwrap();
    assert_eq!(stored, StoredAuthenticationToken::Hash(token.hash()));
    let stored_token = StoredAuthenticationToken::Token(token.clone());
    let back: StoredAuthenticationToken =
        serde_json::from_str(&serde_json::to_string(&stored_token).unwrap()).unwrap();
    assert_eq!(back, stored_token);

    // A token whose bytes are not valid for its header is refused on load.
    let bad = serde_json::json!({"type": "Bearer", "token": BASE64URL.encode("a b")});
    assert!(serde_json::from_value::<AuthenticationToken>(bad).is_err());
    // Both or neither of token and hash.
    let both =
        serde_json::json!({"type": "DapAuth", "token": "YQ", "hash": BASE64URL.encode([0u8; 32])});
    assert!(serde_json::from_value::<StoredAuthenticationToken>(both).is_err());
    let neither = serde_json::json!({"type": "DapAuth"});
    assert!(serde_json::from_value::<StoredAuthenticationToken>(neither).is_err());
    let short = serde_json::json!({"type": "DapAuth", "hash": "YQ"});
    assert!(serde_json::from_value::<StoredAuthenticationToken>(short).is_err());
    // A decoding error does not echo the (secret) input.
    let err = serde_json::from_value::<AuthenticationToken>(
        serde_json::json!({"type": "DapAuth", "token": "SECRET!!"}),
    )
    .unwrap_err();
    assert!(!err.to_string().contains("SECRET"), "{err}");
}
