//! dyad values Janus can represent: the crate's own strategies, with values
//! outside Janus's model mapped into it. Janus decodes preparation payloads
//! as VDAF ping-pong messages, names only registered extension types and
//! prepare errors, and names a subset of taskprov's open registries.

use dyad_messages::draft09::*;
use dyad_messages::taskprov::*;
use dyad_messages::testing;
use prio::codec::Encode as _;
use prio::topology::ping_pong::PingPongMessage;
use proptest::prelude::*;

/// A VDAF ping-pong message (VDAF-08 section 5.8) of every kind, made from
/// arbitrary bytes, encoded.
pub fn as_ping_pong(bytes: &[u8]) -> Vec<u8> {
    let (kind, rest) = bytes.split_first().unwrap_or((&0, &[]));
    let (a, b) = rest.split_at(rest.len() / 2);
    let message = match kind % 3 {
        0 => PingPongMessage::Initialize {
            prep_share: rest.to_vec(),
        },
        1 => PingPongMessage::Continue {
            prep_msg: a.to_vec(),
            prep_share: b.to_vec(),
        },
        _ => PingPongMessage::Finish {
            prep_msg: rest.to_vec(),
        },
    };
    message.get_encoded().expect("ping-pong messages encode")
}

fn registered_extension_type(t: ExtensionType) -> ExtensionType {
    match t {
        ExtensionType::Other(n) if n % 2 == 0 => ExtensionType::Tbd,
        ExtensionType::Other(_) => ExtensionType::Taskprov,
        known => known,
    }
}

fn registered_prepare_error(e: PrepareError) -> PrepareError {
    PrepareError::from(e.as_u8() % 10)
}

pub fn extension() -> impl Strategy<Value = Extension> {
    testing::extension().prop_map(|mut e| {
        e.extension_type = registered_extension_type(e.extension_type);
        e
    })
}

pub fn plaintext_input_share() -> impl Strategy<Value = PlaintextInputShare> {
    testing::plaintext_input_share().prop_map(|mut s| {
        for e in &mut s.extensions {
            e.extension_type = registered_extension_type(e.extension_type);
        }
        s
    })
}

fn fix_prepare_init(mut p: PrepareInit) -> PrepareInit {
    p.payload = as_ping_pong(&p.payload);
    p
}

fn fix_prepare_resp(mut p: PrepareResp) -> PrepareResp {
    p.result = match p.result {
        PrepareStepResult::Continue { payload } => PrepareStepResult::Continue {
            payload: as_ping_pong(&payload),
        },
        PrepareStepResult::Reject(e) => PrepareStepResult::Reject(registered_prepare_error(e)),
        PrepareStepResult::Finished => PrepareStepResult::Finished,
    };
    p
}

fn fix_prepare_continue(mut p: PrepareContinue) -> PrepareContinue {
    p.payload = as_ping_pong(&p.payload);
    p
}

pub fn prepare_init() -> impl Strategy<Value = PrepareInit> {
    testing::prepare_init().prop_map(fix_prepare_init)
}

pub fn prepare_resp() -> impl Strategy<Value = PrepareResp> {
    testing::prepare_resp().prop_map(fix_prepare_resp)
}

pub fn prepare_continue() -> impl Strategy<Value = PrepareContinue> {
    testing::prepare_continue().prop_map(fix_prepare_continue)
}

pub fn aggregation_job_init_req() -> impl Strategy<Value = AggregationJobInitReq> {
    testing::aggregation_job_init_req().prop_map(|mut r| {
        r.prepare_inits = r.prepare_inits.into_iter().map(fix_prepare_init).collect();
        r
    })
}

pub fn aggregation_job_resp() -> impl Strategy<Value = AggregationJobResp> {
    testing::aggregation_job_resp().prop_map(|mut r| {
        r.prepare_resps = r.prepare_resps.into_iter().map(fix_prepare_resp).collect();
        r
    })
}

pub fn aggregation_job_continue_req() -> impl Strategy<Value = AggregationJobContinueReq> {
    testing::aggregation_job_continue_req().prop_map(|mut r| {
        r.prepare_continues = r
            .prepare_continues
            .into_iter()
            .map(fix_prepare_continue)
            .collect();
        r
    })
}

/// Janus reads `reserved(0)` as having an empty body.
pub fn dp_config() -> impl Strategy<Value = DpConfig> {
    testing::dp_config().prop_map(|mut c| {
        if let DpMechanism::Other { code: 0, data } = &mut c.dp_mechanism {
            data.clear();
        }
        c
    })
}

/// The named VDAF types, and Janus's private 0xFFFF1003 with its 10-byte
/// parameters (which dyad keeps as `Other`).
pub fn vdaf_type() -> impl Strategy<Value = VdafType> {
    prop_oneof![
        4 => testing::named_vdaf_type(),
        1 => testing::bytes(10, 10).prop_map(|data| VdafType::Other { code: 0xffff_1003, data }),
    ]
}

pub fn vdaf_config() -> impl Strategy<Value = VdafConfig> {
    (dp_config(), vdaf_type()).prop_map(|(d, v)| VdafConfig::new(d, v))
}

/// Janus knows time_interval, fixed_size and `reserved(0)` with no body.
pub fn query_config() -> impl Strategy<Value = QueryConfig> {
    testing::query_config().prop_map(|mut c| {
        if let QueryTypeConfig::Other { code, data } = &mut c.query {
            *code = 0;
            data.clear();
        }
        c
    })
}

pub fn task_config() -> impl Strategy<Value = TaskConfig> {
    (testing::task_config(), query_config(), vdaf_config()).prop_map(|(mut t, q, v)| {
        t.query_config = q;
        t.vdaf_config = v;
        t
    })
}
