//! The aggregation job driver against the stand-in Helper: success, replays
//! after lost responses, lease loss, transient and permanent failures, and a
//! two-round VDAF's continuation with step skew recovery.

use super::fixtures::Env;
use super::helper_stub::{Fault, Route};
use super::*;
use dyad_core::clock::Clock;
use dyad_core::task::BatchMode;
use dyad_core::vdaf::{Measurement, VdafInstance};
use dyad_datastore::models::{
    AggregationJob, AggregationJobState, BatchAggregation, BatchIdentifier, ReportAggregation,
    ReportAggregationState,
};
use dyad_datastore::Datastore;
use dyad_messages::draft09::{PrepareError, Query};
use prio::codec::Encode as _;
use prio::idpf::IdpfInput;
use prio::vdaf::poplar1::Poplar1AggregationParam;
use std::sync::Arc;

fn sums(values: &[u128]) -> Vec<Measurement> {
    values.iter().map(|v| Measurement::Sum(*v)).collect()
}

async fn job(env: &Env, id: AggregationJobId) -> (AggregationJob, Vec<ReportAggregation>) {
    env.jobs(&[id]).await.pop().expect("job exists")
}

async fn job_batch_aggregations(env: &Env, id: AggregationJobId) -> Vec<BatchAggregation> {
    let task_id = env.task_id();
    env.ds()
        .run_read_tx("rows", move |tx| {
            Box::pin(async move { Ok(tx.get_batch_aggregations_for_job(&task_id, &id).await?) })
        })
        .await
        .unwrap()
}

/// Uploads, aggregates, and collects the whole time span; the collected
/// result and report count.
async fn collect_interval(env: &Env, start: Time, buckets: u64) -> (String, u64) {
    let batch = interval(start, buckets);
    let id = env.put_interval_collection_job(batch).await;
    collection_driver(env, &collection_config(3))
        .run_once()
        .await
        .unwrap();
    env.collected_result(&env.collection_job(id).await)
}

#[tokio::test]
async fn jobs_are_aggregated_and_collected_exactly() {
    let env = Env::new(
        VdafInstance::Prio3Sum { bits: 8 },
        BatchMode::TimeInterval,
        5,
    )
    .await;
    env.upload(&sums(&[1, 2, 3, 4]), bucket_time(&env, 3)).await;
    env.upload(&sums(&[10, 20, 255]), bucket_time(&env, 2))
        .await;
    let ids = create_jobs(&env, creator_config(1, 3)).await;
    assert_eq!(ids.len(), 3);
    drive_all(&env).await;
    for (job, ras) in env.jobs(&ids).await {
        assert_eq!(job.state, AggregationJobState::Finished);
        assert!(ras
            .iter()
            .all(|ra| ra.state == ReportAggregationState::Finished));
    }
    assert_eq!(env.stub().requests(Route::Init), 3);
    // One row per job and bucket: the job spanning both buckets has two.
    let rows: usize =
        futures::future::join_all(ids.iter().map(|id| job_batch_aggregations(&env, *id)))
            .await
            .iter()
            .map(Vec::len)
            .sum();
    assert_eq!(rows, 4);
    assert_eq!(
        collect_interval(&env, bucket_time(&env, 3), 2).await,
        ("295".to_owned(), 7)
    );
}

