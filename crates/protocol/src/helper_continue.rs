//! The Helper's continuation of an aggregation job: DAP-09 section 4.5.2.2
//! ("Helper Continuation") and 4.5.2.3 ("Recovering from Aggregation Step
//! Skew"), over the ping-pong topology of VDAF-08 section 5.8.
//! Initialization is [`crate::helper_init`]'s.
//!
//! [`helper_continue`] checks, in this order:
//!
//! 1. the step ([`check_continue_step`]): step 0 is `invalidMessage`; the
//!    stored step again with an identical request is a replay, answered
//!    with the stored response ([`HelperContinueResult::Replay`]); anything
//!    but `stored + 1` is `stepMismatch`. The step is checked first so that
//!    a replay is recognised even though the reports have moved on;
//! 2. report IDs distinct, each naming a report the Helper is still
//!    preparing, in job order: else `invalidMessage`.
//!
//! Then each named report runs `ping_pong_helper_continued`; a report the
//! Leader left out was rejected by the Leader
//! ([`HelperReportState::AbandonedByLeader`]).
//!
//! # Where is
//!
//! | rule | DAP-09 | function |
//! |---|---|---|
//! | the step: next, replay of the previous request, or `stepMismatch` | 4.5.2.2, 4.5.2.3 | [`check_continue_step`] (called by [`helper_continue`]) |
//! | report IDs known, distinct and in job order (`invalidMessage`) | 4.5.2.2 | [`helper_continue`] |
//! | a report left out by the Leader is abandoned | 4.5.2.2 | [`helper_continue`] |
//! | one report's `ping_pong_helper_continued`; an undecodable Leader message is `vdaf_prep_error` | 4.5.2.2 | `continue_report` (private) |
//! | the request's digest, computed once by the caller | 4.5.2.3 | [`RequestHash::of_body`] |

use crate::error::ProtocolError;
use crate::helper_init::{HelperReportAggregation, HelperReportState};
use crate::idempotency::{check_continue_step, ContinueDisposition, RequestHash, StoredJob};
use crate::parallel::map_in_chunks;
use crate::vdaf_codec::{
    decode_agg_param, decode_ping_pong, encode_output_share, encode_ping_pong, DapAggregator,
};
use dyad_messages::draft09::{
    AggregationJobContinueReq, AggregationJobResp, AggregationJobStep, PrepareError, PrepareResp,
    PrepareStepResult, Role,
};
use prio::topology::ping_pong::{PingPongContinuedValue, PingPongState, PingPongTopology};
use std::collections::HashMap;

/// The result of a continuation request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HelperContinueResult {
    /// The previous request again: answer with the stored response and
    /// change nothing.
    Replay,
    /// The job advanced.
    Advanced(HelperContinueOutcome),
}

/// What to store and what to answer after advancing a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HelperContinueOutcome {
    /// The step the job reached.
    pub step: AggregationJobStep,
    /// The digest of the request, to store with the job for `step`.
    pub request_hash: RequestHash,
    /// Every report of the job, in order, with its new state.
    pub reports: Vec<HelperReportAggregation>,
    /// The response, to send and to store for replays.
    pub response: AggregationJobResp,
}

