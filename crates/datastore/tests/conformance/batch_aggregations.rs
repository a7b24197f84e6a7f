//! Conformance: batch aggregations, one row per job, combined by the
//! caller (DAP-09 section 4.6.3).

use dyad_datastore::models::{BatchAggregation, BatchIdentifier};
use dyad_datastore::testing::fixtures::{self, aggregation_job, interval, leader_task};
use dyad_datastore::testing::TestDatastore;
use dyad_datastore::{Datastore, DatastoreExt};
use dyad_messages::draft09::{AggregationJobId, BatchId, Interval, ReportIdChecksum, TaskId};

fn row(
    task_id: &TaskId,
    batch: BatchIdentifier,
    parameter: &[u8],
    job: AggregationJobId,
    count: u64,
    checksum: u8,
    client: Interval,
) -> BatchAggregation {
    BatchAggregation {
        task_id: *task_id,
        batch_identifier: batch,
        aggregation_parameter: parameter.to_vec(),
        aggregation_job_id: job,
        aggregate_share: vec![count as u8; 4],
        report_count: count,
        checksum: ReportIdChecksum([checksum; 32]),
        client_timestamp_interval: client,
    }
}

async fn put(datastore: &dyn Datastore, rows: Vec<BatchAggregation>) {
    datastore
        .run_tx("put", move |tx| {
            let rows = rows.clone();
            Box::pin(async move { Ok(tx.put_batch_aggregations(&rows, None).await?) })
        })
        .await
        .unwrap();
}

async fn for_batch(
    datastore: &dyn Datastore,
    task_id: TaskId,
    batch: BatchIdentifier,
    parameter: &'static [u8],
) -> Vec<BatchAggregation> {
    datastore
        .run_read_tx("get", move |tx| {
            Box::pin(async move {
                Ok(tx
                    .get_batch_aggregations_for_batch(&task_id, &batch, parameter)
                    .await?)
            })
        })
        .await
        .unwrap()
}

/// Two jobs writing the same batch make two rows; reading the batch gives
/// both, and the caller's sum of counts and XOR of checksums cover both.
pub async fn rows_per_job_are_summed_by_the_caller(h: TestDatastore) {
    let task = fixtures::fixed_size_leader_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let batch_id = BatchId::random();
    let batch = BatchIdentifier::FixedSize(batch_id);
    let (job_a, job_b) = (AggregationJobId::random(), AggregationJobId::random());
    let rows = vec![
        row(
            task.task_id(),
            batch,
            b"",
            job_a,
            3,
            0x0f,
            interval(3600, 10),
        ),
        row(
            task.task_id(),
            batch,
            b"",
            job_b,
            4,
            0xf3,
            interval(7200, 10),
        ),
        row(
            task.task_id(),
            batch,
            b"other",
            job_b,
            9,
            0x11,
            interval(7200, 10),
        ),
        row(
            task.task_id(),
            BatchIdentifier::FixedSize(BatchId::random()),
            b"",
            job_a,
            5,
            1,
            interval(0, 1),
        ),
    ];
    put(h.datastore.as_ref(), rows.clone()).await;

    let found = for_batch(h.datastore.as_ref(), *task.task_id(), batch, b"").await;
    assert_eq!(found.len(), 2);
    let count: u64 = found.iter().map(|ba| ba.report_count).sum();
    let checksum = found.iter().fold(ReportIdChecksum::default(), |acc, ba| {
        acc.combined_with(&ba.checksum)
    });
    assert_eq!(count, 7);
    assert_eq!(checksum, ReportIdChecksum([0x0f ^ 0xf3; 32]));
    for expected in &rows[..2] {
        assert!(found.contains(expected), "{expected:?} missing");
    }

    let task_id = *task.task_id();
    let of_job_b = h
        .datastore
        .run_read_tx("job", move |tx| {
            Box::pin(async move { Ok(tx.get_batch_aggregations_for_job(&task_id, &job_b).await?) })
        })
        .await
        .unwrap();
    assert_eq!(of_job_b.len(), 2);
    assert!(of_job_b.contains(&rows[1]) && of_job_b.contains(&rows[2]));
}

/// A time-interval batch reads every bucket inside the interval, and no
/// bucket outside it.
pub async fn time_interval_reads_buckets_inside(h: TestDatastore) {
    let task = leader_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let job = AggregationJobId::random();
    let bucket = |start: u64| BatchIdentifier::TimeInterval(interval(start, 3600));
    let rows: Vec<_> = [0, 3600, 7200, 10_800]
        .iter()
        .map(|start| {
            row(
                task.task_id(),
                bucket(*start),
                b"",
                job,
                1,
                0,
                interval(*start, 1),
            )
        })
        .collect();
    put(h.datastore.as_ref(), rows.clone()).await;

    let two_hours = BatchIdentifier::TimeInterval(interval(3600, 7200));
    let found = for_batch(h.datastore.as_ref(), *task.task_id(), two_hours, b"").await;
    assert_eq!(found, rows[1..3].to_vec());
    let nothing = BatchIdentifier::TimeInterval(interval(20_000, 3600));
    assert!(
        for_batch(h.datastore.as_ref(), *task.task_id(), nothing, b"")
            .await
            .is_empty()
    );
}

/// Writing a job's row for the same batch again replaces it.
pub async fn rewrite_replaces_the_jobs_row(h: TestDatastore) {
    let task = leader_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let job = aggregation_job(task.task_id(), b"", None, interval(3600, 60));
    fixtures::put_aggregation_jobs(h.datastore.as_ref(), std::slice::from_ref(&job)).await;
    let batch = BatchIdentifier::TimeInterval(interval(3600, 3600));
    let first = row(
        task.task_id(),
        batch,
        b"",
        job.aggregation_job_id,
        2,
        1,
        interval(3600, 5),
    );
    put(h.datastore.as_ref(), vec![first]).await;
    let second = row(
        task.task_id(),
        batch,
        b"",
        job.aggregation_job_id,
        5,
        2,
        interval(3600, 50),
    );
    put(h.datastore.as_ref(), vec![second.clone()]).await;
    assert_eq!(
        for_batch(h.datastore.as_ref(), *task.task_id(), batch, b"").await,
        vec![second]
    );
}
