//! [`provision`] and [`resolve`] over a real datastore: a task provisioned
//! once and found again, each refusal with its problem type and nothing
//! stored, and two first requests racing.

use super::*;
use dyad_core::hpke::HpkeKeypair;
use dyad_core::task::{AuthenticationToken, AuthenticationTokenType};
use dyad_core::taskprov::{PeerAggregator, VerifyKeyInit};
use dyad_datastore::testing::TestDatastore;
use dyad_datastore::{Datastore, DatastoreExt};
use dyad_messages::codec::Encode;
use dyad_messages::draft09::{Duration, HpkeConfigId, Url as DapUrl};
use dyad_messages::taskprov::{
    DpConfig, DpMechanism, QueryConfig, QueryTypeConfig, VdafConfig, VdafType,
};
use std::sync::Arc;

const NOW: u64 = 1_700_000_000;

fn config(vdaf: VdafType, expiration: u64) -> TaskConfig {
    TaskConfig {
        task_info: b"provision test".to_vec(),
        leader_aggregator_endpoint: DapUrl::try_from("https://leader.example/").unwrap(),
        helper_aggregator_endpoint: DapUrl::try_from("https://helper.example/").unwrap(),
        query_config: QueryConfig {
            time_precision: Duration::from_seconds(3600),
            max_batch_query_count: 1,
            min_batch_size: 10,
            query: QueryTypeConfig::TimeInterval,
        },
        task_expiration: Time::from_seconds_since_epoch(expiration),
        vdaf_config: VdafConfig::new(DpConfig::new(DpMechanism::None), vdaf),
    }
}

fn leader_peer(endpoint: &str) -> PeerAggregator {
    PeerAggregator::new(
        endpoint.parse().unwrap(),
        Role::Leader,
        HpkeKeypair::generate_default(HpkeConfigId(1))
            .config()
            .clone(),
        VerifyKeyInit::random(),
        None,
        Duration::from_seconds(60),
        vec![AuthenticationToken::random(AuthenticationTokenType::Bearer).into()],
        vec![],
    )
    .unwrap()
}

fn enabled() -> TaskprovConfig {
    TaskprovConfig {
        enabled: true,
        ..TaskprovConfig::default()
    }
}

async fn harness_with_peer() -> TestDatastore {
    with_peer(dyad_datastore::testing::sqlite_harness().await).await
}

async fn with_peer(h: TestDatastore) -> TestDatastore {
    let peer = leader_peer("https://leader.example");
    h.datastore
        .run_tx("put_peer", move |tx| {
            let peer = peer.clone();
            Box::pin(async move { Ok(tx.put_taskprov_peer_aggregator(&peer).await?) })
        })
        .await
        .unwrap();
    h
}

/// Provisions `header` for `task_id` as the Helper; the problem type of a
/// refusal.
async fn run(
    datastore: &Arc<dyn Datastore>,
    header: &str,
    task_id: TaskId,
    policy: TaskprovConfig,
) -> Result<Task, Option<DapProblemType>> {
    let header = header.to_owned();
    datastore
        .run_tx("provision", move |tx| {
            let header = header.clone();
            Box::pin(async move {
                let now = Time::from_seconds_since_epoch(NOW);
                provision(tx, &header, task_id, Role::Helper, now, &policy).await
            })
        })
        .await
        .map_err(|e| ApiError::from(e).problem_type())
}

async fn stored_tasks(datastore: &Arc<dyn Datastore>) -> Vec<Task> {
    datastore
        .run_read_tx("tasks", |tx| {
            Box::pin(async move { Ok(tx.get_tasks().await?) })
        })
        .await
        .unwrap()
}

fn advertise(config: &TaskConfig) -> (String, TaskId) {
    let bytes = config.get_encoded().unwrap();
    (config.to_header_value().unwrap(), task_id_of(&bytes))
}

#[tokio::test]
async fn provisions_once_then_finds_the_stored_task() {
    let h = harness_with_peer().await;
    let (header, task_id) = advertise(&config(VdafType::Prio3Count, NOW + 86_400));
    let task = run(&h.datastore, &header, task_id, enabled())
        .await
        .unwrap();
    assert_eq!(task.role(), Role::Helper);
    assert_eq!(stored_tasks(&h.datastore).await, vec![task.clone()]);
    let again = run(&h.datastore, &header, task_id, enabled())
        .await
        .unwrap();
    assert_eq!(again, task);
    // As the Leader, the task is run in the other role: unknown.
    let header_for_leader = header.clone();
    let as_leader = h
        .datastore
        .run_read_tx("resolve", move |tx| {
            let header = header_for_leader.clone();
            Box::pin(async move {
                let now = Time::from_seconds_since_epoch(NOW);
                resolve(tx, &header, task_id, Role::Leader, now, &enabled()).await
            })
        })
        .await
        .map_err(|e| ApiError::from(e).problem_type());
    assert_eq!(
        as_leader.unwrap_err(),
        Some(DapProblemType::UnrecognizedTask)
    );
}