/// Clock skew between the aggregators: the Helper, its clock behind the
/// Leader's, refuses the newest report as `report_too_early`. The report
/// stays failed in that job but goes back to the pool; once the Helper's
/// clock has caught up, a later job aggregates it, and the collection counts
/// it exactly once.
#[tokio::test]
async fn a_report_too_early_for_the_helper_is_retried_in_a_later_job_and_counted_once() {
    let env = Env::new(
        VdafInstance::Prio3Sum { bits: 8 },
        BatchMode::TimeInterval,
        1,
    )
    .await;
    let on_time = env.upload(&sums(&[1, 2, 3]), bucket_time(&env, 4)).await;
    let early = env.upload(&sums(&[100]), bucket_time(&env, 1)).await[0];
    // Three buckets behind: the report one bucket old is in the Helper's
    // future, beyond its tolerable skew; those four buckets old are not.
    env.stub()
        .set_clock_behind(dyad_messages::draft09::Duration::from_seconds(
            3 * PRECISION,
        ));
    let first = create_jobs(&env, creator_config(1, 10)).await;
    assert_eq!(first.len(), 1);
    drive_all(&env).await;
    // A Prio3 job lists its reports and stores no report aggregation: the
    // outcomes are in the counters, the batch aggregations and the pool.
    let (job1, ras1) = job(&env, first[0]).await;
    assert_eq!(job1.state, AggregationJobState::Finished);
    assert!(ras1.is_empty());
    let listed: Vec<_> = job1.report_list.iter().flatten().map(|r| r.id).collect();
    assert_eq!(listed.len(), 4);
    assert!(listed.contains(&early) && on_time.iter().all(|id| listed.contains(id)));
    let counters = env.counters().await;
    assert_eq!(
        (
            counters.reports_aggregated,
            counters.prepare_failed_report_too_early
        ),
        (3, 1)
    );
    let counted: u64 = job_batch_aggregations(&env, first[0])
        .await
        .iter()
        .map(|b| b.report_count)
        .sum();
    assert_eq!(counted, 3, "the early report is not counted in the job");
    assert_eq!(
        unaggregated(&env).await,
        1,
        "the early report is back in the pool"
    );

    // The Helper's clock catches up: the next job takes the report again.
    env.stub()
        .set_clock_behind(dyad_messages::draft09::Duration::from_seconds(0));
    let second = create_jobs(&env, creator_config(1, 10)).await;
    assert_eq!(second.len(), 1);
    drive_all(&env).await;
    let (job2, ras2) = job(&env, second[0]).await;
    assert_eq!(job2.state, AggregationJobState::Finished);
    assert!(ras2.is_empty());
    let listed: Vec<_> = job2.report_list.iter().flatten().map(|r| r.id).collect();
    assert_eq!(listed, [early]);
    let counters = env.counters().await;
    assert_eq!(
        (
            counters.reports_aggregated,
            counters.prepare_failed_report_too_early
        ),
        (4, 1)
    );
    assert_eq!(unaggregated(&env).await, 0);
    assert!(create_jobs(&env, creator_config(1, 10)).await.is_empty());
    assert_eq!(env.stub().requests(Route::Init), 2);

    assert_eq!(
        collect_interval(&env, bucket_time(&env, 4), 4).await,
        ("106".to_owned(), 4)
    );
}

/// The same in a fixed-size task: the refused report gives its room in the
/// batch back, goes back to the pool, and fills that room in a later job, so
/// the batch reaches its size and is collected with every report once.
#[tokio::test]
async fn a_fixed_size_batch_gets_back_the_report_the_helper_found_too_early() {
    let mode = BatchMode::FixedSize {
        max_batch_size: Some(4),
    };
    let env = Env::new(VdafInstance::Prio3Count, mode, 4).await;
    env.upload(&vec![Measurement::Count(true); 3], bucket_time(&env, 4))
        .await;
    env.upload(&[Measurement::Count(true)], bucket_time(&env, 1))
        .await;
    env.stub()
        .set_clock_behind(dyad_messages::draft09::Duration::from_seconds(
            3 * PRECISION,
        ));
    create_jobs(&env, creator_config(1, 10)).await;
    drive_all(&env).await;
    assert_eq!(unaggregated(&env).await, 1);
    assert!(
        take_current_batch(&env, 4).await.is_none(),
        "the batch has 3 reports"
    );
    env.stub()
        .set_clock_behind(dyad_messages::draft09::Duration::from_seconds(0));
    create_jobs(&env, creator_config(1, 10)).await;
    drive_all(&env).await;
    assert_eq!(unaggregated(&env).await, 0);
    let batch_id = take_current_batch(&env, 4)
        .await
        .expect("the batch reached 4 reports");
    let id = env
        .put_collection_job(
            Query::FixedSize(dyad_messages::draft09::FixedSizeQuery::CurrentBatch),
            BatchIdentifier::FixedSize(batch_id),
            vec![],
        )
        .await;
    collection_driver(&env, &collection_config(2))
        .run_once()
        .await
        .unwrap();
    assert_eq!(
        env.collected_result(&env.collection_job(id).await),
        ("4".to_owned(), 4)
    );
}

