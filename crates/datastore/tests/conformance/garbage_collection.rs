//! Conformance: the garbage collector's bounded deletes of expired rows
//! (each deletes only what its rule allows, at most its limit per call) and
//! the bounded deletion of a whole task.

use dyad_datastore::models::{
    AggregateShareJob, AggregationJob, AggregationJobState, BatchAggregation, BatchIdentifier,
    CollectionJob, CollectionJobState, LeaderStoredReport, ReportAggregation,
    ReportAggregationState,
};
use dyad_datastore::testing::fixtures::{
    self, aggregation_job, ciphertext, fixed_size_leader_task, helper_task, interval, leader_task,
    report, t,
};
use dyad_datastore::testing::TestDatastore;
use dyad_datastore::{Datastore, DatastoreExt, Transaction, TxError};
use dyad_messages::draft09::{
    AggregateShare, AggregationJobId, BatchId, CollectionJobId, Interval, Query, ReportId,
    ReportIdChecksum, TaskId, Time,
};
use futures::future::BoxFuture;

/// Runs `f` in a read-write transaction, failing the test on error.
async fn tx<T, F>(datastore: &dyn Datastore, f: F) -> T
where
    T: Send + 'static,
    F: for<'a> Fn(&'a mut dyn Transaction) -> BoxFuture<'a, Result<T, TxError>>
        + Send
        + Sync
        + 'static,
{
    datastore.run_tx("test", f).await.unwrap()
}

/// The garbage collector's delete operations.
#[derive(Clone, Copy)]
enum Op {
    Reports,
    BatchAggregations,
    ReportAggregations,
    Jobs,
    Outstanding,
    Collected,
    ShareJobs,
    CollectionJobs,
}

/// Runs one delete operation once, with the cutoff `before` and `limit`,
/// as on the Leader's side (an in-progress job is never abandoned).
async fn delete(
    datastore: &dyn Datastore,
    op: Op,
    task_id: TaskId,
    before: u64,
    limit: u64,
) -> u64 {
    delete_as(datastore, op, task_id, before, limit, false).await
}

/// [`delete`], saying whether an in-progress job unchanged since the cutoff
/// counts as abandoned (the Helper's side).
async fn delete_as(
    datastore: &dyn Datastore,
    op: Op,
    task_id: TaskId,
    before: u64,
    limit: u64,
    abandoned: bool,
) -> u64 {
    tx(datastore, move |tx| {
        Box::pin(async move {
            let (task, before) = (&task_id, t(before));
            Ok(match op {
                Op::Reports => tx.delete_client_reports_before(task, before, limit).await?,
                Op::BatchAggregations => {
                    tx.delete_expired_batch_aggregations(task, before, limit, abandoned)
                        .await?
                }
                Op::ReportAggregations => {
                    tx.delete_expired_report_aggregations(task, before, limit, abandoned)
                        .await?
                }
                Op::Jobs => {
                    tx.delete_expired_aggregation_jobs(task, before, limit, abandoned)
                        .await?
                }
                Op::Outstanding => {
                    tx.delete_expired_outstanding_batches(task, before, limit)
                        .await?
                }
                Op::Collected => {
                    tx.delete_expired_collected_batches(task, before, limit)
                        .await?
                }
                Op::ShareJobs => {
                    tx.delete_expired_aggregate_share_jobs(task, before, limit)
                        .await?
                }
                Op::CollectionJobs => {
                    tx.delete_expired_collection_jobs(task, before, limit)
                        .await?
                }
            })
        })
    })
    .await
}

fn batch_row(
    task_id: &TaskId,
    batch: BatchIdentifier,
    job: &AggregationJobId,
    client: Interval,
) -> BatchAggregation {
    BatchAggregation {
        task_id: *task_id,
        batch_identifier: batch,
        aggregation_parameter: Vec::new(),
        aggregation_job_id: *job,
        aggregate_share: vec![1; 4],
        report_count: 1,
        checksum: ReportIdChecksum([1; 32]),
        client_timestamp_interval: client,
    }
}

fn report_aggregation(job: &AggregationJob, ord: u64, time: u64) -> ReportAggregation {
    ReportAggregation::new(
        job.task_id,
        job.aggregation_job_id,
        ord,
        ReportId::random(),
        t(time),
        ReportAggregationState::Start,
    )
}

/// Stores client reports.
async fn put_reports(datastore: &dyn Datastore, reports: &[LeaderStoredReport]) {
    let stored = reports.to_vec();
    tx(datastore, move |tx| {
        let stored = stored.clone();
        Box::pin(async move {
            tx.put_client_reports(&stored).await?;
            Ok(())
        })
    })
    .await;
}

