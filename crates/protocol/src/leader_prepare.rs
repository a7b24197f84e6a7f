//! The Leader's preparation of the reports of an aggregation job: DAP-09
//! section 4.5.1.1 ("Leader Initialization") and section 4.5.2.1 ("Leader
//! Continuation"), over the ping-pong topology of VDAF-08 section 5.8. (The
//! aggregator's `leader` module drives jobs; this is the protocol each step
//! follows.)
//!
//! A job is a list of [`LeaderReportAggregation`]s in a fixed order. The
//! invariant that keeps the exchange simple: **every request to the Helper
//! carries exactly the reports in [`LeaderReportState::Continued`], in job
//! order**. So:
//!
//! 1. [`leader_initialize`] runs `ping_pong_leader_init` for each report
//!    (after input-share validation: a public or input share that does not
//!    decode is `invalid_message`, a VDAF failure `vdaf_prep_error`) and
//!    builds the `AggregationJobInitReq` (none if every report failed).
//! 2. [`leader_process_response`] applies the Helper's `AggregationJobResp`:
//!    it must name the same report IDs in the same order (else the job is
//!    aborted); per report, `continue` runs `ping_pong_leader_continued`,
//!    `finished` completes a report whose Leader state is finished, `reject`
//!    fails it (retryable if `report_too_early`); anything else aborts the
//!    job.
//! 3. [`build_continue_request`] builds the `AggregationJobContinueReq` of
//!    the next step from the still-continued reports, or nothing once the
//!    job is done.
//!
//! States leave as bytes: a [`LeaderReportState::Continued`] holds the
//! encoded Leader state (a preparation state, or an output share waiting for
//! the Helper's `finished`) and the encoded outbound ping-pong message, so a
//! request can be rebuilt identically after a crash (section 4.5.2.3).
//!
//! # Where is
//!
//! | rule | DAP-09 | function |
//! |---|---|---|
//! | `ping_pong_leader_init` per report; the `AggregationJobInitReq` | 4.5.1.1 | [`leader_initialize`] |
//! | the Helper's response names the same reports in the same order; per-report `continue` / `finished` / `reject` | 4.5.1.1, 4.5.2.1 | [`leader_process_response`] |
//! | a `report_too_early` rejection may be retried later | 4.5.1.4 | [`LeaderReportState::is_retryable`] |
//! | the next step's `AggregationJobContinueReq`, rebuilt identically after a crash | 4.5.2.1, 4.5.2.3 | [`build_continue_request`] |
//! | the job is done once no report is continued | 4.5.2.1 | [`job_is_finished`] |

use crate::error::ProtocolError;
use crate::parallel::map_in_chunks;
use crate::vdaf_codec::{
    decode_agg_param, decode_input_share, decode_output_share, decode_ping_pong,
    decode_public_share, encode_output_share, encode_ping_pong, DapAggregator,
};
use dyad_core::task::Task;
use dyad_messages::draft09::{
    AggregationJobContinueReq, AggregationJobInitReq, AggregationJobResp, AggregationJobStep,
    HpkeCiphertext, PartialBatchSelector, PrepareContinue, PrepareError, PrepareInit,
    PrepareStepResult, ReportId, ReportMetadata, ReportShare, Role,
};
use prio::topology::ping_pong::{PingPongContinuedValue, PingPongState, PingPongTopology};
use std::fmt;

/// One report of a Leader's aggregation job, as stored at upload.
#[derive(Clone, PartialEq, Eq)]
pub struct LeaderReportShare {
    pub metadata: ReportMetadata,
    /// The encoded VDAF public share.
    pub public_share: Vec<u8>,
    /// The Leader's encoded VDAF input share (the `PlaintextInputShare`
    /// payload). Secret.
    pub leader_input_share: Vec<u8>,
    /// The Helper's input share, sealed to the Helper.
    pub helper_encrypted_input_share: HpkeCiphertext,
}

impl fmt::Debug for LeaderReportShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeaderReportShare")
            .field("metadata", &self.metadata)
            .field("public_share_len", &self.public_share.len())
            .field("leader_input_share_len", &self.leader_input_share.len())
            .finish_non_exhaustive()
    }
}

