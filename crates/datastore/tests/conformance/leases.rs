//! Conformance: leases on the Leader's jobs. One acquirer wins each job even
//! under concurrency, an expired lease can be taken again, a write with a
//! lost lease fails and changes nothing, and releases set the retry time and
//! attempt count.

use dyad_datastore::models::{
    AggregationJob, AggregationJobState, BatchAggregation, BatchIdentifier, CollectionJob,
    CollectionJobState, ReportAggregation, ReportAggregationState,
};
use dyad_datastore::testing::fixtures::{
    self, aggregation_job, d, helper_task, interval, leader_task, t,
};
use dyad_datastore::testing::TestDatastore;
use dyad_datastore::Lease;
use dyad_datastore::{Datastore, DatastoreError, DatastoreExt, TxError};
use dyad_messages::draft09::{CollectionJobId, Duration, Query, ReportId, ReportIdChecksum};
use std::collections::HashSet;

const LEASE: Duration = Duration::from_seconds(600);

async fn acquire(datastore: &dyn Datastore, max: u64) -> Vec<Lease<AggregationJob>> {
    datastore
        .run_tx("acquire", move |tx| {
            Box::pin(async move { Ok(tx.acquire_aggregation_jobs(LEASE, max).await?) })
        })
        .await
        .unwrap()
}

async fn release(
    datastore: &dyn Datastore,
    lease: &Lease<AggregationJob>,
    retry: u64,
    reset: bool,
) {
    let lease = lease.clone();
    datastore
        .run_tx("release", move |tx| {
            let lease = lease.clone();
            Box::pin(async move { Ok(tx.release_aggregation_job(&lease, d(retry), reset).await?) })
        })
        .await
        .unwrap();
}

fn assert_lease_lost<T: std::fmt::Debug>(result: Result<T, TxError>) {
    assert!(
        matches!(
            result,
            Err(TxError::Datastore(DatastoreError::LeaseLost { .. }))
        ),
        "{result:?}"
    );
}

/// Only in-progress jobs of Leader tasks whose retry time has come are
/// acquired.
pub async fn acquire_only_due_leader_jobs(h: TestDatastore) {
    let leader = leader_task();
    let helper = helper_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&leader, &helper]).await;
    let due = aggregation_job(leader.task_id(), b"", None, interval(0, 3600));
    let mut finished = aggregation_job(leader.task_id(), b"", None, interval(0, 3600));
    finished.state = AggregationJobState::Finished;
    let helpers = aggregation_job(helper.task_id(), b"", None, interval(0, 3600));
    fixtures::put_aggregation_jobs(h.datastore.as_ref(), &[due.clone(), finished, helpers]).await;

    let first = acquire(h.datastore.as_ref(), 10).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].leased.aggregation_job_id, due.aggregation_job_id);
    assert_eq!(first[0].attempts, 1);
    assert_eq!(first[0].expiry, clock_now(&h).checked_add(LEASE).unwrap());

    release(h.datastore.as_ref(), &first[0], 100, false).await;
    assert!(acquire(h.datastore.as_ref(), 10).await.is_empty());
    h.clock.advance(d(99));
    assert!(acquire(h.datastore.as_ref(), 10).await.is_empty());
    h.clock.advance(d(1));
    assert_eq!(acquire(h.datastore.as_ref(), 10).await.len(), 1);
}

/// Eight acquirers at once: every job goes to exactly one of them.
pub async fn acquisition_is_exclusive_under_concurrency(h: TestDatastore) {
    let task = leader_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let jobs: Vec<_> = (0..20)
        .map(|i| aggregation_job(task.task_id(), b"", None, interval(i * 10, 10)))
        .collect();
    fixtures::put_aggregation_jobs(h.datastore.as_ref(), &jobs).await;

    let mut acquirers = Vec::new();
    for _ in 0..8 {
        let datastore = h.datastore.clone();
        acquirers.push(tokio::spawn(
            async move { acquire(datastore.as_ref(), 5).await },
        ));
    }
    let mut seen = HashSet::new();
    let mut tokens = HashSet::new();
    for acquirer in acquirers {
        for lease in acquirer.await.unwrap() {
            assert!(
                seen.insert(lease.leased.aggregation_job_id),
                "acquired twice"
            );
            assert!(tokens.insert(lease.token));
        }
    }
    assert_eq!(seen.len(), 20);
    assert!(acquire(h.datastore.as_ref(), 5).await.is_empty());
}

