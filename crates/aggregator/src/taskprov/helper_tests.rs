//! The Helper's taskprov path through the real router: an aggregation job
//! initialization advertising an unknown task provisions it with the job,
//! refusals store nothing, a report without the taskprov extension is
//! rejected alone, and later requests' headers must advertise the stored
//! task.

use crate::config::TaskprovConfig;
use crate::state::ApiConfig;
use crate::test_util::fixtures::{ClientReport, TaskPair, PRECISION};
use crate::test_util::helper_requests::{aggregate_share, init};
use crate::test_util::TestEnv;
use axum::http::StatusCode;
use dyad_core::clock::Clock;
use dyad_core::hpke::HpkeKeypair;
use dyad_core::task::{AuthenticationToken, AuthenticationTokenType, Task};
use dyad_core::taskprov::{task_from_config, task_id_of, PeerAggregator, VerifyKeyInit};
use dyad_core::vdaf::{AggregateResult, Measurement};
use dyad_datastore::models::HpkeKeyState;
use dyad_datastore::DatastoreExt;
use dyad_messages::codec::Encode;
use dyad_messages::draft09::{
    AggregateShareReq, AggregationJobId, AggregationJobResp, BatchSelector, Duration, HpkeConfigId,
    Interval, PartialBatchSelector, PrepareError, PrepareStepResult, Role, Time, Url as DapUrl,
};
use dyad_messages::media_type::DapMediaType;
use dyad_messages::problem::DapProblemType;
use dyad_messages::taskprov::{
    DpConfig, DpMechanism, QueryConfig, QueryTypeConfig, TaskConfig, VdafConfig, VdafType,
    TASKPROV_HEADER,
};

const LEADER: &str = "https://leader.example/";
const HELPER: &str = "https://helper.example/";

/// A Helper with taskprov on, a Leader peer and a global HPKE key, and
/// what the Leader and the Client of its tasks hold.
struct Setup {
    env: TestEnv,
    init: VerifyKeyInit,
    leader_token: AuthenticationToken,
    collector_keypair: HpkeKeypair,
    helper_global: HpkeKeypair,
}

async fn setup() -> Setup {
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
    let collector_keypair = HpkeKeypair::generate_default(HpkeConfigId(200));
    let peer = PeerAggregator::new(
        LEADER.parse().unwrap(),
        Role::Leader,
        collector_keypair.config().clone(),
        init.clone(),
        None,
        Duration::from_seconds(60),
        vec![leader_token.clone().into()],
        vec![],
    )
    .unwrap();
    env.datastore
        .run_tx("put_peer", move |tx| {
            let peer = peer.clone();
            Box::pin(async move { Ok(tx.put_taskprov_peer_aggregator(&peer).await?) })
        })
        .await
        .unwrap();
    let helper_global = HpkeKeypair::generate_default(HpkeConfigId(42));
    env.put_global_key(&helper_global, HpkeKeyState::Active)
        .await;
    Setup {
        env,
        init,
        leader_token,
        collector_keypair,
        helper_global,
    }
}

fn task_config(env: &TestEnv, vdaf: VdafType, leader: &str) -> TaskConfig {
    TaskConfig {
        task_info: b"helper taskprov test".to_vec(),
        leader_aggregator_endpoint: DapUrl::try_from(leader).unwrap(),
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
        vdaf_config: VdafConfig::new(DpConfig::new(DpMechanism::None), vdaf),
    }
}

impl Setup {
    /// The task pair of `config` as both aggregators derive it (the
    /// Leader's from a Helper peer sharing the same secret), each holding
    /// the key its share is sealed to (the Helper's global key), and the
    /// header advertising it.
    fn pair(&self, config: &TaskConfig) -> (TaskPair, String) {
        let bytes = config.get_encoded().unwrap();
        let task_id = task_id_of(&bytes);
        let collector_token = AuthenticationToken::random(AuthenticationTokenType::Bearer);
        let helper_peer = PeerAggregator::new(
            HELPER.parse().unwrap(),
            Role::Helper,
            self.collector_keypair.config().clone(),
            self.init.clone(),
            None,
            Duration::from_seconds(60),
            vec![self.leader_token.clone().into()],
            vec![collector_token.clone().into()],
        )
        .unwrap();
        let leader = task_from_config(config, &bytes, task_id, &helper_peer).unwrap();
        let leader = with_key(&leader, HpkeKeypair::generate_default(HpkeConfigId(1)));
        let leader_peer = PeerAggregator::new(
            LEADER.parse().unwrap(),
            Role::Leader,
            self.collector_keypair.config().clone(),
            self.init.clone(),
            None,
            Duration::from_seconds(60),
            vec![self.leader_token.clone().into()],
            vec![],
        )
        .unwrap();
        let helper = task_from_config(config, &bytes, task_id, &leader_peer).unwrap();
        let helper = with_key(&helper, self.helper_global.clone());
        let pair = TaskPair {
            leader,
            helper,
            leader_token: self.leader_token.clone(),
            collector_token,
            collector_keypair: self.collector_keypair.clone(),
        };
        (pair, config.to_header_value().unwrap())
    }
}

