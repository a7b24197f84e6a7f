//! `Time`, `Duration` and `Interval` (DAP-09 section 4): seconds since the
//! UNIX epoch, seconds elapsed, and a half-open interval `[start, start+duration)`.

use crate::codec::{Decode, DecodeContext, DecodeError, Encode, EncodeError, Reader};
use serde::{Deserialize, Serialize};
use std::fmt;

/// `uint64 Time`: seconds elapsed since the start of the UNIX epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Time(u64);

/// `uint64 Duration`: a number of seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Duration(u64);

impl Time {
    pub const fn from_seconds_since_epoch(seconds: u64) -> Self {
        Self(seconds)
    }

    pub const fn as_seconds_since_epoch(&self) -> u64 {
        self.0
    }

    /// This time rounded down to a multiple of `precision` (DAP-09 section 4.4.2:
    /// clients round report timestamps down to the task's time precision).
    pub fn to_batch_interval_start(&self, precision: Duration) -> Time {
        match precision.0 {
            0 => *self,
            p => Time(self.0 - self.0 % p),
        }
    }

    /// `self + duration`, or `None` on overflow.
    pub fn checked_add(&self, duration: Duration) -> Option<Time> {
        self.0.checked_add(duration.0).map(Time)
    }

    /// `self - duration`, or `None` on underflow.
    pub fn checked_sub(&self, duration: Duration) -> Option<Time> {
        self.0.checked_sub(duration.0).map(Time)
    }

    /// The duration from `earlier` to `self`, or `None` if `earlier` is later.
    pub fn checked_difference(&self, earlier: Time) -> Option<Duration> {
        self.0.checked_sub(earlier.0).map(Duration)
    }
}

impl Duration {
    pub const ZERO: Duration = Duration(0);

    pub const fn from_seconds(seconds: u64) -> Self {
        Self(seconds)
    }

    pub const fn as_seconds(&self) -> u64 {
        self.0
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}s", self.0)
    }
}

/// `struct { Time start; Duration duration; } Interval`: the half-open
/// interval `[start, start + duration)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Interval {
    start: Time,
    duration: Duration,
}

/// An interval whose end does not fit in a `Time`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("interval end overflows: start {start}, duration {duration}")]
pub struct IntervalOverflow {
    pub start: Time,
    pub duration: Duration,
}

impl Interval {
    /// The interval `[start, start + duration)`; fails if the end overflows.
    pub fn new(start: Time, duration: Duration) -> Result<Self, IntervalOverflow> {
        start
            .checked_add(duration)
            .map(|_| Self { start, duration })
            .ok_or(IntervalOverflow { start, duration })
    }

    /// The empty interval at the epoch.
    pub const EMPTY: Interval = Interval {
        start: Time(0),
        duration: Duration(0),
    };

    pub const fn start(&self) -> Time {
        self.start
    }

    pub const fn duration(&self) -> Duration {
        self.duration
    }

    /// The first instant after the interval.
    pub fn end(&self) -> Time {
        // Checked at construction and decoding.
        Time(self.start.0 + self.duration.0)
    }

    /// Whether `time` lies in `[start, end)`.
    pub fn contains(&self, time: Time) -> bool {
        self.start <= time && time < self.end()
    }

    /// The smallest interval containing both `self` and `time`, treating the
    /// instant as `[time, time + 1)`. An empty `self` yields `[time, time+1)`.
    pub fn merged_with(&self, time: Time) -> Result<Interval, IntervalOverflow> {
        if self.duration.0 == 0 {
            return Interval::new(time, Duration(1));
        }
        let start = self.start.min(time);
        let end = self.end().max(Time(time.0.saturating_add(1)));
        Interval::new(start, Duration(end.0 - start.0))
    }

    /// Whether the two intervals share any instant.
    pub fn overlaps(&self, other: &Interval) -> bool {
        self.start < other.end() && other.start < self.end()
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}, {})", self.start, self.end())
    }
}

impl Encode for Time {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.0.encode(out)
    }
}

impl Decode for Time {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.u64().map(Time)
    }
}

impl Encode for Duration {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.0.encode(out)
    }
}

impl Decode for Duration {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.u64().map(Duration)
    }
}

impl Encode for Interval {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.start.encode(out)?;
        self.duration.encode(out)
    }
}

impl Decode for Interval {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let start = Time::decode(r).at("Interval", "start")?;
        let duration = Duration::decode(r).at("Interval", "duration")?;
        Interval::new(start, duration)
            .map_err(|e| DecodeError::invalid(e.to_string()).in_field("Interval", "duration"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_whose_end_overflows_is_rejected_on_decode() {
        let mut bytes = u64::MAX.to_be_bytes().to_vec();
        bytes.extend_from_slice(&1u64.to_be_bytes());
        let err = Interval::get_decoded(&bytes).unwrap_err();
        assert_eq!(err.location(), Some(("Interval", "duration")));
    }

    #[test]
    fn time_rounds_down_to_precision() {
        let t = Time::from_seconds_since_epoch(1_000_007);
        assert_eq!(
            t.to_batch_interval_start(Duration::from_seconds(10)),
            Time::from_seconds_since_epoch(1_000_000)
        );
    }

    #[test]
    fn interval_is_half_open() {
        let i = Interval::new(
            Time::from_seconds_since_epoch(10),
            Duration::from_seconds(5),
        )
        .unwrap();
        assert!(i.contains(Time::from_seconds_since_epoch(10)));
        assert!(i.contains(Time::from_seconds_since_epoch(14)));
        assert!(!i.contains(Time::from_seconds_since_epoch(15)));
    }
}
