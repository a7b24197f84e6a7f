//! Property tests over every message: encode→decode is the identity, decoding
//! arbitrary bytes never panics, and whatever decodes re-encodes to exactly
//! the input (the encoding is canonical, which taskprov's task ID and the
//! HPKE associated data rely on).

use dyad_messages::codec::{Decode, Encode};
use dyad_messages::draft09::*;
use dyad_messages::taskprov::*;
use dyad_messages::testing;
use proptest::prelude::*;
use std::fmt::Debug;

fn round_trip<T: Encode + Decode + PartialEq + Debug>(value: &T) -> Result<(), TestCaseError> {
    let bytes = encode_decode(value)?;
    // Any strict prefix is truncated, any extension has trailing bytes.
    if !bytes.is_empty() {
        prop_assert!(T::get_decoded(&bytes[..bytes.len() - 1]).is_err());
    }
    let mut longer = bytes.clone();
    longer.push(0);
    prop_assert!(T::get_decoded(&longer).is_err());
    Ok(())
}

/// encode→decode is the identity; returns the encoding.
fn encode_decode<T: Encode + Decode + PartialEq + Debug>(
    value: &T,
) -> Result<Vec<u8>, TestCaseError> {
    let bytes = value
        .get_encoded()
        .map_err(|e| TestCaseError::fail(format!("encode {value:?}: {e}")))?;
    let back = T::get_decoded(&bytes)
        .map_err(|e| TestCaseError::fail(format!("decode {value:?}: {e}")))?;
    prop_assert_eq!(&back, value);
    Ok(bytes)
}

/// Decodes `bytes`; if that succeeds the value must re-encode to `bytes`.
fn canonical<T: Encode + Decode + Debug>(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(value) = T::get_decoded(bytes) {
        let again = value
            .get_encoded()
            .map_err(|e| TestCaseError::fail(format!("re-encode {value:?}: {e}")))?;
        prop_assert_eq!(again, bytes);
    }
    Ok(())
}

macro_rules! round_trips {
    ($($name:ident: $ty:ty = $strategy:expr;)*) => {
        proptest! {
            $(
                #[test]
                fn $name(value in $strategy) {
                    round_trip::<$ty>(&value)?;
                }
            )*
        }
    };
}

round_trips! {
    hpke_config: HpkeConfig = testing::hpke_config();
    hpke_config_list: HpkeConfigList = testing::hpke_config_list();
    hpke_ciphertext: HpkeCiphertext = testing::hpke_ciphertext();
    role: Role = testing::role();
    url: Url = testing::url();
    interval: Interval = testing::interval();
    extension: Extension = testing::extension();
    report_metadata: ReportMetadata = testing::report_metadata();
    plaintext_input_share: PlaintextInputShare = testing::plaintext_input_share();
    input_share_aad: InputShareAad = testing::input_share_aad();
    report: Report = testing::report();
    query_type: QueryType = testing::query_type();
    fixed_size_query: FixedSizeQuery = testing::fixed_size_query();
    query: Query = testing::query();
    partial_batch_selector: PartialBatchSelector = testing::partial_batch_selector();
    batch_selector: BatchSelector = testing::batch_selector();
    report_share: ReportShare = testing::report_share();
    prepare_init: PrepareInit = testing::prepare_init();
    prepare_error: PrepareError = testing::prepare_error();
    prepare_resp: PrepareResp = testing::prepare_resp();
    prepare_continue: PrepareContinue = testing::prepare_continue();
    aggregation_job_step: AggregationJobStep = testing::aggregation_job_step();
    aggregation_job_init_req: AggregationJobInitReq = testing::aggregation_job_init_req();
    aggregation_job_resp: AggregationJobResp = testing::aggregation_job_resp();
    aggregation_job_continue_req: AggregationJobContinueReq =
        testing::aggregation_job_continue_req();
    collection_req: CollectionReq = testing::collection_req();
    collection: Collection = testing::collection();
    aggregate_share_req: AggregateShareReq = testing::aggregate_share_req();
    aggregate_share: AggregateShare = testing::aggregate_share();
    aggregate_share_aad: AggregateShareAad = testing::aggregate_share_aad();
    task_config: TaskConfig = testing::task_config();
}

