//! The Helper's initialization of an aggregation job: DAP-09 section 4.5.1.2
//! ("Helper Initialization"), 4.5.1.3 ("Input Share Decryption") and 4.5.1.4
//! ("Input Share Validation"), over the ping-pong topology of VDAF-08
//! section 5.8. Continuation is [`crate::helper_continue`]'s.
//!
//! [`helper_initialize`] first checks the request as a whole (report IDs
//! distinct, partial batch selector of the task's query type, aggregation
//! parameter decodable: else `invalidMessage`), then each report in turn,
//! rejecting it with the first `PrepareError` that applies:
//!
//! | check | error | function |
//! |---|---|---|
//! | HPKE configuration unknown (4.5.1.3) | `hpke_unknown_config_id` | `open_validate_prepare` (private: decrypt, validate, prepare one report) |
//! | share does not open (or is not a `PlaintextInputShare`) (4.5.1.3) | `hpke_decrypt_error` | `open_validate_prepare` |
//! | public or input share does not decode (VDAF) (4.5.1.4) | `invalid_message` | `open_validate_prepare` |
//! | timestamp after `now + tolerable_clock_skew` (4.5.1.4) | `report_too_early` | [`time_rejection`] |
//! | timestamp after `task_expiration` (4.5.1.4) | `task_expired` | [`time_rejection`] |
//! | unrecognized or repeated extension (4.5.1.4); a taskprov task's share without the taskprov extension (taskprov-06 "Helper Behavior") | `invalid_message` | [`crate::upload::check_task_extensions`] |
//! | timestamp before `now - report_expiry_age` (replay state gone) (4.5.1.4) | `report_dropped` | [`time_rejection`] |
//! | aggregated before with a clashing parameter (4.5.1.4) | `report_replayed` | [`crate::replay::decide`], over [`ReportFacts::previous_agg_params`] |
//! | batch collected (4.5.1.4) | `batch_collected` | [`ReportFacts::is_batch_collected`] |
//! | `ping_pong_helper_init` fails, or the Leader's message is malformed (4.5.1.2) | `vdaf_prep_error` | `open_validate_prepare` |
//! | fixed_size batch full (4.5.1.2) | `batch_saturated` | [`helper_initialize`], with [`HelperInitContext::batch_capacity`] |
//!
//! # Where is
//!
//! | rule | DAP-09 | function |
//! |---|---|---|
//! | report IDs distinct, query type the task's, parameter decodable (`invalidMessage`) | 4.5.1.2 | [`helper_initialize`] |
//! | each report's checks, in the order above | 4.5.1.3, 4.5.1.4 | [`helper_initialize`] |
//! | the time rules of input-share validation | 4.5.1.4 | [`time_rejection`] |
//! | whether the request repeats one already answered | 4.5.1.2 | [`crate::idempotency::check_init_request`] |
//! | the request's digest, computed once by the caller | 4.5.2.3 | [`crate::idempotency::RequestHash::of_body`] |
//!
//! What needs the store comes in as [`ReportFacts`].

use crate::batch::check_query_type;
use crate::error::ProtocolError;
use crate::idempotency::RequestHash;
use crate::keyring::HpkeKeyring;
use crate::leader_prepare::verify_key;
use crate::parallel::map_in_chunks;
use crate::replay::{self, Replay};
use crate::upload::check_task_extensions;
use crate::vdaf_codec::{
    decode_agg_param, decode_input_share, decode_ping_pong, decode_public_share,
    encode_output_share, encode_ping_pong, DapAggregator,
};
use dyad_core::hpke::{open_input_share, HpkeError};
use dyad_core::task::Task;
use dyad_messages::draft09::{
    AggregationJobInitReq, AggregationJobResp, BatchId, ExtensionType, InputShareAad, Interval,
    PartialBatchSelector, PrepareError, PrepareInit, PrepareResp, PrepareStepResult, ReportId,
    ReportMetadata, Role, Time,
};
use prio::topology::ping_pong::{PingPongState, PingPongTopology};
use std::collections::{HashMap, HashSet};
use std::fmt;

/// What the Helper's store knows about the reports of a request.
pub trait ReportFacts {
    /// The encoded aggregation parameters the report was aggregated with
    /// before (empty if never): what [`crate::replay::decide`] judges.
    fn previous_agg_params(&self, metadata: &ReportMetadata) -> Vec<Vec<u8>>;

