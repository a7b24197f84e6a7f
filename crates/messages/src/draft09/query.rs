//! Queries (DAP-09 section 4.1): the `QueryType` that selects the layout of
//! every query-dependent structure, the Collector's `Query`, and the
//! `FixedSizeQuery` of the fixed_size query type.

use crate::codec::{Decode, DecodeContext, DecodeError, Encode, EncodeError, Reader};
use crate::ids::BatchId;
use crate::time::Interval;
use serde::{Deserialize, Serialize};
use std::fmt;

/// `enum { reserved(0), time_interval(1), fixed_size(2), (255) } QueryType`.
///
/// The query type selects the layout of what follows it on the wire, so a
/// value this build does not know cannot be skipped: decoding rejects it, as
/// it rejects `reserved(0)`, which the draft keeps for testing and gives no
/// layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryType {
    /// `time_interval(1)` (DAP-09 section 4.1.1).
    TimeInterval = 1,
    /// `fixed_size(2)` (DAP-09 section 4.1.2).
    FixedSize = 2,
}

impl QueryType {
    /// The wire value.
    pub fn as_u8(&self) -> u8 {
        *self as u8
    }

    /// The query type for a wire value, if the spec gives it a layout.
    pub fn from_u8(value: u8) -> Option<QueryType> {
        match value {
            1 => Some(QueryType::TimeInterval),
            2 => Some(QueryType::FixedSize),
            _ => None,
        }
    }

    /// The spec's name: `time_interval` or `fixed_size`.
    pub fn as_str(&self) -> &'static str {
        match self {
            QueryType::TimeInterval => "time_interval",
            QueryType::FixedSize => "fixed_size",
        }
    }
}

impl fmt::Display for QueryType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Encode for QueryType {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        out.push(self.as_u8());
        Ok(())
    }
}

impl Decode for QueryType {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let value = r.u8()?;
        QueryType::from_u8(value).ok_or_else(|| DecodeError::unknown_value(value))
    }
}

/// `struct FixedSizeQuery` (DAP-09 section 4.1): which fixed-size batch the
/// Collector asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FixedSizeQuery {
    /// `by_batch_id(0)`: the batch with this ID.
    ByBatchId(BatchId),
    /// `current_batch(1)`: a recent batch of the Leader's choosing that no
    /// collection job has claimed yet.
    CurrentBatch,
}

impl Encode for FixedSizeQuery {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        match self {
            FixedSizeQuery::ByBatchId(batch_id) => {
                out.push(0);
                batch_id.encode(out)
            }
            FixedSizeQuery::CurrentBatch => {
                out.push(1);
                Ok(())
            }
        }
    }
}

impl Decode for FixedSizeQuery {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const S: &str = "FixedSizeQuery";
        // FixedSizeQueryType selects the layout: unknown values are rejected.
        match r.u8().at(S, "query_type")? {
            0 => Ok(FixedSizeQuery::ByBatchId(
                BatchId::decode(r).at(S, "batch_id")?,
            )),
            1 => Ok(FixedSizeQuery::CurrentBatch),
            other => Err(DecodeError::unknown_value(other).in_field(S, "query_type")),
        }
    }
}

/// `struct Query` (DAP-09 section 4.1): the Collector's choice of batch, whose
/// body depends on the task's query type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Query {
    /// `time_interval`: `Interval batch_interval`.
    TimeInterval(Interval),
    /// `fixed_size`: `FixedSizeQuery fixed_size_query`.
    FixedSize(FixedSizeQuery),
}

impl Query {
    /// The query type this query is for.
    pub fn query_type(&self) -> QueryType {
        match self {
            Query::TimeInterval(_) => QueryType::TimeInterval,
            Query::FixedSize(_) => QueryType::FixedSize,
        }
    }
}

impl Encode for Query {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.query_type().encode(out)?;
        match self {
            Query::TimeInterval(batch_interval) => batch_interval.encode(out),
            Query::FixedSize(fixed_size_query) => fixed_size_query.encode(out),
        }
    }
}

impl Decode for Query {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const S: &str = "Query";
        Ok(match QueryType::decode(r).at(S, "query_type")? {
            QueryType::TimeInterval => {
                Query::TimeInterval(Interval::decode(r).at(S, "batch_interval")?)
            }
            QueryType::FixedSize => {
                Query::FixedSize(FixedSizeQuery::decode(r).at(S, "fixed_size_query")?)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::DecodeErrorKind;
    use crate::time::{Duration, Time};

    #[test]
    fn query_layouts() {
        let interval =
            Interval::new(Time::from_seconds_since_epoch(1), Duration::from_seconds(2)).unwrap();
        let q = Query::TimeInterval(interval);
        let bytes = q.get_encoded().unwrap();
        assert_eq!(bytes, [1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2]);
        assert_eq!(Query::get_decoded(&bytes).unwrap(), q);

        let q = Query::FixedSize(FixedSizeQuery::CurrentBatch);
        assert_eq!(q.get_encoded().unwrap(), [2, 1]);
        let q = Query::FixedSize(FixedSizeQuery::ByBatchId(BatchId::from_bytes([5; 32])));
        let bytes = q.get_encoded().unwrap();
        assert_eq!(bytes.len(), 2 + 32);
        assert_eq!(Query::get_decoded(&bytes).unwrap(), q);
    }

    #[test]
    fn unknown_and_reserved_query_types_are_rejected() {
        for code in [0u8, 3, 255] {
            let err = Query::get_decoded(&[code, 1]).unwrap_err();
            assert_eq!(err.location(), Some(("Query", "query_type")));
            assert_eq!(
                err.kind(),
                &DecodeErrorKind::UnknownValue { value: code.into() }
            );
        }
    }

    #[test]
    fn unknown_fixed_size_query_type_is_rejected() {
        let err = Query::get_decoded(&[2, 2]).unwrap_err();
        assert_eq!(err.location(), Some(("FixedSizeQuery", "query_type")));
        let path: Vec<_> = err.path().collect();
        assert_eq!(path[0], ("Query", "fixed_size_query"));
    }
}
