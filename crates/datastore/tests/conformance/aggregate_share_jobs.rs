//! Conformance: the Helper's aggregate share jobs (DAP-09 section 4.6.3).

use dyad_core::clock::Clock;
use dyad_datastore::models::{AggregateShareJob, BatchIdentifier};
use dyad_datastore::testing::fixtures::{self, ciphertext, helper_task, interval};
use dyad_datastore::testing::TestDatastore;
use dyad_datastore::{DatastoreError, DatastoreExt, TxError};
use dyad_messages::draft09::{AggregateShare, BatchId, ReportIdChecksum};

/// An answered request reads back for its batch and parameter only, and a
/// second answer for the same batch and parameter is refused.
pub async fn round_trip_and_idempotency(h: TestDatastore) {
    let task = helper_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let batch = BatchIdentifier::TimeInterval(interval(3600, 3600));
    let mut job = AggregateShareJob {
        task_id: *task.task_id(),
        batch_identifier: batch,
        aggregation_parameter: b"p".to_vec(),
        report_count: 17,
        checksum: ReportIdChecksum([3; 32]),
        response: AggregateShare {
            encrypted_aggregate_share: ciphertext(8),
        },
        created_at: fixtures::t(0),
    };
    let put = job.clone();
    h.datastore
        .run_tx("put", move |tx| {
            let put = put.clone();
            Box::pin(async move { Ok(tx.put_aggregate_share_job(&put).await?) })
        })
        .await
        .unwrap();
    job.created_at = h.clock.now();

    let mut again = job.clone();
    again.report_count = 18;
    let result = h
        .datastore
        .run_tx("again", move |tx| {
            let again = again.clone();
            Box::pin(async move { Ok(tx.put_aggregate_share_job(&again).await?) })
        })
        .await;
    assert!(
        matches!(
            result,
            Err(TxError::Datastore(DatastoreError::AlreadyExists { .. }))
        ),
        "{result:?}"
    );

    let task_id = *task.task_id();
    let found = h
        .datastore
        .run_read_tx("get", move |tx| {
            Box::pin(async move {
                Ok((
                    tx.get_aggregate_share_job(&task_id, &batch, b"p").await?,
                    tx.get_aggregate_share_job(&task_id, &batch, b"q").await?,
                    tx.get_aggregate_share_job(
                        &task_id,
                        &BatchIdentifier::FixedSize(BatchId::random()),
                        b"p",
                    )
                    .await?,
                ))
            })
        })
        .await
        .unwrap();
    assert_eq!(found, (Some(job), None, None));
}