    /// Whether the batch the report would join was already collected
    /// (time_interval: the report's time lies in a collected interval, see
    /// [`crate::batch::time_in_collected_interval`]; fixed_size: the batch ID
    /// of `batch` was collected).
    fn is_batch_collected(&self, metadata: &ReportMetadata, batch: &PartialBatchSelector) -> bool;
}

/// Facts held in memory: the parameters each report was aggregated with
/// and the collected batches.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KnownFacts {
    pub seen_agg_params: HashMap<ReportId, Vec<Vec<u8>>>,
    pub collected_intervals: Vec<Interval>,
    pub collected_batch_ids: HashSet<BatchId>,
}

/// Facts answered by two closures: `previous(metadata)` (the parameters
/// the report was aggregated with) and `collected(metadata, batch)`.
pub struct FactsFn<P, C> {
    pub previous: P,
    pub collected: C,
}

impl<P, C> ReportFacts for FactsFn<P, C>
where
    P: Fn(&ReportMetadata) -> Vec<Vec<u8>>,
    C: Fn(&ReportMetadata, &PartialBatchSelector) -> bool,
{
    fn previous_agg_params(&self, metadata: &ReportMetadata) -> Vec<Vec<u8>> {
        (self.previous)(metadata)
    }

    fn is_batch_collected(&self, metadata: &ReportMetadata, batch: &PartialBatchSelector) -> bool {
        (self.collected)(metadata, batch)
    }
}

impl ReportFacts for KnownFacts {
    fn previous_agg_params(&self, metadata: &ReportMetadata) -> Vec<Vec<u8>> {
        self.seen_agg_params
            .get(&metadata.id)
            .cloned()
            .unwrap_or_default()
    }

    fn is_batch_collected(&self, metadata: &ReportMetadata, batch: &PartialBatchSelector) -> bool {
        match batch {
            PartialBatchSelector::TimeInterval => {
                crate::batch::time_in_collected_interval(metadata.time, &self.collected_intervals)
            }
            PartialBatchSelector::FixedSize(batch_id) => {
                self.collected_batch_ids.contains(batch_id)
            }
        }
    }
}

/// Everything the Helper needs besides the VDAF and the request.
pub struct HelperInitContext<'a, K: ?Sized, F: ?Sized> {
    pub task: &'a Task,
    /// The Helper's HPKE keypairs (the task's and any global ones).
    pub keys: &'a K,
    pub facts: &'a F,
    pub now: Time,
    /// Extension types this task understands.
    pub recognized_extensions: &'a [ExtensionType],
    /// fixed_size: how many more reports the batch may take
    /// (`max_batch_size` minus those already aggregated); `None` if unbounded.
    pub batch_capacity: Option<u64>,
}

/// Where the Helper is with one report.
#[derive(Clone, PartialEq, Eq)]
pub enum HelperReportState {
    /// Waiting on the Leader: the encoded preparation state.
    Continued { prep_state: Vec<u8> },
    /// Prepared: the encoded output share, to aggregate.
    Finished { output_share: Vec<u8> },
    /// Rejected by the Helper.
    Failed(PrepareError),
    /// Left out of a continuation by the Leader, which rejected it (DAP-09
    /// section 4.5.2.2).
    AbandonedByLeader,
}

impl fmt::Debug for HelperReportState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HelperReportState::Continued { prep_state } => f
                .debug_struct("Continued")
                .field("prep_state_len", &prep_state.len())
                .finish(),
            HelperReportState::Finished { output_share } => f
                .debug_struct("Finished")
                .field("output_share_len", &output_share.len())
                .finish(),
            HelperReportState::Failed(error) => f.debug_tuple("Failed").field(error).finish(),
            HelperReportState::AbandonedByLeader => f.write_str("AbandonedByLeader"),
        }
    }
}

/// One report of a job and the Helper's state for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HelperReportAggregation {
    pub metadata: ReportMetadata,
    pub state: HelperReportState,
}