/// Once a lease expires the job is acquired again with a new token and one
/// more attempt, saying its previous lease ran out; the old token no longer
/// works, the new one does.
pub async fn expired_lease_is_reacquired(h: TestDatastore) {
    let task = leader_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let job = aggregation_job(task.task_id(), b"", None, interval(0, 3600));
    fixtures::put_aggregation_jobs(h.datastore.as_ref(), &[job]).await;

    let old = acquire(h.datastore.as_ref(), 1).await.remove(0);
    h.clock.advance(d(LEASE.as_seconds() - 1));
    assert!(acquire(h.datastore.as_ref(), 1).await.is_empty());
    h.clock.advance(d(1));
    let new = acquire(h.datastore.as_ref(), 1).await.remove(0);
    assert_ne!(new.token, old.token);
    assert_eq!(new.attempts, 2);
    // Taken over from a lease that ran out, unlike the first acquisition.
    assert!(!old.previous_lease_expired && new.previous_lease_expired);

    let mut update = new.leased.clone();
    update.step = 1;
    let (old_token, new_token) = (old.token, new.token);
    let stale = update.clone();
    assert_lease_lost(
        h.datastore
            .run_tx("stale", move |tx| {
                let stale = stale.clone();
                Box::pin(
                    async move { Ok(tx.update_aggregation_job(&stale, Some(&old_token)).await?) },
                )
            })
            .await,
    );
    h.datastore
        .run_tx("fresh", move |tx| {
            let update = update.clone();
            Box::pin(async move { Ok(tx.update_aggregation_job(&update, Some(&new_token)).await?) })
        })
        .await
        .unwrap();
}