/// Helper continuation (DAP-09 section 4.5.2.2) of a job stored as `job`
/// with its `reports` (in job order), prepared under the encoded `agg_param`.
/// `request_hash` is the digest of the request's body
/// ([`RequestHash::of_body`], computed once by the caller).
pub fn helper_continue<V, const L: usize>(
    vdaf: &V,
    agg_param: &[u8],
    job: &StoredJob,
    reports: &[HelperReportAggregation],
    request: &AggregationJobContinueReq,
    request_hash: RequestHash,
) -> Result<HelperContinueResult, ProtocolError>
where
    V: DapAggregator<L>,
{
    let step = match check_continue_step(job, request.step, &request_hash)? {
        ContinueDisposition::Replay => return Ok(HelperContinueResult::Replay),
        ContinueDisposition::Advance(step) => step,
    };

    // Position of every report still being prepared.
    let position: HashMap<_, usize> = reports
        .iter()
        .enumerate()
        .filter(|(_, r)| matches!(r.state, HelperReportState::Continued { .. }))
        .map(|(i, r)| (r.metadata.id, i))
        .collect();
    let mut named = Vec::with_capacity(request.prepare_continues.len());
    for prepare in &request.prepare_continues {
        let Some(&index) = position.get(&prepare.report_id) else {
            return Err(ProtocolError::invalid_message(format!(
                "report {} is not being prepared in this job",
                prepare.report_id
            )));
        };
        if let Some(&previous) = named.last() {
            if index == previous {
                return Err(ProtocolError::invalid_message(format!(
                    "report {} appears twice in the request",
                    prepare.report_id
                )));
            }
            if index < previous {
                return Err(ProtocolError::invalid_message(format!(
                    "report {} is out of order relative to the previous request",
                    prepare.report_id
                )));
            }
        }
        named.push(index);
    }

    decode_agg_param::<V>(agg_param)?;
    let mut out: Vec<HelperReportAggregation> = reports
        .iter()
        .map(|report| HelperReportAggregation {
            metadata: report.metadata,
            state: match report.state {
                HelperReportState::Continued { .. } => HelperReportState::AbandonedByLeader,
                ref other => other.clone(),
            },
        })
        .collect();
    let mut work = Vec::with_capacity(named.len());
    for (prepare, &index) in request.prepare_continues.iter().zip(&named) {
        let HelperReportState::Continued { prep_state } = &reports[index].state else {
            return Err(ProtocolError::internal(
                "report state changed while checked",
            ));
        };
        work.push((prep_state, prepare));
    }
    // Each report on its own, spread over the cores (each chunk decodes
    // the parameter: prio's types need not be `Sync`).
    let stepped = map_in_chunks(&work, |chunk| {
        let param = decode_agg_param::<V>(agg_param)?;
        chunk
            .iter()
            .map(|(prep_state, prepare)| {
                continue_report(vdaf, &param, prep_state, &prepare.payload)
            })
            .collect::<Result<Vec<_>, ProtocolError>>()
    })?;
    let mut responses = Vec::with_capacity(named.len());
    for ((index, prepare), (state, result)) in named
        .into_iter()
        .zip(&request.prepare_continues)
        .zip(stepped)
    {
        out[index].state = state;
        responses.push(PrepareResp::new(prepare.report_id, result));
    }
    Ok(HelperContinueResult::Advanced(HelperContinueOutcome {
        step,
        request_hash,
        reports: out,
        response: AggregationJobResp::new(responses),
    }))
}

/// One report's continuation step.
fn continue_report<V: DapAggregator<L>, const L: usize>(
    vdaf: &V,
    param: &V::AggregationParam,
    prep_state: &[u8],
    payload: &[u8],
) -> Result<(HelperReportState, PrepareStepResult), ProtocolError> {
    let reject = |error| {
        Ok((
            HelperReportState::Failed(error),
            PrepareStepResult::Reject(error),
        ))
    };
    let prep_state = vdaf.decode_prep_state(Role::Helper, prep_state)?;
    // A Leader message that does not decode is a rejection by the VDAF
    // (draft-irtf-cfrg-vdaf-08 section 5.8, `ping_pong_continued`), which
    // DAP-09 section 4.5.2.2 answers with `vdaf_prep_error`.
    let Ok(inbound) = decode_ping_pong(payload) else {
        return reject(PrepareError::VdafPrepError);
    };
    let Ok(value) = vdaf.helper_continued(PingPongState::Continued(prep_state), param, &inbound)
    else {
        return reject(PrepareError::VdafPrepError);
    };
    match value {
        PingPongContinuedValue::WithMessage { transition } => {
            let Ok((next, outbound)) = transition.evaluate(vdaf) else {
                return reject(PrepareError::VdafPrepError);
            };
            let state = match next {
                PingPongState::Continued(prep) => HelperReportState::Continued {
                    prep_state: vdaf.encode_prep_state(&prep)?,
                },
                PingPongState::Finished(output) => HelperReportState::Finished {
                    output_share: encode_output_share::<V>(&output)?,
                },
            };
            Ok((
                state,
                PrepareStepResult::Continue {
                    payload: encode_ping_pong(&outbound)?,
                },
            ))
        }
        PingPongContinuedValue::FinishedNoMessage { output_share } => Ok((
            HelperReportState::Finished {
                output_share: encode_output_share::<V>(&output_share)?,
            },
            PrepareStepResult::Finished,
        )),
    }
}

#[cfg(test)]
#[path = "helper_continue_tests.rs"]
mod tests;
