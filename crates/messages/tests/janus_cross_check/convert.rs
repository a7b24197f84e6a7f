//! Builds the Janus value for the same inputs as a dyad value. Every field is
//! copied through Janus's own constructors; nothing is converted by
//! encoding, so the two implementations stay independent.

use crate::ByQueryType;
use dyad_messages::draft09 as d;
use dyad_messages::taskprov as dt;
use janus_messages as j;
use janus_messages::codec::Decode as _;
use janus_messages::query_type::{FixedSize, TimeInterval};
use janus_messages::taskprov as jt;
use prio::topology::ping_pong::PingPongMessage;

pub fn task_id(v: &d::TaskId) -> j::TaskId {
    j::TaskId::from(*v.as_bytes())
}

pub fn report_id(v: &d::ReportId) -> j::ReportId {
    j::ReportId::from(*v.as_bytes())
}

pub fn batch_id(v: &d::BatchId) -> j::BatchId {
    j::BatchId::from(*v.as_bytes())
}

pub fn time(v: &d::Time) -> j::Time {
    j::Time::from_seconds_since_epoch(v.as_seconds_since_epoch())
}

pub fn duration(v: &d::Duration) -> j::Duration {
    j::Duration::from_seconds(v.as_seconds())
}

pub fn interval(v: &d::Interval) -> j::Interval {
    j::Interval::new(time(&v.start()), duration(&v.duration())).expect("dyad intervals are valid")
}

pub fn role(v: &d::Role) -> j::Role {
    match v {
        d::Role::Collector => j::Role::Collector,
        d::Role::Client => j::Role::Client,
        d::Role::Leader => j::Role::Leader,
        d::Role::Helper => j::Role::Helper,
    }
}

pub fn url(v: &d::Url) -> j::Url {
    j::Url::try_from(v.as_bytes()).expect("dyad URLs are valid")
}

pub fn hpke_config_id(v: &d::HpkeConfigId) -> j::HpkeConfigId {
    j::HpkeConfigId::from(v.0)
}

pub fn hpke_config(v: &d::HpkeConfig) -> j::HpkeConfig {
    j::HpkeConfig::new(
        hpke_config_id(&v.id),
        j::HpkeKemId::from(u16::from(v.kem_id)),
        j::HpkeKdfId::from(u16::from(v.kdf_id)),
        j::HpkeAeadId::from(u16::from(v.aead_id)),
        j::HpkePublicKey::from(v.public_key.0.clone()),
    )
}

pub fn hpke_config_list(v: &d::HpkeConfigList) -> j::HpkeConfigList {
    j::HpkeConfigList::new(v.0.iter().map(hpke_config).collect())
}

pub fn hpke_ciphertext(v: &d::HpkeCiphertext) -> j::HpkeCiphertext {
    j::HpkeCiphertext::new(
        hpke_config_id(&v.config_id),
        v.encapsulated_key.clone(),
        v.payload.clone(),
    )
}

/// Janus names only the two registered extension types.
pub fn extension(v: &d::Extension) -> j::Extension {
    let extension_type = match v.extension_type {
        d::ExtensionType::Tbd => j::ExtensionType::Tbd,
        d::ExtensionType::Taskprov => j::ExtensionType::Taskprov,
        d::ExtensionType::Other(n) => panic!("Janus cannot represent extension type {n}"),
    };
    j::Extension::new(extension_type, v.extension_data.clone())
}

pub fn report_metadata(v: &d::ReportMetadata) -> j::ReportMetadata {
    j::ReportMetadata::new(report_id(&v.id), time(&v.time))
}

pub fn plaintext_input_share(v: &d::PlaintextInputShare) -> j::PlaintextInputShare {
    j::PlaintextInputShare::new(
        v.extensions.iter().map(extension).collect(),
        v.payload.clone(),
    )
}

pub fn input_share_aad(v: &d::InputShareAad) -> j::InputShareAad {
    j::InputShareAad::new(
        task_id(&v.task_id),
        report_metadata(&v.metadata),
        v.public_share.clone(),
    )
}

