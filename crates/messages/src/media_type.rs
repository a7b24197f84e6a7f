//! HTTP media types of the DAP-09 protocol messages (DAP-09 section 8.1), and
//! of problem documents (RFC 9457).
//!
//! [`DapMediaType`] names each message's type; [`DapMediaType::parse`] reads a
//! `Content-Type` (or `Accept` element) value as HTTP does: type and subtype
//! compared case-insensitively, surrounding whitespace and any parameters
//! (`; charset=...`) ignored.

use crate::draft09::{
    AggregateShare, AggregateShareReq, AggregationJobContinueReq, AggregationJobInitReq,
    AggregationJobResp, Collection, CollectionReq, HpkeConfigList, Report,
};
use std::fmt;
use std::str::FromStr;

/// `application/problem+json` (RFC 9457), the media type of error responses.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The media type of each DAP-09 protocol message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DapMediaType {
    /// `application/dap-hpke-config-list`: [`HpkeConfigList`].
    HpkeConfigList,
    /// `application/dap-report`: [`Report`].
    Report,
    /// `application/dap-aggregation-job-init-req`: [`AggregationJobInitReq`].
    AggregationJobInitReq,
    /// `application/dap-aggregation-job-resp`: [`AggregationJobResp`].
    AggregationJobResp,
    /// `application/dap-aggregation-job-continue-req`: [`AggregationJobContinueReq`].
    AggregationJobContinueReq,
    /// `application/dap-aggregate-share-req`: [`AggregateShareReq`].
    AggregateShareReq,
    /// `application/dap-aggregate-share`: [`AggregateShare`].
    AggregateShare,
    /// `application/dap-collect-req`: [`CollectionReq`].
    CollectionReq,
    /// `application/dap-collection`: [`Collection`].
    Collection,
}

/// A media type that is not one of DAP-09's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a DAP-09 media type: {0:?}")]
pub struct UnknownMediaType(pub String);

impl DapMediaType {
    /// Every DAP-09 media type.
    pub const ALL: [DapMediaType; 9] = [
        DapMediaType::HpkeConfigList,
        DapMediaType::Report,
        DapMediaType::AggregationJobInitReq,
        DapMediaType::AggregationJobResp,
        DapMediaType::AggregationJobContinueReq,
        DapMediaType::AggregateShareReq,
        DapMediaType::AggregateShare,
        DapMediaType::CollectionReq,
        DapMediaType::Collection,
    ];

    /// The media type as written in the spec (lower case, no parameters).
    pub const fn as_str(&self) -> &'static str {
        match self {
            DapMediaType::HpkeConfigList => "application/dap-hpke-config-list",
            DapMediaType::Report => "application/dap-report",
            DapMediaType::AggregationJobInitReq => "application/dap-aggregation-job-init-req",
            DapMediaType::AggregationJobResp => "application/dap-aggregation-job-resp",
            DapMediaType::AggregationJobContinueReq => {
                "application/dap-aggregation-job-continue-req"
            }
            DapMediaType::AggregateShareReq => "application/dap-aggregate-share-req",
            DapMediaType::AggregateShare => "application/dap-aggregate-share",
            DapMediaType::CollectionReq => "application/dap-collect-req",
            DapMediaType::Collection => "application/dap-collection",
        }
    }

    /// Parses a header value: `type/subtype` compared case-insensitively,
    /// optional whitespace around it, and parameters after `;` ignored.
    pub fn parse(header_value: &str) -> Result<DapMediaType, UnknownMediaType> {
        let essence = essence(header_value);
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(essence))
            .ok_or_else(|| UnknownMediaType(header_value.to_owned()))
    }

    /// Whether `header_value` names this media type (see [`DapMediaType::parse`]).
    pub fn matches(&self, header_value: &str) -> bool {
        self.as_str().eq_ignore_ascii_case(essence(header_value))
    }
}

/// The `type/subtype` part of a media type value, without parameters or
/// surrounding whitespace.
pub fn essence(header_value: &str) -> &str {
    header_value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim_matches(|c| c == ' ' || c == '\t')
}

/// Whether `header_value` is `application/problem+json` (with any parameters).
pub fn is_problem_json(header_value: &str) -> bool {
    PROBLEM_JSON.eq_ignore_ascii_case(essence(header_value))
}

impl fmt::Display for DapMediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DapMediaType {
    type Err = UnknownMediaType;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl AsRef<str> for DapMediaType {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

macro_rules! message_media_type {
    ($($message:ident),*) => {$(
        impl $message {
            /// This message's media type (DAP-09 section 8.1).
            pub const MEDIA_TYPE: &'static str = DapMediaType::$message.as_str();
        }
    )*};
}

message_media_type!(
    HpkeConfigList,
    Report,
    AggregationJobInitReq,
    AggregationJobResp,
    AggregationJobContinueReq,
    AggregateShareReq,
    AggregateShare,
    CollectionReq,
    Collection
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_media_type_parses_back() {
        for t in DapMediaType::ALL {
            assert_eq!(DapMediaType::parse(t.as_str()), Ok(t));
            assert!(t.as_str().starts_with("application/dap-"));
        }
        assert_eq!(Report::MEDIA_TYPE, "application/dap-report");
        assert_eq!(CollectionReq::MEDIA_TYPE, "application/dap-collect-req");
        assert_eq!(Collection::MEDIA_TYPE, "application/dap-collection");
    }

    #[test]
    fn parse_tolerates_case_whitespace_and_parameters() {
        assert_eq!(
            DapMediaType::parse(" Application/DAP-Report ; charset=utf-8"),
            Ok(DapMediaType::Report)
        );
        assert!(DapMediaType::AggregateShare.matches("application/dap-aggregate-share;x=y"));
        assert!(!DapMediaType::AggregateShare.matches("application/dap-aggregate-share-req"));
        assert!(DapMediaType::parse("application/dap-reports").is_err());
        assert!(DapMediaType::parse("").is_err());
        assert!(is_problem_json("application/problem+JSON; charset=utf-8"));
        assert!(!is_problem_json("application/json"));
    }
}
