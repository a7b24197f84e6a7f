//! [`MEDIA_TYPE`]: the one media type of the management API, of request
//! bodies and of every response (the aggregator API's, version 0.1).

/// The media type of every request body and response of the API, compared
/// as an exact string (no parameters reordered, no space).
pub const MEDIA_TYPE: &str = "application/vnd.janus.aggregator+json;version=0.1";
