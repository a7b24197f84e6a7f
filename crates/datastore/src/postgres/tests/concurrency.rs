//! Many replicas on one PostgreSQL database, each with its own pool: they
//! never acquire the same job, an acquirer never waits for another one's
//! uncommitted acquisition (`SKIP LOCKED`), two job creators take
//! disjoint reports, a creator's claim is not aborted by the writers
//! around the reports it read, replicas uploading the same reports at
//! once store each once, and a task deleted during an upload keeps none
//! of its reports.

use super::{upload, with_database, Fixture};
use crate::lease::Lease;
use crate::models::AggregationJob;
use crate::testing::fixtures::{self, aggregation_job, interval, leader_task, report};
use crate::{BoxFuture, Datastore, DatastoreExt, Transaction, TxError, TxMode};
use dyad_messages::draft09::{AggregationJobId, Duration, ReportId, TaskId};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration as StdDuration;
use tokio::sync::Notify;

const LEASE: Duration = Duration::from_seconds(600);
/// How long an acquirer may take when it must not wait for another one.
const PROMPTLY: StdDuration = StdDuration::from_secs(10);

async fn acquire(datastore: &dyn Datastore, max: u64) -> Vec<Lease<AggregationJob>> {
    datastore
        .run_tx("acquire", move |tx| {
            Box::pin(async move { Ok(tx.acquire_aggregation_jobs(LEASE, max).await?) })
        })
        .await
        .unwrap()
}

/// Two replicas store `jobs` jobs of a Leader task.
async fn two_replicas_with_jobs(f: &Fixture, jobs: u64) -> [Arc<dyn Datastore>; 2] {
    let first: Arc<dyn Datastore> = Arc::new(f.open(f.options()).await);
    let second: Arc<dyn Datastore> = Arc::new(f.open(f.options()).await);
    let task = leader_task();
    fixtures::put_tasks(first.as_ref(), &[&task]).await;
    let jobs: Vec<_> = (0..jobs)
        .map(|i| aggregation_job(task.task_id(), b"", None, interval(i * 10, 10)))
        .collect();
    fixtures::put_aggregation_jobs(first.as_ref(), &jobs).await;
    [first, second]
}

/// Three acquirers in each of two replicas take jobs until none is left:
/// every job goes to exactly one of them.
#[test]
fn replicas_never_acquire_the_same_job() {
    with_database(|f| async move {
        let replicas = two_replicas_with_jobs(&f, 60).await;
        let mut acquirers = Vec::new();
        for replica in replicas.iter().cycle().take(6) {
            let datastore = replica.clone();
            acquirers.push(tokio::spawn(async move {
                let mut won = Vec::new();
                loop {
                    let leases = acquire(datastore.as_ref(), 4).await;
                    if leases.is_empty() {
                        return won;
                    }
                    won.extend(leases.into_iter().map(|l| l.leased.aggregation_job_id));
                }
            }));
        }
        let mut seen: HashSet<AggregationJobId> = HashSet::new();
        for acquirer in acquirers {
            for job in acquirer.await.unwrap() {
                assert!(seen.insert(job), "acquired twice");
            }
        }
        assert_eq!(seen.len(), 60);
        for replica in &replicas {
            assert!(acquire(replica.as_ref(), 100).await.is_empty());
        }
    });
}

/// While one replica's acquisition is uncommitted (its rows locked), the
/// other replica's acquisition skips those jobs and returns the rest at
/// once instead of waiting; in the end each job has one holder.
#[test]
fn acquirers_skip_jobs_being_taken() {
    with_database(|f| async move {
        let [slow, fast] = two_replicas_with_jobs(&f, 10).await;
        let (holding, finish) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        let runs = Arc::new(AtomicU32::new(0));
        let held = {
            let (holding, finish, runs) = (holding.clone(), finish.clone(), runs.clone());
            tokio::spawn(async move {
                slow.run_tx("slow acquire", move |tx| {
                    let (holding, finish, runs) = (holding.clone(), finish.clone(), runs.clone());
                    Box::pin(async move {
                        let leases = tx.acquire_aggregation_jobs(LEASE, 5).await?;
                        if runs.fetch_add(1, Ordering::SeqCst) == 0 {
                            assert_eq!(leases.len(), 5);
                            holding.notify_one();
                            finish.notified().await;
                        }
                        Ok(leases)
                    })
                })
                .await
                .unwrap()
            })
        };
        holding.notified().await;
        let quick = tokio::time::timeout(PROMPTLY, acquire(fast.as_ref(), 10))
            .await
            .expect("the second replica waited for the first one's locks");
        assert_eq!(quick.len(), 5, "the jobs nobody was taking");
        finish.notify_one();
        let slow_leases = held.await.unwrap();

        let mut seen = HashSet::new();
        for lease in quick.iter().chain(&slow_leases) {
            assert!(
                seen.insert(lease.leased.aggregation_job_id),
                "acquired twice"
            );
        }
        assert_eq!(seen.len(), 10);
    });
}