/// Stores jobs with their report aggregations and batch aggregations.
async fn put_jobs(
    datastore: &dyn Datastore,
    jobs: Vec<AggregationJob>,
    report_aggregations: Vec<ReportAggregation>,
    batch_aggregations: Vec<BatchAggregation>,
) {
    tx(datastore, move |tx| {
        let (jobs, ras, bas) = (
            jobs.clone(),
            report_aggregations.clone(),
            batch_aggregations.clone(),
        );
        Box::pin(async move {
            for job in &jobs {
                tx.put_aggregation_job(job).await?;
                if job.state != AggregationJobState::InProgress {
                    tx.update_aggregation_job(job, None).await?;
                }
            }
            tx.put_report_aggregations(&ras, None).await?;
            tx.put_batch_aggregations(&bas, None).await?;
            Ok(())
        })
    })
    .await
}

fn finished(mut job: AggregationJob) -> AggregationJob {
    job.state = AggregationJobState::Finished;
    job
}

/// Reports older than the cutoff go, at most `limit` a call, except those
/// an in-progress aggregation job still needs.
pub async fn expired_reports_spare_in_progress_jobs(h: TestDatastore) {
    let task = leader_task();
    let task_id = *task.task_id();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let reports: Vec<_> = [100, 200, 300, 400]
        .iter()
        .map(|s| report(&task_id, *s, 0))
        .collect();
    put_reports(h.datastore.as_ref(), &reports).await;
    // The report at 200 is in an in-progress job; the one at 300 in a
    // finished one.
    let running = aggregation_job(&task_id, b"", None, interval(200, 1));
    let done = finished(aggregation_job(&task_id, b"", None, interval(300, 1)));
    let in_job = |job: &AggregationJob, r: &LeaderStoredReport| {
        ReportAggregation::new(
            task_id,
            job.aggregation_job_id,
            0,
            *r.report_id(),
            r.time(),
            ReportAggregationState::Start,
        )
    };
    let ras = vec![in_job(&running, &reports[1]), in_job(&done, &reports[2])];
    put_jobs(h.datastore.as_ref(), vec![running, done], ras, vec![]).await;

    let ds = h.datastore.as_ref();
    assert_eq!(delete(ds, Op::Reports, task_id, 350, 1).await, 1);
    assert_eq!(delete(ds, Op::Reports, task_id, 350, 10).await, 1);
    assert_eq!(delete(ds, Op::Reports, task_id, 350, 10).await, 0);
    let ids: Vec<ReportId> = reports.iter().map(|r| *r.report_id()).collect();
    let left = tx(ds, move |tx| {
        let ids = ids.clone();
        Box::pin(async move { Ok(tx.get_client_reports(&task_id, &ids).await?) })
    })
    .await;
    let left_times: Vec<Time> = left.iter().map(|r| r.time()).collect();
    assert_eq!(left_times, vec![t(200), t(400)]);
}

/// A Leader's job that lists its reports on its row (no report
/// aggregations) keeps, while it is in progress, every expired report from
/// the start of its client interval on; once it is over they go too. A
/// finished listed job keeps nothing.
pub async fn expired_reports_spare_the_span_of_an_in_progress_listed_job(h: TestDatastore) {
    let task = leader_task();
    let task_id = *task.task_id();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let reports: Vec<_> = [100, 150, 200, 250, 300, 400]
        .iter()
        .map(|s| report(&task_id, *s, 0))
        .collect();
    put_reports(h.datastore.as_ref(), &reports).await;
    let listed = |job: &mut AggregationJob, at: &[usize]| {
        job.report_list = Some(at.iter().map(|i| reports[*i].metadata).collect());
    };
    // In progress: the reports at 200 and 300 (interval [200, 301));
    // finished: the one at 100.
    let mut running = aggregation_job(&task_id, b"", None, interval(200, 101));
    listed(&mut running, &[2, 4]);
    let mut done = finished(aggregation_job(&task_id, b"", None, interval(100, 1)));
    listed(&mut done, &[0]);
    put_jobs(
        h.datastore.as_ref(),
        vec![running.clone(), done],
        vec![],
        vec![],
    )
    .await;

    let ds = h.datastore.as_ref();
    let ids: Vec<ReportId> = reports.iter().map(|r| *r.report_id()).collect();
    let left_times = || {
        let ids = ids.clone();
        async move {
            tx(ds, move |tx| {
                let ids = ids.clone();
                Box::pin(async move { Ok(tx.get_client_reports(&task_id, &ids).await?) })
            })
            .await
            .iter()
            .map(|r| r.time())
            .collect::<Vec<Time>>()
        }
    };
    assert_eq!(delete(ds, Op::Reports, task_id, 350, 10).await, 2);
    assert_eq!(left_times().await, vec![t(200), t(250), t(300), t(400)]);

    let over = finished(running);
    tx(ds, move |tx| {
        let over = over.clone();
        Box::pin(async move { Ok(tx.update_aggregation_job(&over, None).await?) })
    })
    .await;
    assert_eq!(delete(ds, Op::Reports, task_id, 350, 10).await, 3);
    assert_eq!(left_times().await, vec![t(400)]);
}

