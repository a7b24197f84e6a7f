//! Conformance: the global HPKE keys (`global_hpke_keys`), their states,
//! their sealed private keys, and the lock that serializes their writers.

use dyad_core::hpke::HpkeKeypair;
use dyad_datastore::models::{GlobalHpkeKey, HpkeKeyState};
use dyad_datastore::reseal::{count_sealed_values, reseal_all};
use dyad_datastore::testing::fixtures::{d, t};
use dyad_datastore::testing::TestDatastore;
use dyad_datastore::{Datastore, DatastoreError, DatastoreExt, DatastoreKeys, TxError};
use dyad_messages::draft09::HpkeConfigId;
use std::sync::Arc;

async fn keys_of(datastore: &Arc<dyn Datastore>) -> Result<Vec<GlobalHpkeKey>, TxError> {
    datastore
        .run_read_tx("get_global_hpke_keys", |tx| {
            Box::pin(async move { Ok(tx.get_global_hpke_keys().await?) })
        })
        .await
}

async fn put(datastore: &Arc<dyn Datastore>, keypair: &HpkeKeypair, state: HpkeKeyState) {
    let keypair = keypair.clone();
    datastore
        .run_tx("put_global_hpke_key", move |tx| {
            let keypair = keypair.clone();
            Box::pin(async move { Ok(tx.put_global_hpke_key(&keypair, state).await?) })
        })
        .await
        .unwrap();
}

async fn set_state(
    datastore: &Arc<dyn Datastore>,
    id: u8,
    state: HpkeKeyState,
) -> Result<(), TxError> {
    datastore
        .run_tx("set_global_hpke_key_state", move |tx| {
            Box::pin(async move {
                Ok(tx
                    .set_global_hpke_key_state(HpkeConfigId(id), state)
                    .await?)
            })
        })
        .await
}

/// Keys come back by config ID with their keypair, state and times; a
/// state change moves `state_changed_at` (not a repeated one); a second key
/// with a used config ID, a missing key and writes in a read-only
/// transaction are refused; deleting says whether there was a key.
pub async fn states_and_times_round_trip(h: TestDatastore) {
    let ds = &h.datastore;
    let first = HpkeKeypair::generate_default(HpkeConfigId(9));
    let second = HpkeKeypair::generate_default(HpkeConfigId(3));
    h.clock.set(t(1000));
    put(ds, &first, HpkeKeyState::Pending).await;
    h.clock.set(t(2000));
    put(ds, &second, HpkeKeyState::Active).await;
    let stored = keys_of(ds).await.unwrap();
    assert_eq!(
        stored,
        vec![
            GlobalHpkeKey {
                keypair: second.clone(),
                state: HpkeKeyState::Active,
                created_at: t(2000),
                state_changed_at: t(2000),
            },
            GlobalHpkeKey {
                keypair: first.clone(),
                state: HpkeKeyState::Pending,
                created_at: t(1000),
                state_changed_at: t(1000),
            },
        ]
    );

    h.clock.advance(d(500));
    set_state(ds, 9, HpkeKeyState::Active).await.unwrap();
    h.clock.advance(d(500));
    set_state(ds, 9, HpkeKeyState::Active).await.unwrap();
    let stored = keys_of(ds).await.unwrap();
    assert_eq!(stored[1].state, HpkeKeyState::Active);
    assert_eq!(
        stored[1].state_changed_at,
        t(2500),
        "a repeated state keeps its time"
    );
    assert_eq!(stored[1].created_at, t(1000));

    let again = HpkeKeypair::generate_default(HpkeConfigId(3));
    let duplicate = ds
        .run_tx("put_global_hpke_key", move |tx| {
            let again = again.clone();
            Box::pin(async move {
                Ok(tx
                    .put_global_hpke_key(&again, HpkeKeyState::Pending)
                    .await?)
            })
        })
        .await;
    assert!(
        matches!(
            duplicate,
            Err(TxError::Datastore(DatastoreError::AlreadyExists { .. }))
        ),
        "{duplicate:?}"
    );
    assert!(matches!(
        set_state(ds, 77, HpkeKeyState::Expired).await,
        Err(TxError::Datastore(DatastoreError::NotFound { .. }))
    ));
    let read_only = ds
        .run_read_tx("delete", |tx| {
            Box::pin(async move { Ok(tx.delete_global_hpke_key(HpkeConfigId(3)).await?) })
        })
        .await;
    assert!(
        matches!(
            read_only,
            Err(TxError::Datastore(DatastoreError::ReadOnly { .. }))
        ),
        "{read_only:?}"
    );

    let delete = |id| {
        ds.run_tx("delete", move |tx| {
            Box::pin(async move { Ok(tx.delete_global_hpke_key(HpkeConfigId(id)).await?) })
        })
    };
    assert!(delete(3).await.unwrap());
    assert!(!delete(3).await.unwrap());
    let stored = keys_of(ds).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].id(), HpkeConfigId(9));
}

/// A private key is sealed under the datastore keys: it does not open with
/// other keys (the error names the key), and a reseal moves it under the
/// first key so that the old key can go.
pub async fn private_keys_are_sealed_and_resealed(h: TestDatastore) {
    let keypair = HpkeKeypair::generate_default(HpkeConfigId(1));
    put(&h.datastore, &keypair, HpkeKeyState::Active).await;

    let new_key = DatastoreKeys::generate();
    let wrong = (h.reopen)(new_key.clone()).await.unwrap();
    match keys_of(&wrong).await {
        Err(TxError::Datastore(error @ DatastoreError::Decrypt { .. })) => {
            let message = error.to_string();
            assert!(
                message.contains("global_hpke_keys.private_key")
                    && message.contains("global HPKE key 1"),
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
    let stored = keys_of(&only_new).await.unwrap();
    assert_eq!(stored[0].keypair, keypair);
    only_new.close().await;
}

/// Writers that take the lock first never act on a stale view: each of
/// several concurrent "rotators" adds a key only if none exists, and exactly
/// one key is added, every transaction committing.
pub async fn lock_serializes_concurrent_writers(h: TestDatastore) {
    let mut writers = Vec::new();
    for _ in 0..4 {
        let datastore = h.datastore.clone();
        writers.push(tokio::spawn(async move {
            datastore
                .run_tx("rotate", |tx| {
                    Box::pin(async move {
                        tx.lock_global_hpke_keys().await?;
                        let existing = tx.get_global_hpke_keys().await?;
                        if existing.is_empty() {
                            let keypair = HpkeKeypair::generate_default(HpkeConfigId(1));
                            tx.put_global_hpke_key(&keypair, HpkeKeyState::Pending)
                                .await?;
                            return Ok(true);
                        }
                        Ok(false)
                    })
                })
                .await
        }));
    }
    let mut created = 0;
    for writer in writers {
        if writer.await.unwrap().unwrap() {
            created += 1;
        }
    }
    assert_eq!(created, 1);
    assert_eq!(keys_of(&h.datastore).await.unwrap().len(), 1);
}
