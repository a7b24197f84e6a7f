//! [`TimeSource`]: where a client's report timestamps come from, and
//! [`system_time`], the default one. Kept apart so that both the
//! [`Client`](crate::Client) and its builder use it without importing each
//! other.
//!
//! # Where is
//!
//! - report time, before rounding down to the task's time precision
//!   (DAP-09 section 4.4.2) -> [`system_time`] by default, any
//!   [`TimeSource`] by [`ClientBuilder::clock`](crate::ClientBuilder::clock).

use dyad_messages::draft09::Time;
use std::sync::Arc;
use std::time::SystemTime;

/// Where report timestamps come from: a function returning the current time.
pub type TimeSource = Arc<dyn Fn() -> Time + Send + Sync>;

/// The current time from the system clock (the epoch if the clock is set
/// before it).
pub fn system_time() -> Time {
    let seconds = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Time::from_seconds_since_epoch(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_time_is_after_2020() {
        assert!(system_time().as_seconds_since_epoch() > 1_577_836_800);
    }
}