/// Every leased write with a lost lease fails, and the transaction it was
/// in leaves no trace.
pub async fn writes_with_lost_lease_fail_and_change_nothing(h: TestDatastore) {
    let task = leader_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let job = aggregation_job(task.task_id(), b"", None, interval(3600, 60));
    fixtures::put_aggregation_jobs(h.datastore.as_ref(), std::slice::from_ref(&job)).await;
    let start = ReportAggregation::new(
        job.task_id,
        job.aggregation_job_id,
        0,
        ReportId::random(),
        t(3600),
        ReportAggregationState::Start,
    );
    let lost = acquire(h.datastore.as_ref(), 1).await.remove(0);
    let put_start = start.clone();
    let token = lost.token;
    h.datastore
        .run_tx("start", move |tx| {
            let start = put_start.clone();
            Box::pin(async move { Ok(tx.put_report_aggregations(&[start], Some(&token)).await?) })
        })
        .await
        .unwrap();
    h.clock.advance(LEASE);
    let _holder = acquire(h.datastore.as_ref(), 1).await.remove(0);

    let mut finished_job = job.clone();
    finished_job.state = AggregationJobState::Finished;
    let mut finished_ra = start.clone();
    finished_ra.state = ReportAggregationState::Finished;
    let mut second_ra = start.clone();
    second_ra.ord = 1;
    let batch_aggregation = BatchAggregation {
        task_id: job.task_id,
        batch_identifier: BatchIdentifier::TimeInterval(interval(3600, 3600)),
        aggregation_parameter: vec![],
        aggregation_job_id: job.aggregation_job_id,
        aggregate_share: vec![1, 2, 3],
        report_count: 1,
        checksum: ReportIdChecksum([5; 32]),
        client_timestamp_interval: interval(3600, 1),
    };
    let batch = batch_aggregation.batch_identifier;
    for write in 0..5 {
        let (finished_job, finished_ra, second_ra, batch_aggregation, lost) = (
            finished_job.clone(),
            finished_ra.clone(),
            second_ra.clone(),
            batch_aggregation.clone(),
            lost.clone(),
        );
        let result = h
            .datastore
            .run_tx("lost", move |tx| {
                let (job, ra, second, ba, lost) = (
                    finished_job.clone(),
                    finished_ra.clone(),
                    second_ra.clone(),
                    batch_aggregation.clone(),
                    lost.clone(),
                );
                Box::pin(async move {
                    // An unleased write first: it must be rolled back too.
                    tx.put_collected_batch(&job.task_id, &batch, b"x").await?;
                    let token = Some(&lost.token);
                    match write {
                        0 => tx.update_aggregation_job(&job, token).await?,
                        1 => tx.update_report_aggregations(&[ra], token).await?,
                        2 => tx.put_report_aggregations(&[second], token).await?,
                        3 => tx.put_batch_aggregations(&[ba], token).await?,
                        _ => tx.release_aggregation_job(&lost, d(0), true).await?,
                    }
                    Ok(())
                })
            })
            .await;
        assert_lease_lost(result);
    }

    let (task_id, job_id) = (job.task_id, job.aggregation_job_id);
    let (stored_job, stored_ras, stored_bas, collected) = h
        .datastore
        .run_read_tx("check", move |tx| {
            Box::pin(async move {
                Ok((
                    tx.get_aggregation_job(&task_id, &job_id).await?,
                    tx.get_report_aggregations(&task_id, &job_id).await?,
                    tx.get_batch_aggregations_for_job(&task_id, &job_id).await?,
                    tx.is_batch_collected(&task_id, &batch, None).await?,
                ))
            })
        })
        .await
        .unwrap();
    assert_eq!(stored_job.unwrap().state, AggregationJobState::InProgress);
    assert_eq!(stored_ras, vec![start]);
    assert!(stored_bas.is_empty());
    assert!(!collected);
}

/// Releasing sets when the job may be acquired again, and keeps or resets
/// the attempt count; a released lease is not taken over as an expired one.
pub async fn release_sets_retry_time_and_attempts(h: TestDatastore) {
    let task = leader_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let job = aggregation_job(task.task_id(), b"", None, interval(0, 3600));
    fixtures::put_aggregation_jobs(h.datastore.as_ref(), &[job]).await;

    let first = acquire(h.datastore.as_ref(), 1).await.remove(0);
    release(h.datastore.as_ref(), &first, 60, false).await;
    assert!(acquire(h.datastore.as_ref(), 1).await.is_empty());
    h.clock.advance(d(60));
    let second = acquire(h.datastore.as_ref(), 1).await.remove(0);
    assert_eq!(second.attempts, 2);
    // Given back, not run out.
    assert!(!second.previous_lease_expired);
    release(h.datastore.as_ref(), &second, 0, true).await;
    let third = acquire(h.datastore.as_ref(), 1).await.remove(0);
    assert_eq!(third.attempts, 1);
}

