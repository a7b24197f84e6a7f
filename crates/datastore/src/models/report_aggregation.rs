//! Report aggregations: the state of one report inside one aggregation job
//! (DAP-09 sections 4.5.1 and 4.5.2), ordered within the job by `ord` (the
//! order of the `PrepareInit`s, which responses must follow).
//!
//! VDAF values (the Leader's ping-pong transition, the Helper's prep state)
//! are opaque bytes: the protocol crate encodes and decodes them.

use crate::redact::Len;
use dyad_messages::draft09::{
    AggregationJobId, PrepareError, PrepareResp, ReportId, ReportMetadata, TaskId, Time,
};
use std::fmt;

/// Where one report stands in its aggregation job.
#[derive(Clone, PartialEq, Eq)]
pub enum ReportAggregationState {
    /// Leader: not yet initialized; the report's data is in the client
    /// report row.
    Start,
    /// Leader: waiting for the Helper's next message, holding the ping-pong
    /// transition to continue with (opaque).
    WaitingLeader { transition: Vec<u8> },
    /// Helper: waiting for the Leader's next message, holding the prep state
    /// (opaque).
    WaitingHelper { prep_state: Vec<u8> },
    /// Preparation succeeded; the output share went into a batch aggregation.
    Finished,
    /// Preparation failed with this error.
    Failed(PrepareError),
}

impl ReportAggregationState {
    /// The stored state code.
    pub const fn code(&self) -> i64 {
        match self {
            ReportAggregationState::Start => 0,
            ReportAggregationState::WaitingLeader { .. } => 1,
            ReportAggregationState::WaitingHelper { .. } => 2,
            ReportAggregationState::Finished => 3,
            ReportAggregationState::Failed(_) => 4,
        }
    }

    /// The opaque payload the state carries, if any.
    pub fn payload(&self) -> Option<&[u8]> {
        match self {
            ReportAggregationState::WaitingLeader { transition } => Some(transition),
            ReportAggregationState::WaitingHelper { prep_state } => Some(prep_state),
            _ => None,
        }
    }

    /// The prepare error, for a failed report.
    pub fn error(&self) -> Option<PrepareError> {
        match self {
            ReportAggregationState::Failed(error) => Some(*error),
            _ => None,
        }
    }

    /// Rebuilds a state from its stored parts; `Err` names what is wrong.
    pub fn from_parts(
        code: i64,
        payload: Option<Vec<u8>>,
        error: Option<u8>,
    ) -> Result<Self, String> {
        match (code, payload, error) {
            (0, None, None) => Ok(ReportAggregationState::Start),
            (1, Some(transition), None) => Ok(ReportAggregationState::WaitingLeader { transition }),
            (2, Some(prep_state), None) => Ok(ReportAggregationState::WaitingHelper { prep_state }),
            (3, None, None) => Ok(ReportAggregationState::Finished),
            (4, None, Some(error)) => Ok(ReportAggregationState::Failed(PrepareError::from(error))),
            (code, payload, error) => Err(format!(
                "state {code} with payload {} and error {error:?}",
                payload.is_some()
            )),
        }
    }

    /// Whether the report reached a final state.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            ReportAggregationState::Finished | ReportAggregationState::Failed(_)
        )
    }
}

impl fmt::Debug for ReportAggregationState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReportAggregationState::Start => f.write_str("Start"),
            ReportAggregationState::WaitingLeader { transition } => f
                .debug_struct("WaitingLeader")
                .field("transition", &Len(transition))
                .finish(),
            ReportAggregationState::WaitingHelper { prep_state } => f
                .debug_struct("WaitingHelper")
                .field("prep_state", &Len(prep_state))
                .finish(),
            ReportAggregationState::Finished => f.write_str("Finished"),
            ReportAggregationState::Failed(error) => f.debug_tuple("Failed").field(error).finish(),
        }
    }
}

/// One report in one aggregation job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportAggregation {
    pub task_id: TaskId,
    pub aggregation_job_id: AggregationJobId,
    /// The report's position in the job (0-based).
    pub ord: u64,
    pub report_id: ReportId,
    /// The report's timestamp.
    pub time: Time,
    pub state: ReportAggregationState,
    /// Helper: the `PrepareResp` last sent for this report, so a replayed
    /// request gets the identical answer (DAP-09 section 4.5.2.3).
    pub last_prep_resp: Option<PrepareResp>,
}

impl ReportAggregation {
    /// A report aggregation without a stored response.
    pub fn new(
        task_id: TaskId,
        aggregation_job_id: AggregationJobId,
        ord: u64,
        report_id: ReportId,
        time: Time,
        state: ReportAggregationState,
    ) -> Self {
        Self {
            task_id,
            aggregation_job_id,
            ord,
            report_id,
            time,
            state,
            last_prep_resp: None,
        }
    }

    /// The report aggregations of a job's `reports`, in job order (`ord`
    /// 0, 1, ...), all in state `Start`.
    pub fn starting(
        task_id: TaskId,
        aggregation_job_id: AggregationJobId,
        reports: &[ReportMetadata],
    ) -> Vec<Self> {
        (0..)
            .zip(reports)
            .map(|(ord, report)| {
                Self::new(
                    task_id,
                    aggregation_job_id,
                    ord,
                    report.id,
                    report.time,
                    ReportAggregationState::Start,
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_round_trip_and_mismatches_are_rejected() {
        for state in [
            ReportAggregationState::Start,
            ReportAggregationState::WaitingLeader {
                transition: vec![1],
            },
            ReportAggregationState::WaitingHelper { prep_state: vec![] },
            ReportAggregationState::Finished,
            ReportAggregationState::Failed(PrepareError::ReportReplayed),
        ] {
            let rebuilt = ReportAggregationState::from_parts(
                state.code(),
                state.payload().map(<[u8]>::to_vec),
                state.error().map(|e| e.as_u8()),
            );
            assert_eq!(rebuilt, Ok(state));
        }
        assert!(ReportAggregationState::from_parts(1, None, None).is_err());
        assert!(ReportAggregationState::from_parts(4, None, None).is_err());
        assert!(ReportAggregationState::from_parts(7, None, None).is_err());
    }

    #[test]
    fn debug_hides_prep_state() {
        let state = ReportAggregationState::WaitingHelper {
            prep_state: vec![0x99; 4],
        };
        assert_eq!(
            format!("{state:?}"),
            "WaitingHelper { prep_state: <4 bytes> }"
        );
    }
}
