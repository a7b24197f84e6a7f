//! Times and intervals that arrive in requests, checked against what the
//! datastore can hold before any transaction sees them. DAP times are
//! `uint64` (DAP-09 section 4); stored times are signed 64-bit, so
//! anything at or after 2^63 seconds has no stored form
//! ([`dyad_datastore::LATEST_STORABLE_TIME`]). Such a time is ~292 billion
//! years away, so refusing it changes no honest exchange:
//!
//! - a batch interval (a collection job's `Query`, an `AggregateShareReq`'s
//!   `BatchSelector`) that ends after it is `batchInvalid` (section 4.6.5:
//!   no such batch can hold a report);
//! - a report time after it (or whose time-precision bucket ends after it)
//!   is too far in the future: `reportTooEarly` on upload (section 4.4.2),
//!   the per-report `report_too_early` in an aggregation job (section
//!   4.5.1.4), never a failure of the whole request. Both paths run the
//!   protocol's checks with the task's clock skew cut at that time
//!   ([`with_storable_clock_skew`]), so the rejection comes in the spec's
//!   order and such a report never takes a place in a fixed-size batch,
//!   then check again ([`is_storable_report_time`]) before storing.
//!
//! (Intervals whose end overflows a `u64` never get this far: they do not
//! decode, `invalidMessage`.)

use super::problem::{ApiError, ApiResult};
use dyad_core::task::Task;
use dyad_datastore::{is_storable_interval, LATEST_STORABLE_TIME};
use dyad_messages::draft09::{Duration, Interval, Time};
use dyad_messages::problem::DapProblemType;
use dyad_protocol::batch::bucket_of;
use std::sync::Arc;

/// `batchInvalid` for a batch interval that ends after the latest storable
/// time.
pub fn check_batch_interval(interval: &Interval) -> ApiResult<()> {
    if is_storable_interval(interval) {
        Ok(())
    } else {
        Err(ApiError::dap(
            DapProblemType::BatchInvalid,
            format!(
                "batch interval {interval} ends after {LATEST_STORABLE_TIME}, the latest time an aggregator can hold"
            ),
        ))
    }
}

/// Whether a report at `time` can be stored for `task`: the time, and its
/// time-precision bucket (the batch it counts in for a time-interval task,
/// and what collected-batch checks look up), end no later than the latest
/// storable time.
pub fn is_storable_report_time(task: &Task, time: Time) -> bool {
    time <= LATEST_STORABLE_TIME
        && bucket_of(time, task.time_precision()).is_some_and(|b| is_storable_interval(&b))
}

/// The latest report time [`is_storable_report_time`] accepts for `task`:
/// the last second of the last time-precision bucket that ends no later
/// than the latest storable time.
pub fn latest_storable_report_time(task: &Task) -> Time {
    let latest = LATEST_STORABLE_TIME.as_seconds_since_epoch();
    let p = task.time_precision().as_seconds().max(1);
    // Buckets `[k*p, (k+1)*p)` with `(k+1)*p <= latest`.
    Time::from_seconds_since_epoch((latest / p) * p - 1)
}

/// `task` with its `tolerable_clock_skew` cut so that `now + skew` is a
/// storable report time: the protocol then rejects every later report as
/// `report_too_early` in the spec's order of checks (DAP-09 section
/// 4.5.1.4), before it could take a place in a fixed-size batch.
/// The same task (not a copy) when its skew needs no cut, as it is for
/// every task but in the last skew before 2^63.
pub fn with_storable_clock_skew(task: &Arc<Task>, now: Time) -> Arc<Task> {
    let room = latest_storable_report_time(task)
        .checked_difference(now)
        .unwrap_or(Duration::ZERO);
    if task.tolerable_clock_skew() <= room {
        return Arc::clone(task);
    }
    match task.to_builder().tolerable_clock_skew(room).build() {
        Ok(task) => Arc::new(task),
        // A stored task with a smaller skew is as valid; keep the task as
        // it is if the builder disagrees (the caller still refuses
        // unstorable times itself).
        Err(_) => Arc::clone(task),
    }
}

/// The time to store for a report the aggregator refused: its own time, or,
/// for one beyond what can be stored, the last second whose one-second
/// interval `[t, t + 1)` (a job's client timestamp interval) can still be
/// stored. A refused report's row keeps its answer for replays; its time
/// serves nothing else.
pub fn stored_time_of_refused(time: Time) -> Time {
    let last = Time::from_seconds_since_epoch(LATEST_STORABLE_TIME.as_seconds_since_epoch() - 1);
    time.min(last)
}

#[cfg(test)]
#[path = "storable_time_tests.rs"]
mod endpoint_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::fixtures::TaskPair;
    use dyad_core::vdaf::VdafInstance;

    const LATEST: u64 = i64::MAX as u64;

    #[test]
    fn batch_intervals_ending_after_2_pow_63_minus_1_are_batch_invalid() {
        let t = Time::from_seconds_since_epoch;
        let ok = Interval::new(t(LATEST - 10), Duration::from_seconds(10)).unwrap();
        assert!(check_batch_interval(&ok).is_ok());
        for (start, duration) in [(LATEST, 1), (1 << 63, 0), (0, 1 << 63), (u64::MAX, 0)] {
            let interval = Interval::new(t(start), Duration::from_seconds(duration)).unwrap();
            let error = check_batch_interval(&interval).unwrap_err();
            assert_eq!(error.problem_type(), Some(DapProblemType::BatchInvalid));
        }
    }

    #[test]
    fn report_times_whose_bucket_ends_after_2_pow_63_minus_1_are_not_storable() {
        let pair = TaskPair::time_interval(VdafInstance::Prio3Count);
        let t = Time::from_seconds_since_epoch;
        assert!(is_storable_report_time(&pair.helper, t(0)));
        assert!(is_storable_report_time(&pair.helper, t(1_700_000_000)));
        // The hour holding 2^63 - 1 ends after it.
        for time in [LATEST, 1 << 63, u64::MAX] {
            assert!(!is_storable_report_time(&pair.helper, t(time)), "{time}");
        }
        let latest = latest_storable_report_time(&pair.helper);
        assert!(is_storable_report_time(&pair.helper, latest));
        assert!(!is_storable_report_time(
            &pair.helper,
            t(latest.as_seconds_since_epoch() + 1)
        ));
        assert_eq!(stored_time_of_refused(t(u64::MAX)), t(LATEST - 1));
        assert_eq!(stored_time_of_refused(t(LATEST)), t(LATEST - 1));
        assert_eq!(stored_time_of_refused(t(5)), t(5));
    }
}
