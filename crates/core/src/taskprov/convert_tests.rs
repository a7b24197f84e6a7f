//! A `TaskConfig` and a peer made into a task, in both roles, and each
//! reason to opt out.

use super::*;
use crate::hpke::HpkeKeypair;
use crate::task::{AuthenticationToken, AuthenticationTokenType, StoredAuthenticationToken};
use crate::taskprov::{derive_verify_key, task_id_of, VerifyKeyInit};
use dyad_messages::codec::Encode;
use dyad_messages::draft09::{Duration, HpkeConfigId, Time, Url as DapUrl};
use dyad_messages::taskprov::{DpConfig, QueryConfig, VdafConfig};

fn config(query: QueryTypeConfig, vdaf: VdafType, dp: DpMechanism) -> TaskConfig {
    TaskConfig {
        task_info: b"convert test".to_vec(),
        leader_aggregator_endpoint: DapUrl::try_from("https://leader.example/dap").unwrap(),
        helper_aggregator_endpoint: DapUrl::try_from("https://helper.example/").unwrap(),
        query_config: QueryConfig {
            time_precision: Duration::from_seconds(3600),
            max_batch_query_count: 2,
            min_batch_size: 10,
            query,
        },
        task_expiration: Time::from_seconds_since_epoch(2_000_000_000),
        vdaf_config: VdafConfig::new(DpConfig::new(dp), vdaf),
    }
}

fn peer(role: Role, init: &VerifyKeyInit) -> PeerAggregator {
    let (endpoint, tokens, collector) = match role {
        Role::Leader => (
            "https://leader.example/dap/",
            vec![StoredAuthenticationToken::from(
                AuthenticationToken::random(AuthenticationTokenType::Bearer),
            )],
            vec![],
        ),
        _ => (
            "https://helper.example",
            vec![AuthenticationToken::random(AuthenticationTokenType::DapAuth).into()],
            vec![AuthenticationToken::random(AuthenticationTokenType::Bearer).into()],
        ),
    };
    PeerAggregator::new(
        endpoint.parse().unwrap(),
        role,
        HpkeKeypair::generate_default(HpkeConfigId(9))
            .config()
            .clone(),
        init.clone(),
        Some(Duration::from_seconds(86_400)),
        Duration::from_seconds(120),
        tokens,
        collector,
    )
    .unwrap()
}

fn convert(config: &TaskConfig, peer: &PeerAggregator) -> Result<Task, OptOut> {
    let bytes = config.get_encoded().unwrap();
    task_from_config(config, &bytes, task_id_of(&bytes), peer)
}

#[test]
fn helper_task_from_a_leader_peer() {
    let init = VerifyKeyInit::random();
    let leader = peer(Role::Leader, &init);
    let c = config(
        QueryTypeConfig::FixedSize { max_batch_size: 0 },
        VdafType::Prio3Histogram {
            length: 4,
            chunk_length: 2,
        },
        DpMechanism::None,
    );
    let bytes = c.get_encoded().unwrap();
    let task = convert(&c, &leader).unwrap();
    assert_eq!(task.role(), Role::Helper);
    assert_eq!(*task.task_id(), task_id_of(&bytes));
    assert_eq!(task.taskprov_config(), Some(bytes.as_slice()));
    assert_eq!(
        task.vdaf(),
        &VdafInstance::Prio3Histogram {
            length: 4,
            chunk_length: 2
        }
    );
    assert_eq!(
        task.batch_mode(),
        &BatchMode::FixedSize {
            max_batch_size: None
        }
    );
    assert_eq!(
        task.vdaf_verify_key(),
        &derive_verify_key(&init, task.task_id(), 16)
    );
    assert_eq!(task.min_batch_size(), 10);
    assert_eq!(task.max_batch_query_count(), 2);
    assert_eq!(
        task.task_expiration(),
        Some(Time::from_seconds_since_epoch(2_000_000_000))
    );
    assert_eq!(task.tolerable_clock_skew(), Duration::from_seconds(120));
    assert_eq!(
        task.report_expiry_age(),
        Some(Duration::from_seconds(86_400))
    );
    assert!(task.aggregator_auth_token().token().is_none(), "hash only");
    assert!(task.collector_auth_token().is_none());
    assert!(task.hpke_keys().is_empty());
    assert_eq!(
        task.leader_aggregator_endpoint().as_str(),
        "https://leader.example/dap/"
    );
}

#[test]
fn leader_task_from_a_helper_peer_holds_the_token_it_sends() {
    let init = VerifyKeyInit::random();
    let helper = peer(Role::Helper, &init);
    let c = config(
        QueryTypeConfig::TimeInterval,
        VdafType::Poplar1 { bits: 8 },
        DpMechanism::None,
    );
    let task = convert(&c, &helper).unwrap();
    assert_eq!(task.role(), Role::Leader);
    assert!(task.aggregator_auth_token().token().is_some());
    assert!(task.collector_auth_token().is_some());
    assert_eq!(task.vdaf(), &VdafInstance::Poplar1 { bits: 8 });
    assert_eq!(task.batch_mode(), &BatchMode::TimeInterval);
    // Both aggregators derive the same key from the shared secret.
    let other_side = convert(&c, &peer(Role::Leader, &init)).unwrap();
    assert_eq!(task.vdaf_verify_key(), other_side.vdaf_verify_key());
}