/// Two aggregation job creators (in two replicas) reading unaggregated
/// reports at once get disjoint sets, without the second waiting for the
/// first.
#[test]
fn job_creators_take_disjoint_reports() {
    with_database(|f| async move {
        let first: Arc<dyn Datastore> = Arc::new(f.open(f.options()).await);
        let second: Arc<dyn Datastore> = Arc::new(f.open(f.options()).await);
        let task = leader_task();
        fixtures::put_tasks(first.as_ref(), &[&task]).await;
        let reports: Vec<_> = (0..20)
            .map(|i| report(task.task_id(), 3600 + i, 1))
            .collect();
        upload(first.as_ref(), reports.clone()).await;
        let task_id = *task.task_id();

        let creator = PausedCreator::start(first, TxMode::ReadWrite, task_id, 12);
        creator.taken.notified().await;
        let other = tokio::time::timeout(
            PROMPTLY,
            second.run_tx("create jobs", move |tx| {
                Box::pin(async move { take_and_mark(tx, task_id, 12).await })
            }),
        )
        .await
        .expect("the second creator waited for the first one's locks")
        .unwrap();
        assert_eq!(
            other.0.len(),
            8,
            "the reports the first creator was not taking"
        );
        assert_eq!(other.1, 8);
        let (first_ids, first_marked) = creator.finish().await;
        assert_eq!(first_marked, first_ids.len() as u64);

        let all: HashSet<ReportId> = first_ids.iter().chain(&other.0).copied().collect();
        assert_eq!(
            all.len(),
            first_ids.len() + other.0.len(),
            "a report taken twice"
        );
        assert_eq!(all.len(), 20);
        let expected: HashSet<ReportId> = reports.iter().map(|r| *r.report_id()).collect();
        assert_eq!(all, expected);
    });
}

/// The shape that made a `SERIALIZABLE` job creator fail run after run
/// under load: it reads a range of unaggregated reports, an upload inserts
/// into that range and commits, and a transaction that read the reports
/// the creator then marks is still open. The creator is the pivot of that
/// read/write cycle; as a claim (`REPEATABLE READ`) it commits at its first
/// run, and the reports it marked are exactly the ones it read.
#[test]
fn a_claim_commits_beside_writers_around_the_reports_it_read() {
    with_database(|f| async move {
        let creator_ds: Arc<dyn Datastore> = Arc::new(f.open(f.options()).await);
        let other_ds: Arc<dyn Datastore> = Arc::new(f.open(f.options()).await);
        let task = leader_task();
        fixtures::put_tasks(creator_ds.as_ref(), &[&task]).await;
        let task_id = *task.task_id();
        let reports: Vec<_> = (0..20).map(|i| report(&task_id, 3600 + i, 1)).collect();
        upload(creator_ds.as_ref(), reports).await;

        // A serializable writer that has read every unaggregated report and
        // stays open until the creator is done.
        let (reader_read, reader_go) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        let reader = {
            let (read, go) = (reader_read.clone(), reader_go.clone());
            let runs = Arc::new(AtomicU32::new(0));
            let ds = other_ds.clone();
            tokio::spawn(async move {
                ds.run_tx("reader", move |tx| {
                    let (read, go, runs) = (read.clone(), go.clone(), runs.clone());
                    Box::pin(async move {
                        let waiting = tx.count_unaggregated_client_reports(&task_id, None).await?;
                        if runs.fetch_add(1, Ordering::SeqCst) == 0 {
                            read.notify_one();
                            go.notified().await;
                        }
                        Ok(waiting)
                    })
                })
                .await
                .unwrap()
            })
        };
        reader_read.notified().await;

        let claim = PausedCreator::start(creator_ds, TxMode::Claim, task_id, 10);
        claim.taken.notified().await;
        // An upload into the range the claim read commits first.
        upload(other_ds.as_ref(), vec![report(&task_id, 3600, 2)]).await;
        let claim_runs = claim.runs.clone();
        let (ids, marked) = claim.finish().await;
        reader_go.notify_one();
        reader.await.unwrap();

        assert_eq!(
            claim_runs.load(Ordering::SeqCst),
            1,
            "the claim was aborted by a serialization failure"
        );
        assert_eq!(ids.len(), 10);
        assert_eq!(marked, 10);
        let left = other_ds
            .run_read_tx("count", move |tx| {
                Box::pin(
                    async move { Ok(tx.count_unaggregated_client_reports(&task_id, None).await?) },
                )
            })
            .await
            .unwrap();
        assert_eq!(
            left, 11,
            "the 10 claimed reports are marked, the rest are not"
        );
    });
}