/// Where the Leader is with one report.
#[derive(Clone, PartialEq, Eq)]
pub enum LeaderReportState {
    /// Waiting on the Helper. `state` is the encoded Leader state;
    /// `outbound` the encoded ping-pong message for the Helper (the
    /// `PrepareInit` or `PrepareContinue` payload).
    Continued { state: Vec<u8>, outbound: Vec<u8> },
    /// Prepared: the encoded output share, to aggregate.
    Finished { output_share: Vec<u8> },
    /// Rejected by the Leader or the Helper.
    Failed { error: PrepareError },
}

impl LeaderReportState {
    /// Whether the report may go into a later aggregation job: only a
    /// Helper's `report_too_early` (DAP-09 section 4.5.1.1).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            LeaderReportState::Failed {
                error: PrepareError::ReportTooEarly
            }
        )
    }
}

impl fmt::Debug for LeaderReportState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LeaderReportState::Continued { state, outbound } => f
                .debug_struct("Continued")
                .field("state_len", &state.len())
                .field("outbound_len", &outbound.len())
                .finish(),
            LeaderReportState::Finished { output_share } => f
                .debug_struct("Finished")
                .field("output_share_len", &output_share.len())
                .finish(),
            LeaderReportState::Failed { error } => {
                f.debug_struct("Failed").field("error", error).finish()
            }
        }
    }
}

/// One report of a job and the Leader's state for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderReportAggregation {
    pub metadata: ReportMetadata,
    pub state: LeaderReportState,
}

impl LeaderReportAggregation {
    pub fn report_id(&self) -> &ReportId {
        &self.metadata.id
    }
}

/// The result of initializing a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderInitOutcome {
    /// The request for the Helper; `None` if the Leader rejected every report.
    pub request: Option<AggregationJobInitReq>,
    /// Every report of the job, in the order given.
    pub reports: Vec<LeaderReportAggregation>,
}

/// Tags of the encoded Leader state.
const STATE_CONTINUED: u8 = 0;
const STATE_FINISHED: u8 = 1;

fn tagged(tag: u8, body: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 1);
    out.push(tag);
    out.extend_from_slice(&body);
    out
}

/// The verify key of a task, as the VDAF's array.
pub(crate) fn verify_key<const L: usize>(task: &Task) -> Result<&[u8; L], ProtocolError> {
    task.vdaf_verify_key().as_array::<L>().ok_or_else(|| {
        ProtocolError::internal(format!(
            "task verify key is {} bytes, the VDAF needs {L}",
            task.vdaf_verify_key().len()
        ))
    })
}

/// Leader initialization (DAP-09 section 4.5.1.1) of the job's `reports`
/// under the encoded aggregation parameter `agg_param`.
pub fn leader_initialize<V, const L: usize>(
    vdaf: &V,
    task: &Task,
    agg_param: &[u8],
    partial_batch_selector: PartialBatchSelector,
    reports: &[LeaderReportShare],
) -> Result<LeaderInitOutcome, ProtocolError>
where
    V: DapAggregator<L>,
{
    let verify_key = verify_key::<L>(task)?;
    decode_agg_param::<V>(agg_param)?;
    // Each report on its own, spread over the cores (each chunk decodes
    // the parameter: prio's types need not be `Sync`).
    let initialized = map_in_chunks(reports, |chunk| {
        let param = decode_agg_param::<V>(agg_param)?;
        chunk
            .iter()
            .map(|report| init_one(vdaf, verify_key, &param, report))
            .collect::<Result<Vec<_>, ProtocolError>>()
    })?;
    let mut prepare_inits = Vec::new();
    let mut outcomes = Vec::with_capacity(reports.len());
    for (report, initialized) in reports.iter().zip(initialized) {
        let state = match initialized {
            Ok((state, outbound)) => {
                prepare_inits.push(PrepareInit::new(
                    ReportShare::new(
                        report.metadata,
                        report.public_share.clone(),
                        report.helper_encrypted_input_share.clone(),
                    ),
                    outbound.clone(),
                ));
                LeaderReportState::Continued { state, outbound }
            }
            Err(error) => LeaderReportState::Failed { error },
        };
        outcomes.push(LeaderReportAggregation {
            metadata: report.metadata,
            state,
        });
    }
    let request = (!prepare_inits.is_empty()).then(|| {
        AggregationJobInitReq::new(agg_param.to_vec(), partial_batch_selector, prepare_inits)
    });
    Ok(LeaderInitOutcome {
        request,
        reports: outcomes,
    })
}