pub fn report(v: &d::Report) -> j::Report {
    j::Report::new(
        report_metadata(&v.metadata),
        v.public_share.clone(),
        hpke_ciphertext(&v.leader_encrypted_input_share),
        hpke_ciphertext(&v.helper_encrypted_input_share),
    )
}

pub fn fixed_size_query(v: &d::FixedSizeQuery) -> j::FixedSizeQuery {
    match v {
        d::FixedSizeQuery::ByBatchId(id) => j::FixedSizeQuery::ByBatchId {
            batch_id: batch_id(id),
        },
        d::FixedSizeQuery::CurrentBatch => j::FixedSizeQuery::CurrentBatch,
    }
}

pub fn query(v: &d::Query) -> ByQueryType<j::Query<TimeInterval>, j::Query<FixedSize>> {
    match v {
        d::Query::TimeInterval(i) => {
            ByQueryType::TimeInterval(j::Query::new_time_interval(interval(i)))
        }
        d::Query::FixedSize(q) => {
            ByQueryType::FixedSize(j::Query::new_fixed_size(fixed_size_query(q)))
        }
    }
}

pub fn partial_batch_selector(
    v: &d::PartialBatchSelector,
) -> ByQueryType<j::PartialBatchSelector<TimeInterval>, j::PartialBatchSelector<FixedSize>> {
    match v {
        d::PartialBatchSelector::TimeInterval => {
            ByQueryType::TimeInterval(j::PartialBatchSelector::new_time_interval())
        }
        d::PartialBatchSelector::FixedSize(id) => {
            ByQueryType::FixedSize(j::PartialBatchSelector::new_fixed_size(batch_id(id)))
        }
    }
}

pub fn batch_selector(
    v: &d::BatchSelector,
) -> ByQueryType<j::BatchSelector<TimeInterval>, j::BatchSelector<FixedSize>> {
    match v {
        d::BatchSelector::TimeInterval(i) => {
            ByQueryType::TimeInterval(j::BatchSelector::new_time_interval(interval(i)))
        }
        d::BatchSelector::FixedSize(id) => {
            ByQueryType::FixedSize(j::BatchSelector::new_fixed_size(batch_id(id)))
        }
    }
}

pub fn report_share(v: &d::ReportShare) -> j::ReportShare {
    j::ReportShare::new(
        report_metadata(&v.metadata),
        v.public_share.clone(),
        hpke_ciphertext(&v.encrypted_input_share),
    )
}

/// Janus holds preparation payloads as decoded ping-pong messages.
pub fn ping_pong(payload: &[u8]) -> PingPongMessage {
    PingPongMessage::get_decoded(payload).expect("payload is a ping-pong message")
}

pub fn prepare_init(v: &d::PrepareInit) -> j::PrepareInit {
    j::PrepareInit::new(report_share(&v.report_share), ping_pong(&v.payload))
}

/// Janus names only the ten registered errors.
pub fn prepare_error(v: &d::PrepareError) -> j::PrepareError {
    j::PrepareError::try_from(v.as_u8()).expect("registered prepare error")
}

pub fn prepare_step_result(v: &d::PrepareStepResult) -> j::PrepareStepResult {
    match v {
        d::PrepareStepResult::Continue { payload } => j::PrepareStepResult::Continue {
            message: ping_pong(payload),
        },
        d::PrepareStepResult::Finished => j::PrepareStepResult::Finished,
        d::PrepareStepResult::Reject(e) => j::PrepareStepResult::Reject(prepare_error(e)),
    }
}

pub fn prepare_resp(v: &d::PrepareResp) -> j::PrepareResp {
    j::PrepareResp::new(report_id(&v.report_id), prepare_step_result(&v.result))
}

pub fn prepare_continue(v: &d::PrepareContinue) -> j::PrepareContinue {
    j::PrepareContinue::new(report_id(&v.report_id), ping_pong(&v.payload))
}