/// Time-interval buckets go once they end by the cutoff and no in-progress
/// job overlaps them; a finished job's report aggregations, then the job,
/// go once its batch rows are gone; an in-progress job never goes.
pub async fn jobs_go_after_their_expired_buckets(h: TestDatastore) {
    let task = helper_task();
    let task_id = *task.task_id();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    h.clock.set(t(5000));
    let old = finished(aggregation_job(&task_id, b"", None, interval(100, 50)));
    let late = finished(aggregation_job(&task_id, b"", None, interval(3650, 10)));
    let mut running = aggregation_job(&task_id, b"", None, interval(3700, 10));
    let bucket = |start| BatchIdentifier::TimeInterval(interval(start, 3600));
    let bas = vec![
        batch_row(
            &task_id,
            bucket(0),
            &old.aggregation_job_id,
            interval(100, 50),
        ),
        batch_row(
            &task_id,
            bucket(3600),
            &late.aggregation_job_id,
            interval(3650, 10),
        ),
        batch_row(
            &task_id,
            bucket(3600),
            &running.aggregation_job_id,
            interval(3700, 10),
        ),
    ];
    let ras = vec![
        report_aggregation(&old, 0, 100),
        report_aggregation(&old, 1, 149),
        report_aggregation(&late, 0, 3650),
        report_aggregation(&running, 0, 3700),
    ];
    put_jobs(
        h.datastore.as_ref(),
        vec![old.clone(), late.clone(), running.clone()],
        ras,
        bas,
    )
    .await;
    let ds = h.datastore.as_ref();

    // Nothing of a job goes while its batch rows stay.
    assert_eq!(
        delete(ds, Op::ReportAggregations, task_id, 7200, 10).await,
        0
    );
    assert_eq!(delete(ds, Op::Jobs, task_id, 7200, 10).await, 0);
    // A bucket not yet over by the cutoff stays; the second bucket is over
    // but an in-progress job overlaps it.
    assert_eq!(
        delete(ds, Op::BatchAggregations, task_id, 3599, 10).await,
        0
    );
    assert_eq!(
        delete(ds, Op::BatchAggregations, task_id, 7200, 10).await,
        1
    );
    // Then the old job's report aggregations, at most `limit` a call.
    assert_eq!(
        delete(ds, Op::ReportAggregations, task_id, 7200, 1).await,
        1
    );
    assert_eq!(
        delete(ds, Op::ReportAggregations, task_id, 7200, 10).await,
        1
    );
    assert_eq!(
        delete(ds, Op::ReportAggregations, task_id, 7200, 10).await,
        0
    );
    // A job last changed at or after the cutoff stays.
    assert_eq!(delete(ds, Op::Jobs, task_id, 5000, 10).await, 0);
    assert_eq!(delete(ds, Op::Jobs, task_id, 7200, 10).await, 1);

    // Once the running job is over, the rest goes.
    running.state = AggregationJobState::Finished;
    let update = running.clone();
    tx(ds, move |tx| {
        let update = update.clone();
        Box::pin(async move { Ok(tx.update_aggregation_job(&update, None).await?) })
    })
    .await;
    assert_eq!(
        delete(ds, Op::BatchAggregations, task_id, 7200, 10).await,
        2
    );
    assert_eq!(
        delete(ds, Op::ReportAggregations, task_id, 7200, 10).await,
        2
    );
    assert_eq!(delete(ds, Op::Jobs, task_id, 7200, 10).await, 2);
    let counts = tx(ds, move |tx| {
        Box::pin(async move { Ok(tx.count_task_rows(&task_id).await?) })
    })
    .await
    .unwrap();
    assert_eq!(counts.total(), 0, "{counts:?}");
}

