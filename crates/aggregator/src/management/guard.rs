//! What every management request passes before its route, in this order
//! (the aggregator API's): a bearer token ([`authorize`], 401), then the
//! media types (406 unless `Accept` is exactly [`MEDIA_TYPE`]; 415 if a
//! `Content-Type` is sent and is not exactly it). Every response leaves
//! with `Content-Type: ` [`MEDIA_TYPE`], errors and empty bodies included.
//!
//! Tokens are compared in constant time, against every configured token
//! (so the time taken says nothing about which one nearly matched); no
//! token is ever logged.

use super::error::ManagementError;
use super::media_type::MEDIA_TYPE;
use super::state::ManagementState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

/// The checks above, then the route; the response's content type set.
/// Each request is logged with its method, path and status (at `debug`
/// for reads, which consoles poll; at `info` for changes, an audit trail).
pub async fn guard(State(state): State<ManagementState>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let mut response = match check(&state, request.headers()) {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    };
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
    let status = response.status().as_u16();
    if method == Method::GET {
        tracing::debug!(%method, path, status, "management request");
    } else {
        tracing::info!(%method, path, status, "management request");
    }
    response
}

fn check(state: &ManagementState, headers: &HeaderMap) -> Result<(), ManagementError> {
    if !authorize(headers, &state.tokens) {
        return Err(ManagementError::unauthorized());
    }
    let accept: Vec<_> = headers.get_all(header::ACCEPT).iter().collect();
    if accept.len() != 1 || accept[0] != MEDIA_TYPE {
        return Err(ManagementError::new(
            StatusCode::NOT_ACCEPTABLE,
            format!("send \"Accept: {MEDIA_TYPE}\": it is the only type this API answers in"),
        ));
    }
    if let Some(content_type) = headers.get(header::CONTENT_TYPE) {
        if content_type != MEDIA_TYPE {
            return Err(ManagementError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("a request body must be sent as \"Content-Type: {MEDIA_TYPE}\""),
            ));
        }
    }
    Ok(())
}

/// Whether `headers` carry `Authorization: Bearer <token>` (scheme in any
/// case; exactly one such header) with one of `tokens`.
pub fn authorize(headers: &HeaderMap, tokens: &[String]) -> bool {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return false;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let Some((scheme, presented)) = value.split_once(char::is_whitespace) else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return false;
    }
    let presented = presented.trim_start().as_bytes();
    // Every token is compared, whatever matched, so the time taken does
    // not depend on which one did.
    tokens.iter().fold(false, |found, token| {
        found | bool::from(token.as_bytes().ct_eq(presented))
    })
}