/// Initializes one report: `Ok(Ok((state, outbound)))`, `Ok(Err(rejection))`,
/// or `Err` for a failure of ours.
#[allow(clippy::type_complexity)]
fn init_one<V: DapAggregator<L>, const L: usize>(
    vdaf: &V,
    verify_key: &[u8; L],
    param: &V::AggregationParam,
    report: &LeaderReportShare,
) -> Result<Result<(Vec<u8>, Vec<u8>), PrepareError>, ProtocolError> {
    let Ok(public_share) = decode_public_share(vdaf, &report.public_share) else {
        return Ok(Err(PrepareError::InvalidMessage));
    };
    let Ok(input_share) = decode_input_share(vdaf, Role::Leader, &report.leader_input_share) else {
        return Ok(Err(PrepareError::InvalidMessage));
    };
    let nonce = report.metadata.id.as_bytes();
    let Ok((state, outbound)) =
        vdaf.leader_initialized(verify_key, param, nonce, &public_share, &input_share)
    else {
        return Ok(Err(PrepareError::VdafPrepError));
    };
    let PingPongState::Continued(prep_state) = state else {
        // VDAF-08 section 5.8: leader initialization never finishes.
        return Ok(Err(PrepareError::VdafPrepError));
    };
    Ok(Ok((
        tagged(STATE_CONTINUED, vdaf.encode_prep_state(&prep_state)?),
        encode_ping_pong(&outbound)?,
    )))
}

/// Applies the Helper's response to the reports in flight (those
/// [`LeaderReportState::Continued`], in job order) and returns every report
/// with its new state. An `Err` means the job must be aborted (DAP-09
/// sections 4.5.1.1 and 4.5.2.1).
pub fn leader_process_response<V, const L: usize>(
    vdaf: &V,
    agg_param: &[u8],
    reports: &[LeaderReportAggregation],
    response: &AggregationJobResp,
) -> Result<Vec<LeaderReportAggregation>, ProtocolError>
where
    V: DapAggregator<L>,
{
    decode_agg_param::<V>(agg_param)?;
    let in_flight: Vec<&ReportId> = reports
        .iter()
        .filter(|r| matches!(r.state, LeaderReportState::Continued { .. }))
        .map(LeaderReportAggregation::report_id)
        .collect();
    let answered: Vec<&ReportId> = response
        .prepare_resps
        .iter()
        .map(|r| &r.report_id)
        .collect();
    if in_flight != answered {
        return Err(ProtocolError::invalid_message(format!(
            "the Helper answered for {} reports, not the {} sent in the same order",
            answered.len(),
            in_flight.len()
        )));
    }
    // Each report in flight paired with its answer, then stepped on its
    // own, spread over the cores.
    let mut results = response.prepare_resps.iter().map(|r| &r.result);
    let mut paired = Vec::with_capacity(reports.len());
    for report in reports {
        let result = match &report.state {
            LeaderReportState::Continued { .. } => Some(
                results
                    .next()
                    .ok_or_else(|| ProtocolError::internal("response shorter than checked"))?,
            ),
            _ => None,
        };
        paired.push((report, result));
    }
    map_in_chunks(&paired, |chunk| {
        let param = decode_agg_param::<V>(agg_param)?;
        chunk
            .iter()
            .map(|(report, result)| {
                let state = match (&report.state, result) {
                    (LeaderReportState::Continued { state, .. }, Some(result)) => {
                        step_one(vdaf, &param, state, result)?
                    }
                    (other, _) => other.clone(),
                };
                Ok(LeaderReportAggregation {
                    metadata: report.metadata,
                    state,
                })
            })
            .collect::<Result<Vec<_>, ProtocolError>>()
    })
}

