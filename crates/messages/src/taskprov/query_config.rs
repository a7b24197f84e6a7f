//! `QueryConfig` (taskprov-06 section 3): the batch parameters of a task and
//! its query type, carried in `TaskConfig.query_config`.

use crate::codec::{Decode, DecodeContext, DecodeError, Encode, EncodeError, Reader};
use crate::draft09::QueryType;
use crate::time::Duration;

/// The `query_type` of a `QueryConfig` with the body it selects.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum QueryTypeConfig {
    /// `time_interval(1)`: `Empty`.
    TimeInterval,
    /// `fixed_size(2)`: `uint32 max_batch_size`, where 0 means "no maximum".
    FixedSize { max_batch_size: u32 },
    /// A query type this build does not implement, including `reserved(0)`.
    /// `data` is the rest of the `query_config`, uninterpreted.
    Other { code: u8, data: Vec<u8> },
}

impl QueryTypeConfig {
    /// The wire value of the query type.
    pub fn code(&self) -> u8 {
        match self {
            QueryTypeConfig::TimeInterval => QueryType::TimeInterval.as_u8(),
            QueryTypeConfig::FixedSize { .. } => QueryType::FixedSize.as_u8(),
            QueryTypeConfig::Other { code, .. } => *code,
        }
    }

    /// The DAP-09 query type, if this build implements it.
    pub fn query_type(&self) -> Option<QueryType> {
        QueryType::from_u8(self.code()).filter(|_| !matches!(self, QueryTypeConfig::Other { .. }))
    }

    /// The maximum batch size of a fixed_size task, `None` when unlimited
    /// (encoded as 0) or not fixed_size.
    pub fn max_batch_size(&self) -> Option<u32> {
        match self {
            QueryTypeConfig::FixedSize { max_batch_size } if *max_batch_size > 0 => {
                Some(*max_batch_size)
            }
            _ => None,
        }
    }
}

/// `struct QueryConfig`: the content of `TaskConfig.query_config<1..2^16-1>`.
///
/// Decoding an unknown query type consumes the rest of the reader, as the
/// structure only ever appears inside its length-prefixed `query_config`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct QueryConfig {
    /// `Duration time_precision`.
    pub time_precision: Duration,
    /// `uint16 max_batch_query_count`.
    pub max_batch_query_count: u16,
    /// `uint32 min_batch_size`.
    pub min_batch_size: u32,
    /// `QueryType query_type` and its body.
    pub query: QueryTypeConfig,
}

impl Encode for QueryConfig {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.time_precision.encode(out)?;
        self.max_batch_query_count.encode(out)?;
        self.min_batch_size.encode(out)?;
        out.push(self.query.code());
        match &self.query {
            QueryTypeConfig::TimeInterval => Ok(()),
            QueryTypeConfig::FixedSize { max_batch_size } => max_batch_size.encode(out),
            QueryTypeConfig::Other { data, .. } => {
                out.extend_from_slice(data);
                Ok(())
            }
        }
    }
}

impl Decode for QueryConfig {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const S: &str = "QueryConfig";
        let time_precision = Duration::decode(r).at(S, "time_precision")?;
        let max_batch_query_count = r.u16().at(S, "max_batch_query_count")?;
        let min_batch_size = r.u32().at(S, "min_batch_size")?;
        let query = match r.u8().at(S, "query_type")? {
            1 => QueryTypeConfig::TimeInterval,
            2 => QueryTypeConfig::FixedSize {
                max_batch_size: r.u32().at(S, "max_batch_size")?,
            },
            code => QueryTypeConfig::Other {
                code,
                data: r.take_rest().to_vec(),
            },
        };
        Ok(Self {
            time_precision,
            max_batch_query_count,
            min_batch_size,
            query,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(query: QueryTypeConfig) -> QueryConfig {
        QueryConfig {
            time_precision: Duration::from_seconds(3600),
            max_batch_query_count: 1,
            min_batch_size: 100,
            query,
        }
    }

    #[test]
    fn layouts() {
        let c = config(QueryTypeConfig::FixedSize {
            max_batch_size: 0x0203,
        });
        let bytes = c.get_encoded().unwrap();
        assert_eq!(
            bytes,
            [0, 0, 0, 0, 0, 0, 0x0e, 0x10, 0, 1, 0, 0, 0, 100, 2, 0, 0, 2, 3]
        );
        assert_eq!(QueryConfig::get_decoded(&bytes).unwrap(), c);
        assert_eq!(c.query.max_batch_size(), Some(0x0203));
        assert_eq!(c.query.query_type(), Some(QueryType::FixedSize));
        let c = config(QueryTypeConfig::TimeInterval);
        assert_eq!(c.get_encoded().unwrap().len(), 15);
    }

    #[test]
    fn unknown_query_types_are_kept_with_their_body() {
        let mut bytes = config(QueryTypeConfig::TimeInterval).get_encoded().unwrap();
        bytes[14] = 9;
        bytes.extend_from_slice(&[4, 5]);
        let c = QueryConfig::get_decoded(&bytes).unwrap();
        assert_eq!(
            c.query,
            QueryTypeConfig::Other {
                code: 9,
                data: vec![4, 5]
            }
        );
        assert_eq!(c.query.query_type(), None);
        assert_eq!(c.get_encoded().unwrap(), bytes);
    }

    #[test]
    fn zero_max_batch_size_means_unlimited() {
        let q = QueryTypeConfig::FixedSize { max_batch_size: 0 };
        assert_eq!(q.max_batch_size(), None);
    }

    #[test]
    fn truncated_fixed_size_body_names_the_field() {
        let mut bytes = config(QueryTypeConfig::TimeInterval).get_encoded().unwrap();
        bytes[14] = 2;
        let err = QueryConfig::get_decoded(&bytes).unwrap_err();
        assert_eq!(err.location(), Some(("QueryConfig", "max_batch_size")));
    }
}
