//! The management API's OpenAPI 3.1 document ([`DOCUMENT`], the file
//! `openapi.json` beside this one, compiled in) and `GET /openapi.json`,
//! which serves it. The document is the API's contract: every route, every
//! request body, every response per status, with JSON Schema (draft
//! 2020-12) schemas precise enough that the management tests validate every
//! answer they see against it (`openapi_contract`), so it cannot drift from
//! the code.
//!
//! `GET /openapi.json` sits behind the same guard as every route (bearer
//! token, then `Accept` exactly the API's versioned media type): the
//! management listener answers nothing without a token, whoever asks, and
//! one rule is easier to audit than an exception. The document holds no
//! secret; whoever has no token reads the same file in dyad's source.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// The OpenAPI document, as checked in.
pub const DOCUMENT: &str = include_str!("openapi.json");

/// `GET /openapi.json`: [`DOCUMENT`] (the guard sets the content type).
pub async fn document() -> Response {
    (StatusCode::OK, DOCUMENT).into_response()
}
