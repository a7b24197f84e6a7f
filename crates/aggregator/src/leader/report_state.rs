//! How the Leader's per-report preparation state is kept between steps of an
//! aggregation job: the bridge between the datastore's
//! [`ReportAggregationState`] and the protocol's [`LeaderReportState`].
//!
//! | stored | protocol |
//! |---|---|
//! | `Start` | not initialized yet: the client report is read and [`dyad_protocol::leader_prepare::leader_initialize`] runs |
//! | `WaitingLeader { transition }` | `Continued { state, outbound }`, both in `transition` |
//! | `Finished` | `Finished` (the output share is already in the job's batch aggregation) |
//! | `Failed(error)` | `Failed { error }` |
//!
//! Keeping the outbound message (not only the state) is what makes a step
//! reproducible: after a crash, or a lost response, the Leader rebuilds the
//! identical `AggregationJobContinueReq` from the stored messages, which the
//! Helper recognizes as a replay (DAP-09 section 4.5.2.3).
//!
//! The `transition` encoding is `u32 state_len || state || outbound`
//! (big-endian length).

use dyad_datastore::models::{ReportAggregation, ReportAggregationState};
use dyad_messages::draft09::ReportMetadata;
use dyad_protocol::leader_prepare::{LeaderReportAggregation, LeaderReportState};
use dyad_protocol::ProtocolError;

/// Encodes a `Continued` report's state and outbound message.
pub(crate) fn encode_transition(state: &[u8], outbound: &[u8]) -> Result<Vec<u8>, ProtocolError> {
    let len = u32::try_from(state.len())
        .map_err(|_| ProtocolError::internal("Leader preparation state too large to store"))?;
    let mut out = Vec::with_capacity(4 + state.len() + outbound.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(state);
    out.extend_from_slice(outbound);
    Ok(out)
}

/// Decodes what [`encode_transition`] made: `(state, outbound)`.
pub(crate) fn decode_transition(bytes: &[u8]) -> Result<(Vec<u8>, Vec<u8>), ProtocolError> {
    let corrupt = || ProtocolError::internal("stored Leader transition is malformed");
    let (len, rest) = bytes.split_first_chunk::<4>().ok_or_else(corrupt)?;
    let len = usize::try_from(u32::from_be_bytes(*len)).map_err(|_| corrupt())?;
    if rest.len() < len {
        return Err(corrupt());
    }
    let (state, outbound) = rest.split_at(len);
    Ok((state.to_vec(), outbound.to_vec()))
}

/// The protocol's view of a stored report aggregation that was initialized
/// (anything but `Start`). A `Finished` report carries no output share: it
/// was aggregated in the step that finished it.
pub(crate) fn to_protocol(
    stored: &ReportAggregation,
) -> Result<Option<LeaderReportAggregation>, ProtocolError> {
    let state = match &stored.state {
        ReportAggregationState::Start => return Ok(None),
        ReportAggregationState::WaitingLeader { transition } => {
            let (state, outbound) = decode_transition(transition)?;
            LeaderReportState::Continued { state, outbound }
        }
        ReportAggregationState::Finished => LeaderReportState::Finished {
            output_share: Vec::new(),
        },
        ReportAggregationState::Failed(error) => LeaderReportState::Failed { error: *error },
        ReportAggregationState::WaitingHelper { .. } => {
            return Err(ProtocolError::internal(
                "a Helper state in a Leader's aggregation job",
            ))
        }
    };
    Ok(Some(LeaderReportAggregation {
        metadata: ReportMetadata::new(stored.report_id, stored.time),
        state,
    }))
}

/// The stored form of a protocol state.
pub(crate) fn to_stored(
    state: &LeaderReportState,
) -> Result<ReportAggregationState, ProtocolError> {
    Ok(match state {
        LeaderReportState::Continued { state, outbound } => ReportAggregationState::WaitingLeader {
            transition: encode_transition(state, outbound)?,
        },
        LeaderReportState::Finished { .. } => ReportAggregationState::Finished,
        LeaderReportState::Failed { error } => ReportAggregationState::Failed(*error),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dyad_messages::draft09::{AggregationJobId, PrepareError, ReportId, TaskId, Time};

    fn stored(state: ReportAggregationState) -> ReportAggregation {
        ReportAggregation::new(
            TaskId::from_bytes([1; 32]),
            AggregationJobId::from_bytes([2; 16]),
            0,
            ReportId::from([3; 16]),
            Time::from_seconds_since_epoch(100),
            state,
        )
    }

    #[test]
    fn transitions_round_trip() {
        for (state, outbound) in [(&b""[..], &b""[..]), (b"state", b"outbound"), (b"s", b"")] {
            let bytes = encode_transition(state, outbound).unwrap();
            assert_eq!(
                decode_transition(&bytes).unwrap(),
                (state.to_vec(), outbound.to_vec())
            );
        }
    }

    #[test]
    fn malformed_transitions_are_errors() {
        for bytes in [&[][..], &[0, 0, 0], &[0, 0, 0, 9, 1, 2]] {
            assert!(decode_transition(bytes).is_err());
        }
    }

    #[test]
    fn states_convert_both_ways() {
        let continued = LeaderReportState::Continued {
            state: vec![1, 2],
            outbound: vec![3],
        };
        let failed = LeaderReportState::Failed {
            error: PrepareError::ReportTooEarly,
        };
        for state in [continued, failed] {
            let back = to_protocol(&stored(to_stored(&state).unwrap()))
                .unwrap()
                .unwrap();
            assert_eq!(back.state, state);
            assert_eq!(back.metadata.time, Time::from_seconds_since_epoch(100));
        }
        assert_eq!(
            to_stored(&LeaderReportState::Finished {
                output_share: vec![9]
            })
            .unwrap(),
            ReportAggregationState::Finished
        );
        assert!(to_protocol(&stored(ReportAggregationState::Start))
            .unwrap()
            .is_none());
        assert!(to_protocol(&stored(ReportAggregationState::WaitingHelper {
            prep_state: vec![]
        }))
        .is_err());
    }
}
