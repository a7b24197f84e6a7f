//! The polling loop both job drivers run ([`run_driver_loop`]): acquire
//! leased jobs up to a concurrency limit, drive each on its own tokio task,
//! look again every `interval` (or as soon as a job is done), and stop
//! promptly on shutdown. It acquires leases but never renews them: a driver
//! renews the lease of the job it drives before each request to the Helper
//! ([`renew_lease`](super::leases::renew_lease)).
//!
//! On shutdown no new job is acquired; jobs in flight see the same
//! cancellation token and give their leases back (see the drivers), and the
//! loop waits a short grace period for them before aborting what is left.
//! Aborting is safe: every job is checkpointed in transactions and a lease
//! that is not given back simply runs out.

use dyad_datastore::{Lease, TxError};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// How long in-flight jobs get to wind down after shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A kind of leased job.
pub(crate) trait LeasedWork: Send + Sync + 'static {
    type Job: Send + 'static;

    /// Leases up to `max` jobs.
    fn acquire(
        &self,
        max: u64,
    ) -> impl Future<Output = Result<Vec<Lease<Self::Job>>, TxError>> + Send;

    /// Drives one job to its next resting point, handling every outcome
    /// (including shutdown) itself.
    fn drive(&self, lease: Lease<Self::Job>) -> impl Future<Output = ()> + Send;
}

/// Runs `work` until `shutdown` is cancelled.
pub(crate) async fn run_driver_loop<W: LeasedWork>(
    name: &'static str,
    work: Arc<W>,
    interval: Duration,
    max_concurrent: u64,
    shutdown: CancellationToken,
) {
    info!(driver = name, ?interval, max_concurrent, "started");
    let mut running: JoinSet<()> = JoinSet::new();
    loop {
        if shutdown.is_cancelled() {
            break;
        }
        let free = max_concurrent.saturating_sub(running.len() as u64);
        if free > 0 {
            match work.acquire(free).await {
                Ok(leases) => {
                    for lease in leases {
                        let work = Arc::clone(&work);
                        running.spawn(async move { work.drive(lease).await });
                    }
                }
                Err(error) => warn!(driver = name, %error, "acquiring jobs failed; will retry"),
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(interval) => {}
            Some(joined) = running.join_next(), if !running.is_empty() => {
                if let Err(error) = joined {
                    warn!(driver = name, %error, "a job's task failed");
                }
            }
        }
    }
    let drain = async {
        while let Some(joined) = running.join_next().await {
            if let Err(error) = joined {
                warn!(driver = name, %error, "a job's task failed");
            }
        }
    };
    if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
        warn!(
            driver = name,
            "jobs still running after the grace period; aborting them"
        );
        running.abort_all();
    }
    info!(driver = name, "stopped");
}
