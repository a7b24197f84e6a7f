//! Conversions between the protocol crate's values and the datastore's
//! models, which name the same things separately (each crate depends only
//! on `dyad-messages` and `dyad-core`).
//!
//! - batch identifiers: [`to_stored_batch`], [`to_protocol_batch`];
//! - report timestamp spans (the protocol's [`TimestampSpan`]) and the
//!   stored `client_timestamp_interval`: the interval `[earliest, latest + 1)`
//!   ([`span_to_interval`], [`interval_to_span`]).

use dyad_datastore::models::BatchIdentifier as StoredBatch;
use dyad_messages::draft09::{Duration, Interval};
use dyad_protocol::batch::{QueriedBatch, TimestampSpan};

/// The datastore's name of a batch.
pub fn to_stored_batch(batch: &QueriedBatch) -> StoredBatch {
    StoredBatch::from(batch.batch_selector())
}

/// The protocol's name of a stored batch.
pub fn to_protocol_batch(batch: &StoredBatch) -> QueriedBatch {
    QueriedBatch::from(batch.to_batch_selector())
}

/// The smallest interval holding every timestamp of `span`:
/// `[earliest, latest + 1)`, or the empty interval for an empty span.
pub fn span_to_interval(span: &TimestampSpan) -> Interval {
    let Some((earliest, latest)) = span.bounds() else {
        return Interval::EMPTY;
    };
    let width = latest
        .checked_difference(earliest)
        .map_or(0, |d| d.as_seconds());
    Interval::new(earliest, Duration::from_seconds(width.saturating_add(1)))
        .or_else(|_| Interval::new(earliest, Duration::from_seconds(width)))
        .unwrap_or(Interval::EMPTY)
}

/// The span of the timestamps an interval from [`span_to_interval`] holds.
pub fn interval_to_span(interval: &Interval) -> TimestampSpan {
    if interval.duration() == Duration::ZERO {
        return TimestampSpan::EMPTY;
    }
    let last = interval
        .end()
        .checked_sub(Duration::from_seconds(1))
        .unwrap_or(interval.start());
    TimestampSpan::of([interval.start(), last])
}

#[cfg(test)]
mod tests {
    use super::*;
    use dyad_messages::draft09::{BatchId, Time};

    #[test]
    fn batches_convert_both_ways() {
        let interval = Interval::new(
            Time::from_seconds_since_epoch(3600),
            Duration::from_seconds(3600),
        )
        .unwrap();
        for batch in [
            QueriedBatch::TimeInterval(interval),
            QueriedBatch::FixedSize(BatchId::from_bytes([4; 32])),
        ] {
            assert_eq!(to_protocol_batch(&to_stored_batch(&batch)), batch);
        }
    }

    #[test]
    fn spans_and_intervals_round_trip() {
        let t = Time::from_seconds_since_epoch;
        for span in [
            TimestampSpan::EMPTY,
            TimestampSpan::of([t(10)]),
            TimestampSpan::of([t(10), t(25), t(12)]),
        ] {
            assert_eq!(interval_to_span(&span_to_interval(&span)), span);
        }
        let interval = span_to_interval(&TimestampSpan::of([t(10), t(25)]));
        assert_eq!((interval.start(), interval.end()), (t(10), t(26)));
        // The largest time cannot be followed; the interval stays valid.
        let last = span_to_interval(&TimestampSpan::of([t(u64::MAX)]));
        assert_eq!(last.start(), t(u64::MAX));
    }
}