#[test]
fn fixed_size_keeps_a_positive_max_batch_size() {
    let c = config(
        QueryTypeConfig::FixedSize { max_batch_size: 30 },
        VdafType::Prio3Count,
        DpMechanism::None,
    );
    let task = convert(&c, &peer(Role::Leader, &VerifyKeyInit::random())).unwrap();
    assert_eq!(task.max_batch_size(), Some(30));
}

#[test]
fn unsupported_parameters_opt_out() {
    let leader = peer(Role::Leader, &VerifyKeyInit::random());
    let cases = [
        (
            config(
                QueryTypeConfig::TimeInterval,
                VdafType::Other {
                    code: 0xffff_0000,
                    data: vec![],
                },
                DpMechanism::None,
            ),
            OptOut::UnsupportedVdaf(0xffff_0000),
        ),
        (
            config(
                QueryTypeConfig::TimeInterval,
                VdafType::Prio3Count,
                DpMechanism::Other {
                    code: 2,
                    data: vec![1],
                },
            ),
            OptOut::UnsupportedDp(2),
        ),
        (
            config(
                QueryTypeConfig::Other {
                    code: 3,
                    data: vec![],
                },
                VdafType::Prio3Count,
                DpMechanism::None,
            ),
            OptOut::UnsupportedQuery(3),
        ),
        (
            config(
                QueryTypeConfig::FixedSize { max_batch_size: 30 },
                VdafType::Poplar1 { bits: 16 },
                DpMechanism::None,
            ),
            OptOut::NeedsTimeInterval("Poplar1"),
        ),
    ];
    for (c, expected) in cases {
        assert_eq!(convert(&c, &leader).unwrap_err(), expected);
    }
    // A VDAF parameter out of range makes no valid task.
    let c = config(
        QueryTypeConfig::TimeInterval,
        VdafType::Prio3Sum { bits: 0 },
        DpMechanism::None,
    );
    assert!(matches!(convert(&c, &leader), Err(OptOut::Invalid(_))));
    // max_batch_size below min_batch_size.
    let c = config(
        QueryTypeConfig::FixedSize { max_batch_size: 5 },
        VdafType::Prio3Count,
        DpMechanism::None,
    );
    assert!(matches!(convert(&c, &leader), Err(OptOut::Invalid(_))));
}

#[test]
fn a_peer_at_another_endpoint_is_refused() {
    let mut c = config(
        QueryTypeConfig::TimeInterval,
        VdafType::Prio3Count,
        DpMechanism::None,
    );
    c.leader_aggregator_endpoint = DapUrl::try_from("https://elsewhere.example/").unwrap();
    let leader = peer(Role::Leader, &VerifyKeyInit::random());
    assert_eq!(
        convert(&c, &leader).unwrap_err(),
        OptOut::WrongPeer(Role::Leader)
    );
}

#[test]
fn peer_checks_and_redaction() {
    let init = VerifyKeyInit::random();
    let leader = peer(Role::Leader, &init);
    let debug = format!("{leader:?}");
    assert!(!debug.contains(init.to_base64url().as_str()));
    // A Leader peer with a Collector token, a Helper peer whose first token
    // is a hash: refused.
    let hpke = HpkeKeypair::generate_default(HpkeConfigId(1))
        .config()
        .clone();
    let token = AuthenticationToken::random(AuthenticationTokenType::Bearer);
    let err = PeerAggregator::new(
        "https://l.example/".parse().unwrap(),
        Role::Leader,
        hpke.clone(),
        init.clone(),
        None,
        Duration::from_seconds(60),
        vec![token.clone().into()],
        vec![token.clone().into()],
    )
    .unwrap_err();
    assert_eq!(err.field, "collector_auth_tokens");
    let err = PeerAggregator::new(
        "https://h.example/".parse().unwrap(),
        Role::Helper,
        hpke.clone(),
        init.clone(),
        None,
        Duration::from_seconds(60),
        vec![token.hash().into()],
        vec![token.clone().into()],
    )
    .unwrap_err();
    assert_eq!(err.field, "aggregator_auth_tokens");
    let err = PeerAggregator::new(
        "ftp://h.example/".parse().unwrap(),
        Role::Helper,
        hpke,
        init,
        None,
        Duration::from_seconds(60),
        vec![token.clone().into()],
        vec![token.into()],
    )
    .unwrap_err();
    assert_eq!(err.field, "endpoint");
    // Serde goes through the same checks, and a Leader peer keeps hashes.
    let json = serde_json::to_string(&leader).unwrap();
    let back: PeerAggregator = serde_json::from_str(&json).unwrap();
    assert_eq!(back, leader);
    assert!(back.aggregator_auth_tokens()[0].token().is_none());
}
