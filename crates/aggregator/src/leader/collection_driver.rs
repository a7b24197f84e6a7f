//! The collection job driver (DAP-09 section 4.6, Leader side): leases
//! collection jobs and turns each into the two sealed aggregate shares.
//!
//! The batch is the one the HTTP handler stored with the job (the query's
//! interval, the `by_batch_id` batch, or the batch it took for
//! `current_batch`). For each job:
//!
//! 1. readiness and validation, in one read-write transaction
//!    ([`collection_batch::check_and_record`]):
//!    while an unfinished aggregation job may hold reports of the batch,
//!    unaggregated reports lie in its interval, or it holds fewer than
//!    `min_batch_size` reports, the job waits (its lease is given back, it
//!    is looked at again after `not_ready_retry_secs`, or as soon as this
//!    process's aggregation job driver finishes a job (`super::wake`), no
//!    attempt counted; section 4.6.5: "Leaders SHOULD wait for more
//!    reports"). Then batch
//!    validation (section 4.6.5): a failure fails the job with its problem
//!    type. A valid batch is recorded as collected with the job's
//!    aggregation parameter in the same transaction, so that from then on no
//!    report joins it (the job creator ignores such reports) and the
//!    Leader's count cannot move away from the Helper's;
//! 2. the Leader's aggregate share: every job's batch aggregation rows of
//!    the batch merged, and the task's differential-privacy noise added
//!    (off the async runtime; stored only in step 4, so one noisy share per
//!    job);
//! 3. the lease renewed, then `AggregateShareReq` with the report count and
//!    checksum to the Helper (section 4.6.2). A retried request is identical, and the Helper
//!    answers it identically without counting another query;
//! 4. one transaction, checking the lease: the job `Finished` with the
//!    report count, the smallest `time_precision`-aligned interval holding
//!    every report time, the Leader's share sealed to the Collector and the
//!    Helper's share.
//!
//! A problem document from the Helper (`batchMismatch`,
//! `invalidBatchSize`, ...) fails the job with that problem, which the
//! Collector sees when it polls. Transient failures are retried with backoff
//! and the job is abandoned after `max_attempts`, like aggregation jobs.

use super::collection_batch::{self, Readiness};
use super::config::{CollectionDriverConfig, DriverSettings};
use super::driver_loop::{run_driver_loop, LeasedWork};
use super::leases;
use super::peer_client::{HelperClient, PeerError};
use crate::telemetry::instruments::{self, JobKind, LeaseEvent};
use dyad_core::retry::Retryable;
use dyad_datastore::models::{CollectionJob, CollectionJobState};
use dyad_datastore::{Datastore, DatastoreExt, Lease, TxError};
use dyad_messages::draft09::Duration as DapDuration;
use dyad_messages::problem::DapProblemType;
use dyad_protocol::ProtocolError;
use std::sync::Arc;
use std::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn, Instrument as _};