/// The result of initializing a job: what to store and what to answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HelperInitOutcome {
    /// The digest of the request, to store with the job (step 0).
    pub request_hash: RequestHash,
    /// Every report of the request, in order.
    pub reports: Vec<HelperReportAggregation>,
    /// The response, to send and to store for replays.
    pub response: AggregationJobResp,
}

/// Helper initialization of an aggregation job (DAP-09 section 4.5.1.2).
/// `request_hash` is the digest of the request's body
/// ([`RequestHash::of_body`], computed once by the caller), carried into
/// the outcome to be stored with the job.
pub fn helper_initialize<V, const L: usize, K, F>(
    vdaf: &V,
    ctx: &HelperInitContext<'_, K, F>,
    request: &AggregationJobInitReq,
    request_hash: RequestHash,
) -> Result<HelperInitOutcome, ProtocolError>
where
    V: DapAggregator<L>,
    K: HpkeKeyring + Sync + ?Sized,
    F: ReportFacts + Sync + ?Sized,
{
    let task_id = *ctx.task.task_id();
    let mut ids = HashSet::with_capacity(request.prepare_inits.len());
    if let Some(repeated) = request
        .prepare_inits
        .iter()
        .map(|init| init.report_share.metadata.id)
        .find(|id| !ids.insert(*id))
    {
        return Err(ProtocolError::invalid_message(format!(
            "report {repeated} appears twice in the request"
        ))
        .with_task_id(task_id));
    }
    check_query_type(ctx.task, request.partial_batch_selector.query_type())?;
    let decode_param = || {
        decode_agg_param::<V>(&request.aggregation_parameter).map_err(|e| {
            ProtocolError::invalid_message(format!("aggregation parameter: {e}"))
                .with_task_id(task_id)
        })
    };
    decode_param()?;
    let verify_key = verify_key::<L>(ctx.task)?;

    // Each report on its own, the job's reports spread over the cores
    // (each chunk decodes the parameter: prio's types need not be `Sync`).
    let prepared = map_in_chunks(&request.prepare_inits, |chunk| {
        let param = decode_param()?;
        chunk
            .iter()
            .map(|init| open_validate_prepare(vdaf, ctx, verify_key, &param, request, init))
            .collect::<Result<Vec<_>, ProtocolError>>()
    })?;

    // Then, in the request's order, what depends on the reports before:
    // the batch's remaining capacity.
    let mut capacity = ctx.batch_capacity;
    let mut reports = Vec::with_capacity(request.prepare_inits.len());
    let mut responses = Vec::with_capacity(request.prepare_inits.len());
    for (init, prepared) in request.prepare_inits.iter().zip(prepared) {
        let metadata = init.report_share.metadata;
        let mut state = match prepared {
            Ok(state) => state,
            Err(error) => (HelperReportState::Failed(error), None),
        };
        if !matches!(state.0, HelperReportState::Failed(_)) {
            match capacity.as_mut() {
                Some(0) => {
                    state = (
                        HelperReportState::Failed(PrepareError::BatchSaturated),
                        None,
                    )
                }
                Some(left) => *left -= 1,
                None => {}
            }
        }
        let (state, outbound) = state;
        let result = match (&state, outbound) {
            (HelperReportState::Failed(error), _) => PrepareStepResult::Reject(*error),
            (_, Some(payload)) => PrepareStepResult::Continue { payload },
            (_, None) => {
                return Err(ProtocolError::internal(
                    "prepared report without an outbound message",
                ))
            }
        };
        responses.push(PrepareResp::new(metadata.id, result));
        reports.push(HelperReportAggregation { metadata, state });
    }
    Ok(HelperInitOutcome {
        request_hash,
        reports,
        response: AggregationJobResp::new(responses),
    })
}

type Prepared = (HelperReportState, Option<Vec<u8>>);

