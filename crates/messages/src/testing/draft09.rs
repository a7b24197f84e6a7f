//! Strategies for the DAP-09 messages of [`crate::draft09`].

use super::bytes::{bytes, opaque, opaque_nonempty};
use crate::draft09::*;
use proptest::collection::vec;
use proptest::prelude::*;

pub fn task_id() -> impl Strategy<Value = TaskId> + Clone {
    any::<[u8; 32]>().prop_map(TaskId::from_bytes)
}

pub fn report_id() -> impl Strategy<Value = ReportId> + Clone {
    any::<[u8; 16]>().prop_map(ReportId::from_bytes)
}

pub fn batch_id() -> impl Strategy<Value = BatchId> + Clone {
    any::<[u8; 32]>().prop_map(BatchId::from_bytes)
}

pub fn aggregation_job_id() -> impl Strategy<Value = AggregationJobId> + Clone {
    any::<[u8; 16]>().prop_map(AggregationJobId::from_bytes)
}

pub fn collection_job_id() -> impl Strategy<Value = CollectionJobId> + Clone {
    any::<[u8; 16]>().prop_map(CollectionJobId::from_bytes)
}

pub fn time() -> impl Strategy<Value = Time> + Clone {
    any::<u64>().prop_map(Time::from_seconds_since_epoch)
}

pub fn duration() -> impl Strategy<Value = Duration> + Clone {
    any::<u64>().prop_map(Duration::from_seconds)
}

/// Intervals whose end does not overflow, from the whole range and from
/// realistic, precision-aligned values.
pub fn interval() -> impl Strategy<Value = Interval> + Clone {
    prop_oneof![
        any::<u64>()
            .prop_flat_map(|start| (Just(start), 0..=u64::MAX - start))
            .prop_map(|(s, d)| Interval::new(
                Time::from_seconds_since_epoch(s),
                Duration::from_seconds(d)
            )
            .unwrap_or(Interval::EMPTY)),
        (0u64..4_000_000, 1u64..1000).prop_map(|(s, d)| Interval::new(
            Time::from_seconds_since_epoch(s * 3600),
            Duration::from_seconds(d * 3600)
        )
        .unwrap_or(Interval::EMPTY)),
    ]
}

pub fn role() -> impl Strategy<Value = Role> + Clone {
    prop_oneof![
        Just(Role::Collector),
        Just(Role::Client),
        Just(Role::Leader),
        Just(Role::Helper)
    ]
}

pub fn hpke_config_id() -> impl Strategy<Value = HpkeConfigId> + Clone {
    any::<u8>().prop_map(HpkeConfigId)
}

pub fn hpke_kem_id() -> impl Strategy<Value = HpkeKemId> + Clone {
    prop_oneof![
        proptest::sample::select(HpkeKemId::KNOWN),
        any::<u16>().prop_map(HpkeKemId::from)
    ]
}

pub fn hpke_kdf_id() -> impl Strategy<Value = HpkeKdfId> + Clone {
    prop_oneof![
        proptest::sample::select(HpkeKdfId::KNOWN),
        any::<u16>().prop_map(HpkeKdfId::from)
    ]
}

pub fn hpke_aead_id() -> impl Strategy<Value = HpkeAeadId> + Clone {
    prop_oneof![
        proptest::sample::select(HpkeAeadId::KNOWN),
        any::<u16>().prop_map(HpkeAeadId::from)
    ]
}

pub fn hpke_public_key() -> impl Strategy<Value = HpkePublicKey> + Clone {
    opaque_nonempty().prop_map(HpkePublicKey)
}

pub fn hpke_config() -> impl Strategy<Value = HpkeConfig> + Clone {
    (
        hpke_config_id(),
        hpke_kem_id(),
        hpke_kdf_id(),
        hpke_aead_id(),
        hpke_public_key(),
    )
        .prop_map(|(id, kem_id, kdf_id, aead_id, public_key)| HpkeConfig {
            id,
            kem_id,
            kdf_id,
            aead_id,
            public_key,
        })
}

