//! DAP problem types (DAP-09 section 3.2, plus taskprov-06's `invalidTask`)
//! and the RFC 9457 problem document that carries them, with media type
//! `application/problem+json`.

use crate::ids::TaskId;
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;
use std::str::FromStr;

/// The URN namespace of DAP error types.
pub const DAP_ERROR_URN_PREFIX: &str = "urn:ietf:params:ppm:dap:error:";

/// A problem type of the DAP URN namespace (`urn:ietf:params:ppm:dap:error:*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DapProblemType {
    /// `invalidMessage`: a message could not be parsed or was otherwise invalid.
    InvalidMessage,
    /// `unrecognizedTask`: a message named an unknown task ID.
    UnrecognizedTask,
    /// `unrecognizedAggregationJob`: a message named an unknown aggregation job ID.
    UnrecognizedAggregationJob,
    /// `outdatedConfig`: the message was made with an outdated configuration.
    OutdatedConfig,
    /// `reportRejected`: the report could not be processed.
    ReportRejected,
    /// `reportTooEarly`: the report's timestamp is too far in the future.
    ReportTooEarly,
    /// `batchInvalid`: the batch boundary check of the query failed.
    BatchInvalid,
    /// `invalidBatchSize`: the batch holds an invalid number of reports.
    InvalidBatchSize,
    /// `batchQueriedTooManyTimes`: the batch's query limit was exceeded.
    BatchQueriedTooManyTimes,
    /// `batchMismatch`: the Aggregators disagree on the reports of a batch.
    BatchMismatch,
    /// `unauthorizedRequest`: authentication of the HTTP request failed.
    UnauthorizedRequest,
    /// `missingTaskID`: HPKE configuration was requested without a task ID.
    MissingTaskId,
    /// `stepMismatch`: the Aggregators disagree on the aggregation step.
    StepMismatch,
    /// `batchOverlap`: the query includes reports collected in another batch.
    BatchOverlap,
    /// `invalidTask` (taskprov-06 section 2): the Aggregator opted out of the
    /// task advertised in-band.
    InvalidTask,
}

/// A string that is not the URN of a known DAP problem type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a known DAP problem type: {0:?}")]
pub struct UnknownProblemType(pub String);

impl DapProblemType {
    /// Every problem type, DAP-09's in the order of its table, then taskprov's.
    pub const ALL: [DapProblemType; 15] = [
        DapProblemType::InvalidMessage,
        DapProblemType::UnrecognizedTask,
        DapProblemType::UnrecognizedAggregationJob,
        DapProblemType::OutdatedConfig,
        DapProblemType::ReportRejected,
        DapProblemType::ReportTooEarly,
        DapProblemType::BatchInvalid,
        DapProblemType::InvalidBatchSize,
        DapProblemType::BatchQueriedTooManyTimes,
        DapProblemType::BatchMismatch,
        DapProblemType::UnauthorizedRequest,
        DapProblemType::MissingTaskId,
        DapProblemType::StepMismatch,
        DapProblemType::BatchOverlap,
        DapProblemType::InvalidTask,
    ];