/// The Leader's step for one report given the Helper's result.
fn step_one<V: DapAggregator<L>, const L: usize>(
    vdaf: &V,
    param: &V::AggregationParam,
    state: &[u8],
    result: &PrepareStepResult,
) -> Result<LeaderReportState, ProtocolError> {
    let (tag, body) = state
        .split_first()
        .ok_or_else(|| ProtocolError::internal("empty stored Leader state"))?;
    match (*tag, result) {
        (STATE_CONTINUED, PrepareStepResult::Continue { payload }) => {
            let prep_state = vdaf.decode_prep_state(Role::Leader, body)?;
            let failed = LeaderReportState::Failed {
                error: PrepareError::VdafPrepError,
            };
            let Ok(inbound) = decode_ping_pong(payload) else {
                return Ok(failed);
            };
            let value = match vdaf.leader_continued(
                PingPongState::Continued(prep_state),
                param,
                &inbound,
            ) {
                Ok(value) => value,
                Err(_) => return Ok(failed),
            };
            match value {
                PingPongContinuedValue::WithMessage { transition } => {
                    let Ok((next, outbound)) = transition.evaluate(vdaf) else {
                        return Ok(failed);
                    };
                    let state = match next {
                        PingPongState::Continued(prep) => {
                            tagged(STATE_CONTINUED, vdaf.encode_prep_state(&prep)?)
                        }
                        PingPongState::Finished(output) => {
                            tagged(STATE_FINISHED, encode_output_share::<V>(&output)?)
                        }
                    };
                    Ok(LeaderReportState::Continued {
                        state,
                        outbound: encode_ping_pong(&outbound)?,
                    })
                }
                PingPongContinuedValue::FinishedNoMessage { output_share } => {
                    Ok(LeaderReportState::Finished {
                        output_share: encode_output_share::<V>(&output_share)?,
                    })
                }
            }
        }
        (STATE_FINISHED, PrepareStepResult::Finished) => {
            // Check the stored share decodes before declaring it final.
            decode_output_share(vdaf, param, body)?;
            Ok(LeaderReportState::Finished {
                output_share: body.to_vec(),
            })
        }
        (STATE_CONTINUED | STATE_FINISHED, PrepareStepResult::Reject(error)) => {
            Ok(LeaderReportState::Failed { error: *error })
        }
        (STATE_CONTINUED | STATE_FINISHED, other) => Err(ProtocolError::invalid_message(format!(
            "the Helper answered {:?} where the Leader's state does not allow it",
            other
        ))),
        (tag, _) => Err(ProtocolError::internal(format!(
            "unknown stored Leader state tag {tag}"
        ))),
    }
}

/// The `AggregationJobContinueReq` for `step` (DAP-09 section 4.5.2.1): one
/// `PrepareContinue` per report still [`LeaderReportState::Continued`], in
/// job order; `None` when no report is (the job is done).
pub fn build_continue_request(
    step: AggregationJobStep,
    reports: &[LeaderReportAggregation],
) -> Option<AggregationJobContinueReq> {
    let prepare_continues: Vec<PrepareContinue> = reports
        .iter()
        .filter_map(|report| match &report.state {
            LeaderReportState::Continued { outbound, .. } => {
                Some(PrepareContinue::new(report.metadata.id, outbound.clone()))
            }
            _ => None,
        })
        .collect();
    (!prepare_continues.is_empty()).then(|| AggregationJobContinueReq::new(step, prepare_continues))
}

/// Whether every report of the job has reached a final state.
pub fn job_is_finished(reports: &[LeaderReportAggregation]) -> bool {
    !reports
        .iter()
        .any(|r| matches!(r.state, LeaderReportState::Continued { .. }))
}

#[cfg(test)]
#[path = "leader_prepare_tests.rs"]
mod tests;
