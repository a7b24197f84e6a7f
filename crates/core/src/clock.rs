//! Time sources: the real clock and a test clock that tests move by hand.
//!
//! Everything in dyad that needs "now" (report time validation, leases,
//! retry times, garbage collection) takes an injected [`Clock`], usually as
//! `Arc<dyn Clock>`, so that tests can run time forward without sleeping.
//! Times are DAP [`Time`]s: whole seconds since the UNIX epoch (DAP-09
//! section 4).
//!
//! # Where is
//!
//! - the current time in whole seconds -> [`RealClock`]'s `now`;
//! - a test's time -> [`MockClock::set`], [`MockClock::advance`].

use dyad_messages::draft09::{Duration, Time};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// The current time, in whole seconds since the UNIX epoch.
    fn now(&self) -> Time;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct RealClock;

impl Clock for RealClock {
    fn now(&self) -> Time {
        let seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            // A system clock set before 1970 is treated as the epoch.
            .map(|elapsed| elapsed.as_secs())
            .unwrap_or(0);
        Time::from_seconds_since_epoch(seconds)
    }
}

/// A clock that only moves when told to. Clones share the same time, so a
/// test can keep one handle and give another to the code under test.
#[derive(Clone, Debug)]
pub struct MockClock {
    seconds: Arc<AtomicU64>,
}

impl MockClock {
    /// A clock standing at `time`.
    pub fn new(time: Time) -> Self {
        Self {
            seconds: Arc::new(AtomicU64::new(time.as_seconds_since_epoch())),
        }
    }

    /// Sets the clock (and every clone of it) to `time`, forward or back.
    pub fn set(&self, time: Time) {
        self.seconds
            .store(time.as_seconds_since_epoch(), Ordering::SeqCst);
    }

    /// Moves the clock (and every clone of it) forward by `duration`,
    /// saturating at the largest representable time.
    pub fn advance(&self, duration: Duration) {
        let _ = self
            .seconds
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
                Some(now.saturating_add(duration.as_seconds()))
            });
    }
}

impl Default for MockClock {
    /// A clock standing at a fixed, recent-looking time (2024-01-01T00:00:00Z),
    /// so tests do not depend on when they run.
    fn default() -> Self {
        Self::new(Time::from_seconds_since_epoch(1_704_067_200))
    }
}

impl Clock for MockClock {
    fn now(&self) -> Time {
        Time::from_seconds_since_epoch(self.seconds.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_clock_is_after_2020_and_monotone_enough() {
        let a = RealClock.now();
        let b = RealClock.now();
        assert!(a.as_seconds_since_epoch() > 1_577_836_800);
        assert!(b >= a);
    }

    #[test]
    fn mock_clock_stands_still_until_moved() {
        let clock = MockClock::new(Time::from_seconds_since_epoch(1000));
        assert_eq!(clock.now(), Time::from_seconds_since_epoch(1000));
        assert_eq!(clock.now(), Time::from_seconds_since_epoch(1000));
        clock.advance(Duration::from_seconds(25));
        assert_eq!(clock.now(), Time::from_seconds_since_epoch(1025));
        clock.set(Time::from_seconds_since_epoch(10));
        assert_eq!(clock.now(), Time::from_seconds_since_epoch(10));
    }

    #[test]
    fn mock_clock_clones_share_time() {
        let clock = MockClock::default();
        let shared: Arc<dyn Clock> = Arc::new(clock.clone());
        let start = shared.now();
        clock.advance(Duration::from_seconds(3600));
        assert_eq!(
            shared.now(),
            start.checked_add(Duration::from_seconds(3600)).unwrap()
        );
    }

    #[test]
    fn mock_clock_advance_saturates() {
        let clock = MockClock::new(Time::from_seconds_since_epoch(u64::MAX - 1));
        clock.advance(Duration::from_seconds(10));
        assert_eq!(clock.now(), Time::from_seconds_since_epoch(u64::MAX));
    }
}
