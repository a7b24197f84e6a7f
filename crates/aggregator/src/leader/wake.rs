//! In-process wake-ups between the Leader's roles: the job creator tells
//! the aggregation job driver of the process (if it runs one) that it
//! created jobs, so the driver takes them at once instead of at its next
//! `interval`; the aggregation job driver tells the collection job driver
//! that a job finished while collection jobs waited for their batches, so
//! it looks at them again at once instead of after `not_ready_retry_secs`
//! (a collection is ready as soon as its last aggregation job is done).
//! The datastore stays the only coordination between
//! processes: a driver in another process still finds the jobs on its next
//! poll, and a wake-up that no driver waits for is harmless (one extra
//! poll).
//!
//! One permit is kept when no driver is waiting ([`Notify::notify_one`]),
//! so jobs created while the driver is busy acquiring are not missed.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use tokio::sync::Notify;

static AGGREGATION_JOBS: OnceLock<Notify> = OnceLock::new();
static COLLECTION_JOBS: OnceLock<Notify> = OnceLock::new();
/// The collection job driver put a job back because its batch was not
/// ready, and has not looked again since.
static COLLECTIONS_WAITING: AtomicBool = AtomicBool::new(false);
/// An aggregation job finished while collection jobs waited.
static AGGREGATION_PROGRESSED: AtomicBool = AtomicBool::new(false);
/// Aggregation jobs this process finished.
static AGGREGATION_JOBS_FINISHED: AtomicU64 = AtomicU64::new(0);

/// What the aggregation job driver of this process waits on besides its
/// interval.
pub(crate) fn aggregation_jobs() -> &'static Notify {
    AGGREGATION_JOBS.get_or_init(Notify::new)
}

/// Called by the job creator once jobs it created are committed.
pub(crate) fn aggregation_jobs_created() {
    aggregation_jobs().notify_one();
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

/// Called by the aggregation job driver once a finished job is committed:
/// wakes the collection job driver if jobs wait for their batches (and
/// costs nothing otherwise).
pub(crate) fn aggregation_job_finished() {
    AGGREGATION_JOBS_FINISHED.fetch_add(1, Ordering::SeqCst);
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

/// Whether an aggregation job finished since the collection job driver
/// last put a job back as not ready: then the waiting jobs are worth
/// another look now. Clears the news (the jobs still not ready are put
/// back again, and wait for the next).
pub(crate) fn take_aggregation_progress() -> bool {
    if AGGREGATION_PROGRESSED.swap(false, Ordering::SeqCst) {
        COLLECTIONS_WAITING.store(false, Ordering::SeqCst);
        true
    } else {
        false
    }
}

/// Keeps news taken by [`take_aggregation_progress`] for a later look.
pub(crate) fn keep_aggregation_progress() {
    COLLECTIONS_WAITING.store(true, Ordering::SeqCst);
    AGGREGATION_PROGRESSED.store(true, Ordering::SeqCst);
}

/// News for a job just put back as not ready: an aggregation job finished
/// during its readiness check; the collection job driver looks again.
pub(crate) fn aggregation_progressed_meanwhile() {
    keep_aggregation_progress();
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
    async fn a_finished_job_wakes_the_collection_driver_only_while_collections_wait() {
        // Other tests of this binary share the flags: start from none.
        let _ = take_aggregation_progress();
        COLLECTIONS_WAITING.store(false, Ordering::SeqCst);
        aggregation_job_finished();
        assert!(!take_aggregation_progress(), "no collection waited");

        collection_job_waiting();
        aggregation_job_finished();
        tokio::time::timeout(Duration::from_secs(1), collection_jobs().notified())
            .await
            .expect("the collection driver was woken");
        assert!(take_aggregation_progress());
        assert!(!take_aggregation_progress(), "the news is taken once");
        aggregation_job_finished();
        assert!(
            !take_aggregation_progress(),
            "no collection waits until one is put back again"
        );
    }
}