fn with_key(task: &Task, keypair: HpkeKeypair) -> Task {
    task.to_builder().hpke_keys(vec![keypair]).build().unwrap()
}

fn batch_interval(env: &TestEnv) -> Interval {
    Interval::new(
        env.clock.now().to_batch_interval_start(PRECISION),
        PRECISION,
    )
    .unwrap()
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
async fn init_with_the_header_provisions_the_task_and_the_share_unshards() {
    let s = setup().await;
    let config = task_config(&s.env, VdafType::Prio3Sum { bits: 8 }, LEADER);
    let (pair, header) = s.pair(&config);
    let values = [3u128, 250];
    let reports: Vec<ClientReport> = values
        .iter()
        .map(|v| pair.report(&Measurement::Sum(*v), s.env.clock.now()))
        .collect();
    let (request, leader_states) =
        pair.leader_init(&[], PartialBatchSelector::TimeInterval, &reports);
    let job_id = AggregationJobId::random();

    // Without the header the task is unknown.
    let response = s.env.send(init(&pair, job_id, &request)).await;
    response.assert_problem(DapProblemType::UnrecognizedTask, Some(pair.task_id()));

    let response = s
        .env
        .send(init(&pair, job_id, &request).header(TASKPROV_HEADER, &header))
        .await;
    assert_eq!(response.status, StatusCode::CREATED);
    let stored = stored_tasks(&s.env).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].task_id(), &pair.task_id());
    assert_eq!(
        stored[0].taskprov_config(),
        Some(config.get_encoded().unwrap().as_slice())
    );
    assert!(stored[0].hpke_keys().is_empty(), "global keys only");
    let helper_response: AggregationJobResp = response.message(DapMediaType::AggregationJobResp);
    let leader_states = pair.leader_process(&[], &leader_states, &helper_response);
    let (leader_share, count, checksum) = pair.leader_aggregate(&[], &leader_states);
    assert_eq!(count, 2);

    let selector = BatchSelector::TimeInterval(batch_interval(&s.env));
    let share_request = AggregateShareReq {
        batch_selector: selector,
        aggregation_parameter: vec![],
        report_count: count,
        checksum,
    };
    // A header advertising another task ID is unrecognizedTask.
    let other = task_config(&s.env, VdafType::Prio3Count, LEADER);
    let response = s
        .env
        .send(
            aggregate_share(&pair, &share_request)
                .header(TASKPROV_HEADER, &other.to_header_value().unwrap()),
        )
        .await;
    response.assert_problem(DapProblemType::UnrecognizedTask, Some(pair.task_id()));

    let response = s
        .env
        .send(aggregate_share(&pair, &share_request).header(TASKPROV_HEADER, &header))
        .await;
    assert_eq!(response.status, StatusCode::OK);
    let share = response.message(DapMediaType::AggregateShare);
    let result = pair.collect(&[], selector, &leader_share, &share, count);
    assert_eq!(result, AggregateResult::Sum(values.iter().sum()));
}

