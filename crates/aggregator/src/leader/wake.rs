//! In-process wake-ups between the Leader's roles: the job creator tells
//! the aggregation job driver of the process (if it runs one) that it
//! created jobs, so the driver takes them at once instead of at its next
//! `interval`. The datastore stays the only coordination between
//! processes: a driver in another process still finds the jobs on its next
//! poll, and a wake-up that no driver waits for is harmless (one extra
//! poll).
//!
//! One permit is kept when no driver is waiting ([`Notify::notify_one`]),
//! so jobs created while the driver is busy acquiring are not missed.

use std::sync::OnceLock;
use tokio::sync::Notify;

static AGGREGATION_JOBS: OnceLock<Notify> = OnceLock::new();

/// What the aggregation job driver of this process waits on besides its
/// interval.
pub(crate) fn aggregation_jobs() -> &'static Notify {
    AGGREGATION_JOBS.get_or_init(Notify::new)
}

/// Called by the job creator once jobs it created are committed.
pub(crate) fn aggregation_jobs_created() {
    aggregation_jobs().notify_one();
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
}
