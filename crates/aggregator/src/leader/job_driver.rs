//! The aggregation job driver (DAP-09 section 4.5, Leader side): leases
//! aggregation jobs and drives each through its steps with the Helper.
//!
//! Each step is [`aggregation_step`]'s load → prepare → send → apply →
//! write, the write being one transaction that checks the lease; the job is
//! driven step after step under one lease until it is finished. Before each
//! request to the Helper the lease is renewed (a full `lease_duration` from
//! then), so a job of many steps keeps it for as long as it makes progress,
//! while a crashed driver's lease still runs out one `lease_duration` after
//! its last renewal. Outcomes:
//!
//! - success: the job is `Finished` (its batch aggregations written with it);
//! - lease lost (another driver took the job, or the lease ran out):
//!   nothing was written for the step; the other holder carries on;
//! - transient failure (the Helper unreachable, timing out, answering 5xx,
//!   408 or 429; the database busy): the lease is given back and the job is
//!   retried after an exponential backoff (at least what the Helper's
//!   `Retry-After` asks). A repeated step sends the identical request, which
//!   the Helper answers as a replay. After `max_attempts` acquisitions the
//!   job is abandoned;
//! - permanent failure (the Helper answers another 4xx, a response that does
//!   not decode or that breaks section 4.5.1.1's rules, or our own stored
//!   state is unusable): the job is abandoned at once.
//!
//! Abandoning first asks the Helper to delete the job (section 4.5.2.2),
//! which makes the Helper withdraw what the job contributed to its batches:
//! it may have processed a request whose answer the Leader never got, and
//! if it kept those reports while the Leader drops them, every collection
//! of their batches would fail with `batchMismatch`. Only once the Helper
//! has answered the `DELETE` (or after `2 * max_attempts` acquisitions, or
//! with a definite refusal such as `unrecognizedAggregationJob` for a job it
//! never stored) does the Leader write, under the lease, state `Abandoned`
//! for the job and `Failed(report_dropped)` for its unfinished reports
//! (a job listing its reports on its row, with no report aggregation
//! stored yet, has all of them unfinished: they are counted as dropped),
//! giving fixed-size batch room back, and log an error with the task and
//! job IDs. A `DELETE` that fails transiently gives the lease back for a
//! later retry; a job acquired more than `max_attempts` times is not sent
//! again but goes straight to being abandoned.
//!
//! Reports the Helper rejects with `report_too_early` (its clock behind the
//! Leader's, DAP-09 section 4.5.1.4) stay failed in their job, which
//! therefore counts nothing of them, and go back to the pool of unaggregated
//! reports in the same transaction: the job creator puts them in a later
//! job, so clock skew between the aggregators delays a report but never
//! loses it, and it is counted once, by the job the Helper accepts it in.

use super::aggregation_step::{self, LoadedJob, StepRequest, StepWrite};
use super::config::{DriverSettings, JobDriverConfig};
use super::driver_loop::{run_driver_loop, LeasedWork};
use super::leases;
use super::peer_client::{HelperClient, PeerError};
use crate::telemetry::instruments::{self, JobKind, LeaseEvent};
use dyad_core::retry::Retryable;
use dyad_datastore::models::{
    AggregationJob, AggregationJobState, ReportAggregationState, TaskCounters,
};
use dyad_datastore::{Datastore, DatastoreExt, Lease, TxError};
use dyad_messages::draft09::{Duration as DapDuration, PrepareError, Time};
use dyad_protocol::ProtocolError;
use std::sync::Arc;
use std::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn, Instrument as _};

/// Most steps driven under one lease (a guard; VDAFs need a handful).
const MAX_STEPS_PER_LEASE: usize = 64;

