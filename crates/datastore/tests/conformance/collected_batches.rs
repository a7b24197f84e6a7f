//! Conformance: collected batches, for `max_batch_query_count`, batch
//! overlap and `batch_collected` (DAP-09 sections 4.5.1.4 and 4.6.5).

use dyad_datastore::models::BatchIdentifier;
use dyad_datastore::testing::fixtures::{self, interval, leader_task};
use dyad_datastore::testing::TestDatastore;
use dyad_datastore::{Datastore, DatastoreExt};
use dyad_messages::draft09::{BatchId, TaskId};

async fn record(
    datastore: &dyn Datastore,
    task_id: TaskId,
    batch: BatchIdentifier,
    p: &'static [u8],
) -> bool {
    datastore
        .run_tx("record", move |tx| {
            Box::pin(async move { Ok(tx.put_collected_batch(&task_id, &batch, p).await?) })
        })
        .await
        .unwrap()
}

/// Each distinct aggregation parameter is one row; recording the same one
/// again adds nothing.
pub async fn distinct_parameters_are_counted(h: TestDatastore) {
    let task = leader_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let task_id = *task.task_id();
    let batch = BatchIdentifier::FixedSize(BatchId::random());
    assert!(record(h.datastore.as_ref(), task_id, batch, b"a").await);
    assert!(!record(h.datastore.as_ref(), task_id, batch, b"a").await);
    assert!(record(h.datastore.as_ref(), task_id, batch, b"b").await);
    record(
        h.datastore.as_ref(),
        task_id,
        BatchIdentifier::FixedSize(BatchId::random()),
        b"c",
    )
    .await;

    let found = h
        .datastore
        .run_read_tx("get", move |tx| {
            Box::pin(async move { Ok(tx.get_collected_batches(&task_id, &batch).await?) })
        })
        .await
        .unwrap();
    let mut parameters: Vec<_> = found
        .iter()
        .map(|c| c.aggregation_parameter.clone())
        .collect();
    parameters.sort();
    assert_eq!(parameters, vec![b"a".to_vec(), b"b".to_vec()]);
    assert!(found
        .iter()
        .all(|c| c.batch_identifier == batch && c.task_id == task_id));
}

/// Queries whose intervals overlap a new one are found, equal or not;
/// adjacent ones are not.
pub async fn overlapping_intervals_are_found(h: TestDatastore) {
    let task = leader_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let task_id = *task.task_id();
    let earlier = BatchIdentifier::TimeInterval(interval(0, 7200));
    let adjacent = BatchIdentifier::TimeInterval(interval(7200, 3600));
    record(h.datastore.as_ref(), task_id, earlier, b"").await;
    record(h.datastore.as_ref(), task_id, adjacent, b"").await;

    let overlaps = |batch: BatchIdentifier| {
        let datastore = h.datastore.clone();
        async move {
            datastore
                .run_read_tx("get", move |tx| {
                    Box::pin(async move { Ok(tx.get_collected_batches(&task_id, &batch).await?) })
                })
                .await
                .unwrap()
                .into_iter()
                .map(|c| c.batch_identifier)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        overlaps(BatchIdentifier::TimeInterval(interval(3600, 3600))).await,
        vec![earlier]
    );
    assert_eq!(overlaps(earlier).await, vec![earlier]);
    assert_eq!(
        overlaps(BatchIdentifier::TimeInterval(interval(3600, 7200))).await,
        vec![earlier, adjacent]
    );
    assert!(
        overlaps(BatchIdentifier::TimeInterval(interval(10_800, 3600)))
            .await
            .is_empty()
    );
}

/// A report's bucket or batch counts as collected once a query touching it
/// was recorded, for its parameter or any.
pub async fn collected_checks(h: TestDatastore) {
    let task = leader_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let task_id = *task.task_id();
    let batch_id = BatchId::random();
    record(
        h.datastore.as_ref(),
        task_id,
        BatchIdentifier::TimeInterval(interval(3600, 7200)),
        b"p",
    )
    .await;
    record(
        h.datastore.as_ref(),
        task_id,
        BatchIdentifier::FixedSize(batch_id),
        b"p",
    )
    .await;
    let checks = h
        .datastore
        .run_read_tx("checks", move |tx| {
            Box::pin(async move {
                let bucket = |start| BatchIdentifier::TimeInterval(interval(start, 3600));
                let mut out = Vec::new();
                for (batch, parameter) in [
                    (bucket(7200), Some(&b"p"[..])),
                    (bucket(7200), None),
                    (bucket(7200), Some(&b"q"[..])),
                    (bucket(0), None),
                    (bucket(10_800), None),
                    (BatchIdentifier::FixedSize(batch_id), Some(&b"p"[..])),
                    (BatchIdentifier::FixedSize(BatchId::random()), None),
                ] {
                    out.push(tx.is_batch_collected(&task_id, &batch, parameter).await?);
                }
                Ok(out)
            })
        })
        .await
        .unwrap();
    assert_eq!(checks, vec![true, true, false, false, false, true, false]);
}