/// Collection jobs lease the same way: only jobs in `Start`, one winner,
/// expiry, lost leases.
pub async fn collection_job_leases(h: TestDatastore) {
    let task = leader_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let batch = interval(3600, 3600);
    let new_job = |state: CollectionJobState| {
        let mut job = CollectionJob::new(
            *task.task_id(),
            CollectionJobId::random(),
            Query::TimeInterval(batch),
            vec![],
            BatchIdentifier::TimeInterval(batch),
            vec![1],
        );
        job.state = state;
        job
    };
    let started = new_job(CollectionJobState::Start);
    let abandoned = new_job(CollectionJobState::Abandoned);
    fixtures::put_collection_jobs(h.datastore.as_ref(), &[started.clone(), abandoned]).await;

    let acquire_collections = |datastore: std::sync::Arc<dyn Datastore>| async move {
        datastore
            .run_tx("acquire", |tx| {
                Box::pin(async move { Ok(tx.acquire_collection_jobs(LEASE, 10).await?) })
            })
            .await
            .unwrap()
    };
    let (a, b) = tokio::join!(
        acquire_collections(h.datastore.clone()),
        acquire_collections(h.datastore.clone())
    );
    assert_eq!(a.len() + b.len(), 1, "exactly one acquirer wins");
    let old = a.into_iter().chain(b).next().unwrap();
    assert_eq!(old.leased.collection_job_id, started.collection_job_id);

    h.clock.advance(LEASE);
    let new = acquire_collections(h.datastore.clone()).await.remove(0);
    assert_eq!(new.attempts, 2);
    let mut deleted = started.clone();
    deleted.state = CollectionJobState::Deleted;
    let stale = deleted.clone();
    let old_token = old.token;
    assert_lease_lost(
        h.datastore
            .run_tx("stale", move |tx| {
                let stale = stale.clone();
                Box::pin(
                    async move { Ok(tx.update_collection_job(&stale, Some(&old_token)).await?) },
                )
            })
            .await,
    );
    let lease = new.clone();
    h.datastore
        .run_tx("release", move |tx| {
            let (deleted, lease) = (deleted.clone(), lease.clone());
            Box::pin(async move {
                tx.update_collection_job(&deleted, Some(&lease.token))
                    .await?;
                Ok(tx.release_collection_job(&lease, d(0), false).await?)
            })
        })
        .await
        .unwrap();
    assert!(acquire_collections(h.datastore.clone()).await.is_empty());
}

/// Jobs given back because their batch was not ready (attempts reset) are
/// made due at once; a job given back after a failure keeps its backoff,
/// and a leased job is left alone.
pub async fn waiting_collection_jobs_are_expedited_failed_and_leased_ones_not(h: TestDatastore) {
    let task = leader_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let batch = interval(3600, 3600);
    let jobs: Vec<CollectionJob> = (0..3)
        .map(|_| {
            CollectionJob::new(
                *task.task_id(),
                CollectionJobId::random(),
                Query::TimeInterval(batch),
                vec![],
                BatchIdentifier::TimeInterval(batch),
                vec![1],
            )
        })
        .collect();
    fixtures::put_collection_jobs(h.datastore.as_ref(), &jobs).await;
    let acquire_collections = |max: u64| {
        let datastore = h.datastore.clone();
        async move {
            datastore
                .run_tx("acquire", move |tx| {
                    Box::pin(async move { Ok(tx.acquire_collection_jobs(LEASE, max).await?) })
                })
                .await
                .unwrap()
        }
    };
    let release_collection = |lease: Lease<CollectionJob>, retry: u64, reset: bool| {
        let datastore = h.datastore.clone();
        async move {
            datastore
                .run_tx("release", move |tx| {
                    let lease = lease.clone();
                    Box::pin(async move {
                        Ok(tx.release_collection_job(&lease, d(retry), reset).await?)
                    })
                })
                .await
                .unwrap()
        }
    };
    let expedite = || {
        let datastore = h.datastore.clone();
        async move {
            datastore
                .run_tx("expedite", |tx| {
                    Box::pin(async move { Ok(tx.expedite_waiting_collection_jobs().await?) })
                })
                .await
                .unwrap()
        }
    };
    // Nothing waits yet: new jobs are due already.
    assert_eq!(expedite().await, 0);
    let mut leases = acquire_collections(3).await;
    assert_eq!(leases.len(), 3);
    let held = leases.pop().unwrap();
    let failed = leases.pop().unwrap();
    let waiting = leases.pop().unwrap();
    release_collection(waiting.clone(), 3600, true).await;
    release_collection(failed.clone(), 3600, false).await;
    assert!(acquire_collections(3).await.is_empty(), "both wait an hour");

    assert_eq!(expedite().await, 1);
    let again = acquire_collections(3).await;
    assert_eq!(
        again
            .iter()
            .map(|l| l.leased.collection_job_id)
            .collect::<Vec<_>>(),
        vec![waiting.leased.collection_job_id],
        "only the job that waited for its batch is due"
    );
    // The held lease was never touched: it still runs out when it would.
    h.clock.advance(LEASE);
    let expired = acquire_collections(3).await;
    assert!(expired.iter().any(
        |l| l.leased.collection_job_id == held.leased.collection_job_id && l.previous_lease_expired
    ));
    assert!(expired
        .iter()
        .all(|l| l.leased.collection_job_id != failed.leased.collection_job_id));
}