#[tokio::test]
async fn each_refusal_has_its_problem_type_and_stores_nothing() {
    let h = harness_with_peer().await;
    let good = config(VdafType::Prio3Count, NOW + 86_400);
    let (good_header, good_id) = advertise(&good);

    let mut unknown_peer = good.clone();
    unknown_peer.leader_aggregator_endpoint =
        DapUrl::try_from("https://stranger.example/").unwrap();
    let expired = config(VdafType::Prio3Count, NOW - 1);
    let unsupported = config(
        VdafType::Other {
            code: 0xdead_beef,
            data: vec![],
        },
        NOW + 86_400,
    );
    let mut small_batches = good.clone();
    small_batches.query_config.min_batch_size = 5;
    let mut other_dp = good.clone();
    other_dp.vdaf_config.dp_config = DpConfig::new(DpMechanism::Other {
        code: 2,
        data: vec![],
    });

    let strict = TaskprovConfig {
        enabled: true,
        max_task_lifetime_secs: Some(3600),
        min_batch_size_floor: 1,
    };
    let floor = TaskprovConfig {
        min_batch_size_floor: 10,
        ..enabled()
    };
    let cases: Vec<(&str, String, TaskId, TaskprovConfig, DapProblemType)> = vec![
        (
            "not base64url",
            "%%%".into(),
            good_id,
            enabled(),
            DapProblemType::InvalidMessage,
        ),
        (
            "not a TaskConfig",
            "AAAA".into(),
            good_id,
            enabled(),
            DapProblemType::InvalidMessage,
        ),
        (
            "task ID is not the config's hash",
            good_header.clone(),
            TaskId::from_bytes([7; 32]),
            enabled(),
            DapProblemType::UnrecognizedTask,
        ),
        (
            "taskprov off",
            good_header.clone(),
            good_id,
            TaskprovConfig::default(),
            DapProblemType::UnrecognizedTask,
        ),
        {
            let (header, id) = advertise(&unknown_peer);
            (
                "unknown peer",
                header,
                id,
                enabled(),
                DapProblemType::InvalidTask,
            )
        },
        {
            let (header, id) = advertise(&expired);
            (
                "expired",
                header,
                id,
                enabled(),
                DapProblemType::InvalidTask,
            )
        },
        {
            let (header, id) = advertise(&unsupported);
            (
                "unsupported VDAF",
                header,
                id,
                enabled(),
                DapProblemType::InvalidTask,
            )
        },
        {
            let (header, id) = advertise(&other_dp);
            (
                "unsupported DP",
                header,
                id,
                enabled(),
                DapProblemType::InvalidTask,
            )
        },
        (
            "lifetime beyond the policy",
            good_header.clone(),
            good_id,
            strict,
            DapProblemType::InvalidTask,
        ),
        {
            let (header, id) = advertise(&small_batches);
            (
                "min_batch_size below the floor",
                header,
                id,
                floor,
                DapProblemType::InvalidTask,
            )
        },
    ];
    for (name, header, task_id, policy, expected) in cases {
        let got = run(&h.datastore, &header, task_id, policy).await;
        assert_eq!(got.err(), Some(Some(expected)), "{name}");
        assert!(stored_tasks(&h.datastore).await.is_empty(), "{name}");
    }
}

#[tokio::test]
async fn a_task_stored_under_the_id_with_another_config_is_invalid_task() {
    let h = harness_with_peer().await;
    let (header, task_id) = advertise(&config(VdafType::Prio3Count, NOW + 86_400));
    // The same ID, provisioned out of band (no TaskConfig).
    let mut other = crate::test_util::fixtures::TaskPair::time_interval(
        dyad_core::vdaf::VdafInstance::Prio3Count,
    )
    .helper;
    other = other.to_builder().task_id(task_id).build().unwrap();
    let stored = other.clone();
    h.datastore
        .run_tx("put", move |tx| {
            let task = stored.clone();
            Box::pin(async move { Ok(tx.put_task(&task).await?) })
        })
        .await
        .unwrap();
    let got = run(&h.datastore, &header, task_id, enabled()).await;
    assert_eq!(got.err(), Some(Some(DapProblemType::InvalidTask)));
    assert_eq!(stored_tasks(&h.datastore).await, vec![other]);
}

/// Four first requests at once, on SQLite and (when configured)
/// PostgreSQL: each gets the task, one stores it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_requests_store_one_task() {
    let mut backends = vec![harness_with_peer().await];
    if let Some(postgres) = dyad_datastore::testing::postgres_harness().await {
        backends.push(with_peer(postgres).await);
    }
    for h in backends {
        let (header, task_id) = advertise(&config(VdafType::Prio3Count, NOW + 86_400));
        let mut racers = Vec::new();
        for _ in 0..4 {
            let (datastore, header) = (h.datastore.clone(), header.clone());
            racers.push(tokio::spawn(async move {
                run(&datastore, &header, task_id, enabled()).await
            }));
        }
        let mut tasks = Vec::new();
        for racer in racers {
            tasks.push(racer.await.unwrap().unwrap());
        }
        assert!(tasks.windows(2).all(|w| w[0] == w[1]));
        assert_eq!(stored_tasks(&h.datastore).await, vec![tasks[0].clone()]);
    }
}

#[test]
fn the_header_is_read_once() {
    let mut headers = HeaderMap::new();
    assert_eq!(advertisement(&headers).unwrap(), None);
    headers.append(TASKPROV_HEADER, "abc".parse().unwrap());
    assert_eq!(advertisement(&headers).unwrap().as_deref(), Some("abc"));
    headers.append(TASKPROV_HEADER, "def".parse().unwrap());
    assert_eq!(
        advertisement(&headers).unwrap_err().problem_type(),
        Some(DapProblemType::InvalidMessage)
    );
}