    /// The token after the URN prefix, spelled exactly as the spec does
    /// (note `missingTaskID`).
    pub const fn name(&self) -> &'static str {
        match self {
            DapProblemType::InvalidMessage => "invalidMessage",
            DapProblemType::UnrecognizedTask => "unrecognizedTask",
            DapProblemType::UnrecognizedAggregationJob => "unrecognizedAggregationJob",
            DapProblemType::OutdatedConfig => "outdatedConfig",
            DapProblemType::ReportRejected => "reportRejected",
            DapProblemType::ReportTooEarly => "reportTooEarly",
            DapProblemType::BatchInvalid => "batchInvalid",
            DapProblemType::InvalidBatchSize => "invalidBatchSize",
            DapProblemType::BatchQueriedTooManyTimes => "batchQueriedTooManyTimes",
            DapProblemType::BatchMismatch => "batchMismatch",
            DapProblemType::UnauthorizedRequest => "unauthorizedRequest",
            DapProblemType::MissingTaskId => "missingTaskID",
            DapProblemType::StepMismatch => "stepMismatch",
            DapProblemType::BatchOverlap => "batchOverlap",
            DapProblemType::InvalidTask => "invalidTask",
        }
    }

    /// The full URN, `urn:ietf:params:ppm:dap:error:<name>`.
    pub const fn urn(&self) -> &'static str {
        match self {
            DapProblemType::InvalidMessage => "urn:ietf:params:ppm:dap:error:invalidMessage",
            DapProblemType::UnrecognizedTask => "urn:ietf:params:ppm:dap:error:unrecognizedTask",
            DapProblemType::UnrecognizedAggregationJob => {
                "urn:ietf:params:ppm:dap:error:unrecognizedAggregationJob"
            }
            DapProblemType::OutdatedConfig => "urn:ietf:params:ppm:dap:error:outdatedConfig",
            DapProblemType::ReportRejected => "urn:ietf:params:ppm:dap:error:reportRejected",
            DapProblemType::ReportTooEarly => "urn:ietf:params:ppm:dap:error:reportTooEarly",
            DapProblemType::BatchInvalid => "urn:ietf:params:ppm:dap:error:batchInvalid",
            DapProblemType::InvalidBatchSize => "urn:ietf:params:ppm:dap:error:invalidBatchSize",
            DapProblemType::BatchQueriedTooManyTimes => {
                "urn:ietf:params:ppm:dap:error:batchQueriedTooManyTimes"
            }
            DapProblemType::BatchMismatch => "urn:ietf:params:ppm:dap:error:batchMismatch",
            DapProblemType::UnauthorizedRequest => {
                "urn:ietf:params:ppm:dap:error:unauthorizedRequest"
            }
            DapProblemType::MissingTaskId => "urn:ietf:params:ppm:dap:error:missingTaskID",
            DapProblemType::StepMismatch => "urn:ietf:params:ppm:dap:error:stepMismatch",
            DapProblemType::BatchOverlap => "urn:ietf:params:ppm:dap:error:batchOverlap",
            DapProblemType::InvalidTask => "urn:ietf:params:ppm:dap:error:invalidTask",
        }
    }

    /// A short human-readable summary, for the problem document's `title`.
    pub const fn title(&self) -> &'static str {
        match self {
            DapProblemType::InvalidMessage => "The message could not be parsed or was invalid.",
            DapProblemType::UnrecognizedTask => "The task ID is not recognized.",
            DapProblemType::UnrecognizedAggregationJob => {
                "The aggregation job ID is not recognized."
            }
            DapProblemType::OutdatedConfig => {
                "The message was generated using an outdated configuration."
            }
            DapProblemType::ReportRejected => "The report could not be processed.",
            DapProblemType::ReportTooEarly => "The report's timestamp is too far in the future.",
            DapProblemType::BatchInvalid => "The query failed the batch boundary check.",
            DapProblemType::InvalidBatchSize => "The batch holds an invalid number of reports.",
            DapProblemType::BatchQueriedTooManyTimes => {
                "The batch has been queried too many times."
            }
            DapProblemType::BatchMismatch => {
                "The Aggregators disagree on the reports aggregated in the batch."
            }
            DapProblemType::UnauthorizedRequest => "The request could not be authenticated.",
            DapProblemType::MissingTaskId => {
                "The HPKE configuration was requested without a task ID."
            }
            DapProblemType::StepMismatch => {
                "The Aggregators disagree on the current aggregation step."
            }
            DapProblemType::BatchOverlap => {
                "The query includes reports collected in a different batch."
            }
            DapProblemType::InvalidTask => "The Aggregator has opted out of the task.",
        }
    }

    /// The HTTP status code to answer with.
    ///
    /// DAP-09 section 3.2: "abort" implies 400 Bad Request unless specified
    /// otherwise, and it specifies nothing else for these types. The one
    /// exception is `unauthorizedRequest`, answered with 403 Forbidden as
    /// deployed DAP-09 peers (Janus 0.7) do and expect.
    pub const fn http_status(&self) -> u16 {
        match self {
            DapProblemType::UnauthorizedRequest => 403,
            _ => 400,
        }
    }

    /// The problem type a URN names, if it is one of the DAP namespace this
    /// build knows. The comparison is exact, as URNs of the namespace are
    /// registered case-sensitively.
    pub fn from_urn(urn: &str) -> Option<DapProblemType> {
        let name = urn.strip_prefix(DAP_ERROR_URN_PREFIX)?;
        Self::ALL.into_iter().find(|t| t.name() == name)
    }
}

impl fmt::Display for DapProblemType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.urn())
    }
}

impl FromStr for DapProblemType {
    type Err = UnknownProblemType;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_urn(s).ok_or_else(|| UnknownProblemType(s.to_owned()))
    }
}

fn about_blank() -> String {
    "about:blank".to_owned()
}

/// A problem details document (RFC 9457) as DAP-09 section 3.2 uses it.
///
/// `type` is kept as a string, since peers may use URIs outside the DAP
/// namespace; [`ProblemDocument::dap_type`] interprets it. Deserializing is
/// lenient where a strict reading would lose the error itself: a missing
/// `type` means `about:blank` (RFC 9457 section 3.1.1), unknown members are
/// ignored, and a `taskid` that is not an unpadded base64url task ID is
/// treated as absent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProblemDocument {
    #[serde(rename = "type", default = "about_blank")]
    pub type_uri: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The task the problem concerns, in unpadded base64url.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_task_id"
    )]
    pub taskid: Option<TaskId>,
}