#[tokio::test]
async fn a_lost_init_response_is_recovered_by_an_identical_replay() {
    let env = Env::new(
        VdafInstance::Prio3Sum { bits: 8 },
        BatchMode::TimeInterval,
        3,
    )
    .await;
    env.upload(&sums(&[7, 8, 9]), bucket_time(&env, 1)).await;
    let ids = create_jobs(&env, creator_config(1, 10)).await;
    env.stub().inject(Route::Init, Fault::LoseResponse);
    let driver = job_driver(&env, &driver_config(5));
    assert_eq!(driver.run_once().await.unwrap(), 1);
    let (after_loss, ras) = job(&env, ids[0]).await;
    assert_eq!(after_loss.state, AggregationJobState::InProgress);
    assert!(ras
        .iter()
        .all(|ra| ra.state == ReportAggregationState::Start));
    assert_eq!(
        env.stub().prepared_reports(),
        3,
        "the Helper did prepare them"
    );

    // Retried after the backoff: the Helper recognizes the same request.
    assert_eq!(
        driver.run_once().await.unwrap(),
        0,
        "not before its retry time"
    );
    env.clock().advance(Duration::from_seconds(1));
    assert_eq!(driver.run_once().await.unwrap(), 1);
    assert_eq!(
        job(&env, ids[0]).await.0.state,
        AggregationJobState::Finished
    );
    assert_eq!(env.stub().requests(Route::Init), 2);
    assert_eq!(
        env.stub().prepared_reports(),
        3,
        "a replay prepares nothing twice"
    );
    assert_eq!(
        collect_interval(&env, bucket_time(&env, 1), 1).await,
        ("24".to_owned(), 3)
    );
}

