//! The polling loop both job drivers run ([`run_driver_loop`]): acquire
//! leased jobs up to a concurrency limit, drive each on its own tokio task,
//! look again every `interval`, when woken, or as jobs finish, and stop
//! promptly on shutdown. It acquires leases but never renews them: a driver
//! renews the lease of the job it drives before a request to the Helper
//! ([`renew_lease`](super::leases::renew_lease)).
//!
//! As jobs finish, the loop acquires again once half of its slots are free
//! (and only if its last acquisition found every job it asked for), so
//! that one claim transaction takes several jobs: acquiring one job per
//! finished job was a write transaction per job (on SQLite one more turn
//! of the single writer the uploads wait for; on PostgreSQL one more log
//! flush). Idle, woken, or at its interval, it fills every free slot
//! ([`should_acquire`]).
//!
//! On shutdown (SIGTERM) the loop acquires no new job, and the drivers
//! start no new step: a step in flight finishes (its request to the
//! Helper and the transaction that records it), then the driver gives the
//! job's lease back at once (`retry_after` = now), so another replica can
//! take the job on its next poll instead of waiting for the lease to run
//! out. The process has `server.shutdown_grace_secs` for all of it: if
//! steps are still running when [`cut_short_at`] of the grace is left, the
//! loop cuts them short ([`LeasedWork::cut_short`]: the step in flight is
//! dropped and its lease given back; the step is sent again, identically,
//! by whoever takes the job next), and at the end of the grace it aborts
//! what is left (such a job's lease runs out after `lease_duration_secs`).
//! Every lease given back is logged, and the loop's last line says how many
//! jobs were running at shutdown and how many had to be aborted.
//!
//! ## Where is
//!
//! - wind down within the grace period → [`run_driver_loop`], [`cut_short_at`]

use dyad_datastore::{Lease, TxError};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// How long before the end of the grace period steps still running are
/// cut short, so that their leases are given back in time: a quarter of
/// the grace, at most 2 s.
pub(crate) fn cut_short_at(grace: Duration) -> Duration {
    (grace / 4).min(Duration::from_secs(2))
}

/// Why the loop looks for jobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Looked {
    /// It started, its interval passed, or it was woken (jobs were made).
    Asked,
    /// One of its jobs finished.
    JobFinished,
}

/// Whether the loop acquires jobs now, with `free` of its `max` slots free,
/// `drained` if its last acquisition found fewer jobs than it asked for.
/// Asked, it fills what is free. As jobs finish, it waits for half of its
/// slots to be free, so that one claim takes several jobs, and does not
/// look at all once it found none left: the job creator wakes it, or its
/// interval does.
fn should_acquire(looked: Looked, free: u64, max: u64, drained: bool) -> bool {
    match looked {
        Looked::Asked => free > 0,
        Looked::JobFinished => !drained && (free == max || free >= max.div_ceil(2)),
    }
}

/// A kind of leased job.
pub(crate) trait LeasedWork: Send + Sync + 'static {
    type Job: Send + 'static;

    /// Leases up to `max` jobs.
    fn acquire(
        &self,
        max: u64,
    ) -> impl Future<Output = Result<Vec<Lease<Self::Job>>, TxError>> + Send;

    /// Drives one job to its next resting point, handling every outcome
    /// (including shutdown: the step in flight finishes, then the lease is
    /// given back) itself.
    fn drive(&self, lease: Lease<Self::Job>) -> impl Future<Output = ()> + Send;

    /// The grace period is running out: drop the steps in flight and give
    /// their leases back now.
    fn cut_short(&self);
}

