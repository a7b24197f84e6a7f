//! Conformance: taskprov's peer aggregators (`taskprov_peer_aggregators`),
//! their sealed documents, and a task provisioned from a `TaskConfig`
//! keeping its config.

use dyad_core::hpke::HpkeKeypair;
use dyad_core::task::{AuthenticationToken, AuthenticationTokenType, Task};
use dyad_core::taskprov::{task_from_config, task_id_of, PeerAggregator, VerifyKeyInit};
use dyad_datastore::reseal::{count_sealed_values, reseal_all};
use dyad_datastore::testing::fixtures::d;
use dyad_datastore::testing::TestDatastore;
use dyad_datastore::{Datastore, DatastoreError, DatastoreExt, DatastoreKeys, TxError};
use dyad_messages::codec::Encode;
use dyad_messages::draft09::{HpkeConfigId, Role, Time, Url as DapUrl};
use dyad_messages::taskprov::{
    DpConfig, DpMechanism, QueryConfig, QueryTypeConfig, TaskConfig, VdafConfig, VdafType,
};
use std::sync::Arc;

fn peer(endpoint: &str, role: Role) -> PeerAggregator {
    let token = || AuthenticationToken::random(AuthenticationTokenType::Bearer).into();
    let collector = if role == Role::Helper {
        vec![token()]
    } else {
        vec![]
    };
    PeerAggregator::new(
        endpoint.parse().unwrap(),
        role,
        HpkeKeypair::generate_default(HpkeConfigId(4))
            .config()
            .clone(),
        VerifyKeyInit::random(),
        None,
        d(60),
        vec![token()],
        collector,
    )
    .unwrap()
}

async fn peers_of(datastore: &Arc<dyn Datastore>) -> Result<Vec<PeerAggregator>, TxError> {
    datastore
        .run_read_tx("get_taskprov_peer_aggregators", |tx| {
            Box::pin(async move { Ok(tx.get_taskprov_peer_aggregators().await?) })
        })
        .await
}

async fn put(datastore: &Arc<dyn Datastore>, peer: &PeerAggregator) -> Result<(), TxError> {
    let peer = peer.clone();
    datastore
        .run_tx("put_taskprov_peer_aggregator", move |tx| {
            let peer = peer.clone();
            Box::pin(async move { Ok(tx.put_taskprov_peer_aggregator(&peer).await?) })
        })
        .await
}

/// Peers come back whole (secrets included) by role then endpoint, one is
/// found by its endpoint and role, a second peer at the same endpoint and
/// role is refused (the same endpoint in the other role is another peer),
/// and deleting says whether there was one.
pub async fn round_trip_lookup_and_delete(h: TestDatastore) {
    let ds = &h.datastore;
    let leader = peer("https://leader.example/", Role::Leader);
    let helper = peer("https://helper.example/dap/", Role::Helper);
    let leader_as_helper = peer("https://leader.example/", Role::Helper);
    for p in [&helper, &leader, &leader_as_helper] {
        put(ds, p).await.unwrap();
    }
    assert_eq!(
        peers_of(ds).await.unwrap(),
        vec![leader.clone(), helper.clone(), leader_as_helper.clone()]
    );
    let duplicate = put(ds, &peer("https://leader.example", Role::Leader)).await;
    assert!(
        matches!(
            duplicate,
            Err(TxError::Datastore(DatastoreError::AlreadyExists { .. }))
        ),
        "{duplicate:?}"
    );

    let lookup = |endpoint: &'static str, role| {
        ds.run_read_tx("get", move |tx| {
            Box::pin(async move {
                Ok(tx
                    .get_taskprov_peer_aggregator(&endpoint.parse().unwrap(), role)
                    .await?)
            })
        })
    };
    assert_eq!(
        lookup("https://helper.example/dap/", Role::Helper)
            .await
            .unwrap(),
        Some(helper.clone())
    );
    assert_eq!(
        lookup("https://helper.example/dap/", Role::Leader)
            .await
            .unwrap(),
        None
    );

    let delete = |endpoint: &'static str, role| {
        ds.run_tx("delete", move |tx| {
            Box::pin(async move {
                Ok(tx
                    .delete_taskprov_peer_aggregator(&endpoint.parse().unwrap(), role)
                    .await?)
            })
        })
    };
    assert!(delete("https://leader.example/", Role::Leader)
        .await
        .unwrap());
    assert!(!delete("https://leader.example/", Role::Leader)
        .await
        .unwrap());
    assert_eq!(peers_of(ds).await.unwrap(), vec![helper, leader_as_helper]);
    let read_only = ds
        .run_read_tx("put", |tx| {
            Box::pin(async move {
                Ok(tx
                    .put_taskprov_peer_aggregator(&peer("https://x.example/", Role::Leader))
                    .await?)
            })
        })
        .await;
    assert!(matches!(
        read_only,
        Err(TxError::Datastore(DatastoreError::ReadOnly { .. }))
    ));
}

