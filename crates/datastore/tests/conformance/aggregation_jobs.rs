//! Conformance: aggregation jobs (DAP-09 section 4.5).

use dyad_core::clock::Clock;
use dyad_datastore::models::{AggregationJob, AggregationJobState, BatchIdentifier};
use dyad_datastore::testing::fixtures::{
    self, aggregation_job, helper_task, interval, leader_task,
};
use dyad_datastore::testing::TestDatastore;
use dyad_datastore::{Datastore, DatastoreError, DatastoreExt, TxError};
use dyad_messages::draft09::{AggregationJobId, BatchId, ReportId, ReportMetadata, TaskId, Time};

async fn get(
    datastore: &dyn Datastore,
    task_id: TaskId,
    id: AggregationJobId,
) -> Option<AggregationJob> {
    datastore
        .run_read_tx("get", move |tx| {
            Box::pin(async move { Ok(tx.get_aggregation_job(&task_id, &id).await?) })
        })
        .await
        .unwrap()
}

/// A job reads back as stored (with `created_at` from the clock, a
/// Helper's kept answer and a Leader's report list, each long enough to
/// leave the row), and an update changes its state, step and request hash
/// and keeps the answer and the list.
pub async fn put_get_update(h: TestDatastore) {
    let task = helper_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let mut job = aggregation_job(
        task.task_id(),
        b"param",
        Some(BatchId::random()),
        interval(3600, 7200),
    );
    job.last_request_hash = Some([7; 32]);
    job.init_response = Some((0..20_000u32).map(|i| (i * 7919 % 251) as u8).collect());
    job.report_list = Some(
        (0..1000u64)
            .map(|i| ReportMetadata::new(ReportId::random(), Time::from_seconds_since_epoch(i)))
            .collect(),
    );
    fixtures::put_aggregation_jobs(h.datastore.as_ref(), std::slice::from_ref(&job)).await;
    job.created_at = h.clock.now();
    let (task_id, id) = (*task.task_id(), job.aggregation_job_id);
    assert_eq!(
        get(h.datastore.as_ref(), task_id, id).await,
        Some(job.clone())
    );

    job.state = AggregationJobState::Finished;
    job.step = 2;
    job.last_request_hash = Some([9; 32]);
    let update = job.clone();
    h.datastore
        .run_tx("update", move |tx| {
            let update = update.clone();
            Box::pin(async move { Ok(tx.update_aggregation_job(&update, None).await?) })
        })
        .await
        .unwrap();
    assert_eq!(get(h.datastore.as_ref(), task_id, id).await, Some(job));
    assert_eq!(
        get(h.datastore.as_ref(), task_id, AggregationJobId::random()).await,
        None
    );
}

/// A second job with the same ID is refused.
pub async fn duplicate_job_is_rejected(h: TestDatastore) {
    let task = leader_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let job = aggregation_job(task.task_id(), b"", None, interval(0, 3600));
    fixtures::put_aggregation_jobs(h.datastore.as_ref(), std::slice::from_ref(&job)).await;
    let mut again = job.clone();
    again.aggregation_parameter = b"other".to_vec();
    let result = h
        .datastore
        .run_tx("again", move |tx| {
            let again = again.clone();
            Box::pin(async move { Ok(tx.put_aggregation_job(&again).await?) })
        })
        .await;
    assert!(
        matches!(
            result,
            Err(TxError::Datastore(DatastoreError::AlreadyExists { .. }))
        ),
        "{result:?}"
    );
    let stored = get(h.datastore.as_ref(), job.task_id, job.aggregation_job_id).await;
    assert_eq!(stored.unwrap().aggregation_parameter, b"".to_vec());
}

/// Updating a job that does not exist fails with `NotFound`.
pub async fn update_of_missing_job_fails(h: TestDatastore) {
    let task = leader_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let job = aggregation_job(task.task_id(), b"", None, interval(0, 3600));
    let result = h
        .datastore
        .run_tx("update", move |tx| {
            let job = job.clone();
            Box::pin(async move { Ok(tx.update_aggregation_job(&job, None).await?) })
        })
        .await;
    crate::assert_not_found(&result);
}

/// In-progress jobs that may hold reports of a batch are counted by
/// interval overlap or batch ID, and by aggregation parameter; a used batch
/// ID is known.
pub async fn unfinished_jobs_for_batch(h: TestDatastore) {
    let task = leader_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let batch_id = BatchId::random();
    let mut finished = aggregation_job(task.task_id(), b"p", None, interval(3600, 100));
    finished.state = AggregationJobState::Finished;
    let jobs = vec![
        aggregation_job(task.task_id(), b"p", None, interval(3600, 100)),
        aggregation_job(task.task_id(), b"p", None, interval(7100, 200)),
        aggregation_job(task.task_id(), b"p", None, interval(10_800, 10)),
        aggregation_job(task.task_id(), b"q", None, interval(3600, 100)),
        aggregation_job(task.task_id(), b"p", Some(batch_id), interval(3600, 100)),
        finished,
    ];
    fixtures::put_aggregation_jobs(h.datastore.as_ref(), &jobs).await;
    let task_id = *task.task_id();
    let counts = h
        .datastore
        .run_read_tx("count", move |tx| {
            Box::pin(async move {
                let hour = BatchIdentifier::TimeInterval(interval(3600, 3600));
                let fixed = BatchIdentifier::FixedSize(batch_id);
                Ok((
                    tx.count_unfinished_aggregation_jobs_for_batch(&task_id, &hour, b"p")
                        .await?,
                    tx.count_unfinished_aggregation_jobs_for_batch(&task_id, &hour, b"q")
                        .await?,
                    tx.count_unfinished_aggregation_jobs_for_batch(&task_id, &fixed, b"p")
                        .await?,
                    tx.aggregation_jobs_exist_for_batch_id(&task_id, &batch_id)
                        .await?,
                    tx.aggregation_jobs_exist_for_batch_id(&task_id, &BatchId::random())
                        .await?,
                ))
            })
        })
        .await
        .unwrap();
    // [3600,3700) twice (one with a batch ID) and [7100,7300) overlap the hour.
    assert_eq!(counts, (3, 1, 1, true, false));
}
