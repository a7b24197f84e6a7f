//! The Leader's upload path for taskprov (draft-wang-ppm-dap-taskprov-06
//! section 5.1) through the real router: an upload advertising an unknown
//! task provisions it with its first report; an unadvertised upload of an
//! unknown task, and a refused one, provision nothing.

use crate::config::TaskprovConfig;
use crate::state::ApiConfig;
use crate::test_util::fixtures::{TaskPair, PRECISION};
use crate::test_util::{TestEnv, TestRequest};
use axum::http::StatusCode;
use dyad_core::clock::Clock;
use dyad_core::hpke::HpkeKeypair;
use dyad_core::task::{AuthenticationToken, AuthenticationTokenType, Task};
use dyad_core::taskprov::{task_from_config, task_id_of, PeerAggregator, VerifyKeyInit};
use dyad_core::vdaf::Measurement;
use dyad_datastore::models::HpkeKeyState;
use dyad_datastore::DatastoreExt;
use dyad_messages::codec::Encode;
use dyad_messages::draft09::{Duration, HpkeConfigId, Report, Role, TaskId, Time, Url as DapUrl};
use dyad_messages::media_type::DapMediaType;
use dyad_messages::problem::DapProblemType;
use dyad_messages::taskprov::{
    DpConfig, DpMechanism, QueryConfig, QueryTypeConfig, TaskConfig, VdafConfig, VdafType,
    TASKPROV_HEADER,
};

const LEADER: &str = "https://leader.example/";
const HELPER: &str = "https://helper.example/";

fn upload(task_id: TaskId, report: &Report) -> TestRequest {
    TestRequest::put(format!("/tasks/{task_id}/reports")).message(DapMediaType::Report, report)
}

/// A Leader with taskprov on, a Helper peer and a global HPKE key; the
/// task pair `config` makes and the header advertising it.
async fn setup() -> (TestEnv, TaskPair, TaskConfig, String) {
    let env = TestEnv::with_config(ApiConfig {
        taskprov: TaskprovConfig {
            enabled: true,
            ..TaskprovConfig::default()
        },
        ..ApiConfig::default()
    })
    .await;
    let init = VerifyKeyInit::random();
    let leader_token = AuthenticationToken::random(AuthenticationTokenType::Bearer);
    let collector_token = AuthenticationToken::random(AuthenticationTokenType::Bearer);
    let collector_keypair = HpkeKeypair::generate_default(HpkeConfigId(200));
    let peer = |endpoint: &str, role, collector_tokens: Vec<AuthenticationToken>| {
        PeerAggregator::new(
            endpoint.parse().unwrap(),
            role,
            collector_keypair.config().clone(),
            init.clone(),
            None,
            Duration::from_seconds(60),
            vec![leader_token.clone().into()],
            collector_tokens.into_iter().map(Into::into).collect(),
        )
        .unwrap()
    };
    let helper_peer = peer(HELPER, Role::Helper, vec![collector_token.clone()]);
    let stored_peer = helper_peer.clone();
    env.datastore
        .run_tx("put_peer", move |tx| {
            let peer = stored_peer.clone();
            Box::pin(async move { Ok(tx.put_taskprov_peer_aggregator(&peer).await?) })
        })
        .await
        .unwrap();
    let leader_global = HpkeKeypair::generate_default(HpkeConfigId(42));
    env.put_global_key(&leader_global, HpkeKeyState::Active)
        .await;

    let config = TaskConfig {
        task_info: b"leader taskprov test".to_vec(),
        leader_aggregator_endpoint: DapUrl::try_from(LEADER).unwrap(),
        helper_aggregator_endpoint: DapUrl::try_from(HELPER).unwrap(),
        query_config: QueryConfig {
            time_precision: PRECISION,
            max_batch_query_count: 1,
            min_batch_size: 2,
            query: QueryTypeConfig::TimeInterval,
        },
        task_expiration: Time::from_seconds_since_epoch(
            env.clock.now().as_seconds_since_epoch() + 86_400,
        ),
        vdaf_config: VdafConfig::new(DpConfig::new(DpMechanism::None), VdafType::Prio3Count),
    };
    let bytes = config.get_encoded().unwrap();
    let task_id = task_id_of(&bytes);
    let with_key = |task: Task, keypair: HpkeKeypair| {
        task.to_builder().hpke_keys(vec![keypair]).build().unwrap()
    };
    let leader = with_key(
        task_from_config(&config, &bytes, task_id, &helper_peer).unwrap(),
        leader_global,
    );
    let leader_peer = peer(LEADER, Role::Leader, vec![]);
    let helper = with_key(
        task_from_config(&config, &bytes, task_id, &leader_peer).unwrap(),
        HpkeKeypair::generate_default(HpkeConfigId(7)),
    );
    let pair = TaskPair {
        leader,
        helper,
        leader_token,
        collector_token,
        collector_keypair,
    };
    let header = config.to_header_value().unwrap();
    (env, pair, config, header)
}