pub fn hpke_config_list() -> impl Strategy<Value = HpkeConfigList> + Clone {
    vec(hpke_config(), 1..4).prop_map(HpkeConfigList)
}

pub fn hpke_ciphertext() -> impl Strategy<Value = HpkeCiphertext> + Clone {
    (hpke_config_id(), opaque_nonempty(), opaque_nonempty()).prop_map(
        |(config_id, encapsulated_key, payload)| HpkeCiphertext {
            config_id,
            encapsulated_key,
            payload,
        },
    )
}

/// ASCII URLs (any ASCII byte, as the wire allows), 1 to 64 bytes.
pub fn url() -> impl Strategy<Value = Url> + Clone {
    vec(0u8..0x80, 1..=64).prop_map(|b| Url::try_from(b.as_slice()).expect("ASCII, non-empty"))
}

pub fn empty() -> impl Strategy<Value = Empty> + Clone {
    Just(Empty)
}

pub fn extension_type() -> impl Strategy<Value = ExtensionType> + Clone {
    prop_oneof![
        Just(ExtensionType::Tbd),
        Just(ExtensionType::Taskprov),
        any::<u16>().prop_map(ExtensionType::from)
    ]
}

pub fn extension() -> impl Strategy<Value = Extension> + Clone {
    (extension_type(), bytes(0, 16)).prop_map(|(t, d)| Extension::new(t, d))
}

pub fn report_metadata() -> impl Strategy<Value = ReportMetadata> + Clone {
    (report_id(), time()).prop_map(|(id, time)| ReportMetadata::new(id, time))
}

pub fn plaintext_input_share() -> impl Strategy<Value = PlaintextInputShare> + Clone {
    (vec(extension(), 0..4), opaque()).prop_map(|(e, p)| PlaintextInputShare::new(e, p))
}

pub fn input_share_aad() -> impl Strategy<Value = InputShareAad> + Clone {
    (task_id(), report_metadata(), opaque()).prop_map(|(t, m, p)| InputShareAad::new(t, m, p))
}

pub fn report() -> impl Strategy<Value = Report> + Clone {
    (
        report_metadata(),
        opaque(),
        hpke_ciphertext(),
        hpke_ciphertext(),
    )
        .prop_map(|(m, p, l, h)| Report::new(m, p, l, h))
}

pub fn query_type() -> impl Strategy<Value = QueryType> + Clone {
    prop_oneof![Just(QueryType::TimeInterval), Just(QueryType::FixedSize)]
}

pub fn fixed_size_query() -> impl Strategy<Value = FixedSizeQuery> + Clone {
    prop_oneof![
        batch_id().prop_map(FixedSizeQuery::ByBatchId),
        Just(FixedSizeQuery::CurrentBatch)
    ]
}

pub fn query() -> impl Strategy<Value = Query> + Clone {
    prop_oneof![
        interval().prop_map(Query::TimeInterval),
        fixed_size_query().prop_map(Query::FixedSize)
    ]
}

pub fn partial_batch_selector() -> impl Strategy<Value = PartialBatchSelector> + Clone {
    prop_oneof![
        Just(PartialBatchSelector::TimeInterval),
        batch_id().prop_map(PartialBatchSelector::FixedSize)
    ]
}

pub fn batch_selector() -> impl Strategy<Value = BatchSelector> + Clone {
    prop_oneof![
        interval().prop_map(BatchSelector::TimeInterval),
        batch_id().prop_map(BatchSelector::FixedSize)
    ]
}

pub fn report_share() -> impl Strategy<Value = ReportShare> + Clone {
    (report_metadata(), opaque(), hpke_ciphertext()).prop_map(|(m, p, c)| ReportShare::new(m, p, c))
}

pub fn prepare_init() -> impl Strategy<Value = PrepareInit> + Clone {
    (report_share(), opaque()).prop_map(|(s, p)| PrepareInit::new(s, p))
}

