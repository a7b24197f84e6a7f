//! Collection (DAP-09 section 4.6.1): the Collector's `CollectionReq` and the
//! Leader's `Collection` result.

use super::{HpkeCiphertext, PartialBatchSelector, Query};
use crate::codec::{
    put_opaque, Decode, DecodeContext, DecodeError, Encode, EncodeError, LengthWidth, Reader,
};
use crate::redact::Len;
use crate::time::Interval;
use std::fmt;

/// `struct CollectionReq`, media type `application/dap-collect-req`.
#[derive(Clone, PartialEq, Eq)]
pub struct CollectionReq {
    pub query: Query,
    /// `opaque agg_param<0..2^32-1>`.
    pub aggregation_parameter: Vec<u8>,
}

impl CollectionReq {
    pub fn new(query: Query, aggregation_parameter: Vec<u8>) -> Self {
        Self {
            query,
            aggregation_parameter,
        }
    }
}

impl fmt::Debug for CollectionReq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CollectionReq")
            .field("query", &self.query)
            .field("aggregation_parameter", &Len(&self.aggregation_parameter))
            .finish()
    }
}

impl Encode for CollectionReq {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.query.encode(out)?;
        put_opaque(
            out,
            LengthWidth::U32,
            0,
            &self.aggregation_parameter,
            ("CollectionReq", "agg_param"),
        )
    }
}

impl Decode for CollectionReq {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const S: &str = "CollectionReq";
        Ok(Self {
            query: Query::decode(r).at(S, "query")?,
            aggregation_parameter: r.opaque(LengthWidth::U32, 0).at(S, "agg_param")?,
        })
    }
}

/// `struct Collection`, media type `application/dap-collection`: the result
/// of a finished collection job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Collection {
    /// `PartialBatchSelector part_batch_selector`: for fixed_size tasks, the
    /// batch ID the Leader chose.
    pub partial_batch_selector: PartialBatchSelector,
    /// `uint64 report_count`: the number of reports in the batch.
    pub report_count: u64,
    /// `Interval interval`: the smallest interval, aligned to the task's time
    /// precision, holding every report's timestamp.
    pub interval: Interval,
    /// `HpkeCiphertext leader_encrypted_agg_share`.
    pub leader_encrypted_agg_share: HpkeCiphertext,
    /// `HpkeCiphertext helper_encrypted_agg_share`.
    pub helper_encrypted_agg_share: HpkeCiphertext,
}

impl Encode for Collection {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.partial_batch_selector.encode(out)?;
        self.report_count.encode(out)?;
        self.interval.encode(out)?;
        self.leader_encrypted_agg_share.encode(out)?;
        self.helper_encrypted_agg_share.encode(out)
    }
}

impl Decode for Collection {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const S: &str = "Collection";
        Ok(Self {
            partial_batch_selector: PartialBatchSelector::decode(r).at(S, "part_batch_selector")?,
            report_count: r.u64().at(S, "report_count")?,
            interval: Interval::decode(r).at(S, "interval")?,
            leader_encrypted_agg_share: HpkeCiphertext::decode(r)
                .at(S, "leader_encrypted_agg_share")?,
            helper_encrypted_agg_share: HpkeCiphertext::decode(r)
                .at(S, "helper_encrypted_agg_share")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::draft09::{FixedSizeQuery, HpkeConfigId};

    #[test]
    fn collection_req_layout() {
        let req = CollectionReq::new(Query::FixedSize(FixedSizeQuery::CurrentBatch), vec![4]);
        let bytes = req.get_encoded().unwrap();
        assert_eq!(bytes, [2, 1, 0, 0, 0, 1, 4]);
        assert_eq!(CollectionReq::get_decoded(&bytes).unwrap(), req);
        assert!(format!("{req:?}").contains("<1 bytes>"));
    }

    #[test]
    fn collection_round_trips_and_names_failing_field() {
        let ct = HpkeCiphertext {
            config_id: HpkeConfigId(1),
            encapsulated_key: vec![1],
            payload: vec![2],
        };
        let c = Collection {
            partial_batch_selector: PartialBatchSelector::TimeInterval,
            report_count: 10,
            interval: Interval::EMPTY,
            leader_encrypted_agg_share: ct.clone(),
            helper_encrypted_agg_share: ct,
        };
        let bytes = c.get_encoded().unwrap();
        assert_eq!(bytes.len(), 1 + 8 + 16 + 2 * 9);
        assert_eq!(Collection::get_decoded(&bytes).unwrap(), c);
        let err = Collection::get_decoded(&bytes[..5]).unwrap_err();
        let path: Vec<_> = err.path().collect();
        assert_eq!(path, [("Collection", "report_count")]);
    }
}
