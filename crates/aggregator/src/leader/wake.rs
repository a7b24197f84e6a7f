//! In-process wake-ups between the Leader's roles, so that no step waits
//! for a poll interval when this process already knows there is work:
//!
//! - the job creator tells the aggregation job driver that it created
//!   jobs: the driver takes them at once instead of at its next
//!   `interval`;
//! - the aggregation job driver tells the collection job driver that its
//!   jobs settled (a job finished and none is running any more) while
//!   collection jobs waited for their batches: those are looked at again
//!   at once instead of after `not_ready_retry_secs`, so a collection is
//!   ready as soon as its last aggregation job is done;
//! - where the datastore's writers run side by side (PostgreSQL), the
//!   upload's report writer tells the job creator once a full job's
//!   worth of reports (its `max_job_size`) was stored since its last run
//!   began, and that run makes full jobs only: jobs start as soon as they
//!   can be full, so aggregation keeps pace with uploads instead of
//!   catching up once per `interval`, and the stream is not cut into
//!   remainders;
//! - the collection job endpoint tells the job creator and the collection
//!   job driver that a Collector now waits: the creator puts the reports
//!   still unaggregated into jobs now (within its size rules), and the
//!   driver looks at the new job now.
//!
//! The datastore stays the only coordination between processes: a driver
//! in another process still finds the jobs on its next poll, and a wake-up
//! that no driver waits for is harmless (one extra poll). One permit is
//! kept when no one is waiting ([`Notify::notify_one`]), so work that
//! comes while a loop is busy is not missed.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use tokio::sync::Notify;

static AGGREGATION_JOBS: OnceLock<Notify> = OnceLock::new();
static COLLECTION_JOBS: OnceLock<Notify> = OnceLock::new();
static JOB_CREATOR: OnceLock<Notify> = OnceLock::new();
static FULL_JOB_STORED: OnceLock<Notify> = OnceLock::new();
/// The collection job driver put a job back because its batch was not
/// ready, and has not looked again since.
static COLLECTIONS_WAITING: AtomicBool = AtomicBool::new(false);
/// Aggregation settled while collection jobs waited: news for the
/// collection job driver.
static AGGREGATION_PROGRESSED: AtomicBool = AtomicBool::new(false);
/// Aggregation jobs this process finished.
static AGGREGATION_JOBS_FINISHED: AtomicU64 = AtomicU64::new(0);
/// Aggregation jobs this process is driving now.
static AGGREGATION_JOBS_RUNNING: AtomicU64 = AtomicU64::new(0);
/// A job finished since the driver last had none running.
static FINISHED_SINCE_SETTLED: AtomicBool = AtomicBool::new(false);

/// What the aggregation job driver of this process waits on besides its
/// interval.
pub(crate) fn aggregation_jobs() -> &'static Notify {
    AGGREGATION_JOBS.get_or_init(Notify::new)
}

/// Called by the job creator once jobs it created are committed.
pub(crate) fn aggregation_jobs_created() {
    aggregation_jobs().notify_one();
}

/// Reports stored since the job creator's last run began.
static REPORTS_SINCE_CREATOR_RUN: AtomicU64 = AtomicU64::new(0);
/// The job creator's `max_job_size`; 0 while no creator runs here.
static CREATOR_JOB_SIZE: AtomicU64 = AtomicU64::new(0);

/// Called by the job creator when it starts, if its datastore's writers
/// run side by side: from then on, stored reports wake it once they make
/// a full job.
pub(crate) fn job_creator_started(max_job_size: u64) {
    CREATOR_JOB_SIZE.store(max_job_size, Ordering::SeqCst);
}

/// Called by the job creator as each run begins: what it reads now needs
/// no wake-up.
pub(crate) fn job_creator_run_begins() {
    REPORTS_SINCE_CREATOR_RUN.store(0, Ordering::SeqCst);
}

/// Called by the report writer once `stored` new reports are committed:
/// wakes the job creator when they complete a full job since its last run
/// began (and does nothing where no creator runs).
pub fn reports_stored(stored: u64) {
    let job_size = CREATOR_JOB_SIZE.load(Ordering::SeqCst);
    if job_size == 0 || stored == 0 {
        return;
    }
    let before = REPORTS_SINCE_CREATOR_RUN.fetch_add(stored, Ordering::SeqCst);
    if before < job_size && before.saturating_add(stored) >= job_size {
        full_job_stored().notify_one();
    }
}

/// What the job creator of this process waits on for stored reports: a
/// run that makes only full jobs.
pub(crate) fn full_job_stored() -> &'static Notify {
    FULL_JOB_STORED.get_or_init(Notify::new)
}

/// What the job creator of this process waits on besides its interval.
pub(crate) fn job_creator() -> &'static Notify {
    JOB_CREATOR.get_or_init(Notify::new)
}

/// Called by the collection job endpoint once a new job is committed.
pub fn collection_job_created() {
    job_creator().notify_one();
    collection_jobs().notify_one();
}

/// What the collection job driver of this process waits on besides its
/// interval.
pub(crate) fn collection_jobs() -> &'static Notify {
    COLLECTION_JOBS.get_or_init(Notify::new)
}

/// Called by the collection job driver when it puts a job back because its
/// batch is not ready.
pub(crate) fn collection_job_waiting() {
    COLLECTIONS_WAITING.store(true, Ordering::SeqCst);
}