/// Every registered error, and unregistered values as `Other`.
pub fn prepare_error() -> impl Strategy<Value = PrepareError> + Clone {
    prop_oneof![
        proptest::sample::select(PrepareError::KNOWN),
        any::<u8>().prop_map(PrepareError::from)
    ]
}

/// Registered errors only, as a peer that knows no other values sends.
pub fn registered_prepare_error() -> impl Strategy<Value = PrepareError> + Clone {
    proptest::sample::select(PrepareError::KNOWN)
}

pub fn prepare_step_result() -> impl Strategy<Value = PrepareStepResult> + Clone {
    prop_oneof![
        opaque().prop_map(|payload| PrepareStepResult::Continue { payload }),
        Just(PrepareStepResult::Finished),
        prepare_error().prop_map(PrepareStepResult::Reject)
    ]
}

pub fn prepare_resp() -> impl Strategy<Value = PrepareResp> + Clone {
    (report_id(), prepare_step_result()).prop_map(|(id, r)| PrepareResp::new(id, r))
}

pub fn prepare_continue() -> impl Strategy<Value = PrepareContinue> + Clone {
    (report_id(), opaque()).prop_map(|(id, p)| PrepareContinue::new(id, p))
}

pub fn aggregation_job_step() -> impl Strategy<Value = AggregationJobStep> + Clone {
    any::<u16>().prop_map(AggregationJobStep)
}

pub fn aggregation_job_init_req() -> impl Strategy<Value = AggregationJobInitReq> + Clone {
    (
        opaque(),
        partial_batch_selector(),
        vec(prepare_init(), 1..4),
    )
        .prop_map(|(a, s, p)| AggregationJobInitReq::new(a, s, p))
}

pub fn aggregation_job_resp() -> impl Strategy<Value = AggregationJobResp> + Clone {
    vec(prepare_resp(), 1..5).prop_map(AggregationJobResp::new)
}

pub fn aggregation_job_continue_req() -> impl Strategy<Value = AggregationJobContinueReq> + Clone {
    (aggregation_job_step(), vec(prepare_continue(), 1..5))
        .prop_map(|(s, p)| AggregationJobContinueReq::new(s, p))
}

pub fn collection_req() -> impl Strategy<Value = CollectionReq> + Clone {
    (query(), opaque()).prop_map(|(q, a)| CollectionReq::new(q, a))
}

pub fn collection() -> impl Strategy<Value = Collection> + Clone {
    (
        partial_batch_selector(),
        any::<u64>(),
        interval(),
        hpke_ciphertext(),
        hpke_ciphertext(),
    )
        .prop_map(|(s, n, i, l, h)| Collection {
            partial_batch_selector: s,
            report_count: n,
            interval: i,
            leader_encrypted_agg_share: l,
            helper_encrypted_agg_share: h,
        })
}

pub fn report_id_checksum() -> impl Strategy<Value = ReportIdChecksum> + Clone {
    any::<[u8; 32]>().prop_map(ReportIdChecksum)
}

pub fn aggregate_share_req() -> impl Strategy<Value = AggregateShareReq> + Clone {
    (
        batch_selector(),
        opaque(),
        any::<u64>(),
        report_id_checksum(),
    )
        .prop_map(|(b, a, n, c)| AggregateShareReq {
            batch_selector: b,
            aggregation_parameter: a,
            report_count: n,
            checksum: c,
        })
}

pub fn aggregate_share() -> impl Strategy<Value = AggregateShare> + Clone {
    hpke_ciphertext().prop_map(|c| AggregateShare {
        encrypted_aggregate_share: c,
    })
}

pub fn aggregate_share_aad() -> impl Strategy<Value = AggregateShareAad> + Clone {
    (task_id(), opaque(), batch_selector()).prop_map(|(t, a, b)| AggregateShareAad::new(t, a, b))
}