/// Why driving a job stopped before it finished.
#[derive(Debug, thiserror::Error)]
enum DriveError {
    #[error("datastore: {0}")]
    Datastore(#[from] TxError),
    #[error("{0}")]
    Peer(#[from] PeerError),
    #[error("{0}")]
    Protocol(#[from] ProtocolError),
    #[error("the lease is too close to running out for another request")]
    LeaseExpiring,
    #[error("the job or its task no longer exists")]
    Gone,
    #[error("the driver is shutting down")]
    ShuttingDown,
}

impl DriveError {
    fn is_lease_lost(&self) -> bool {
        matches!(self, DriveError::Datastore(error) if error.is_lease_lost())
    }

    /// The `result` label of a step that failed this way.
    fn step_result(&self) -> &'static str {
        if self.is_lease_lost() {
            "lease_lost"
        } else if matches!(self, DriveError::Gone) {
            "gone"
        } else if self.is_transient() {
            "transient_error"
        } else {
            "failed"
        }
    }

    /// Whether another attempt may succeed.
    fn is_transient(&self) -> bool {
        match self {
            DriveError::Datastore(_) | DriveError::LeaseExpiring => true,
            DriveError::Peer(error) => error.retry_class().is_transient(),
            DriveError::Protocol(_) | DriveError::Gone | DriveError::ShuttingDown => false,
        }
    }
}

/// The aggregation job driver; [`run_aggregation_job_driver`] runs it in a
/// loop, tests call [`AggregationJobDriver::run_once`].
pub struct AggregationJobDriver {
    ds: Arc<dyn Datastore>,
    client: HelperClient,
    settings: DriverSettings,
    /// No new step starts once cancelled (the one in flight finishes).
    shutdown: CancellationToken,
    /// Cancelled when the shutdown grace runs out: steps in flight stop.
    cut: CancellationToken,
}

impl AggregationJobDriver {
    /// A driver; once `shutdown` is cancelled its jobs finish the step in
    /// flight and give their leases back.
    pub fn new(
        ds: Arc<dyn Datastore>,
        http: reqwest::Client,
        cfg: &JobDriverConfig,
        shutdown: CancellationToken,
    ) -> Self {
        let settings = cfg.driver_settings();
        Self {
            ds,
            client: HelperClient::new(http, settings.http_timeout),
            settings,
            shutdown,
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

    async fn drive_job(&self, lease: &Lease<AggregationJob>) -> (Result<(), DriveError>, bool) {
        let task_id = lease.leased.task_id;
        let job_id = lease.leased.aggregation_job_id;
        let mut progressed = false;
        // The lease's expiry as last written (acquired, or renewed by a step).
        let mut expiry = lease.expiry;
        for _ in 0..MAX_STEPS_PER_LEASE {
            if self.shutdown.is_cancelled() {
                return (Err(DriveError::ShuttingDown), progressed);
            }
            let loaded = match aggregation_step::load(self.ds.as_ref(), task_id, job_id).await {
                Ok(Some(loaded)) => Arc::new(loaded),
                Ok(None) => return (Err(DriveError::Gone), progressed),
                Err(error) => return (Err(error.into()), progressed),
            };
            if loaded.job.state != AggregationJobState::InProgress {
                return (Ok(()), progressed);
            }
            let started = Instant::now();
            let stepped = self.step(lease, loaded, &mut expiry).await;
            let result = match &stepped {
                Ok(true) => "finished",
                Ok(false) => "continued",
                Err(error) => error.step_result(),
            };
            instruments::job_step(JobKind::Aggregation, result, started.elapsed());
            match stepped {
                Ok(true) => return (Ok(()), true),
                Ok(false) => progressed = true,
                Err(error) => return (Err(error), progressed),
            }
        }
        warn!(%task_id, aggregation_job_id = %job_id, "step limit reached; releasing the job");
        (Err(DriveError::LeaseExpiring), progressed)
    }

    /// One step; whether the job is now finished. `expiry` is the lease's
    /// expiry as last written, updated when the step renews it.
    async fn step(
        &self,
        lease: &Lease<AggregationJob>,
        loaded: Arc<LoadedJob>,
        expiry: &mut Time,
    ) -> Result<bool, DriveError> {
        let task_id = *loaded.task.task_id();
        let job_id = loaded.job.aggregation_job_id;
        let prepared = blocking({
            let loaded = Arc::clone(&loaded);
            move || aggregation_step::prepare(&loaded)
        })
        .await?;
        let step = prepared.step;
        let response = match &prepared.request {
            None => None,
            Some(request) => {
                // Renewed when half of it has run out, or when what is left
                // would not outlast the request.
                if leases::needs_renewal(
                    self.ds.clock().now(),
                    *expiry,
                    self.settings.lease_duration,
                ) || self.check_lease_time(*expiry).is_err()
                {
                    *expiry = self.renew_lease(lease).await?;
                }
                self.check_lease_time(*expiry)?;
                debug!(%task_id, aggregation_job_id = %job_id, %step, "sending to the Helper");
                Some(match request {
                    StepRequest::Init(request) => {
                        self.client
                            .init_aggregation_job(&loaded.task, &job_id, request)
                            .await?
                    }
                    StepRequest::Continue(request) => {
                        self.client
                            .continue_aggregation_job(&loaded.task, &job_id, request)
                            .await?
                    }
                })
            }
        };
        let write: StepWrite = blocking({
            let loaded = Arc::clone(&loaded);
            move || aggregation_step::apply(&loaded, prepared, response.as_ref())
        })
        .await?;
        let write = Arc::new(write);
        aggregation_step::write(self.ds.as_ref(), lease.token, Arc::clone(&write)).await?;
        // Committed: each report whose preparation ended in this step.
        for ra in &write.report_aggregations {
            match ra.state {
                ReportAggregationState::Finished => instruments::report_prepared("leader", Ok(())),
                ReportAggregationState::Failed(error) => {
                    instruments::report_prepared("leader", Err(error))
                }
                _ => {}
            }
        }
        let counts = write.counts;
        let finished = write.job.state == AggregationJobState::Finished;
        if finished {
            super::wake::aggregation_job_finished();
        }
        info!(
            %task_id,
            aggregation_job_id = %job_id,
            %step,
            finished_reports = counts.finished,
            failed_reports = counts.failed,
            waiting_reports = counts.waiting,
            job_finished = finished,
            "aggregation job step done"
        );
        if !write.back_to_pool.is_empty() {
            warn!(
                %task_id,
                aggregation_job_id = %job_id,
                reports = write.back_to_pool.len(),
                "the Helper found reports too early; they go back to the pool for a later job"
            );
        }
        Ok(finished)
    }

    /// Extends the lease to a full `lease_duration` from now; the new
    /// expiry. Fails (lease lost) if another driver took the job meanwhile.
    async fn renew_lease(&self, lease: &Lease<AggregationJob>) -> Result<Time, DriveError> {
        Ok(leases::renew_lease(self.ds.as_ref(), lease, self.settings.lease_duration).await?)
    }

    /// Refuses to start a request that could outlive the lease.
    fn check_lease_time(&self, expiry: Time) -> Result<(), DriveError> {
        let margin = DapDuration::from_seconds(self.settings.http_timeout.as_secs() + 1);
        match self.ds.clock().now().checked_add(margin) {
            Some(deadline) if deadline < expiry => Ok(()),
            _ => Err(DriveError::LeaseExpiring),
        }
    }

    /// Handles what driving a job came to.
    async fn settle(
        &self,
        lease: &Lease<AggregationJob>,
        result: Result<(), DriveError>,
        progressed: bool,
    ) {
        let task_id = lease.leased.task_id;
        let job_id = lease.leased.aggregation_job_id;
        let error = match result {
            Ok(()) => return,
            Err(error) => error,
        };
        if error.is_lease_lost() {
            instruments::lease(JobKind::Aggregation, LeaseEvent::Lost, 1);
            warn!(%task_id, aggregation_job_id = %job_id, "lease lost; the step was not recorded");
            return;
        }
        if matches!(error, DriveError::Gone) {
            debug!(%task_id, aggregation_job_id = %job_id, "job or task gone");
            return;
        }
        if matches!(error, DriveError::ShuttingDown) {
            self.release_at_shutdown(lease, progressed).await;
            return;
        }
        if matches!(error, DriveError::LeaseExpiring) {
            self.release(lease, DapDuration::ZERO, progressed).await;
            return;
        }
        if error.is_transient() && (progressed || lease.attempts < self.settings.max_attempts) {
            let mut delay = self.settings.retry_delay(lease.attempts);
            if let DriveError::Peer(peer) = &error {
                if let Some(asked) = peer.retry_after() {
                    delay = DapDuration::from_seconds(delay.as_seconds().max(asked.as_secs()));
                }
            }
            warn!(
                %task_id,
                aggregation_job_id = %job_id,
                attempt = lease.attempts,
                retry_in_secs = delay.as_seconds(),
                %error,
                "aggregation job failed transiently; will retry"
            );
            self.release(lease, delay, progressed).await;
            return;
        }
        self.abandon(lease, &error).await;
    }

    /// Asks the Helper to delete a job being abandoned; whether abandoning
    /// goes on now. When it does not, the lease was given back (to retry
    /// the `DELETE` after a backoff) or lost.
    async fn delete_at_helper(&self, lease: &Lease<AggregationJob>) -> bool {
        let task_id = lease.leased.task_id;
        let job_id = lease.leased.aggregation_job_id;
        let task = self
            .ds
            .run_tx("aggregation_job_abandon_task", move |tx| {
                Box::pin(async move { Ok(tx.get_task(&task_id).await?) })
            })
            .await;
        let task = match task {
            Ok(Some(task)) => task,
            // No task, no Helper to tell: the job only has to be written off.
            Ok(None) => return true,
            Err(error) => {
                warn!(%task_id, aggregation_job_id = %job_id, %error, "could not read the task of a job to abandon");
                self.release(lease, self.settings.retry_delay(lease.attempts), false)
                    .await;
                return false;
            }
        };
        let ready = match self.renew_lease(lease).await {
            Ok(expiry) => self.check_lease_time(expiry),
            Err(error) => Err(error),
        };
        if let Err(error) = ready {
            if error.is_lease_lost() {
                instruments::lease(JobKind::Aggregation, LeaseEvent::Lost, 1);
                warn!(%task_id, aggregation_job_id = %job_id, "lease lost while abandoning");
            } else {
                self.release(lease, DapDuration::ZERO, false).await;
            }
            return false;
        }
        let error = match self.client.delete_aggregation_job(&task, &job_id).await {
            Ok(()) => return true,
            Err(error) => error,
        };
        let give_up_at = self.settings.max_attempts.saturating_mul(2);
        if error.retry_class().is_transient() && lease.attempts < give_up_at {
            let delay = self.settings.retry_delay(lease.attempts);
            warn!(
                %task_id,
                aggregation_job_id = %job_id,
                attempt = lease.attempts,
                retry_in_secs = delay.as_seconds(),
                %error,
                "abandoning an aggregation job: the Helper did not confirm its deletion; will retry"
            );
            self.release(lease, delay, false).await;
            return false;
        }
        if error.retry_class().is_transient() {
            error!(
                %task_id,
                aggregation_job_id = %job_id,
                attempts = lease.attempts,
                %error,
                "the Helper never confirmed the deletion of an abandoned aggregation job: it may \
                 still count its reports, and collections of their batches fail with batchMismatch"
            );
        } else {
            // E.g. `unrecognizedAggregationJob`: it never stored the job.
            warn!(
                %task_id,
                aggregation_job_id = %job_id,
                %error,
                "the Helper refused to delete an abandoned aggregation job"
            );
        }
        true
    }

    /// Gives the lease back for another replica to take the job at once.
    async fn release_at_shutdown(&self, lease: &Lease<AggregationJob>, progressed: bool) {
        if self.release(lease, DapDuration::ZERO, progressed).await {
            info!(
                task_id = %lease.leased.task_id,
                aggregation_job_id = %lease.leased.aggregation_job_id,
                "shutting down: gave the aggregation job's lease back"
            );
        }
    }

    /// Whether the lease was given back.
    async fn release(
        &self,
        lease: &Lease<AggregationJob>,
        delay: DapDuration,
        reset: bool,
    ) -> bool {
        let lease = lease.clone();
        let released = self
            .ds
            .run_tx("aggregation_job_release", move |tx| {
                let lease = lease.clone();
                Box::pin(async move { Ok(tx.release_aggregation_job(&lease, delay, reset).await?) })
            })
            .await;
        match released {
            Ok(()) => {
                instruments::lease(JobKind::Aggregation, LeaseEvent::Released, 1);
                true
            }
            Err(error) => {
                warn!(%error, "could not release an aggregation job; its lease will run out");
                false
            }
        }
    }

    /// Gives up on a job for good (see the module documentation).
    async fn abandon(
        &self,
        lease: &Lease<AggregationJob>,
        reason: &(dyn std::fmt::Display + Sync),
    ) {
        let task_id = lease.leased.task_id;
        let job_id = lease.leased.aggregation_job_id;
        let token = lease.token;
        if !self.delete_at_helper(lease).await {
            return;
        }
        let abandoned = self
            .ds
            .run_tx("aggregation_job_abandon", move |tx| {
                Box::pin(async move {
                    let Some(mut job) = tx.get_aggregation_job(&task_id, &job_id).await? else {
                        return Ok(None);
                    };
                    let (reports, from_list) = aggregation_step::job_reports(tx, &job).await?;
                    let dropped: Vec<_> = reports
                        .into_iter()
                        .filter(|ra| !ra.state.is_terminal())
                        .map(|mut ra| {
                            ra.state = ReportAggregationState::Failed(PrepareError::ReportDropped);
                            ra
                        })
                        .collect();
                    // A job still holding its reports as a list has no rows
                    // to mark.
                    if !from_list && !dropped.is_empty() {
                        tx.update_report_aggregations(&dropped, Some(&token))
                            .await?;
                    }
                    let dropped = dropped.len() as u64;
                    if dropped > 0 {
                        let counters = TaskCounters {
                            prepare_failed_report_dropped: dropped,
                            ..TaskCounters::default()
                        };
                        tx.add_task_counters(&task_id, &counters).await?;
                        if let Some(batch_id) = &job.batch_id {
                            tx.release_outstanding_batch_reservation(&task_id, batch_id, dropped)
                                .await?;
                        }
                    }
                    job.state = AggregationJobState::Abandoned;
                    tx.update_aggregation_job(&job, Some(&token)).await?;
                    Ok(Some(dropped))
                })
            })
            .await;
        // The reports it wrote off ended their preparation as dropped.
        if let Ok(Some(dropped)) = &abandoned {
            for _ in 0..*dropped {
                instruments::report_prepared("leader", Err(PrepareError::ReportDropped));
            }
        }
        match abandoned {
            Ok(Some(dropped)) => error!(
                %task_id,
                aggregation_job_id = %job_id,
                attempts = lease.attempts,
                dropped_reports = dropped,
                reason = %reason,
                "aggregation job abandoned"
            ),
            Ok(None) => {}
            Err(error) if error.is_lease_lost() => {
                warn!(%task_id, aggregation_job_id = %job_id, "lease lost while abandoning")
            }
            Err(error) => warn!(
                %task_id,
                aggregation_job_id = %job_id,
                %error,
                "could not abandon an aggregation job; it will be retried"
            ),
        }
    }
}

impl LeasedWork for AggregationJobDriver {
    type Job = AggregationJob;

    async fn acquire(&self, max: u64) -> Result<Vec<Lease<AggregationJob>>, TxError> {
        let duration = self.settings.lease_duration;
        // A claim: the jobs are taken by the rows it locks (`SKIP LOCKED`)
        // and rewrites, never by what it only read.
        let acquired = self
            .ds
            .run_claim_tx("aggregation_jobs_acquire", move |tx| {
                Box::pin(async move { Ok(tx.acquire_aggregation_jobs(duration, max).await?) })
            })
            .await?;
        leases::record_acquired(&acquired);
        Ok(acquired)
    }

    async fn drive(&self, lease: Lease<AggregationJob>) {
        let _running = super::wake::RunningAggregationJob::start();
        // Every event of the job's handling carries its task and job IDs.
        let span = tracing::info_span!(
            "aggregation_job",
            task_id = %lease.leased.task_id,
            aggregation_job_id = %lease.leased.aggregation_job_id,
            attempt = lease.attempts,
        );
        self.drive_in_span(lease).instrument(span).await
    }

    fn cut_short(&self) {
        self.cut.cancel();
    }
}

impl AggregationJobDriver {
    async fn drive_in_span(&self, lease: Lease<AggregationJob>) {
        if lease.attempts > self.settings.max_attempts {
            // Its last attempt failed, but abandoning it did not finish (the
            // Helper did not confirm the deletion, or the driver stopped).
            let reason = format!("failed {} attempts", self.settings.max_attempts);
            self.abandon(&lease, &reason).await;
            return;
        }
        tokio::select! {
            biased;
            _ = self.cut.cancelled() => {
                // The step in flight, if any, was not recorded; it will be
                // sent again (identically) by whoever takes the job next.
                self.release_at_shutdown(&lease, false).await;
            }
            (result, progressed) = self.drive_job(&lease) => {
                self.settle(&lease, result, progressed).await;
            }
        }
    }
}

/// Runs CPU-heavy protocol work on the blocking thread pool.
async fn blocking<T, F>(work: F) -> Result<T, DriveError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, ProtocolError> + Send + 'static,
{
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => Ok(result?),
        Err(error) => Err(DriveError::Protocol(ProtocolError::internal(format!(
            "preparation task failed: {error}"
        )))),
    }
}

/// Runs the driver until `shutdown` is cancelled.
pub async fn run_aggregation_job_driver(
    ds: Arc<dyn Datastore>,
    http: reqwest::Client,
    cfg: JobDriverConfig,
    shutdown: CancellationToken,
    shutdown_grace: std::time::Duration,
) -> anyhow::Result<()> {
    cfg.validate().map_err(anyhow::Error::msg)?;
    let driver = Arc::new(AggregationJobDriver::new(ds, http, &cfg, shutdown.clone()));
    run_driver_loop(
        "aggregation_job_driver",
        driver,
        std::time::Duration::from_millis(cfg.interval_ms),
        cfg.max_concurrent_jobs,
        shutdown,
        shutdown_grace,
        Some(super::wake::aggregation_jobs()),
    )
    .await;
    Ok(())
}