/// The reports a creator took, and how many of them it marked.
type Taken = (Vec<ReportId>, u64);

/// A creator's body: takes up to `limit` unaggregated reports and marks
/// them; the reports and how many were marked.
async fn take_and_mark(
    tx: &mut dyn Transaction,
    task_id: TaskId,
    limit: u64,
) -> Result<Taken, TxError> {
    let taken = tx.get_unaggregated_client_reports(&task_id, limit).await?;
    let ids: Vec<ReportId> = taken.iter().map(|m| m.id).collect();
    let marked = tx
        .mark_client_reports_aggregation_started(&task_id, &ids)
        .await?;
    Ok((ids, marked))
}

/// A creator whose first run stops between taking its reports and marking
/// them (it says so on `taken`) until [`PausedCreator::finish`]; later runs
/// (after a serialization failure) do not stop.
struct PausedCreator {
    taken: Arc<Notify>,
    go: Arc<Notify>,
    /// How many times its body ran.
    runs: Arc<AtomicU32>,
    handle: tokio::task::JoinHandle<Taken>,
}

impl PausedCreator {
    /// Starts it on `datastore` in a transaction of `mode` (read-write or
    /// claim).
    fn start(datastore: Arc<dyn Datastore>, mode: TxMode, task_id: TaskId, limit: u64) -> Self {
        let (taken, go) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        let runs = Arc::new(AtomicU32::new(0));
        let body = paused_body(taken.clone(), go.clone(), runs.clone(), task_id, limit);
        let handle = tokio::spawn(async move {
            match mode {
                TxMode::Claim => datastore.run_claim_tx("create jobs", body).await,
                _ => datastore.run_tx("create jobs", body).await,
            }
            .unwrap()
        });
        Self {
            taken,
            go,
            runs,
            handle,
        }
    }

    /// Lets it mark its reports and commit; its reports and how many it
    /// marked.
    async fn finish(self) -> Taken {
        self.go.notify_one();
        self.handle.await.unwrap()
    }
}

/// The body of a [`PausedCreator`].
fn paused_body(
    taken: Arc<Notify>,
    go: Arc<Notify>,
    runs: Arc<AtomicU32>,
    task_id: TaskId,
    limit: u64,
) -> impl for<'a> Fn(&'a mut dyn Transaction) -> BoxFuture<'a, Result<Taken, TxError>>
       + Send
       + Sync
       + 'static {
    move |tx| {
        let (taken, go, runs) = (taken.clone(), go.clone(), runs.clone());
        Box::pin(async move {
            let first_run = runs.fetch_add(1, Ordering::SeqCst) == 0;
            let taken_ids = tx.get_unaggregated_client_reports(&task_id, limit).await?;
            let ids: Vec<ReportId> = taken_ids.iter().map(|m| m.id).collect();
            if first_run {
                taken.notify_one();
                go.notified().await;
            }
            let marked = tx
                .mark_client_reports_aggregation_started(&task_id, &ids)
                .await?;
            Ok((ids, marked))
        })
    }
}