/// Runs `work` until `shutdown` is cancelled, then winds down within
/// `grace` (see the module documentation). `wake`, if given, also makes it
/// look again before its interval is over, when it has room for a job (see
/// `super::wake`).
pub(crate) async fn run_driver_loop<W: LeasedWork>(
    name: &'static str,
    work: Arc<W>,
    interval: Duration,
    max_concurrent: u64,
    shutdown: CancellationToken,
    grace: Duration,
    wake: Option<&'static Notify>,
) {
    info!(driver = name, ?interval, max_concurrent, "started");
    let mut running: JoinSet<()> = JoinSet::new();
    let mut looked = Looked::Asked;
    let mut drained = false;
    loop {
        if shutdown.is_cancelled() {
            break;
        }
        let free = max_concurrent.saturating_sub(running.len() as u64);
        if should_acquire(looked, free, max_concurrent, drained) {
            match work.acquire(free).await {
                Ok(leases) => {
                    drained = (leases.len() as u64) < free;
                    for lease in leases {
                        let work = Arc::clone(&work);
                        running.spawn(async move { work.drive(lease).await });
                    }
                }
                Err(error) => warn!(driver = name, %error, "acquiring jobs failed; will retry"),
            }
        }
        let woken = async {
            match wake {
                Some(wake) => wake.notified().await,
                None => std::future::pending().await,
            }
        };
        looked = tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(interval) => Looked::Asked,
            _ = woken, if (running.len() as u64) < max_concurrent => Looked::Asked,
            Some(joined) = running.join_next(), if !running.is_empty() => {
                if let Err(error) = joined {
                    warn!(driver = name, %error, "a job's task failed");
                }
                Looked::JobFinished
            }
        };
    }
    let in_flight = running.len();
    let deadline = tokio::time::Instant::now() + grace;
    if in_flight > 0 {
        info!(
            driver = name,
            jobs = in_flight,
            grace_secs = grace.as_secs_f64(),
            "shutting down: letting the steps in flight finish, then giving their leases back"
        );
    }
    let mut aborted = 0;
    if !drain(name, &mut running, deadline - cut_short_at(grace)).await {
        warn!(
            driver = name,
            jobs = running.len(),
            "steps still running near the end of the shutdown grace period; cutting them short"
        );
        work.cut_short();
        if !drain(name, &mut running, deadline).await {
            aborted = running.len();
            warn!(
                driver = name,
                jobs = aborted,
                "jobs still running at the end of the shutdown grace period; aborting them \
                 (their leases run out after lease_duration_secs)"
            );
            running.abort_all();
        }
    }
    info!(
        driver = name,
        jobs_at_shutdown = in_flight,
        aborted,
        "stopped"
    );
}