/// A peer's document is sealed under the datastore keys: other keys do not
/// open it (the error names the peer), and a reseal moves it under the
/// first key so the old key can go.
pub async fn documents_are_sealed_and_resealed(h: TestDatastore) {
    let leader = peer("https://leader.example/", Role::Leader);
    put(&h.datastore, &leader).await.unwrap();

    let new_key = DatastoreKeys::generate();
    let wrong = (h.reopen)(new_key.clone()).await.unwrap();
    match peers_of(&wrong).await {
        Err(TxError::Datastore(error @ DatastoreError::Decrypt { .. })) => {
            let message = error.to_string();
            assert!(
                message.contains("taskprov_peer_aggregators.peer_document")
                    && message.contains("https://leader.example/"),
                "{message}"
            );
        }
        other => panic!("expected a decryption error, got {other:?}"),
    }
    wrong.close().await;

    let rotated = (h.reopen)(DatastoreKeys::from_keys_in_order(&[&new_key, &h.keys]))
        .await
        .unwrap();
    assert_eq!(count_sealed_values(rotated.as_ref()).await.unwrap(), 1);
    let summary = reseal_all(rotated.as_ref(), 10, |_| {}).await.unwrap();
    assert_eq!(summary.resealed, 1);
    rotated.close().await;

    let only_new = (h.reopen)(new_key).await.unwrap();
    assert_eq!(peers_of(&only_new).await.unwrap(), vec![leader]);
    only_new.close().await;
}

/// A task provisioned from a `TaskConfig` comes back with the config's
/// bytes (whose SHA-256 is its ID).
pub async fn provisioned_task_keeps_its_task_config(h: TestDatastore) {
    let config = TaskConfig {
        task_info: b"conformance".to_vec(),
        leader_aggregator_endpoint: DapUrl::try_from("https://leader.example/").unwrap(),
        helper_aggregator_endpoint: DapUrl::try_from("https://helper.example/").unwrap(),
        query_config: QueryConfig {
            time_precision: d(3600),
            max_batch_query_count: 1,
            min_batch_size: 1,
            query: QueryTypeConfig::TimeInterval,
        },
        task_expiration: Time::from_seconds_since_epoch(4_000_000_000),
        vdaf_config: VdafConfig::new(DpConfig::new(DpMechanism::None), VdafType::Prio3Count),
    };
    let bytes = config.get_encoded().unwrap();
    let task = task_from_config(
        &config,
        &bytes,
        task_id_of(&bytes),
        &peer("https://leader.example/", Role::Leader),
    )
    .unwrap();
    let stored = task.clone();
    let back: Option<Task> = h
        .datastore
        .run_tx("put_get", move |tx| {
            let task = stored.clone();
            Box::pin(async move {
                tx.put_task(&task).await?;
                Ok(tx.get_task(task.task_id()).await?)
            })
        })
        .await
        .unwrap();
    let back = back.unwrap();
    assert_eq!(back, task);
    assert_eq!(back.taskprov_config(), Some(bytes.as_slice()));
}
