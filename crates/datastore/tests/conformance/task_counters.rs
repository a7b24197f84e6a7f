//! Conformance: per-task statistics (`dyad task stats`), sharded counter
//! rows summed on read.

use dyad_datastore::models::TaskCounters;
use dyad_datastore::testing::fixtures::{self, helper_task, leader_task};
use dyad_datastore::testing::TestDatastore;
use dyad_datastore::{Datastore, DatastoreError, DatastoreExt, TxError};
use dyad_messages::draft09::TaskId;
use std::sync::Arc;

async fn add(datastore: &dyn Datastore, task_id: TaskId, counters: TaskCounters) {
    datastore
        .run_tx("add", move |tx| {
            Box::pin(async move { Ok(tx.add_task_counters(&task_id, &counters).await?) })
        })
        .await
        .unwrap();
}

async fn read(datastore: &dyn Datastore, task_id: TaskId) -> Option<TaskCounters> {
    datastore
        .run_read_tx("read", move |tx| {
            Box::pin(async move { Ok(tx.get_task_counters(&task_id).await?) })
        })
        .await
        .unwrap()
}

/// Counts add up across writes (and so across shards), per task; a task
/// with nothing counted reads zeros, an unknown task `None`.
pub async fn counts_add_up_per_task(h: TestDatastore) {
    let (task, other) = (leader_task(), helper_task());
    fixtures::put_tasks(h.datastore.as_ref(), &[&task, &other]).await;
    let task_id = *task.task_id();
    assert_eq!(
        read(h.datastore.as_ref(), task_id).await,
        Some(TaskCounters::default())
    );
    let mut expected = TaskCounters::default();
    for n in 1..=40 {
        let counters = TaskCounters {
            uploads_accepted: n,
            uploads_too_early: 1,
            prepare_failed_other: 2,
            ..TaskCounters::default()
        };
        expected.add(&counters);
        add(h.datastore.as_ref(), task_id, counters).await;
    }
    assert_eq!(read(h.datastore.as_ref(), task_id).await, Some(expected));
    assert_eq!(expected.uploads_accepted, 820);
    assert_eq!(
        read(h.datastore.as_ref(), *other.task_id()).await,
        Some(TaskCounters::default())
    );
    assert_eq!(read(h.datastore.as_ref(), TaskId::random()).await, None);
}

/// Many transactions adding at once all count: none is lost, whatever
/// shard each picked.
pub async fn concurrent_increments_sum_exactly(h: TestDatastore) {
    let task = leader_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let task_id = *task.task_id();
    let datastore: Arc<dyn Datastore> = h.datastore.clone();
    let writers = (0..16).map(|_| {
        let datastore = datastore.clone();
        tokio::spawn(async move {
            for _ in 0..10 {
                let counters = TaskCounters {
                    uploads_accepted: 3,
                    reports_aggregated: 1,
                    ..TaskCounters::default()
                };
                add(datastore.as_ref(), task_id, counters).await;
            }
        })
    });
    for writer in writers.collect::<Vec<_>>() {
        writer.await.unwrap();
    }
    let counted = read(h.datastore.as_ref(), task_id).await.unwrap();
    assert_eq!(counted.uploads_accepted, 16 * 10 * 3);
    assert_eq!(counted.reports_aggregated, 16 * 10);
    assert_eq!(counted.uploads_duplicate, 0);
}

/// Counters of a task that does not exist (deleted meanwhile) are dropped
/// without an error; deleting a task deletes its counters; adding needs a
/// read-write transaction.
pub async fn deleted_tasks_keep_no_counters(h: TestDatastore) {
    let task = leader_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let task_id = *task.task_id();
    let one = TaskCounters {
        uploads_duplicate: 1,
        ..TaskCounters::default()
    };
    add(h.datastore.as_ref(), TaskId::random(), one).await;
    add(h.datastore.as_ref(), task_id, one).await;
    let deleted = h
        .datastore
        .run_tx("delete", move |tx| {
            Box::pin(async move { Ok(tx.delete_task(&task_id).await?) })
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(deleted.task_counters, 1);
    assert_eq!(read(h.datastore.as_ref(), task_id).await, None);
    let refused = h
        .datastore
        .run_read_tx("add read-only", move |tx| {
            Box::pin(async move { Ok(tx.add_task_counters(&task_id, &one).await?) })
        })
        .await
        .unwrap_err();
    assert!(
        matches!(refused, TxError::Datastore(DatastoreError::ReadOnly { .. })),
        "{refused:?}"
    );
}
