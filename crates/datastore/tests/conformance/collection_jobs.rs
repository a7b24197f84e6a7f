//! Conformance: the Leader's collection jobs (DAP-09 section 4.6.1).

use dyad_core::clock::Clock;
use dyad_datastore::models::{
    BatchIdentifier, CollectionJob, CollectionJobState, CollectionJobWriteOutcome,
};
use dyad_datastore::testing::fixtures::{self, ciphertext, interval, leader_task};
use dyad_datastore::testing::TestDatastore;
use dyad_datastore::{Datastore, DatastoreExt, TxError};
use dyad_messages::draft09::{BatchId, CollectionJobId, FixedSizeQuery, Query, TaskId};
use dyad_messages::problem::DapProblemType;

fn time_interval_job(task_id: &TaskId, start: u64, duration: u64) -> CollectionJob {
    let batch = interval(start, duration);
    CollectionJob::new(
        *task_id,
        CollectionJobId::random(),
        Query::TimeInterval(batch),
        b"param".to_vec(),
        BatchIdentifier::TimeInterval(batch),
        vec![1, 2, 3],
    )
}

async fn put(datastore: &dyn Datastore, job: CollectionJob) -> CollectionJobWriteOutcome {
    datastore
        .run_tx("put", move |tx| {
            let job = job.clone();
            Box::pin(async move { Ok(tx.put_collection_job(&job).await?) })
        })
        .await
        .unwrap()
}

async fn get(datastore: &dyn Datastore, job: &CollectionJob) -> Option<CollectionJob> {
    let (task_id, id) = (job.task_id, job.collection_job_id);
    datastore
        .run_read_tx("get", move |tx| {
            Box::pin(async move { Ok(tx.get_collection_job(&task_id, &id).await?) })
        })
        .await
        .unwrap()
}

async fn update(datastore: &dyn Datastore, job: CollectionJob) -> Result<(), TxError> {
    datastore
        .run_tx("update", move |tx| {
            let job = job.clone();
            Box::pin(async move { Ok(tx.update_collection_job(&job, None).await?) })
        })
        .await
}

/// Every state reads back as written.
pub async fn every_state_round_trips(h: TestDatastore) {
    let task = leader_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let mut job = CollectionJob::new(
        *task.task_id(),
        CollectionJobId::random(),
        Query::FixedSize(FixedSizeQuery::CurrentBatch),
        vec![],
        BatchIdentifier::FixedSize(BatchId::random()),
        vec![9; 4],
    );
    assert_eq!(
        put(h.datastore.as_ref(), job.clone()).await,
        CollectionJobWriteOutcome::Created
    );
    job.created_at = h.clock.now();
    assert_eq!(get(h.datastore.as_ref(), &job).await, Some(job.clone()));

    for state in [
        CollectionJobState::Finished {
            report_count: 12,
            interval: interval(3600, 7200),
            leader_encrypted_agg_share: ciphertext(1),
            helper_encrypted_agg_share: ciphertext(2),
        },
        CollectionJobState::Failed {
            problem_type: DapProblemType::BatchQueriedTooManyTimes,
            detail: "queried twice".into(),
        },
        CollectionJobState::Abandoned,
        CollectionJobState::Deleted,
        CollectionJobState::Start,
    ] {
        job.state = state;
        update(h.datastore.as_ref(), job.clone()).await.unwrap();
        assert_eq!(get(h.datastore.as_ref(), &job).await, Some(job.clone()));
    }
}

/// A repeated PUT with the identical request is recognized, one with a
/// different request is a conflict; neither changes the stored job.
pub async fn repeated_put_is_idempotent(h: TestDatastore) {
    let task = leader_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let mut job = time_interval_job(task.task_id(), 3600, 3600);
    assert_eq!(
        put(h.datastore.as_ref(), job.clone()).await,
        CollectionJobWriteOutcome::Created
    );
    job.created_at = h.clock.now();

    h.clock.advance(fixtures::d(10));
    let same = put(h.datastore.as_ref(), job.clone()).await;
    assert_eq!(
        same,
        CollectionJobWriteOutcome::AlreadyExists(Box::new(job.clone()))
    );

    let mut different = job.clone();
    different.request = vec![4, 5, 6];
    different.aggregation_parameter = b"other".to_vec();
    assert_eq!(
        put(h.datastore.as_ref(), different).await,
        CollectionJobWriteOutcome::Conflict
    );
    assert_eq!(get(h.datastore.as_ref(), &job).await, Some(job));
}