pub fn aggregation_job_init_req(
    v: &d::AggregationJobInitReq,
) -> ByQueryType<
    j::AggregationJobInitializeReq<TimeInterval>,
    j::AggregationJobInitializeReq<FixedSize>,
> {
    let inits: Vec<_> = v.prepare_inits.iter().map(prepare_init).collect();
    let agg_param = v.aggregation_parameter.clone();
    match partial_batch_selector(&v.partial_batch_selector) {
        ByQueryType::TimeInterval(s) => {
            ByQueryType::TimeInterval(j::AggregationJobInitializeReq::new(agg_param, s, inits))
        }
        ByQueryType::FixedSize(s) => {
            ByQueryType::FixedSize(j::AggregationJobInitializeReq::new(agg_param, s, inits))
        }
    }
}

pub fn aggregation_job_resp(v: &d::AggregationJobResp) -> j::AggregationJobResp {
    j::AggregationJobResp::new(v.prepare_resps.iter().map(prepare_resp).collect())
}

pub fn aggregation_job_continue_req(
    v: &d::AggregationJobContinueReq,
) -> j::AggregationJobContinueReq {
    j::AggregationJobContinueReq::new(
        j::AggregationJobStep::from(u16::from(v.step)),
        v.prepare_continues.iter().map(prepare_continue).collect(),
    )
}

pub fn collection_req(
    v: &d::CollectionReq,
) -> ByQueryType<j::CollectionReq<TimeInterval>, j::CollectionReq<FixedSize>> {
    let agg_param = v.aggregation_parameter.clone();
    match query(&v.query) {
        ByQueryType::TimeInterval(q) => {
            ByQueryType::TimeInterval(j::CollectionReq::new(q, agg_param))
        }
        ByQueryType::FixedSize(q) => ByQueryType::FixedSize(j::CollectionReq::new(q, agg_param)),
    }
}

pub fn collection(
    v: &d::Collection,
) -> ByQueryType<j::Collection<TimeInterval>, j::Collection<FixedSize>> {
    let (count, i) = (v.report_count, interval(&v.interval));
    let leader = hpke_ciphertext(&v.leader_encrypted_agg_share);
    let helper = hpke_ciphertext(&v.helper_encrypted_agg_share);
    match partial_batch_selector(&v.partial_batch_selector) {
        ByQueryType::TimeInterval(s) => {
            ByQueryType::TimeInterval(j::Collection::new(s, count, i, leader, helper))
        }
        ByQueryType::FixedSize(s) => {
            ByQueryType::FixedSize(j::Collection::new(s, count, i, leader, helper))
        }
    }
}

pub fn report_id_checksum(v: &d::ReportIdChecksum) -> j::ReportIdChecksum {
    j::ReportIdChecksum::from(v.0)
}

pub fn aggregate_share_req(
    v: &d::AggregateShareReq,
) -> ByQueryType<j::AggregateShareReq<TimeInterval>, j::AggregateShareReq<FixedSize>> {
    let agg_param = v.aggregation_parameter.clone();
    let checksum = report_id_checksum(&v.checksum);
    match batch_selector(&v.batch_selector) {
        ByQueryType::TimeInterval(s) => ByQueryType::TimeInterval(j::AggregateShareReq::new(
            s,
            agg_param,
            v.report_count,
            checksum,
        )),
        ByQueryType::FixedSize(s) => ByQueryType::FixedSize(j::AggregateShareReq::new(
            s,
            agg_param,
            v.report_count,
            checksum,
        )),
    }
}

pub fn aggregate_share(v: &d::AggregateShare) -> j::AggregateShare {
    j::AggregateShare::new(hpke_ciphertext(&v.encrypted_aggregate_share))
}