/// On the Helper's side, a job still in progress that nothing changed since
/// the cutoff was abandoned by the Leader: it no longer holds back its
/// batch's rows, and goes with its report aggregations. One changed since
/// the cutoff is still live; on the Leader's side none is ever abandoned.
pub async fn abandoned_helper_jobs_go_with_their_rows(h: TestDatastore) {
    let task = helper_task();
    let task_id = *task.task_id();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    // Both jobs are stored (last changed) at 5000, their reports in the
    // first hour's bucket.
    h.clock.set(t(5000));
    let done = finished(aggregation_job(&task_id, b"", None, interval(100, 50)));
    let stalled = aggregation_job(&task_id, b"", None, interval(200, 10));
    let bucket = BatchIdentifier::TimeInterval(interval(0, 3600));
    put_jobs(
        h.datastore.as_ref(),
        vec![done.clone(), stalled.clone()],
        vec![
            report_aggregation(&done, 0, 100),
            report_aggregation(&stalled, 0, 200),
        ],
        vec![batch_row(
            &task_id,
            bucket,
            &done.aggregation_job_id,
            interval(100, 50),
        )],
    )
    .await;
    let ds = h.datastore.as_ref();
    let all = [Op::BatchAggregations, Op::ReportAggregations, Op::Jobs];

    // As the Leader would: the in-progress job holds everything back.
    for op in all {
        assert_eq!(delete_as(ds, op, task_id, 7200, 10, false).await, 0);
    }
    // Changed at 5000, it is live for a cutoff at 5000.
    for op in all {
        assert_eq!(delete_as(ds, op, task_id, 5000, 10, true).await, 0);
    }
    // Unchanged since a later cutoff, it was abandoned: everything goes.
    assert_eq!(
        delete_as(ds, Op::BatchAggregations, task_id, 5001, 10, true).await,
        1
    );
    assert_eq!(
        delete_as(ds, Op::ReportAggregations, task_id, 5001, 10, true).await,
        2
    );
    assert_eq!(delete_as(ds, Op::Jobs, task_id, 5001, 10, true).await, 2);
    let counts = tx(ds, move |tx| {
        Box::pin(async move { Ok(tx.count_task_rows(&task_id).await?) })
    })
    .await
    .unwrap();
    assert_eq!(counts.total(), 0, "{counts:?}");
}

/// A fixed-size batch's rows go only when none of them holds a report at or
/// after the cutoff; its outstanding batch once no job nor row refers to it.
pub async fn fixed_size_batches_go_whole(h: TestDatastore) {
    let task = fixed_size_leader_task();
    let task_id = *task.task_id();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    h.clock.set(t(500));
    let ds = h.datastore.as_ref();
    let (mixed, old) = tx(ds, move |tx| {
        Box::pin(async move {
            let mixed = tx.reserve_outstanding_batch(&task_id, 2, 2).await?.batch_id;
            let old = tx.reserve_outstanding_batch(&task_id, 1, 1).await?.batch_id;
            Ok((mixed, old))
        })
    })
    .await;
    let a = finished(aggregation_job(
        &task_id,
        b"",
        Some(mixed),
        interval(100, 10),
    ));
    let b = finished(aggregation_job(
        &task_id,
        b"",
        Some(mixed),
        interval(5000, 10),
    ));
    let c = finished(aggregation_job(&task_id, b"", Some(old), interval(100, 10)));
    let bas = vec![
        batch_row(
            &task_id,
            BatchIdentifier::FixedSize(mixed),
            &a.aggregation_job_id,
            interval(100, 10),
        ),
        batch_row(
            &task_id,
            BatchIdentifier::FixedSize(mixed),
            &b.aggregation_job_id,
            interval(5000, 10),
        ),
        batch_row(
            &task_id,
            BatchIdentifier::FixedSize(old),
            &c.aggregation_job_id,
            interval(100, 10),
        ),
    ];
    put_jobs(ds, vec![a, b, c], vec![], bas).await;

    // Batches still referred to stay.
    assert_eq!(delete(ds, Op::Outstanding, task_id, 1000, 10).await, 0);
    assert_eq!(
        delete(ds, Op::BatchAggregations, task_id, 1000, 10).await,
        1
    );
    assert_eq!(delete(ds, Op::Jobs, task_id, 1000, 10).await, 1);
    // Created at 500: not before a cutoff of 500.
    assert_eq!(delete(ds, Op::Outstanding, task_id, 500, 10).await, 0);
    assert_eq!(delete(ds, Op::Outstanding, task_id, 1000, 10).await, 1);
    let left: Vec<BatchId> = tx(ds, move |tx| {
        Box::pin(async move { Ok(tx.get_outstanding_batches(&task_id).await?) })
    })
    .await
    .iter()
    .map(|batch| batch.batch_id)
    .collect();
    assert_eq!(left, vec![mixed]);
}

