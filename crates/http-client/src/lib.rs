//! The HTTP side that the DAP client (`dyad-client`) and collector
//! (`dyad-collector`) libraries share, so that both treat their peers'
//! answers and failures alike: an operator reads the same error for the same
//! fault whichever tool met it.
//!
//! Each library keeps its own error type; the functions here return small
//! errors of their own that each maps into it.
//!
//! # Where is
//!
//! - an aggregator's base URL and its DAP resources (DAP-09 section 4.3) ->
//!   [`endpoint_base`], [`resource`];
//! - the request authentication header (DAP-09 section 3.1), marked
//!   sensitive -> [`auth_header`];
//! - the built-in HTTP client (no redirects, timeouts, extra roots) ->
//!   [`http_client`];
//! - a body read under a cap -> [`read_body`];
//! - an error answer and its problem document (DAP-09 section 3.2) ->
//!   [`error_response()`], [`ErrorResponse`]; its `Retry-After` ->
//!   [`retry_after`];
//! - which transport failures are worth retrying: a refused certificate
//!   never, a cut answer like a lost connection -> [`transport_class`]
//!   (with [`certificate_refused`], [`cut_mid_body`]);
//! - retrying transient failures under a policy -> [`with_retry`], telling
//!   each retry as a [`RetryNotice`].

mod auth;
mod body;
mod endpoint;
mod error_response;
mod retry;
mod setup;
mod transport;

pub use auth::auth_header;
pub use body::{read_body, BodyError};
pub use endpoint::{endpoint_base, resource, InvalidEndpoint};
pub use error_response::{error_response, retry_after, ErrorResponse, MAX_ERROR_BODY_LEN};
pub use retry::{with_retry, RetryNotice};
pub use setup::{http_client, HttpClientError};
pub use transport::{certificate_refused, cut_mid_body, transport_class};
