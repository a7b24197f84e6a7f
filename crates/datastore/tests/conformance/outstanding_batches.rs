//! Conformance: the Leader's fixed-size batches (DAP-09 sections 4.1.2 and
//! 4.6.1).

use dyad_datastore::models::{
    BatchAggregation, BatchIdentifier, BatchReservation, OutstandingBatch,
};
use dyad_datastore::testing::fixtures::{self, fixed_size_leader_task, interval};
use dyad_datastore::testing::TestDatastore;
use dyad_datastore::{Datastore, DatastoreExt};
use dyad_messages::draft09::{AggregationJobId, BatchId, ReportIdChecksum, TaskId};

async fn reserve(
    datastore: &dyn Datastore,
    task_id: TaskId,
    wanted: u64,
    target: u64,
) -> BatchReservation {
    datastore
        .run_tx("reserve", move |tx| {
            Box::pin(async move {
                Ok(tx
                    .reserve_outstanding_batch(&task_id, wanted, target)
                    .await?)
            })
        })
        .await
        .unwrap()
}

async fn outstanding(datastore: &dyn Datastore, task_id: TaskId) -> Vec<OutstandingBatch> {
    datastore
        .run_read_tx("list", move |tx| {
            Box::pin(async move { Ok(tx.get_outstanding_batches(&task_id).await?) })
        })
        .await
        .unwrap()
}

/// Reservations fill the oldest open batch up to the target size, then
/// start a new batch.
pub async fn reservations_fill_batches(h: TestDatastore) {
    let task = fixed_size_leader_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let task_id = *task.task_id();
    let first = reserve(h.datastore.as_ref(), task_id, 6, 10).await;
    assert!(first.created && first.reserved == 6);
    h.clock.advance(fixtures::d(1));
    let second = reserve(h.datastore.as_ref(), task_id, 6, 10).await;
    assert_eq!(
        (second.batch_id, second.reserved, second.created),
        (first.batch_id, 4, false)
    );
    let third = reserve(h.datastore.as_ref(), task_id, 6, 10).await;
    assert!(third.created && third.reserved == 6 && third.batch_id != first.batch_id);

    let batches = outstanding(h.datastore.as_ref(), task_id).await;
    let summary: Vec<_> = batches
        .iter()
        .map(|b| (b.batch_id, b.size, b.filled, b.collected))
        .collect();
    assert_eq!(
        summary,
        vec![
            (first.batch_id, 10, true, false),
            (third.batch_id, 6, false, false)
        ]
    );
}

/// Room given back reopens a filled batch for the next reservation.
pub async fn released_room_reopens_a_batch(h: TestDatastore) {
    let task = fixed_size_leader_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let task_id = *task.task_id();
    let full = reserve(h.datastore.as_ref(), task_id, 10, 10).await;
    let batch_id = full.batch_id;
    h.datastore
        .run_tx("release", move |tx| {
            Box::pin(async move {
                Ok(tx
                    .release_outstanding_batch_reservation(&task_id, &batch_id, 3)
                    .await?)
            })
        })
        .await
        .unwrap();
    let again = reserve(h.datastore.as_ref(), task_id, 5, 10).await;
    assert_eq!(
        (again.batch_id, again.reserved, again.created),
        (batch_id, 3, false)
    );
    let missing = h
        .datastore
        .run_tx("release missing", move |tx| {
            Box::pin(async move {
                Ok(tx
                    .release_outstanding_batch_reservation(&task_id, &BatchId::random(), 1)
                    .await?)
            })
        })
        .await;
    assert!(missing.is_err());
}

/// `current_batch` takes the oldest batch whose aggregated count reached
/// the minimum, and never the same batch twice.
pub async fn current_batch_needs_min_size_and_is_taken_once(h: TestDatastore) {
    let task = fixed_size_leader_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let task_id = *task.task_id();
    let older = reserve(h.datastore.as_ref(), task_id, 10, 10)
        .await
        .batch_id;
    h.clock.advance(fixtures::d(1));
    let newer = reserve(h.datastore.as_ref(), task_id, 10, 10)
        .await
        .batch_id;
    let aggregated = |batch_id: BatchId, count: u64| BatchAggregation {
        task_id,
        batch_identifier: BatchIdentifier::FixedSize(batch_id),
        aggregation_parameter: vec![],
        aggregation_job_id: AggregationJobId::random(),
        aggregate_share: vec![0],
        report_count: count,
        checksum: ReportIdChecksum::default(),
        client_timestamp_interval: interval(0, 1),
    };
    // The older batch has 9 of 10 (in two jobs), the newer one 10.
    let rows = vec![
        aggregated(older, 5),
        aggregated(older, 4),
        aggregated(newer, 10),
    ];
    let (first, second, third) = h
        .datastore
        .run_tx("take", move |tx| {
            let rows = rows.clone();
            Box::pin(async move {
                tx.put_batch_aggregations(&rows, None).await?;
                let first = tx.take_current_batch(&task_id, b"", 10).await?;
                let second = tx.take_current_batch(&task_id, b"", 10).await?;
                let third = tx.take_current_batch(&task_id, b"", 9).await?;
                Ok((first, second, third))
            })
        })
        .await
        .unwrap();
    assert_eq!((first, second, third), (Some(newer), None, Some(older)));
    assert!(outstanding(h.datastore.as_ref(), task_id).await.is_empty());
}