async fn stored_tasks(env: &TestEnv) -> Vec<Task> {
    env.datastore
        .run_read_tx("tasks", |tx| {
            Box::pin(async move { Ok(tx.get_tasks().await?) })
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn an_advertised_upload_provisions_the_task_with_its_first_report() {
    let (env, pair, config, header) = setup().await;
    let report = pair.report(&Measurement::Count(true), env.clock.now());

    // Without the header the task is unknown, and stays so.
    let response = env.send(upload(pair.task_id(), &report.report)).await;
    response.assert_problem(DapProblemType::UnrecognizedTask, Some(pair.task_id()));
    assert!(stored_tasks(&env).await.is_empty());

    for _ in 0..2 {
        let response = env
            .send(upload(pair.task_id(), &report.report).header(TASKPROV_HEADER, &header))
            .await;
        assert_eq!(response.status, StatusCode::CREATED);
    }
    let stored = stored_tasks(&env).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].role(), Role::Leader);
    assert_eq!(
        stored[0].taskprov_config(),
        Some(config.get_encoded().unwrap().as_slice())
    );
    assert_eq!(env.report_count(pair.task_id()).await, 1);
}

#[tokio::test]
async fn a_first_report_without_the_taskprov_extension_is_refused_and_provisions_nothing() {
    let (env, pair, _, header) = setup().await;
    // Sealed as for a task provisioned otherwise: no taskprov extension.
    let plain = TaskPair {
        leader: pair
            .leader
            .to_builder()
            .taskprov_config(None)
            .build()
            .unwrap(),
        helper: pair.helper.clone(),
        leader_token: pair.leader_token.clone(),
        collector_token: pair.collector_token.clone(),
        collector_keypair: pair.collector_keypair.clone(),
    };
    let report = plain.report(&Measurement::Count(true), env.clock.now());
    let response = env
        .send(upload(pair.task_id(), &report.report).header(TASKPROV_HEADER, &header))
        .await;
    response.assert_problem(DapProblemType::InvalidMessage, Some(pair.task_id()));
    assert!(stored_tasks(&env).await.is_empty());
}

#[tokio::test]
async fn an_advertisement_from_an_unknown_helper_is_invalid_task_and_provisions_nothing() {
    let (env, pair, mut config, _) = setup().await;
    config.helper_aggregator_endpoint = DapUrl::try_from("https://other.example/").unwrap();
    let task_id = task_id_of(&config.get_encoded().unwrap());
    let report = pair.report(&Measurement::Count(true), env.clock.now());
    let response = env
        .send(
            upload(task_id, &report.report)
                .header(TASKPROV_HEADER, &config.to_header_value().unwrap()),
        )
        .await;
    response.assert_problem(DapProblemType::InvalidTask, Some(task_id));
    assert!(stored_tasks(&env).await.is_empty());
}
