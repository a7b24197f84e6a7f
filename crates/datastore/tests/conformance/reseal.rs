//! Conformance: ending a key rotation by re-sealing every secret under the
//! first key (`dyad_datastore::reseal`).

use dyad_core::task::Task;
use dyad_datastore::reseal::{count_sealed_values, reseal_all, ResealSummary};
use dyad_datastore::testing::fixtures::{self, fixed_size_leader_task, helper_task, leader_task};
use dyad_datastore::testing::TestDatastore;
use dyad_datastore::{Datastore, DatastoreError, DatastoreExt, DatastoreKeys, TxError};
use std::sync::Arc;

async fn all_tasks(datastore: &Arc<dyn Datastore>) -> Result<Vec<Task>, TxError> {
    datastore
        .run_read_tx("list", |tx| {
            Box::pin(async move { Ok(tx.get_tasks().await?) })
        })
        .await
}

/// Tasks sealed under key A, resealed by a process holding `[B, A]` (in
/// batches smaller than the table, beside a task already written under B),
/// stay readable with `[B]` alone and no longer with `[A]`; a second run
/// finds nothing to do, and keys that open nothing fail naming a task.
pub async fn reseal_then_the_old_key_can_go(h: TestDatastore) {
    let old_tasks = [leader_task(), helper_task(), fixed_size_leader_task()];
    fixtures::put_tasks(h.datastore.as_ref(), &old_tasks.iter().collect::<Vec<_>>()).await;

    let new_key = DatastoreKeys::generate();
    let rotated = (h.reopen)(DatastoreKeys::from_keys_in_order(&[&new_key, &h.keys]))
        .await
        .unwrap();
    let written_under_new = leader_task();
    fixtures::put_tasks(rotated.as_ref(), &[&written_under_new]).await;
    let mut expected: Vec<Task> = old_tasks.to_vec();
    expected.push(written_under_new);
    expected.sort_by_key(|task| *task.task_id());

    assert_eq!(count_sealed_values(rotated.as_ref()).await.unwrap(), 4);
    let mut batches = Vec::new();
    let summary = reseal_all(rotated.as_ref(), 3, |rows| batches.push(rows))
        .await
        .unwrap();
    assert_eq!(
        summary,
        ResealSummary {
            resealed: 3,
            already_current: 1
        }
    );
    assert_eq!(batches, vec![3, 1], "bounded batches cover every row once");
    let again = reseal_all(rotated.as_ref(), 100, |_| {}).await.unwrap();
    assert_eq!(
        again,
        ResealSummary {
            resealed: 0,
            already_current: 4
        }
    );
    rotated.close().await;

    let only_new = (h.reopen)(new_key).await.unwrap();
    assert_eq!(all_tasks(&only_new).await.unwrap(), expected);
    only_new.close().await;
    assert!(
        all_tasks(&h.datastore).await.is_err(),
        "the old key alone no longer opens the resealed tasks"
    );

    let unrelated = (h.reopen)(DatastoreKeys::generate()).await.unwrap();
    match reseal_all(unrelated.as_ref(), 100, |_| {}).await {
        Err(TxError::Datastore(DatastoreError::Decrypt { row, .. })) => {
            assert_eq!(row, format!("task {}", expected[0].task_id()));
        }
        other => panic!("expected a decryption error, got {other:?}"),
    }
    unrelated.close().await;
}

/// A reseal running beside another process that adds and deletes tasks
/// (both holding `[B, A]`) loses nothing: afterwards `[B]` alone opens
/// every task that remains.
pub async fn reseal_beside_a_writer_loses_nothing(h: TestDatastore) {
    let old_tasks: Vec<Task> = (0..12).map(|_| leader_task()).collect();
    fixtures::put_tasks(h.datastore.as_ref(), &old_tasks.iter().collect::<Vec<_>>()).await;
    let new_key = DatastoreKeys::generate();
    let rotation = DatastoreKeys::from_keys_in_order(&[&new_key, &h.keys]);
    let resealer = (h.reopen)(rotation.clone()).await.unwrap();
    let writer = (h.reopen)(rotation).await.unwrap();

    // One task added and one deleted per step, four steps.
    let deleted: Vec<Task> = old_tasks.iter().step_by(3).cloned().collect();
    let added: Vec<Task> = deleted.iter().map(|_| helper_task()).collect();
    let writing = {
        let (added, deleted) = (added.clone(), deleted.clone());
        tokio::spawn(async move {
            for (new, gone) in added.into_iter().zip(deleted) {
                fixtures::put_tasks(writer.as_ref(), &[&new]).await;
                let gone_id = *gone.task_id();
                writer
                    .run_tx("delete", move |tx| {
                        Box::pin(async move { Ok(tx.delete_task(&gone_id).await?) })
                    })
                    .await
                    .unwrap();
            }
            writer.close().await;
        })
    };
    reseal_all(resealer.as_ref(), 2, |_| {}).await.unwrap();
    writing.await.unwrap();
    resealer.close().await;

    let mut expected: Vec<Task> = old_tasks
        .iter()
        .filter(|task| !deleted.contains(task))
        .chain(&added)
        .cloned()
        .collect();
    expected.sort_by_key(|task| *task.task_id());
    let only_new = (h.reopen)(new_key).await.unwrap();
    let ids = |tasks: &[Task]| tasks.iter().map(|task| *task.task_id()).collect::<Vec<_>>();
    let got = all_tasks(&only_new).await.unwrap();
    assert_eq!(ids(&got), ids(&expected));
    assert_eq!(got, expected);
    only_new.close().await;
}