/// Collected-batch records go once their interval is over by the cutoff (a
/// batch ID's once its rows are gone), the Helper's answers once their
/// record is gone, collection jobs once over and their interval too.
pub async fn collection_records_go_after_their_interval(h: TestDatastore) {
    let task = leader_task();
    let task_id = *task.task_id();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    h.clock.set(t(100));
    let ds = h.datastore.as_ref();
    let early = BatchIdentifier::TimeInterval(interval(0, 3600));
    let later = BatchIdentifier::TimeInterval(interval(3600, 3600));
    let fixed = BatchIdentifier::FixedSize(BatchId::random());
    let share_job = |batch: BatchIdentifier| AggregateShareJob {
        task_id,
        batch_identifier: batch,
        aggregation_parameter: Vec::new(),
        report_count: 1,
        checksum: ReportIdChecksum([0; 32]),
        response: AggregateShare {
            encrypted_aggregate_share: ciphertext(1),
        },
        created_at: t(0),
    };
    let collection_job = |batch: Interval, state: CollectionJobState| {
        let mut job = CollectionJob::new(
            task_id,
            CollectionJobId::random(),
            Query::TimeInterval(batch),
            Vec::new(),
            BatchIdentifier::TimeInterval(batch),
            vec![1],
        );
        job.state = state;
        job
    };
    let jobs = vec![
        collection_job(interval(0, 3600), CollectionJobState::Abandoned),
        collection_job(interval(0, 3600), CollectionJobState::Start),
        collection_job(interval(3600, 3600), CollectionJobState::Abandoned),
    ];
    let shares = vec![share_job(early), share_job(later)];
    tx(ds, move |tx| {
        let (jobs, shares) = (jobs.clone(), shares.clone());
        Box::pin(async move {
            for batch in [early, later, fixed] {
                tx.put_collected_batch(&task_id, &batch, b"").await?;
            }
            for share in &shares {
                tx.put_aggregate_share_job(share).await?;
            }
            for job in &jobs {
                tx.put_collection_job(job).await?;
                tx.update_collection_job(job, None).await?;
            }
            Ok(())
        })
    })
    .await;

    assert_eq!(delete(ds, Op::ShareJobs, task_id, 3600, 10).await, 0);
    assert_eq!(delete(ds, Op::Collected, task_id, 3600, 1).await, 1);
    assert_eq!(delete(ds, Op::Collected, task_id, 3600, 10).await, 1);
    assert_eq!(delete(ds, Op::Collected, task_id, 3600, 10).await, 0);
    assert_eq!(delete(ds, Op::ShareJobs, task_id, 3600, 10).await, 1);
    // Jobs changed at 100 are not changed before a cutoff of 100.
    assert_eq!(delete(ds, Op::CollectionJobs, task_id, 100, 10).await, 0);
    assert_eq!(delete(ds, Op::CollectionJobs, task_id, 3600, 10).await, 1);
    let counts = tx(ds, move |tx| {
        Box::pin(async move { Ok(tx.count_task_rows(&task_id).await?) })
    })
    .await
    .unwrap();
    assert_eq!(
        (
            counts.collected_batches,
            counts.aggregate_share_jobs,
            counts.collection_jobs
        ),
        (1, 1, 2)
    );
}

/// A whole task goes a bounded number of rows at a time, its own row last.
pub async fn task_rows_go_in_bounded_chunks(h: TestDatastore) {
    let task = leader_task();
    let task_id = *task.task_id();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let ds = h.datastore.as_ref();
    let reports: Vec<_> = (0..5).map(|i| report(&task_id, 100 + i, 0)).collect();
    tx(ds, move |tx| {
        let reports = reports.clone();
        Box::pin(async move {
            tx.put_client_reports(&reports).await?;
            Ok(())
        })
    })
    .await;
    let job = finished(aggregation_job(&task_id, b"", None, interval(100, 5)));
    let ras = vec![
        report_aggregation(&job, 0, 100),
        report_aggregation(&job, 1, 101),
    ];
    put_jobs(ds, vec![job], ras, vec![]).await;

    let mut steps = Vec::new();
    loop {
        let (counts, gone) = tx(ds, move |tx| {
            Box::pin(async move { Ok(tx.delete_task_rows(&task_id, 3).await?) })
        })
        .await;
        assert!(counts.total() <= 3, "{counts:?}");
        steps.push((counts.total(), gone));
        if gone {
            break;
        }
        assert!(steps.len() < 10, "never ends: {steps:?}");
    }
    assert_eq!(steps, vec![(3, false), (3, false), (2, true)]);
    let stored = tx(ds, move |tx| {
        Box::pin(async move { Ok(tx.get_task(&task_id).await?) })
    })
    .await;
    assert!(stored.is_none());
}