/// Jobs are found by the batch they touch.
pub async fn jobs_for_batch(h: TestDatastore) {
    let task = leader_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let first = time_interval_job(task.task_id(), 0, 7200);
    let second = time_interval_job(task.task_id(), 7200, 3600);
    let batch_id = BatchId::random();
    let mut fixed = time_interval_job(task.task_id(), 0, 3600);
    fixed.query = Query::FixedSize(FixedSizeQuery::ByBatchId(batch_id));
    fixed.batch_identifier = BatchIdentifier::FixedSize(batch_id);
    for job in [&first, &second, &fixed] {
        put(h.datastore.as_ref(), job.clone()).await;
    }
    let task_id = *task.task_id();
    let ids = |batch: BatchIdentifier| {
        let datastore = h.datastore.clone();
        async move {
            let mut ids: Vec<_> = datastore
                .run_read_tx("get", move |tx| {
                    Box::pin(async move {
                        Ok(tx.get_collection_jobs_for_batch(&task_id, &batch).await?)
                    })
                })
                .await
                .unwrap()
                .into_iter()
                .map(|job| job.collection_job_id)
                .collect();
            ids.sort();
            ids
        }
    };
    let mut both = vec![first.collection_job_id, second.collection_job_id];
    both.sort();
    assert_eq!(
        ids(BatchIdentifier::TimeInterval(interval(3600, 7200))).await,
        both
    );
    assert_eq!(
        ids(BatchIdentifier::TimeInterval(interval(0, 3600))).await,
        vec![first.collection_job_id]
    );
    assert_eq!(
        ids(BatchIdentifier::FixedSize(batch_id)).await,
        vec![fixed.collection_job_id]
    );
}

/// Updating a job that does not exist fails with `NotFound`.
pub async fn update_of_missing_job_fails(h: TestDatastore) {
    let task = leader_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let result = update(
        h.datastore.as_ref(),
        time_interval_job(task.task_id(), 0, 3600),
    )
    .await;
    crate::assert_not_found(&result);
}

/// What the Leader must still aggregate for VDAFs whose parameter the
/// Collector chooses (DAP-09 section 4.6.1): the distinct (batch,
/// parameter) pairs of the task's collection jobs in state `Start`, in
/// batch then parameter order. Two jobs with one pair give it once; jobs
/// in any other state and other tasks' jobs give nothing; a pair goes
/// when its last waiting job leaves `Start`.
pub async fn waiting_batches_are_the_distinct_pairs_of_waiting_jobs(h: TestDatastore) {
    let task = leader_task();
    let other = leader_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task, &other]).await;
    let job = |task: &TaskId, start: u64, parameter: &[u8]| {
        let mut job = time_interval_job(task, start, 3600);
        job.aggregation_parameter = parameter.to_vec();
        job
    };
    let waiting = [
        job(task.task_id(), 7200, b"A"),
        job(task.task_id(), 3600, b"B"),
        job(task.task_id(), 3600, b"A"),
        job(task.task_id(), 3600, b"A"),
        job(other.task_id(), 0, b"A"),
    ];
    let finished = CollectionJobState::Finished {
        report_count: 1,
        interval: interval(10_800, 3600),
        leader_encrypted_agg_share: ciphertext(1),
        helper_encrypted_agg_share: ciphertext(2),
    };
    let mut left_start = Vec::new();
    for state in [
        finished,
        CollectionJobState::Failed {
            problem_type: DapProblemType::InvalidMessage,
            detail: "bad parameter".into(),
        },
        CollectionJobState::Abandoned,
        CollectionJobState::Deleted,
    ] {
        let mut done = job(task.task_id(), 10_800, b"A");
        put(h.datastore.as_ref(), done.clone()).await;
        done.state = state;
        update(h.datastore.as_ref(), done.clone()).await.unwrap();
        left_start.push(done);
    }
    for job in &waiting {
        put(h.datastore.as_ref(), job.clone()).await;
    }
    let task_id = *task.task_id();
    let pairs = || {
        let datastore = h.datastore.clone();
        async move {
            datastore
                .run_read_tx("waiting", move |tx| {
                    Box::pin(async move { Ok(tx.get_waiting_collection_batches(&task_id).await?) })
                })
                .await
                .unwrap()
        }
    };
    let hour = |start| BatchIdentifier::TimeInterval(interval(start, 3600));
    assert_eq!(
        pairs().await,
        vec![
            (hour(3600), b"A".to_vec()),
            (hour(3600), b"B".to_vec()),
            (hour(7200), b"A".to_vec()),
        ]
    );

    // One of the two ([3600, 7200), A) jobs abandoned: the pair still
    // waits for the other. The only (.., B) job abandoned: that pair goes.
    let mut first = waiting[2].clone();
    first.state = CollectionJobState::Abandoned;
    update(h.datastore.as_ref(), first).await.unwrap();
    let mut b = waiting[1].clone();
    b.state = CollectionJobState::Abandoned;
    update(h.datastore.as_ref(), b).await.unwrap();
    assert_eq!(
        pairs().await,
        vec![(hour(3600), b"A".to_vec()), (hour(7200), b"A".to_vec())]
    );

    // A job put back in `Start` waits again.
    let mut again = left_start[1].clone();
    again.state = CollectionJobState::Start;
    update(h.datastore.as_ref(), again).await.unwrap();
    assert_eq!(
        pairs().await,
        vec![
            (hour(3600), b"A".to_vec()),
            (hour(7200), b"A".to_vec()),
            (hour(10_800), b"A".to_vec()),
        ]
    );
}