/// Validates and initializes one report: the state and outbound message,
/// or the rejection; `Err` for a failure of ours.
fn open_validate_prepare<V, const L: usize, K, F>(
    vdaf: &V,
    ctx: &HelperInitContext<'_, K, F>,
    verify_key: &[u8; L],
    param: &V::AggregationParam,
    request: &AggregationJobInitReq,
    init: &PrepareInit,
) -> Result<Result<Prepared, PrepareError>, ProtocolError>
where
    V: DapAggregator<L>,
    K: HpkeKeyring + Sync + ?Sized,
    F: ReportFacts + Sync + ?Sized,
{
    let share = &init.report_share;
    let metadata = &share.metadata;
    let ciphertext = &share.encrypted_input_share;
    let Some(keypair) = ctx.keys.keypair(ciphertext.config_id) else {
        return Ok(Err(PrepareError::HpkeUnknownConfigId));
    };
    let aad = InputShareAad::new(*ctx.task.task_id(), *metadata, share.public_share.clone());
    let plaintext = match open_input_share(keypair, Role::Helper, &aad, ciphertext) {
        Ok(plaintext) => plaintext,
        Err(HpkeError::WrongConfigId { .. }) => return Ok(Err(PrepareError::HpkeUnknownConfigId)),
        // Decrypted, but not a `PlaintextInputShare`: the decryption did not
        // fail (DAP-09 section 4.5.1.3), the message is malformed.
        Err(HpkeError::Decode(_)) => return Ok(Err(PrepareError::InvalidMessage)),
        Err(_) => return Ok(Err(PrepareError::HpkeDecryptError)),
    };
    let (Ok(public_share), Ok(input_share)) = (
        decode_public_share(vdaf, &share.public_share),
        decode_input_share(vdaf, Role::Helper, &plaintext.payload),
    ) else {
        return Ok(Err(PrepareError::InvalidMessage));
    };
    if let Some(reason) = time_rejection(ctx.task, metadata.time, ctx.now) {
        return Ok(Err(reason));
    }
    if check_task_extensions(ctx.task, &plaintext.extensions, ctx.recognized_extensions).is_err() {
        return Ok(Err(PrepareError::InvalidMessage));
    }
    let previous = ctx.facts.previous_agg_params(metadata);
    if replay::decide(ctx.task.vdaf(), &request.aggregation_parameter, &previous)
        == Replay::Replayed
    {
        return Ok(Err(PrepareError::ReportReplayed));
    }
    if ctx
        .facts
        .is_batch_collected(metadata, &request.partial_batch_selector)
    {
        return Ok(Err(PrepareError::BatchCollected));
    }
    // A Leader message that does not decode is a rejection by the VDAF
    // (draft-irtf-cfrg-vdaf-08 section 5.8, `ping_pong_helper_init`), which
    // DAP-09 section 4.5.1.2 answers with `vdaf_prep_error`; only an input
    // share that does not decode is `invalid_message` (section 4.5.1.4).
    let Ok(inbound) = decode_ping_pong(&init.payload) else {
        return Ok(Err(PrepareError::VdafPrepError));
    };
    let Ok(transition) = vdaf.helper_initialized(
        verify_key,
        param,
        metadata.id.as_bytes(),
        &public_share,
        &input_share,
        &inbound,
    ) else {
        return Ok(Err(PrepareError::VdafPrepError));
    };
    let Ok((state, outbound)) = transition.evaluate(vdaf) else {
        return Ok(Err(PrepareError::VdafPrepError));
    };
    let state = match state {
        PingPongState::Continued(prep) => HelperReportState::Continued {
            prep_state: vdaf.encode_prep_state(&prep)?,
        },
        PingPongState::Finished(output) => HelperReportState::Finished {
            output_share: encode_output_share::<V>(&output)?,
        },
    };
    Ok(Ok((state, Some(encode_ping_pong(&outbound)?))))
}

/// The time-based rejections of input-share validation (DAP-09 section
/// 4.5.1.4), in the spec's order: too early, task expired, then too old to
/// check for replay (`report_dropped`).
pub fn time_rejection(task: &Task, time: Time, now: Time) -> Option<PrepareError> {
    let latest = now
        .checked_add(task.tolerable_clock_skew())
        .unwrap_or(Time::from_seconds_since_epoch(u64::MAX));
    if time > latest {
        return Some(PrepareError::ReportTooEarly);
    }
    if task
        .task_expiration()
        .is_some_and(|expiration| time > expiration)
    {
        return Some(PrepareError::TaskExpired);
    }
    if let Some(earliest) = task
        .report_expiry_age()
        .and_then(|age| now.checked_sub(age))
    {
        if time < earliest {
            return Some(PrepareError::ReportDropped);
        }
    }
    None
}

#[cfg(test)]
#[path = "helper_init_tests.rs"]
mod tests;