/// Waits for the running jobs until `until`; whether all ended.
async fn drain(name: &'static str, running: &mut JoinSet<()>, until: tokio::time::Instant) -> bool {
    let all = async {
        while let Some(joined) = running.join_next().await {
            if let Err(error) = joined {
                warn!(driver = name, %error, "a job's task failed");
            }
        }
    };
    tokio::time::timeout_at(until, all).await.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use dyad_datastore::LeaseToken;
    use dyad_messages::draft09::Time;
    use std::sync::Mutex;

    /// Jobs that each take a while: `Some(d)` stops early when cut short,
    /// `None` ignores it (and never ends).
    struct Work {
        jobs: Mutex<Vec<Option<Duration>>>,
        cut: CancellationToken,
        ended: Mutex<Vec<&'static str>>,
        /// How many jobs each acquisition asked for.
        asked: Mutex<Vec<u64>>,
    }

    impl Work {
        fn new(jobs: Vec<Option<Duration>>) -> Self {
            Self {
                jobs: Mutex::new(jobs),
                cut: CancellationToken::new(),
                ended: Mutex::default(),
                asked: Mutex::default(),
            }
        }
    }

    impl LeasedWork for Work {
        type Job = Option<Duration>;

        async fn acquire(&self, max: u64) -> Result<Vec<Lease<Self::Job>>, TxError> {
            self.asked.lock().unwrap().push(max);
            let mut jobs = self.jobs.lock().unwrap();
            let n = jobs.len().min(max as usize);
            Ok(jobs
                .drain(..n)
                .map(|leased| Lease {
                    leased,
                    token: LeaseToken::random(),
                    expiry: Time::from_seconds_since_epoch(0),
                    attempts: 1,
                    previous_lease_expired: false,
                })
                .collect())
        }

        async fn drive(&self, lease: Lease<Self::Job>) {
            let outcome = match lease.leased {
                Some(takes) => tokio::select! {
                    _ = self.cut.cancelled() => "cut",
                    _ = tokio::time::sleep(takes) => "finished",
                },
                None => std::future::pending().await,
            };
            self.ended.lock().unwrap().push(outcome);
        }

        fn cut_short(&self) {
            self.cut.cancel();
        }
    }

    #[tokio::test]
    async fn shutdown_lets_short_steps_finish_cuts_long_ones_and_ends_within_the_grace() {
        let work = Arc::new(Work::new(vec![
            Some(Duration::from_millis(50)),
            Some(Duration::from_secs(30)),
            None,
        ]));
        let shutdown = CancellationToken::new();
        let grace = Duration::from_millis(800);
        let running = tokio::spawn(run_driver_loop(
            "test",
            work.clone(),
            Duration::from_millis(10),
            8,
            shutdown.clone(),
            grace,
            None,
        ));
        tokio::time::sleep(Duration::from_millis(20)).await;
        let started = tokio::time::Instant::now();
        shutdown.cancel();
        running.await.unwrap();
        let took = started.elapsed();
        assert!(took >= grace - cut_short_at(grace), "{took:?}");
        assert!(took < grace + Duration::from_millis(300), "{took:?}");
        assert_eq!(*work.ended.lock().unwrap(), vec!["finished", "cut"]);
    }

    #[test]
    fn finished_jobs_are_replaced_once_half_the_slots_are_free_and_only_while_jobs_are_left() {
        use Looked::*;
        // Asked (started, interval, woken): every free slot.
        assert!(should_acquire(Asked, 1, 8, true));
        assert!(!should_acquire(Asked, 0, 8, false));
        // A job finished: once half the slots are free.
        assert!(!should_acquire(JobFinished, 1, 8, false));
        assert!(!should_acquire(JobFinished, 3, 8, false));
        assert!(should_acquire(JobFinished, 4, 8, false));
        assert!(should_acquire(JobFinished, 2, 3, false));
        assert!(should_acquire(JobFinished, 1, 1, false));
        // ... unless the last acquisition found the jobs all taken.
        assert!(!should_acquire(JobFinished, 8, 8, true));
    }

    /// Eight quick jobs, four slots: the first claim takes four, and each
    /// later one two (half the slots) rather than one per finished job.
    #[tokio::test]
    async fn one_claim_takes_several_jobs_as_they_finish() {
        let work = Arc::new(Work::new(vec![Some(Duration::from_millis(5)); 8]));
        let shutdown = CancellationToken::new();
        let running = tokio::spawn(run_driver_loop(
            "test",
            work.clone(),
            Duration::from_secs(60),
            4,
            shutdown.clone(),
            Duration::from_secs(1),
            None,
        ));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while work.ended.lock().unwrap().len() < 8 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "jobs not all driven"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        shutdown.cancel();
        running.await.unwrap();
        let asked = work.asked.lock().unwrap().clone();
        assert_eq!(asked[0], 4, "{asked:?}");
        assert!(asked[1..].iter().all(|&n| n >= 2), "{asked:?}");
        // 4 + 2 + 2, then one that finds none left (its interval is long).
        assert!(asked.len() <= 4, "{asked:?}");
    }

    #[test]
    fn steps_are_cut_a_quarter_of_the_grace_before_its_end_at_most_two_seconds() {
        assert_eq!(cut_short_at(Duration::from_secs(4)), Duration::from_secs(1));
        assert_eq!(
            cut_short_at(Duration::from_secs(30)),
            Duration::from_secs(2)
        );
    }
}
