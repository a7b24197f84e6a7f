//! Where Janus 0.7 and DAP-09 / taskprov-06 disagree, pinned so that a
//! change on either side is noticed. dyad follows the spec in each case.

use dyad_messages::codec::{Decode as _, Encode as _};
use dyad_messages::draft09::*;
use dyad_messages::taskprov::*;
use janus_messages as j;
use janus_messages::codec::Decode as _;
use janus_messages::query_type::TimeInterval;

fn report_metadata_bytes() -> Vec<u8> {
    let mut bytes = vec![7u8; 16];
    bytes.extend_from_slice(&1_700_000_000u64.to_be_bytes());
    bytes
}

/// DAP-09 section 4.4.3: `ExtensionType` is an open registry and an unknown
/// extension is a reason to reject the report during input share validation
/// (with `invalid_message`), not a parse failure. Janus fails to decode the
/// whole `PlaintextInputShare`.
#[test]
fn janus_rejects_unregistered_extension_types_when_decoding() {
    let share = PlaintextInputShare::new(
        vec![Extension::new(ExtensionType::Other(0x1234), vec![1])],
        vec![2],
    );
    let bytes = share.get_encoded().unwrap();
    assert_eq!(PlaintextInputShare::get_decoded(&bytes).unwrap(), share);
    assert!(j::PlaintextInputShare::get_decoded(&bytes).is_err());
}

/// DAP-09 section 8.2.3 creates a registry for `PrepareError`; dyad keeps
/// values registered later. Janus fails to decode the whole response.
#[test]
fn janus_rejects_unregistered_prepare_errors() {
    let resp = AggregationJobResp::new(vec![PrepareResp::new(
        ReportId::from_bytes([1; 16]),
        PrepareStepResult::Reject(PrepareError::Other(10)),
    )]);
    let bytes = resp.get_encoded().unwrap();
    assert_eq!(AggregationJobResp::get_decoded(&bytes).unwrap(), resp);
    assert!(j::AggregationJobResp::get_decoded(&bytes).is_err());
}

/// DAP-09 declares preparation payloads `opaque payload<0..2^32-1>`; their
/// content is the VDAF's ping-pong message, whose validity the spec checks
/// per report. Janus parses the ping-pong message while decoding, so one
/// malformed payload makes the whole request undecodable.
#[test]
fn janus_parses_preparation_payloads_as_ping_pong_messages() {
    let req = AggregationJobContinueReq::new(
        AggregationJobStep(1),
        vec![PrepareContinue::new(
            ReportId::from_bytes([1; 16]),
            vec![0xff],
        )],
    );
    let bytes = req.get_encoded().unwrap();
    assert_eq!(AggregationJobContinueReq::get_decoded(&bytes).unwrap(), req);
    assert!(j::AggregationJobContinueReq::get_decoded(&bytes).is_err());
}

/// DAP-09 gives several vectors a minimum length of 1 (`enc<1..2^16-1>`,
/// `payload<1..2^32-1>`, `HpkeConfigList<1..2^16-1>`,
/// `prepare_inits<1..2^32-1>`, `prepare_resps<1..2^32-1>`,
/// `prepare_continues<1..2^32-1>`). Janus does not enforce those minimums
/// when decoding; dyad rejects such messages.
#[test]
fn janus_accepts_vectors_shorter_than_the_spec_minimum() {
    // HpkeCiphertext with empty enc and payload.
    let ciphertext = [5u8, 0, 0, 0, 0, 0, 0];
    assert!(HpkeCiphertext::get_decoded(&ciphertext).is_err());
    assert!(j::HpkeCiphertext::get_decoded(&ciphertext).is_ok());

    // Empty HpkeConfigList.
    assert!(HpkeConfigList::get_decoded(&[0, 0]).is_err());
    assert!(j::HpkeConfigList::get_decoded(&[0, 0]).is_ok());

    // AggregationJobResp and AggregationJobContinueReq with no reports.
    assert!(AggregationJobResp::get_decoded(&[0, 0, 0, 0]).is_err());
    assert!(j::AggregationJobResp::get_decoded(&[0, 0, 0, 0]).is_ok());
    let continue_req = [0u8, 1, 0, 0, 0, 0];
    assert!(AggregationJobContinueReq::get_decoded(&continue_req).is_err());
    assert!(j::AggregationJobContinueReq::get_decoded(&continue_req).is_ok());

    // AggregationJobInitReq (time_interval) with no prepare_inits.
    let init_req = [0u8, 0, 0, 0, 1, 0, 0, 0, 0];
    assert!(AggregationJobInitReq::get_decoded(&init_req).is_err());
    assert!(j::AggregationJobInitializeReq::<TimeInterval>::get_decoded(&init_req).is_ok());

    // A Report whose leader share has an empty enc.
    let mut report = report_metadata_bytes();
    report.extend_from_slice(&[0, 0, 0, 0]); // public_share
    report.extend_from_slice(&[1, 0, 0, 0, 0, 0, 1, 0xaa]); // leader: enc<0>
    report.extend_from_slice(&[1, 0, 1, 0xbb, 0, 0, 0, 1, 0xcc]); // helper
    assert!(Report::get_decoded(&report).is_err());
    assert!(j::Report::get_decoded(&report).is_ok());
}

/// taskprov-06 section 3: `query_config`, `vdaf_config` and `dp_config` are
/// length-prefixed "so that [they] can be decoded even if an unrecognized
/// variant is encountered", letting the participant opt out (`invalidTask`).
/// Janus keeps unknown DP mechanisms but fails to decode a `TaskConfig` with
/// an unknown query type or VDAF type.
#[test]
fn janus_cannot_decode_task_configs_with_unknown_variants() {
    let config = |query, vdaf_type| TaskConfig {
        task_info: b"t".to_vec(),
        leader_aggregator_endpoint: Url::try_from("https://l/").unwrap(),
        helper_aggregator_endpoint: Url::try_from("https://h/").unwrap(),
        query_config: QueryConfig {
            time_precision: Duration::from_seconds(60),
            max_batch_query_count: 1,
            min_batch_size: 1,
            query,
        },
        task_expiration: Time::from_seconds_since_epoch(1),
        vdaf_config: VdafConfig::new(
            DpConfig::new(DpMechanism::Other {
                code: 9,
                data: vec![1],
            }),
            vdaf_type,
        ),
    };

    let known = config(QueryTypeConfig::TimeInterval, VdafType::Prio3Count);
    let bytes = known.get_encoded().unwrap();
    assert!(j::taskprov::TaskConfig::get_decoded(&bytes).is_ok());

    let unknown_query = config(
        QueryTypeConfig::Other {
            code: 3,
            data: vec![1, 2],
        },
        VdafType::Prio3Count,
    );
    let bytes = unknown_query.get_encoded().unwrap();
    assert_eq!(TaskConfig::get_decoded(&bytes).unwrap(), unknown_query);
    assert!(j::taskprov::TaskConfig::get_decoded(&bytes).is_err());

    let unknown_vdaf = config(
        QueryTypeConfig::TimeInterval,
        VdafType::Other {
            code: 0x0000_0004,
            data: vec![],
        },
    );
    let bytes = unknown_vdaf.get_encoded().unwrap();
    assert_eq!(TaskConfig::get_decoded(&bytes).unwrap(), unknown_vdaf);
    assert!(j::taskprov::TaskConfig::get_decoded(&bytes).is_err());
}