fn clock_now(h: &TestDatastore) -> dyad_messages::draft09::Time {
    dyad_core::clock::Clock::now(&h.clock)
}

/// A renewed lease outlives its first expiry (no one else can take the job
/// meanwhile); a lost lease cannot be renewed, for either kind of job.
pub async fn renewal_extends_a_held_lease_only(h: TestDatastore) {
    let task = leader_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let job = aggregation_job(task.task_id(), b"", None, interval(0, 3600));
    fixtures::put_aggregation_jobs(h.datastore.as_ref(), std::slice::from_ref(&job)).await;
    let lease = acquire(h.datastore.as_ref(), 1).await.remove(0);
    let renew = |datastore: std::sync::Arc<dyn Datastore>, token: dyad_datastore::LeaseToken| {
        let (task_id, job_id) = (*task.task_id(), job.aggregation_job_id);
        async move {
            datastore
                .run_tx("renew", move |tx| {
                    Box::pin(async move {
                        Ok(tx
                            .renew_aggregation_job_lease(&task_id, &job_id, &token, LEASE)
                            .await?)
                    })
                })
                .await
        }
    };

    h.clock.advance(d(LEASE.as_seconds() - 1));
    let expiry = renew(h.datastore.clone(), lease.token).await.unwrap();
    assert_eq!(expiry, clock_now(&h).checked_add(LEASE).unwrap());
    h.clock.advance(d(LEASE.as_seconds() - 1));
    assert!(
        acquire(h.datastore.as_ref(), 1).await.is_empty(),
        "the renewed lease still holds past its first expiry"
    );
    h.clock.advance(d(1));
    let taken = acquire(h.datastore.as_ref(), 1).await.remove(0);
    assert_lease_lost(renew(h.datastore.clone(), lease.token).await);
    renew(h.datastore.clone(), taken.token).await.unwrap();

    // Collection jobs: the same rules.
    let batch = interval(3600, 3600);
    let collection = CollectionJob::new(
        *task.task_id(),
        CollectionJobId::random(),
        Query::TimeInterval(batch),
        vec![],
        BatchIdentifier::TimeInterval(batch),
        vec![1],
    );
    let put = collection.clone();
    h.datastore
        .run_tx("put", move |tx| {
            let put = put.clone();
            Box::pin(async move { Ok(tx.put_collection_job(&put).await?) })
        })
        .await
        .unwrap();
    let held = h
        .datastore
        .run_tx("acquire", |tx| {
            Box::pin(async move { Ok(tx.acquire_collection_jobs(LEASE, 1).await?) })
        })
        .await
        .unwrap()
        .remove(0);
    let renew_collection = |datastore: std::sync::Arc<dyn Datastore>,
                            token: dyad_datastore::LeaseToken| {
        let (task_id, job_id) = (*task.task_id(), collection.collection_job_id);
        async move {
            datastore
                .run_tx("renew", move |tx| {
                    Box::pin(async move {
                        Ok(tx
                            .renew_collection_job_lease(&task_id, &job_id, &token, LEASE)
                            .await?)
                    })
                })
                .await
        }
    };
    h.clock.advance(d(10));
    renew_collection(h.datastore.clone(), held.token)
        .await
        .unwrap();
    assert_lease_lost(
        renew_collection(h.datastore.clone(), dyad_datastore::LeaseToken::random()).await,
    );
    h.clock.advance(LEASE);
    assert_lease_lost(renew_collection(h.datastore.clone(), held.token).await);
}
