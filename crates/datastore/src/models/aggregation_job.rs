//! Aggregation jobs (DAP-09 section 4.5), as both roles store them.
//!
//! The Leader creates a job from unaggregated reports and drives it under a
//! lease (see [`crate::Lease`]); the Helper creates one on the first
//! `AggregationJobInitReq` and keeps the hash of the last request it answered
//! so that a replayed request is recognized (section 4.5.2.2).
//!
//! A job's reports are held either as report aggregations (one row each) or,
//! for a Leader's job that has not yet stored any per-report state, as the
//! list on the job's row ([`AggregationJob::report_list`]).

use crate::redact::Len;
use dyad_messages::codec::{Decode, DecodeError, Encode as _, EncodeError, Reader};
use dyad_messages::draft09::{AggregationJobId, BatchId, Interval, ReportMetadata, TaskId, Time};
use std::fmt;

/// Where an aggregation job stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AggregationJobState {
    /// Preparation is under way (the Leader's job drivers pick these up).
    InProgress,
    /// Every report aggregation reached a final state.
    Finished,
    /// The Leader gave up on the job (for example after too many attempts).
    Abandoned,
    /// The Leader deleted the job at the Helper (DELETE on the job URI).
    Deleted,
}

impl AggregationJobState {
    /// The stored code.
    pub const fn code(self) -> i64 {
        match self {
            AggregationJobState::InProgress => 0,
            AggregationJobState::Finished => 1,
            AggregationJobState::Abandoned => 2,
            AggregationJobState::Deleted => 3,
        }
    }

    /// The state with the stored code.
    pub fn from_code(code: i64) -> Option<Self> {
        Some(match code {
            0 => AggregationJobState::InProgress,
            1 => AggregationJobState::Finished,
            2 => AggregationJobState::Abandoned,
            3 => AggregationJobState::Deleted,
            _ => return None,
        })
    }
}

/// One aggregation job.
#[derive(Clone, PartialEq, Eq)]
pub struct AggregationJob {
    pub task_id: TaskId,
    pub aggregation_job_id: AggregationJobId,
    /// The VDAF aggregation parameter, opaque (encoded by the protocol crate).
    pub aggregation_parameter: Vec<u8>,
    /// The batch every report of the job belongs to (`fixed_size` tasks only).
    pub batch_id: Option<BatchId>,
    /// The smallest interval holding every report time of the job.
    pub client_timestamp_interval: Interval,
    pub state: AggregationJobState,
    /// The step the job has reached (DAP-09 section 4.5.2: 0 after
    /// initialization, then 1, 2, ... after each continuation).
    pub step: u16,
    /// The Helper's SHA-256 of the last request it answered for this job, to
    /// tell a replay of it from a different request.
    pub last_request_hash: Option<[u8; 32]>,
    /// The Helper's answer to the job's initialization (an encoded
    /// `AggregationJobResp`), kept when the job finished in it: its reports
    /// then have no report aggregations, and a replayed initialization is
    /// answered with these bytes (section 4.5.1.2). `None` for every other
    /// job, and on the Leader.
    pub init_response: Option<Vec<u8>>,
    /// The Leader's list of the job's reports, in job order, for a job made
    /// with its reports listed here rather than as report aggregations in
    /// state `Start` (a job of a VDAF of one round, whose reports all reach
    /// their final state in the job's first step, and whose final states
    /// nothing reads again: their outcome is in the batch aggregations and
    /// the task's counters). Such a job has report aggregations only if a
    /// step leaves reports waiting for another. Set when the job is stored;
    /// `update_aggregation_job` leaves it as it is. `None` for every other
    /// job, and on the Helper.
    pub report_list: Option<Vec<ReportMetadata>>,
    /// When the job was first stored. Set by the datastore from its clock:
    /// the value given to `put_aggregation_job` is ignored.
    pub created_at: Time,
}

impl AggregationJob {
    /// A new job in state `InProgress` at step 0.
    pub fn new(
        task_id: TaskId,
        aggregation_job_id: AggregationJobId,
        aggregation_parameter: Vec<u8>,
        batch_id: Option<BatchId>,
        client_timestamp_interval: Interval,
    ) -> Self {
        Self {
            task_id,
            aggregation_job_id,
            aggregation_parameter,
            batch_id,
            client_timestamp_interval,
            state: AggregationJobState::InProgress,
            step: 0,
            last_request_hash: None,
            init_response: None,
            report_list: None,
            created_at: Time::from_seconds_since_epoch(0),
        }
    }
}

impl fmt::Debug for AggregationJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AggregationJob")
            .field("task_id", &self.task_id)
            .field("aggregation_job_id", &self.aggregation_job_id)
            .field("aggregation_parameter", &Len(&self.aggregation_parameter))
            .field("batch_id", &self.batch_id)
            .field("client_timestamp_interval", &self.client_timestamp_interval)
            .field("state", &self.state)
            .field("step", &self.step)
            .field("last_request_hash", &self.last_request_hash.is_some())
            .field("init_response", &self.init_response.as_deref().map(Len))
            .field("report_list", &self.report_list.as_ref().map(Vec::len))
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// A job's report list as stored: each report's `ReportMetadata` (DAP-09
/// section 4.4.2, 24 bytes), one after the other, with no length prefix.
pub(crate) struct StoredReportList(pub Vec<ReportMetadata>);

impl StoredReportList {
    /// The stored bytes of `reports`.
    pub(crate) fn encode(reports: &[ReportMetadata]) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(reports.len() * 24);
        for report in reports {
            report.encode(&mut out)?;
        }
        Ok(out)
    }
}

impl Decode for StoredReportList {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut reports = Vec::with_capacity(r.remaining() / 24);
        while !r.is_empty() {
            reports.push(ReportMetadata::decode(r)?);
        }
        Ok(Self(reports))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dyad_messages::draft09::ReportId;

    #[test]
    fn report_list_round_trips_and_rejects_a_cut_entry() {
        let reports: Vec<_> = (0..3u8)
            .map(|i| {
                ReportMetadata::new(
                    ReportId::from_bytes([i; 16]),
                    Time::from_seconds_since_epoch(1000 + u64::from(i)),
                )
            })
            .collect();
        let bytes = StoredReportList::encode(&reports).unwrap();
        assert_eq!(bytes.len(), 72);
        assert_eq!(StoredReportList::get_decoded(&bytes).unwrap().0, reports);
        assert!(StoredReportList::get_decoded(&[]).unwrap().0.is_empty());
        assert!(StoredReportList::get_decoded(&bytes[..60]).is_err());
    }

    #[test]
    fn state_codes_round_trip() {
        for state in [
            AggregationJobState::InProgress,
            AggregationJobState::Finished,
            AggregationJobState::Abandoned,
            AggregationJobState::Deleted,
        ] {
            assert_eq!(AggregationJobState::from_code(state.code()), Some(state));
        }
        assert_eq!(AggregationJobState::from_code(9), None);
    }
}