// The structures taskprov nests in length-prefixed strings end, for an
// unknown variant, with the rest of their string: truncating or extending
// their encoding changes the value instead of failing, so only the identity
// is checked here. Inside `TaskConfig` (above) the prefix bounds them.
proptest! {
    #[test]
    fn dp_config(value in testing::dp_config()) {
        encode_decode(&value)?;
    }

    #[test]
    fn vdaf_config(value in testing::vdaf_config()) {
        encode_decode(&value)?;
    }

    #[test]
    fn query_config(value in testing::query_config()) {
        encode_decode(&value)?;
    }
}

/// Arbitrary bytes, and valid encodings with a few bytes flipped, so that
/// decoding gets past the first fields often enough to matter.
fn fuzz_input<T: Encode + Debug>(
    valid: impl Strategy<Value = T>,
) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        testing::bytes(0, 256),
        (
            valid,
            proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
            any::<prop::sample::Index>()
        )
            .prop_map(|(v, flips, cut)| {
                let mut bytes = v.get_encoded().expect("strategies yield encodable values");
                if !bytes.is_empty() {
                    for (i, b) in flips {
                        let i = i.index(bytes.len());
                        bytes[i] = b;
                    }
                    if cut.index(4) == 0 {
                        bytes.truncate(cut.index(bytes.len()));
                    }
                }
                bytes
            }),
    ]
}

macro_rules! never_panics {
    ($($name:ident: $ty:ty = $strategy:expr;)*) => {
        proptest! {
            $(
                #[test]
                fn $name(bytes in fuzz_input($strategy)) {
                    canonical::<$ty>(&bytes)?;
                }
            )*
        }
    };
}

never_panics! {
    arbitrary_hpke_config_list: HpkeConfigList = testing::hpke_config_list();
    arbitrary_report: Report = testing::report();
    arbitrary_plaintext_input_share: PlaintextInputShare = testing::plaintext_input_share();
    arbitrary_input_share_aad: InputShareAad = testing::input_share_aad();
    arbitrary_aggregation_job_init_req: AggregationJobInitReq =
        testing::aggregation_job_init_req();
    arbitrary_aggregation_job_resp: AggregationJobResp = testing::aggregation_job_resp();
    arbitrary_aggregation_job_continue_req: AggregationJobContinueReq =
        testing::aggregation_job_continue_req();
    arbitrary_collection_req: CollectionReq = testing::collection_req();
    arbitrary_collection: Collection = testing::collection();
    arbitrary_aggregate_share_req: AggregateShareReq = testing::aggregate_share_req();
    arbitrary_aggregate_share: AggregateShare = testing::aggregate_share();
    arbitrary_aggregate_share_aad: AggregateShareAad = testing::aggregate_share_aad();
    arbitrary_task_config: TaskConfig = testing::task_config();
}

proptest! {
    #[test]
    fn taskprov_header_round_trips(config in testing::task_config()) {
        let header = config.to_header_value().unwrap();
        let (back, raw) = TaskConfig::from_header_value(&header).unwrap();
        prop_assert_eq!(raw, config.get_encoded().unwrap());
        prop_assert_eq!(back, config);
    }

    #[test]
    fn arbitrary_header_value_never_panics(s in "[A-Za-z0-9_=+/ -]{0,200}") {
        let _ = TaskConfig::from_header_value(&s);
    }
}

#[test]
fn huge_length_prefixes_do_not_allocate() {
    // AggregationJobInitReq whose agg_param claims 4 GiB.
    let err = AggregationJobInitReq::get_decoded(&[0xff, 0xff, 0xff, 0xff, 1]).unwrap_err();
    assert_eq!(err.location(), Some(("AggregationJobInitReq", "agg_param")));
    // AggregationJobResp whose list claims 4 GiB.
    assert!(AggregationJobResp::get_decoded(&[0xff, 0xff, 0xff, 0xff]).is_err());
}
