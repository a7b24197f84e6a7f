//! [`BatchIdentifier`]: which batch a stored value belongs to.
//!
//! For a `time_interval` task (DAP-09 section 4.1.1) it is an interval of
//! report times: a `time_precision`-aligned bucket for batch aggregations, or
//! the Collector's batch interval for collections and aggregate shares (both
//! aligned to `time_precision` by the boundary check of section 4.6.5.1). For
//! a `fixed_size` task (section 4.1.2) it is the batch ID.
//!
//! It is stored as the encoding of the equivalent [`BatchSelector`], plus
//! the interval's start and end as integers for range queries.

use dyad_messages::draft09::{BatchId, BatchSelector, Interval, QueryType};
use dyad_messages::{Decode, Encode};

/// The batch a stored value belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BatchIdentifier {
    /// Reports whose time lies in the interval (`time_interval` tasks).
    TimeInterval(Interval),
    /// The reports the Leader put in the batch with this ID (`fixed_size` tasks).
    FixedSize(BatchId),
}

impl BatchIdentifier {
    /// The query type of the task the batch belongs to.
    pub fn query_type(&self) -> QueryType {
        match self {
            BatchIdentifier::TimeInterval(_) => QueryType::TimeInterval,
            BatchIdentifier::FixedSize(_) => QueryType::FixedSize,
        }
    }

    /// The interval, for a time-interval batch.
    pub fn interval(&self) -> Option<&Interval> {
        match self {
            BatchIdentifier::TimeInterval(interval) => Some(interval),
            BatchIdentifier::FixedSize(_) => None,
        }
    }

    /// The batch ID, for a fixed-size batch.
    pub fn batch_id(&self) -> Option<&BatchId> {
        match self {
            BatchIdentifier::TimeInterval(_) => None,
            BatchIdentifier::FixedSize(batch_id) => Some(batch_id),
        }
    }

    /// The batch selector naming this batch (DAP-09 section 4.6.2).
    pub fn to_batch_selector(&self) -> BatchSelector {
        match self {
            BatchIdentifier::TimeInterval(interval) => BatchSelector::TimeInterval(*interval),
            BatchIdentifier::FixedSize(batch_id) => BatchSelector::FixedSize(*batch_id),
        }
    }

    /// The stored form: the encoding of the equivalent [`BatchSelector`].
    pub fn to_bytes(&self) -> Vec<u8> {
        // A BatchSelector holds only fixed-size fields: encoding cannot fail.
        self.to_batch_selector()
            .get_encoded()
            .unwrap_or_else(|_| Vec::new())
    }

    /// Reads the stored form back.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, dyad_messages::DecodeError> {
        BatchSelector::get_decoded(bytes).map(Self::from)
    }
}

impl From<BatchSelector> for BatchIdentifier {
    fn from(selector: BatchSelector) -> Self {
        match selector {
            BatchSelector::TimeInterval(interval) => BatchIdentifier::TimeInterval(interval),
            BatchSelector::FixedSize(batch_id) => BatchIdentifier::FixedSize(batch_id),
        }
    }
}

impl From<BatchIdentifier> for BatchSelector {
    fn from(identifier: BatchIdentifier) -> Self {
        identifier.to_batch_selector()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dyad_messages::draft09::{Duration, Time};

    #[test]
    fn stored_form_round_trips() {
        let interval = Interval::new(
            Time::from_seconds_since_epoch(3600),
            Duration::from_seconds(600),
        )
        .unwrap();
        for id in [
            BatchIdentifier::TimeInterval(interval),
            BatchIdentifier::FixedSize(BatchId::from_bytes([7; 32])),
        ] {
            assert_eq!(BatchIdentifier::from_bytes(&id.to_bytes()).unwrap(), id);
        }
        assert!(BatchIdentifier::from_bytes(&[9]).is_err());
    }
}