pub fn aggregate_share_aad(
    v: &d::AggregateShareAad,
) -> ByQueryType<j::AggregateShareAad<TimeInterval>, j::AggregateShareAad<FixedSize>> {
    let (t, agg_param) = (task_id(&v.task_id), v.aggregation_parameter.clone());
    match batch_selector(&v.batch_selector) {
        ByQueryType::TimeInterval(s) => {
            ByQueryType::TimeInterval(j::AggregateShareAad::new(t, agg_param, s))
        }
        ByQueryType::FixedSize(s) => {
            ByQueryType::FixedSize(j::AggregateShareAad::new(t, agg_param, s))
        }
    }
}

/// Janus names `none(1)` and `reserved(0)` (with an empty body), and keeps
/// other mechanisms with their bytes.
pub fn dp_config(v: &dt::DpConfig) -> jt::DpConfig {
    jt::DpConfig::new(match &v.dp_mechanism {
        dt::DpMechanism::None => jt::DpMechanism::None,
        dt::DpMechanism::Other { code: 0, data } if data.is_empty() => jt::DpMechanism::Reserved,
        dt::DpMechanism::Other { code, data } => jt::DpMechanism::Unrecognized {
            codepoint: *code,
            payload: data.clone(),
        },
    })
}

/// Janus also names one private code point, 0xFFFF1003
/// (Prio3SumVecField64MultiproofHmacSha256Aes128), which dyad keeps as `Other`.
pub fn vdaf_type(v: &dt::VdafType) -> jt::VdafType {
    match v {
        dt::VdafType::Prio3Count => jt::VdafType::Prio3Count,
        dt::VdafType::Prio3Sum { bits } => jt::VdafType::Prio3Sum { bits: *bits },
        dt::VdafType::Prio3SumVec {
            length,
            bits,
            chunk_length,
        } => jt::VdafType::Prio3SumVec {
            length: *length,
            bits: *bits,
            chunk_length: *chunk_length,
        },
        dt::VdafType::Prio3Histogram {
            length,
            chunk_length,
        } => jt::VdafType::Prio3Histogram {
            length: *length,
            chunk_length: *chunk_length,
        },
        dt::VdafType::Poplar1 { bits } => jt::VdafType::Poplar1 { bits: *bits },
        dt::VdafType::Other {
            code: 0xffff_1003,
            data,
        } if data.len() == 10 => jt::VdafType::Prio3SumVecField64MultiproofHmacSha256Aes128 {
            length: u32::from_be_bytes([data[0], data[1], data[2], data[3]]),
            bits: data[4],
            chunk_length: u32::from_be_bytes([data[5], data[6], data[7], data[8]]),
            proofs: data[9],
        },
        dt::VdafType::Other { code, .. } => panic!("Janus cannot represent VDAF type {code:#x}"),
    }
}

pub fn vdaf_config(v: &dt::VdafConfig) -> jt::VdafConfig {
    jt::VdafConfig::new(dp_config(&v.dp_config), vdaf_type(&v.vdaf_type))
        .expect("Janus accepts any VdafConfig")
}

pub fn query_config(v: &dt::QueryConfig) -> jt::QueryConfig {
    let query = match &v.query {
        dt::QueryTypeConfig::TimeInterval => jt::Query::TimeInterval,
        dt::QueryTypeConfig::FixedSize { max_batch_size } => jt::Query::FixedSize {
            max_batch_size: *max_batch_size,
        },
        dt::QueryTypeConfig::Other { code: 0, data } if data.is_empty() => jt::Query::Reserved,
        dt::QueryTypeConfig::Other { code, .. } => panic!("Janus cannot represent query {code}"),
    };
    jt::QueryConfig::new(
        duration(&v.time_precision),
        v.max_batch_query_count,
        v.min_batch_size,
        query,
    )
}

pub fn task_config(v: &dt::TaskConfig) -> jt::TaskConfig {
    jt::TaskConfig::new(
        v.task_info.clone(),
        url(&v.leader_aggregator_endpoint),
        url(&v.helper_aggregator_endpoint),
        query_config(&v.query_config),
        time(&v.task_expiration),
        vdaf_config(&v.vdaf_config),
    )
    .expect("non-empty task_info")
}