/// Two replicas upload the same reports at once, in overlapping batches,
/// again and again (a Client retrying against two Leader replicas): each
/// report is stored once, exactly one of its uploads says stored, and it
/// waits for a job once. The loser of a race between the duplicate lookup
/// and the insert is rerun as a serialization failure, never miscounted.
#[test]
fn replicas_uploading_the_same_reports_store_each_once() {
    with_database(|f| async move {
        let first: Arc<dyn Datastore> = Arc::new(f.open(f.options()).await);
        let second: Arc<dyn Datastore> = Arc::new(f.open(f.options()).await);
        let task = leader_task();
        fixtures::put_tasks(first.as_ref(), &[&task]).await;
        let task_id = *task.task_id();
        let reports: Vec<_> = (0..200)
            .map(|i| report(&task_id, 3600 + i, (i % 7) as u8))
            .collect();
        let put = |ds: Arc<dyn Datastore>, batch: Vec<crate::models::LeaderStoredReport>| async move {
            ds.run_tx("upload", move |tx| {
                let batch = batch.clone();
                Box::pin(async move { Ok(tx.put_client_reports(&batch).await?) })
            })
            .await
            .unwrap()
        };
        let mut stored = std::collections::HashMap::<ReportId, u32>::new();
        for round in 0..5usize {
            // Batches of 25 in one order on one replica, 40 in reverse
            // order on the other.
            let forward: Vec<_> = reports.chunks(25).map(<[_]>::to_vec).collect();
            let mut backward = reports.clone();
            backward.reverse();
            let backward: Vec<_> = backward.chunks(40).map(<[_]>::to_vec).collect();
            let one = {
                let first = first.clone();
                tokio::spawn(async move {
                    let mut out = Vec::new();
                    for batch in forward {
                        let outcomes = put(first.clone(), batch.clone()).await;
                        out.extend(batch.into_iter().zip(outcomes));
                    }
                    out
                })
            };
            let two = {
                let second = second.clone();
                tokio::spawn(async move {
                    let mut out = Vec::new();
                    for batch in backward {
                        let outcomes = put(second.clone(), batch.clone()).await;
                        out.extend(batch.into_iter().zip(outcomes));
                    }
                    out
                })
            };
            for (report, outcome) in one.await.unwrap().into_iter().chain(two.await.unwrap()) {
                if outcome == crate::models::ReportWriteOutcome::Stored {
                    *stored.entry(*report.report_id()).or_default() += 1;
                }
            }
            if round == 0 {
                assert_eq!(stored.len(), reports.len(), "every report stored");
            }
        }
        assert!(stored.values().all(|&n| n == 1), "a report stored twice");
        let waiting = first
            .run_read_tx("count", move |tx| {
                Box::pin(
                    async move { Ok(tx.count_unaggregated_client_reports(&task_id, None).await?) },
                )
            })
            .await
            .unwrap();
        assert_eq!(waiting, reports.len() as u64, "each waits for a job once");
    });
}

/// A task deleted while an upload of its reports is still open keeps none
/// of them (migration 0013 took the reports' foreign key to their task;
/// each insert holds the task's row instead): the deletion waits for the
/// upload, and whichever way the two are serialized, no report is left
/// without its task.
#[test]
fn a_task_deleted_during_an_upload_keeps_none_of_its_reports() {
    with_database(|f| async move {
        let uploader: Arc<dyn Datastore> = Arc::new(f.open(f.options()).await);
        let deleter: Arc<dyn Datastore> = Arc::new(f.open(f.options()).await);
        let task = leader_task();
        fixtures::put_tasks(uploader.as_ref(), &[&task]).await;
        let task_id = *task.task_id();
        let reports: Vec<_> = (0..20).map(|i| report(&task_id, 3600 + i, 1)).collect();
        let (stored, go) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        let upload = {
            let (stored, go) = (stored.clone(), go.clone());
            let runs = Arc::new(AtomicU32::new(0));
            tokio::spawn(async move {
                uploader
                    .run_tx("upload", move |tx| {
                        let (reports, stored, go) = (reports.clone(), stored.clone(), go.clone());
                        let first_run = runs.fetch_add(1, Ordering::SeqCst) == 0;
                        Box::pin(async move {
                            let outcomes = tx.put_client_reports(&reports).await?;
                            if first_run {
                                stored.notify_one();
                                go.notified().await;
                            }
                            Ok(outcomes)
                        })
                    })
                    .await
            })
        };
        stored.notified().await;
        let deletion = tokio::spawn(async move {
            deleter
                .run_tx("delete_task", move |tx| {
                    Box::pin(async move { Ok(tx.delete_task(&task_id).await?) })
                })
                .await
        });
        tokio::time::sleep(StdDuration::from_millis(300)).await;
        assert!(!deletion.is_finished(), "the deletion waits for the upload");
        go.notify_one();
        match upload.await.unwrap() {
            Ok(_) | Err(TxError::Datastore(crate::DatastoreError::NotFound { .. })) => {}
            Err(other) => panic!("the upload failed otherwise: {other:?}"),
        }
        assert!(deletion.await.unwrap().unwrap().is_some());
        let mut conn = f.connect().await;
        for table in ["client_reports", "unaggregated_reports"] {
            let left: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(&mut conn)
                .await
                .unwrap();
            assert_eq!(left, 0, "{table}");
        }
    });
}