/// One aggregation job being driven by this process, from its lease to
/// the end of its handling; when the last one ends after a job finished,
/// aggregation has settled (see [`aggregation_job_finished`]).
pub(crate) struct RunningAggregationJob(());

impl RunningAggregationJob {
    pub(crate) fn start() -> Self {
        AGGREGATION_JOBS_RUNNING.fetch_add(1, Ordering::SeqCst);
        Self(())
    }
}

impl Drop for RunningAggregationJob {
    fn drop(&mut self) {
        if AGGREGATION_JOBS_RUNNING.fetch_sub(1, Ordering::SeqCst) == 1
            && FINISHED_SINCE_SETTLED.swap(false, Ordering::SeqCst)
        {
            aggregation_settled();
        }
    }
}

/// Called by the aggregation job driver once a finished job is committed.
/// Waiting collections are worth a look only when no other job of this
/// process is still running (the batch is rarely ready before its last
/// job is done): then, or at once if no job is counted as running, the
/// collection job driver is woken if jobs wait for their batches (and
/// nothing happens otherwise).
pub(crate) fn aggregation_job_finished() {
    AGGREGATION_JOBS_FINISHED.fetch_add(1, Ordering::SeqCst);
    FINISHED_SINCE_SETTLED.store(true, Ordering::SeqCst);
    if AGGREGATION_JOBS_RUNNING.load(Ordering::SeqCst) == 0
        && FINISHED_SINCE_SETTLED.swap(false, Ordering::SeqCst)
    {
        aggregation_settled();
    }
}

fn aggregation_settled() {
    if COLLECTIONS_WAITING.load(Ordering::SeqCst) {
        AGGREGATION_PROGRESSED.store(true, Ordering::SeqCst);
        collection_jobs().notify_one();
    }
}

/// How many aggregation jobs this process finished so far: the collection
/// job driver reads it before a readiness check, and if it moved by the
/// time the job is put back as not ready, calls
/// [`aggregation_progressed_meanwhile`] (that job's check may have missed
/// it).
pub(crate) fn aggregation_jobs_finished() -> u64 {
    AGGREGATION_JOBS_FINISHED.load(Ordering::SeqCst)
}

/// Whether aggregation settled since the collection job driver last put a
/// job back as not ready: then the waiting jobs are worth another look
/// now. Clears the news (the jobs still not ready are put back again, and
/// wait for the next).
pub(crate) fn take_aggregation_progress() -> bool {
    if AGGREGATION_PROGRESSED.swap(false, Ordering::SeqCst) {
        COLLECTIONS_WAITING.store(false, Ordering::SeqCst);
        true
    } else {
        false
    }
}

/// News for a job just put back as not ready: an aggregation job finished
/// during its readiness check; the collection job driver looks again.
pub(crate) fn aggregation_progressed_meanwhile() {
    COLLECTIONS_WAITING.store(true, Ordering::SeqCst);
    AGGREGATION_PROGRESSED.store(true, Ordering::SeqCst);
    collection_jobs().notify_one();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_wake_up_before_the_driver_waits_is_kept_for_it() {
        aggregation_jobs_created();
        tokio::time::timeout(Duration::from_secs(1), aggregation_jobs().notified())
            .await
            .expect("the permit was kept");
    }

    #[tokio::test]
    async fn stored_reports_wake_the_creator_once_they_make_a_full_job() {
        reports_stored(1000);
        job_creator_started(100);
        job_creator_run_begins();
        reports_stored(60);
        let nothing_yet =
            tokio::time::timeout(Duration::from_millis(50), full_job_stored().notified()).await;
        assert!(nothing_yet.is_err(), "60 reports do not make a job of 100");
        reports_stored(40);
        tokio::time::timeout(Duration::from_secs(1), full_job_stored().notified())
            .await
            .expect("100 reports woke the creator");
        reports_stored(500);
        let once =
            tokio::time::timeout(Duration::from_millis(50), full_job_stored().notified()).await;
        assert!(once.is_err(), "woken once until its next run begins");
        job_creator_run_begins();
        reports_stored(100);
        tokio::time::timeout(Duration::from_secs(1), full_job_stored().notified())
            .await
            .expect("a new run counts again");
    }

    /// (nextest runs each test in a process of its own: the flags start
    /// clear.)
    #[tokio::test]
    async fn settled_aggregation_wakes_the_collection_driver_only_while_collections_wait() {
        aggregation_job_finished();
        assert!(!take_aggregation_progress(), "no collection waited");

        collection_job_waiting();
        let first = RunningAggregationJob::start();
        let second = RunningAggregationJob::start();
        aggregation_job_finished();
        drop(first);
        assert!(
            !take_aggregation_progress(),
            "another job still runs: not settled yet"
        );
        drop(second);
        tokio::time::timeout(Duration::from_secs(1), collection_jobs().notified())
            .await
            .expect("the collection driver was woken once the last job ended");
        assert!(take_aggregation_progress());
        assert!(!take_aggregation_progress(), "the news is taken once");

        let third = RunningAggregationJob::start();
        aggregation_job_finished();
        drop(third);
        assert!(
            !take_aggregation_progress(),
            "no collection waits until one is put back again"
        );
    }
}