#[tokio::test]
async fn losing_the_lease_mid_job_writes_nothing() {
    let env = Env::new(
        VdafInstance::Prio3Sum { bits: 8 },
        BatchMode::TimeInterval,
        2,
    )
    .await;
    env.upload(&sums(&[5, 6]), bucket_time(&env, 1)).await;
    let ids = create_jobs(&env, creator_config(1, 10)).await;
    let cfg = driver_config(5);
    // While the Helper works, the lease runs out and another driver takes
    // the job over.
    env.stub().inject(
        Route::Init,
        Fault::AdvanceClock(Duration::from_seconds(cfg.lease_duration_secs + 1)),
    );
    let slow = job_driver(&env, &cfg);
    let other = job_driver(&env, &cfg);
    let ds = env.ds();
    let (slow_result, _) = tokio::join!(slow.run_once(), async {
        // Not before `slow` holds the job (its request reached the Helper):
        // a job taken and given back earlier would just be `slow`'s to take.
        while env.stub().requests(Route::Init) == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        // Take the job as soon as the clock has moved past the lease.
        loop {
            let acquired = ds
                .run_tx("steal", |tx| {
                    Box::pin(async move {
                        Ok(tx
                            .acquire_aggregation_jobs(Duration::from_seconds(60), 1)
                            .await?)
                    })
                })
                .await
                .unwrap();
            if let Some(lease) = acquired.into_iter().next() {
                // Give it back at once for `other` to drive.
                ds.run_tx("release", move |tx| {
                    let lease = lease.clone();
                    Box::pin(async move {
                        Ok(tx
                            .release_aggregation_job(&lease, Duration::ZERO, false)
                            .await?)
                    })
                })
                .await
                .unwrap();
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    });
    assert_eq!(slow_result.unwrap(), 1);
    let (unchanged, ras) = job(&env, ids[0]).await;
    assert_eq!(unchanged.state, AggregationJobState::InProgress);
    assert!(ras
        .iter()
        .all(|ra| ra.state == ReportAggregationState::Start));
    assert!(job_batch_aggregations(&env, ids[0]).await.is_empty());

    assert_eq!(other.run_once().await.unwrap(), 1);
    assert_eq!(
        job(&env, ids[0]).await.0.state,
        AggregationJobState::Finished
    );
    assert_eq!(env.stub().prepared_reports(), 2);
    assert_eq!(
        collect_interval(&env, bucket_time(&env, 1), 1).await,
        ("11".to_owned(), 2)
    );
}

#[tokio::test]
async fn transient_failures_are_retried_with_backoff() {
    let env = Env::new(VdafInstance::Prio3Count, BatchMode::TimeInterval, 1).await;
    env.upload(&[Measurement::Count(true)], bucket_time(&env, 1))
        .await;
    let ids = create_jobs(&env, creator_config(1, 10)).await;
    env.stub().inject(Route::Init, Fault::Status(503, None));
    env.stub().inject(Route::Init, Fault::Status(429, None));
    let driver = job_driver(&env, &driver_config(3));
    for _ in 0..2 {
        assert_eq!(driver.run_once().await.unwrap(), 1);
        assert_eq!(
            job(&env, ids[0]).await.0.state,
            AggregationJobState::InProgress
        );
        env.clock().advance(Duration::from_seconds(1));
    }
    assert_eq!(driver.run_once().await.unwrap(), 1);
    assert_eq!(
        job(&env, ids[0]).await.0.state,
        AggregationJobState::Finished
    );
    assert_eq!(env.stub().requests(Route::Init), 3);
}

#[tokio::test]
async fn a_job_failing_max_attempts_times_is_abandoned_visibly() {
    let env = Env::new(VdafInstance::Prio3Count, BatchMode::TimeInterval, 1).await;
    env.upload(&vec![Measurement::Count(true); 2], bucket_time(&env, 1))
        .await;
    let ids = create_jobs(&env, creator_config(1, 10)).await;
    for _ in 0..2 {
        env.stub().inject(Route::Init, Fault::Status(500, None));
    }
    let driver = job_driver(&env, &driver_config(2));
    assert_eq!(driver.run_once().await.unwrap(), 1);
    env.clock().advance(Duration::from_seconds(1));
    assert_eq!(driver.run_once().await.unwrap(), 1);
    let (abandoned, ras) = job(&env, ids[0]).await;
    assert_eq!(abandoned.state, AggregationJobState::Abandoned);
    // Its reports are listed on its row: all of them are written off.
    assert!(ras.is_empty());
    assert_eq!(abandoned.report_list.map(|list| list.len()), Some(2));
    let counters = env.counters().await;
    assert_eq!(
        (
            counters.prepare_failed_report_dropped,
            counters.reports_aggregated
        ),
        (2, 0)
    );
    assert_eq!(env.stub().requests(Route::Delete), 1);
    env.clock().advance(Duration::from_seconds(60));
    assert_eq!(
        driver.run_once().await.unwrap(),
        0,
        "abandoned jobs stay put"
    );
}

#[tokio::test]
async fn a_helper_client_error_abandons_the_job_at_once() {
    let mode = BatchMode::FixedSize {
        max_batch_size: None,
    };
    let env = Env::new(VdafInstance::Prio3Count, mode, 3).await;
    env.upload(&vec![Measurement::Count(true); 3], bucket_time(&env, 0))
        .await;
    let ids = create_jobs(&env, creator_config(1, 10)).await;
    env.stub().inject(
        Route::Init,
        Fault::Status(
            400,
            Some(dyad_messages::problem::DapProblemType::InvalidMessage),
        ),
    );
    job_driver(&env, &driver_config(10))
        .run_once()
        .await
        .unwrap();
    assert_eq!(
        job(&env, ids[0]).await.0.state,
        AggregationJobState::Abandoned
    );
    // The batch's room came back: new reports fill the same batch.
    env.upload(&vec![Measurement::Count(false); 3], bucket_time(&env, 0))
        .await;
    let again = create_jobs(&env, creator_config(1, 10)).await;
    assert_eq!(
        job(&env, again[0]).await.0.batch_id,
        job(&env, ids[0]).await.0.batch_id
    );
}

#[tokio::test]
async fn a_two_round_vdaf_recovers_from_step_skew() {
    two_round_job_recovers_from_step_skew(JobHolds::Rows).await;
}

/// A job that lists its reports on its row (as the creator's jobs do) but
/// whose first step leaves them waiting (a VDAF of two rounds) stores their
/// report aggregations in that step, and goes on from them.
#[tokio::test]
async fn a_listed_job_left_waiting_by_its_first_step_stores_its_reports_and_goes_on() {
    two_round_job_recovers_from_step_skew(JobHolds::List).await;
}

async fn two_round_job_recovers_from_step_skew(holds: JobHolds) {
    let env = Env::new(
        VdafInstance::Poplar1 { bits: 2 },
        BatchMode::TimeInterval,
        1,
    )
    .await;
    let time = bucket_time(&env, 1);
    let values = [[false, true], [true, false], [true, true]];
    let measurements: Vec<_> = values
        .iter()
        .map(|v| Measurement::Poplar1(v.to_vec()))
        .collect();
    let report_ids = env.upload(&measurements, time).await;
    let param = Poplar1AggregationParam::try_from_prefixes(vec![
        IdpfInput::from_bools(&[false]),
        IdpfInput::from_bools(&[true]),
    ])
    .unwrap()
    .get_encoded()
    .unwrap();
    let job_id = put_job(&env, &report_ids, time, param.clone(), holds).await;
    assert_eq!(
        job(&env, job_id).await.1.len(),
        if holds == JobHolds::Rows { 3 } else { 0 }
    );

    env.stub().inject(Route::Continue, Fault::LoseResponse);
    let driver = job_driver(&env, &driver_config(5));
    assert_eq!(driver.run_once().await.unwrap(), 1);
    let (midway, ras) = job(&env, job_id).await;
    assert_eq!(
        (midway.state, midway.step),
        (AggregationJobState::InProgress, 0)
    );
    assert_eq!(ras.len(), 3);
    assert!(ras
        .iter()
        .all(|ra| matches!(ra.state, ReportAggregationState::WaitingLeader { .. })));
    let stored: Vec<_> = ras.iter().map(|ra| (ra.ord, ra.report_id)).collect();
    let expected: Vec<_> = (0..).zip(report_ids.iter().copied()).collect();
    assert_eq!(stored, expected);

    env.clock().advance(Duration::from_seconds(1));
    assert_eq!(driver.run_once().await.unwrap(), 1);
    let (done, _) = job(&env, job_id).await;
    assert_eq!((done.state, done.step), (AggregationJobState::Finished, 1));
    assert_eq!(env.stub().requests(Route::Init), 1);
    assert_eq!(env.stub().requests(Route::Continue), 2);
    assert_eq!(env.stub().prepared_reports(), 3);

    let batch = interval(time, 1);
    let id = env
        .put_collection_job(
            Query::TimeInterval(batch),
            BatchIdentifier::TimeInterval(batch),
            param,
        )
        .await;
    collection_driver(&env, &collection_config(3))
        .run_once()
        .await
        .unwrap();
    let (result, count) = env.collected_result(&env.collection_job(id).await);
    assert_eq!((result.as_str(), count), ("[1, 2]", 3));
}

/// How [`put_job`] stores a job's reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum JobHolds {
    /// A report aggregation in state `Start` each.
    Rows,
    /// Listed on the job's row.
    List,
}

/// Stores a job over the given reports by hand (the creator makes jobs only
/// for VDAFs whose aggregation parameter is known in advance).
async fn put_job(
    env: &Env,
    report_ids: &[dyad_messages::draft09::ReportId],
    time: Time,
    param: Vec<u8>,
    holds: JobHolds,
) -> AggregationJobId {
    let task_id = env.task_id();
    let job_id = AggregationJobId::random();
    let mut job = AggregationJob::new(
        task_id,
        job_id,
        param,
        None,
        Interval::new(time, Duration::from_seconds(1)).unwrap(),
    );
    let mut ras: Vec<_> = report_ids
        .iter()
        .enumerate()
        .map(|(ord, id)| {
            ReportAggregation::new(
                task_id,
                job_id,
                ord as u64,
                *id,
                time,
                ReportAggregationState::Start,
            )
        })
        .collect();
    if holds == JobHolds::List {
        job.report_list = Some(
            report_ids
                .iter()
                .map(|id| dyad_messages::draft09::ReportMetadata::new(*id, time))
                .collect(),
        );
        ras.clear();
    }
    let ids = report_ids.to_vec();
    assert!(env.clock().now() > time);
    env.ds()
        .run_tx("put_job", move |tx| {
            let (job, ras, ids) = (job.clone(), ras.clone(), ids.clone());
            Box::pin(async move {
                tx.put_aggregation_job(&job).await?;
                if !ras.is_empty() {
                    tx.put_report_aggregations(&ras, None).await?;
                }
                tx.mark_client_reports_aggregation_started(&task_id, &ids)
                    .await?;
                Ok(())
            })
        })
        .await
        .unwrap();
    job_id
}

/// A job of two requests whose first request eats most of the lease still
/// finishes under the same lease: the driver renews it before the second
/// request instead of giving the job up.
#[tokio::test]
async fn a_slow_multi_step_job_renews_its_lease_between_requests() {
    let env = Env::new(
        VdafInstance::Poplar1 { bits: 2 },
        BatchMode::TimeInterval,
        1,
    )
    .await;
    let time = bucket_time(&env, 1);
    let measurements = vec![Measurement::Poplar1(vec![true, false])];
    let report_ids = env.upload(&measurements, time).await;
    let param = Poplar1AggregationParam::try_from_prefixes(vec![IdpfInput::from_bools(&[true])])
        .unwrap()
        .get_encoded()
        .unwrap();
    let job_id = put_job(&env, &report_ids, time, param, JobHolds::Rows).await;

    let cfg = driver_config(5);
    // Without renewal, the second request would not fit in what is left of
    // the lease (the driver keeps `http_timeout + 1` s of margin).
    let eaten = cfg.lease_duration_secs - cfg.http_timeout_secs - 1;
    env.stub().inject(
        Route::Init,
        Fault::AdvanceClock(Duration::from_seconds(eaten)),
    );
    let counted = Arc::new(CountsTransactions::new(env.ds()));
    let driver = AggregationJobDriver::new(
        counted.clone(),
        env.http.clone(),
        &cfg,
        CancellationToken::new(),
    );
    assert_eq!(driver.run_once().await.unwrap(), 1);
    let (done, _) = job(&env, job_id).await;
    assert_eq!((done.state, done.step), (AggregationJobState::Finished, 1));
    assert_eq!(env.stub().requests(Route::Init), 1);
    assert_eq!(env.stub().requests(Route::Continue), 1);
    // Renewed before the second request only: the first followed the
    // acquisition.
    assert_eq!(counted.count("aggregation_job_renew_lease"), 1);
}

/// A job whose lease was just acquired is sent at once: no renewal (one
/// more write transaction) while most of the lease is left.
#[tokio::test]
async fn a_freshly_acquired_job_is_sent_without_renewing_its_lease() {
    let env = Env::new(VdafInstance::Prio3Count, BatchMode::TimeInterval, 1).await;
    env.upload(&vec![Measurement::Count(true); 3], bucket_time(&env, 1))
        .await;
    let ids = create_jobs(&env, creator_config(1, 10)).await;
    let counted = Arc::new(CountsTransactions::new(env.ds()));
    let driver = AggregationJobDriver::new(
        counted.clone(),
        env.http.clone(),
        &driver_config(3),
        CancellationToken::new(),
    );
    assert_eq!(driver.run_once().await.unwrap(), 1);
    assert_eq!(
        job(&env, ids[0]).await.0.state,
        AggregationJobState::Finished
    );
    assert_eq!(env.stub().requests(Route::Init), 1);
    assert_eq!(counted.count("aggregation_job_renew_lease"), 0);
}

/// A datastore that counts its transactions by name.
struct CountsTransactions {
    inner: Arc<dyn Datastore>,
    counts: std::sync::Mutex<std::collections::HashMap<&'static str, usize>>,
}

impl CountsTransactions {
    fn new(inner: Arc<dyn Datastore>) -> Self {
        Self {
            inner,
            counts: Default::default(),
        }
    }

    fn count(&self, name: &str) -> usize {
        self.counts.lock().unwrap().get(name).copied().unwrap_or(0)
    }
}

#[async_trait::async_trait]
impl Datastore for CountsTransactions {
    async fn run_tx_erased(
        &self,
        name: &'static str,
        mode: dyad_datastore::TxMode,
        f: Arc<dyad_datastore::ErasedTxFn>,
    ) -> Result<Box<dyn std::any::Any + Send>, dyad_datastore::TxError> {
        *self.counts.lock().unwrap().entry(name).or_default() += 1;
        self.inner.run_tx_erased(name, mode, f).await
    }

    fn clock(&self) -> &dyn Clock {
        self.inner.clock()
    }

    fn writers_run_in_parallel(&self) -> bool {
        self.inner.writers_run_in_parallel()
    }

    async fn close(&self) {
        self.inner.close().await
    }

    async fn check_ready(&self) -> Result<(), dyad_datastore::DatastoreError> {
        self.inner.check_ready().await
    }
}

/// DAP-09 section 4.5.2.2: the Helper withdraws an abandoned job's
/// contributions when asked to delete it. The Leader writes the job off only
/// once the Helper confirmed the deletion: a lost `DELETE` is retried on
/// later acquisitions (without sending the job's step again), so that the
/// Helper never keeps reports the Leader dropped.
#[tokio::test]
async fn an_abandoned_job_is_written_off_only_once_the_helper_confirmed_its_deletion() {
    let env = Env::new(VdafInstance::Prio3Count, BatchMode::TimeInterval, 1).await;
    env.upload(&vec![Measurement::Count(true); 2], bucket_time(&env, 1))
        .await;
    let ids = create_jobs(&env, creator_config(1, 10)).await;
    for _ in 0..2 {
        env.stub().inject(Route::Init, Fault::Status(500, None));
    }
    env.stub().inject(Route::Delete, Fault::Status(503, None));
    env.stub().inject(Route::Delete, Fault::Status(500, None));
    let driver = job_driver(&env, &driver_config(2));
    for (deletes, state) in [
        (0, AggregationJobState::InProgress),
        // The second failure abandons the job: its DELETE is lost...
        (1, AggregationJobState::InProgress),
        // ... and lost again on the next acquisition ...
        (2, AggregationJobState::InProgress),
        // ... and confirmed on the one after.
        (3, AggregationJobState::Abandoned),
    ] {
        assert_eq!(driver.run_once().await.unwrap(), 1);
        assert_eq!(env.stub().requests(Route::Delete), deletes);
        assert_eq!(job(&env, ids[0]).await.0.state, state);
        env.clock().advance(Duration::from_seconds(60));
    }
    assert_eq!(env.stub().requests(Route::Init), 2, "no step sent again");
    let ras = job(&env, ids[0]).await.1;
    assert!(ras
        .iter()
        .all(|ra| ra.state == ReportAggregationState::Failed(PrepareError::ReportDropped)));
    assert_eq!(driver.run_once().await.unwrap(), 0, "written off for good");
}

/// A Helper that stays unreachable does not keep a job forever: after
/// `2 * max_attempts` acquisitions the Leader writes it off anyway.
#[tokio::test]
async fn an_abandoned_job_is_written_off_when_the_helper_never_confirms_its_deletion() {
    let env = Env::new(VdafInstance::Prio3Count, BatchMode::TimeInterval, 1).await;
    env.upload(&[Measurement::Count(true)], bucket_time(&env, 1))
        .await;
    let ids = create_jobs(&env, creator_config(1, 10)).await;
    env.stub().inject(Route::Init, Fault::Status(500, None));
    for _ in 0..10 {
        env.stub().inject(Route::Delete, Fault::Status(503, None));
    }
    let driver = job_driver(&env, &driver_config(1));
    for _ in 0..2 {
        assert_eq!(driver.run_once().await.unwrap(), 1);
        env.clock().advance(Duration::from_seconds(60));
    }
    assert_eq!(
        job(&env, ids[0]).await.0.state,
        AggregationJobState::Abandoned
    );
    assert_eq!(env.stub().requests(Route::Delete), 2);
    assert_eq!(env.stub().requests(Route::Init), 1);
}