/// Why driving a collection job stopped.
#[derive(Debug, thiserror::Error)]
enum CollectError {
    #[error("datastore: {0}")]
    Datastore(#[from] TxError),
    #[error("{0}")]
    Peer(#[from] PeerError),
    #[error("{0}")]
    Protocol(#[from] ProtocolError),
}

/// The collection job driver; [`run_collection_job_driver`] runs it in a
/// loop, tests call [`CollectionJobDriver::run_once`].
pub struct CollectionJobDriver {
    ds: Arc<dyn Datastore>,
    client: HelperClient,
    settings: DriverSettings,
    not_ready_retry: DapDuration,
    /// Cancelled when the shutdown grace runs out: jobs in flight stop.
    cut: CancellationToken,
}

impl CollectionJobDriver {
    /// A driver. A collection job is one step: at shutdown the one in
    /// flight finishes (the loop acquires no more), unless the grace runs
    /// out (see `driver_loop`), when it stops and its lease is given back.
    pub fn new(
        ds: Arc<dyn Datastore>,
        http: reqwest::Client,
        cfg: &CollectionDriverConfig,
    ) -> Self {
        let settings = cfg.driver_settings();
        Self {
            ds,
            client: HelperClient::new(http, settings.http_timeout),
            settings,
            not_ready_retry: DapDuration::from_seconds(cfg.not_ready_retry_secs),
            cut: CancellationToken::new(),
        }
    }

    /// Acquires up to `max_concurrent_jobs` jobs and drives them all; how
    /// many were acquired.
    pub async fn run_once(&self) -> anyhow::Result<usize> {
        let leases = self.acquire(self.settings.max_concurrent).await?;
        let count = leases.len();
        futures::future::join_all(leases.into_iter().map(|lease| self.drive(lease))).await;
        Ok(count)
    }

    /// Drives the job once; on success, the step's `result` label.
    async fn drive_job(&self, lease: &Lease<CollectionJob>) -> Result<&'static str, CollectError> {
        let task_id = lease.leased.task_id;
        let job_id = lease.leased.collection_job_id;
        let finished_before = super::wake::aggregation_jobs_finished();
        let ready = match collection_batch::check_and_record(self.ds.as_ref(), lease).await? {
            Readiness::Gone => return Ok("gone"),
            Readiness::NotReady(reason) => {
                debug!(%task_id, collection_job_id = %job_id, reason, "batch not ready");
                // From here, an aggregation job finishing wakes this driver;
                // one that finished during the check (which may have missed
                // it) does once the job is back.
                super::wake::collection_job_waiting();
                if self.release(lease, self.not_ready_retry, true).await
                    && super::wake::aggregation_jobs_finished() != finished_before
                {
                    super::wake::aggregation_progressed_meanwhile();
                }
                return Ok("not_ready");
            }
            Readiness::Invalid(problem) => {
                warn!(%task_id, collection_job_id = %job_id, %problem, "batch validation failed");
                let problem_type = problem
                    .problem_type()
                    .unwrap_or(DapProblemType::InvalidMessage);
                self.finish(lease, failed(problem_type, problem.detail()))
                    .await?;
                return Ok("invalid");
            }
            Readiness::Ready(ready) => ready,
        };
        let ready: Arc<_> = Arc::from(ready);
        let leader = tokio::task::spawn_blocking({
            let ready = Arc::clone(&ready);
            move || collection_batch::leader_share(&ready)
        })
        .await
        .map_err(|e| ProtocolError::internal(format!("aggregate share task failed: {e}")))??;
        let request = collection_batch::aggregate_share_req(&ready, &leader);
        // Merging a large batch takes a while: start the request with a
        // full lease (the config keeps the HTTP timeout inside one).
        self.renew_lease(lease).await?;
        let helper = self
            .client
            .request_aggregate_share(&ready.task, &request, leader.aggregate_share.len())
            .await?;
        let state = collection_batch::finished_state(&ready, &leader, helper)?;
        let report_count = leader.report_count;
        self.finish(lease, state).await?;
        info!(%task_id, collection_job_id = %job_id, report_count, "collection job finished");
        Ok("finished")
    }

    /// Extends the lease to a full `lease_duration` from now (lease lost if
    /// another driver took the job meanwhile).
    async fn renew_lease(&self, lease: &Lease<CollectionJob>) -> Result<(), CollectError> {
        leases::renew_lease(self.ds.as_ref(), lease, self.settings.lease_duration).await?;
        Ok(())
    }

    /// Writes the job's final state under the lease.
    async fn finish(
        &self,
        lease: &Lease<CollectionJob>,
        state: CollectionJobState,
    ) -> Result<(), CollectError> {
        let token = lease.token;
        let (task_id, job_id) = (lease.leased.task_id, lease.leased.collection_job_id);
        self.ds
            .run_tx("collection_job_finish", move |tx| {
                let state = state.clone();
                Box::pin(async move {
                    let Some(mut job) = tx.get_collection_job(&task_id, &job_id).await? else {
                        return Ok(());
                    };
                    job.state = state;
                    tx.update_collection_job(&job, Some(&token)).await?;
                    Ok(())
                })
            })
            .await?;
        Ok(())
    }

    async fn settle(&self, lease: &Lease<CollectionJob>, result: Result<(), CollectError>) {
        let task_id = lease.leased.task_id;
        let job_id = lease.leased.collection_job_id;
        let error = match result {
            Ok(()) => return,
            Err(error) => error,
        };
        if matches!(&error, CollectError::Datastore(e) if e.is_lease_lost()) {
            instruments::lease(JobKind::Collection, LeaseEvent::Lost, 1);
            warn!(%task_id, collection_job_id = %job_id, "lease lost; nothing was recorded");
            return;
        }
        let transient = match &error {
            CollectError::Datastore(_) => true,
            CollectError::Peer(peer) => peer.retry_class().is_transient(),
            CollectError::Protocol(_) => false,
        };
        if transient && lease.attempts < self.settings.max_attempts {
            let mut delay = self.settings.retry_delay(lease.attempts);
            if let CollectError::Peer(peer) = &error {
                if let Some(asked) = peer.retry_after() {
                    delay = DapDuration::from_seconds(delay.as_seconds().max(asked.as_secs()));
                }
            }
            warn!(
                %task_id,
                collection_job_id = %job_id,
                attempt = lease.attempts,
                retry_in_secs = delay.as_seconds(),
                %error,
                "collection job failed transiently; will retry"
            );
            self.release(lease, delay, false).await;
            return;
        }
        // A Helper's problem document is the Collector's answer; anything
        // else ends the job as abandoned.
        let state = match &error {
            CollectError::Peer(peer) if !transient => match peer.problem_type() {
                Some(problem_type) => failed(
                    problem_type,
                    peer.problem_detail()
                        .unwrap_or("the Helper refused the aggregate share request"),
                ),
                None => CollectionJobState::Abandoned,
            },
            _ => CollectionJobState::Abandoned,
        };
        error!(
            %task_id,
            collection_job_id = %job_id,
            attempts = lease.attempts,
            %error,
            outcome = ?state.code(),
            "collection job failed"
        );
        if let Err(error) = self.finish(lease, state).await {
            warn!(%task_id, collection_job_id = %job_id, %error, "could not record the failure");
        }
    }

    /// Whether the lease was given back.
    async fn release(&self, lease: &Lease<CollectionJob>, delay: DapDuration, reset: bool) -> bool {
        let lease = lease.clone();
        let released = self
            .ds
            .run_tx("collection_job_release", move |tx| {
                let lease = lease.clone();
                Box::pin(async move { Ok(tx.release_collection_job(&lease, delay, reset).await?) })
            })
            .await;
        match released {
            Ok(()) => {
                instruments::lease(JobKind::Collection, LeaseEvent::Released, 1);
                true
            }
            Err(error) => {
                warn!(%error, "could not release a collection job; its lease will run out");
                false
            }
        }
    }
}

fn failed(problem_type: DapProblemType, detail: &str) -> CollectionJobState {
    CollectionJobState::Failed {
        problem_type,
        detail: detail.to_owned(),
    }
}

impl LeasedWork for CollectionJobDriver {
    type Job = CollectionJob;

    async fn acquire(&self, max: u64) -> Result<Vec<Lease<CollectionJob>>, TxError> {
        self.expedite_if_aggregation_progressed().await;
        let duration = self.settings.lease_duration;
        // A claim: the jobs are taken by the rows it locks (`SKIP LOCKED`)
        // and rewrites, never by what it only read.
        let acquired = self
            .ds
            .run_claim_tx("collection_jobs_acquire", move |tx| {
                Box::pin(async move { Ok(tx.acquire_collection_jobs(duration, max).await?) })
            })
            .await?;
        leases::record_acquired(&acquired);
        Ok(acquired)
    }

    async fn drive(&self, lease: Lease<CollectionJob>) {
        // Every event of the job's handling carries its task and job IDs.
        let span = tracing::info_span!(
            "collection_job",
            task_id = %lease.leased.task_id,
            collection_job_id = %lease.leased.collection_job_id,
            attempt = lease.attempts,
        );
        async {
            tokio::select! {
                biased;
                _ = self.cut.cancelled() => {
                    if self.release(&lease, DapDuration::ZERO, false).await {
                        info!(
                            task_id = %lease.leased.task_id,
                            collection_job_id = %lease.leased.collection_job_id,
                            "shutting down: gave the collection job's lease back"
                        );
                    }
                }
                result = self.step(&lease) => self.settle(&lease, result).await,
            }
        }
        .instrument(span)
        .await
    }

    fn cut_short(&self) {
        self.cut.cancel();
    }
}

impl CollectionJobDriver {
    /// If this process's aggregation settled (a job finished, none runs)
    /// since a job was put back as not ready, makes the waiting jobs due
    /// now, so a collection is ready as soon as its batch is.
    async fn expedite_if_aggregation_progressed(&self) {
        if !super::wake::take_aggregation_progress() {
            return;
        }
        let expedited = self
            .ds
            .run_tx("collection_jobs_expedite", |tx| {
                Box::pin(async move { Ok(tx.expedite_waiting_collection_jobs().await?) })
            })
            .await;
        match expedited {
            Ok(jobs) => debug!(
                jobs,
                "aggregation progressed: waiting collection jobs are due"
            ),
            Err(error) => {
                warn!(%error, "could not make waiting collection jobs due; they wait for their retry time")
            }
        }
    }

    /// [`Self::drive_job`], counted and timed as one step.
    async fn step(&self, lease: &Lease<CollectionJob>) -> Result<(), CollectError> {
        let started = Instant::now();
        let driven = self.drive_job(lease).await;
        let result = match &driven {
            Ok(result) => result,
            Err(CollectError::Datastore(error)) if error.is_lease_lost() => "lease_lost",
            Err(CollectError::Datastore(_)) => "transient_error",
            Err(CollectError::Peer(peer)) if peer.retry_class().is_transient() => "transient_error",
            Err(_) => "failed",
        };
        instruments::job_step(JobKind::Collection, result, started.elapsed());
        driven.map(|_| ())
    }
}

/// Runs the driver until `shutdown` is cancelled.
pub async fn run_collection_job_driver(
    ds: Arc<dyn Datastore>,
    http: reqwest::Client,
    cfg: CollectionDriverConfig,
    shutdown: CancellationToken,
    shutdown_grace: std::time::Duration,
) -> anyhow::Result<()> {
    cfg.validate().map_err(anyhow::Error::msg)?;
    let driver = Arc::new(CollectionJobDriver::new(ds, http, &cfg));
    run_driver_loop(
        "collection_job_driver",
        driver,
        std::time::Duration::from_millis(cfg.interval_ms),
        cfg.max_concurrent_jobs,
        shutdown,
        shutdown_grace,
        Some(super::wake::collection_jobs()),
    )
    .await;
    Ok(())
}