fn lenient_task_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<TaskId>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(d)?;
    Ok(value
        .as_ref()
        .and_then(serde_json::Value::as_str)
        .and_then(|s| s.parse().ok()))
}

impl ProblemDocument {
    /// A document of the given DAP type, with its title and HTTP status.
    pub fn new(problem_type: DapProblemType) -> Self {
        Self {
            type_uri: problem_type.urn().to_owned(),
            title: Some(problem_type.title().to_owned()),
            status: Some(problem_type.http_status()),
            detail: None,
            instance: None,
            taskid: None,
        }
    }

    /// Adds the `detail` member.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Adds the `taskid` member, which DAP-09 asks for whenever the task is known.
    pub fn with_task_id(mut self, task_id: TaskId) -> Self {
        self.taskid = Some(task_id);
        self
    }

    /// The DAP problem type, if `type` is one this build knows.
    pub fn dap_type(&self) -> Option<DapProblemType> {
        DapProblemType::from_urn(&self.type_uri)
    }

    /// The JSON body, for a response with media type `application/problem+json`.
    pub fn to_json(&self) -> String {
        // Serializing strings, integers and options to JSON cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses a JSON body.
    pub fn from_json(body: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(body)
    }
}

impl From<DapProblemType> for ProblemDocument {
    fn from(problem_type: DapProblemType) -> Self {
        Self::new(problem_type)
    }
}

impl fmt::Display for ProblemDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.type_uri)?;
        if let Some(status) = self.status {
            write!(f, " ({status})")?;
        }
        if let Some(detail) = self.detail.as_ref().or(self.title.as_ref()) {
            write!(f, ": {detail}")?;
        }
        if let Some(task_id) = &self.taskid {
            write!(f, " [task {task_id}]")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_round_trips_through_its_urn() {
        for t in DapProblemType::ALL {
            assert_eq!(t.urn(), format!("{DAP_ERROR_URN_PREFIX}{}", t.name()));
            assert_eq!(DapProblemType::from_urn(t.urn()), Some(t));
            assert_eq!(t.urn().parse::<DapProblemType>(), Ok(t));
        }
        assert_eq!(
            DapProblemType::MissingTaskId.urn(),
            "urn:ietf:params:ppm:dap:error:missingTaskID"
        );
        assert_eq!(
            DapProblemType::from_urn("urn:ietf:params:ppm:dap:error:missingTaskId"),
            None
        );
        assert_eq!(DapProblemType::from_urn("about:blank"), None);
    }

    #[test]
    fn statuses() {
        assert_eq!(DapProblemType::UnauthorizedRequest.http_status(), 403);
        for t in DapProblemType::ALL {
            if t != DapProblemType::UnauthorizedRequest {
                assert_eq!(t.http_status(), 400, "{t}");
            }
        }
    }

    #[test]
    fn document_serializes_with_spec_member_names() {
        let task_id = TaskId::from_bytes([0xfa; 32]);
        let doc = ProblemDocument::new(DapProblemType::UnrecognizedTask)
            .with_detail("no such task")
            .with_task_id(task_id);
        let json: serde_json::Value = serde_json::from_str(&doc.to_json()).unwrap();
        assert_eq!(
            json["type"],
            "urn:ietf:params:ppm:dap:error:unrecognizedTask"
        );
        assert_eq!(json["status"], 400);
        assert_eq!(json["detail"], "no such task");
        assert_eq!(json["taskid"], task_id.to_string());
        assert!(json.get("instance").is_none());
        let back = ProblemDocument::from_json(doc.to_json().as_bytes()).unwrap();
        assert_eq!(back, doc);
        assert_eq!(back.dap_type(), Some(DapProblemType::UnrecognizedTask));
    }

    #[test]
    fn parsing_a_peer_document_is_lenient() {
        let doc = ProblemDocument::from_json(
            br#"{"type":"urn:ietf:params:ppm:dap:error:batchMismatch","taskid":"!!","extra":1}"#,
        )
        .unwrap();
        assert_eq!(doc.dap_type(), Some(DapProblemType::BatchMismatch));
        assert_eq!(doc.taskid, None);
        let doc = ProblemDocument::from_json(br#"{"status":500}"#).unwrap();
        assert_eq!(doc.type_uri, "about:blank");
        assert_eq!(doc.dap_type(), None);
    }
}
