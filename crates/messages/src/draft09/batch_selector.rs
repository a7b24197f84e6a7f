//! Batch selectors (DAP-09 sections 4.5.1.1 and 4.6.2): the
//! `PartialBatchSelector` of aggregation jobs and collections, and the
//! `BatchSelector` of aggregate share requests and their AAD.

use super::QueryType;
use crate::codec::{Decode, DecodeContext, DecodeError, Encode, EncodeError, Reader};
use crate::ids::BatchId;
use crate::time::Interval;

/// `struct PartialBatchSelector` (DAP-09 section 4.5.1.1): as much of the
/// batch as is known when reports are aggregated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PartialBatchSelector {
    /// `time_interval`: `Empty`; the batch is fixed only by the Collector's query.
    TimeInterval,
    /// `fixed_size`: `BatchID batch_id`.
    FixedSize(BatchId),
}

impl PartialBatchSelector {
    /// The query type this selector is for.
    pub fn query_type(&self) -> QueryType {
        match self {
            PartialBatchSelector::TimeInterval => QueryType::TimeInterval,
            PartialBatchSelector::FixedSize(_) => QueryType::FixedSize,
        }
    }

    /// The batch ID, for the fixed_size query type.
    pub fn batch_id(&self) -> Option<&BatchId> {
        match self {
            PartialBatchSelector::TimeInterval => None,
            PartialBatchSelector::FixedSize(batch_id) => Some(batch_id),
        }
    }
}

impl Encode for PartialBatchSelector {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.query_type().encode(out)?;
        match self {
            PartialBatchSelector::TimeInterval => Ok(()),
            PartialBatchSelector::FixedSize(batch_id) => batch_id.encode(out),
        }
    }
}

impl Decode for PartialBatchSelector {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const S: &str = "PartialBatchSelector";
        Ok(match QueryType::decode(r).at(S, "query_type")? {
            QueryType::TimeInterval => PartialBatchSelector::TimeInterval,
            QueryType::FixedSize => {
                PartialBatchSelector::FixedSize(BatchId::decode(r).at(S, "batch_id")?)
            }
        })
    }
}

/// `struct BatchSelector` (DAP-09 section 4.6.2): the batch whose aggregate
/// share is asked for, identified as the task's query type does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BatchSelector {
    /// `time_interval`: `Interval batch_interval`.
    TimeInterval(Interval),
    /// `fixed_size`: `BatchID batch_id`.
    FixedSize(BatchId),
}

impl BatchSelector {
    /// The query type this selector is for.
    pub fn query_type(&self) -> QueryType {
        match self {
            BatchSelector::TimeInterval(_) => QueryType::TimeInterval,
            BatchSelector::FixedSize(_) => QueryType::FixedSize,
        }
    }
}

impl Encode for BatchSelector {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.query_type().encode(out)?;
        match self {
            BatchSelector::TimeInterval(batch_interval) => batch_interval.encode(out),
            BatchSelector::FixedSize(batch_id) => batch_id.encode(out),
        }
    }
}

impl Decode for BatchSelector {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const S: &str = "BatchSelector";
        Ok(match QueryType::decode(r).at(S, "query_type")? {
            QueryType::TimeInterval => {
                BatchSelector::TimeInterval(Interval::decode(r).at(S, "batch_interval")?)
            }
            QueryType::FixedSize => BatchSelector::FixedSize(BatchId::decode(r).at(S, "batch_id")?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_batch_selector_layouts() {
        assert_eq!(
            PartialBatchSelector::TimeInterval.get_encoded().unwrap(),
            [1]
        );
        let sel = PartialBatchSelector::FixedSize(BatchId::from_bytes([9; 32]));
        let bytes = sel.get_encoded().unwrap();
        assert_eq!(bytes[0], 2);
        assert_eq!(PartialBatchSelector::get_decoded(&bytes).unwrap(), sel);
        // A time_interval selector carries nothing after the type.
        assert!(PartialBatchSelector::get_decoded(&[1, 0]).is_err());
    }

    #[test]
    fn batch_selector_rejects_unknown_query_type() {
        let err = BatchSelector::get_decoded(&[7]).unwrap_err();
        assert_eq!(err.location(), Some(("BatchSelector", "query_type")));
        let err = BatchSelector::get_decoded(&[2, 0, 0]).unwrap_err();
        assert_eq!(err.location(), Some(("BatchSelector", "batch_id")));
    }
}