#[tokio::test]
async fn refused_advertisements_store_nothing() {
    let s = setup().await;
    let cases = [
        (
            "unknown peer",
            task_config(&s.env, VdafType::Prio3Count, "https://stranger.example/"),
            DapProblemType::InvalidTask,
        ),
        (
            "unsupported VDAF",
            task_config(
                &s.env,
                VdafType::Other {
                    code: 0xffff_0001,
                    data: vec![],
                },
                LEADER,
            ),
            DapProblemType::InvalidTask,
        ),
        (
            "expired",
            TaskConfig {
                task_expiration: Time::from_seconds_since_epoch(
                    s.env.clock.now().as_seconds_since_epoch() - 1,
                ),
                ..task_config(&s.env, VdafType::Prio3Count, LEADER)
            },
            DapProblemType::InvalidTask,
        ),
    ];
    // A well-formed job for a Prio3Count task, sent under each task ID.
    let (pair, _) = s.pair(&task_config(&s.env, VdafType::Prio3Count, LEADER));
    let reports = [pair.report(&Measurement::Count(true), s.env.clock.now())];
    let (request, _) = pair.leader_init(&[], PartialBatchSelector::TimeInterval, &reports);
    for (name, config, expected) in cases {
        let bytes = config.get_encoded().unwrap();
        let task_id = task_id_of(&bytes);
        let job_id = AggregationJobId::random();
        let response = s
            .env
            .send(
                crate::test_util::TestRequest::put(format!(
                    "/tasks/{task_id}/aggregation_jobs/{job_id}"
                ))
                .token(&s.leader_token)
                .message(DapMediaType::AggregationJobInitReq, &request)
                .header(TASKPROV_HEADER, &config.to_header_value().unwrap()),
            )
            .await;
        response.assert_problem(expected, Some(task_id));
        assert!(stored_tasks(&s.env).await.is_empty(), "{name}");
        assert!(
            s.env.aggregation_job(task_id, job_id).await.is_none(),
            "{name}"
        );
        let report_ids = vec![reports[0].id()];
        let seen = s
            .env
            .datastore
            .run_read_tx("seen", move |tx| {
                let report_ids = report_ids.clone();
                Box::pin(async move {
                    Ok(tx
                        .get_helper_seen_aggregation_parameters(&task_id, &report_ids, &[])
                        .await?)
                })
            })
            .await
            .unwrap();
        assert!(seen.is_empty(), "{name}");
    }

    // A header whose hash is not the task ID, and one that is not base64url.
    let job_id = AggregationJobId::random();
    let other = task_config(&s.env, VdafType::Prio3Sum { bits: 4 }, LEADER);
    let response = s
        .env
        .send(
            init(&pair, job_id, &request)
                .header(TASKPROV_HEADER, &other.to_header_value().unwrap()),
        )
        .await;
    response.assert_problem(DapProblemType::UnrecognizedTask, Some(pair.task_id()));
    let response = s
        .env
        .send(init(&pair, job_id, &request).header(TASKPROV_HEADER, "!!"))
        .await;
    response.assert_problem(DapProblemType::InvalidMessage, Some(pair.task_id()));
    // The right header with another aggregator token: nothing provisioned.
    let (_, header) = s.pair(&task_config(&s.env, VdafType::Prio3Count, LEADER));
    let stranger = AuthenticationToken::random(AuthenticationTokenType::Bearer);
    let response = s
        .env
        .send(
            crate::test_util::TestRequest::put(format!(
                "/tasks/{}/aggregation_jobs/{job_id}",
                pair.task_id()
            ))
            .token(&stranger)
            .message(DapMediaType::AggregationJobInitReq, &request)
            .header(TASKPROV_HEADER, &header),
        )
        .await;
    response.assert_problem(DapProblemType::UnauthorizedRequest, Some(pair.task_id()));
    assert!(stored_tasks(&s.env).await.is_empty());
}

#[tokio::test]
async fn a_report_without_the_taskprov_extension_is_invalid_message() {
    let s = setup().await;
    let config = task_config(&s.env, VdafType::Prio3Count, LEADER);
    let (pair, header) = s.pair(&config);
    // The same task, as a client unaware of taskprov would report to it.
    let unaware = TaskPair {
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
    let now = s.env.clock.now();
    let reports = [
        pair.report(&Measurement::Count(true), now),
        unaware.report(&Measurement::Count(true), now),
    ];
    let (request, _) = pair.leader_init(&[], PartialBatchSelector::TimeInterval, &reports);
    let response = s
        .env
        .send(init(&pair, AggregationJobId::random(), &request).header(TASKPROV_HEADER, &header))
        .await;
    assert_eq!(response.status, StatusCode::CREATED);
    let answer: AggregationJobResp = response.message(DapMediaType::AggregationJobResp);
    assert!(!matches!(
        answer.prepare_resps[0].result,
        PrepareStepResult::Reject(_)
    ));
    assert_eq!(
        answer.prepare_resps[1].result,
        PrepareStepResult::Reject(PrepareError::InvalidMessage)
    );
}
