//! Aggregate shares (DAP-09 sections 4.6.2 and 4.6.4): the Leader's
//! `AggregateShareReq` with its `ReportIdChecksum`, the Helper's
//! `AggregateShare`, and the `AggregateShareAad` both are sealed with.

use super::{BatchSelector, HpkeCiphertext};
use crate::codec::{
    put_opaque, Decode, DecodeContext, DecodeError, Encode, EncodeError, LengthWidth, Reader,
};
use crate::ids::TaskId;
use crate::redact::Len;
use std::fmt;

/// `opaque checksum[32]` of `AggregateShareReq` (DAP-09 section 4.6.2): the
/// XOR of the SHA-256 hashes of the IDs of every report in the batch.
///
/// Hashing is left to the caller (this crate does no cryptography); this
/// type only holds and combines the 32-byte values.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ReportIdChecksum(pub [u8; 32]);

impl ReportIdChecksum {
    pub const LEN: usize = 32;

    /// The checksum of `self` and `other` together: their bitwise XOR.
    pub fn combined_with(&self, other: &ReportIdChecksum) -> ReportIdChecksum {
        let mut out = self.0;
        for (a, b) in out.iter_mut().zip(other.0.iter()) {
            *a ^= b;
        }
        ReportIdChecksum(out)
    }

    /// Adds the SHA-256 hash of one report ID to the checksum.
    pub fn add_report_hash(&mut self, report_id_hash: &[u8; 32]) {
        *self = self.combined_with(&ReportIdChecksum(*report_id_hash));
    }
}

impl fmt::Debug for ReportIdChecksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReportIdChecksum(")?;
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        f.write_str(")")
    }
}

impl Encode for ReportIdChecksum {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        out.extend_from_slice(&self.0);
        Ok(())
    }
}

impl Decode for ReportIdChecksum {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.array().map(Self)
    }
}

/// `struct AggregateShareReq` (DAP-09 section 4.6.2), media type
/// `application/dap-aggregate-share-req`.
#[derive(Clone, PartialEq, Eq)]
pub struct AggregateShareReq {
    pub batch_selector: BatchSelector,
    /// `opaque agg_param<0..2^32-1>`.
    pub aggregation_parameter: Vec<u8>,
    /// `uint64 report_count`.
    pub report_count: u64,
    /// `opaque checksum[32]`.
    pub checksum: ReportIdChecksum,
}

impl fmt::Debug for AggregateShareReq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AggregateShareReq")
            .field("batch_selector", &self.batch_selector)
            .field("aggregation_parameter", &Len(&self.aggregation_parameter))
            .field("report_count", &self.report_count)
            .field("checksum", &self.checksum)
            .finish()
    }
}

impl Encode for AggregateShareReq {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.batch_selector.encode(out)?;
        put_opaque(
            out,
            LengthWidth::U32,
            0,
            &self.aggregation_parameter,
            ("AggregateShareReq", "agg_param"),
        )?;
        self.report_count.encode(out)?;
        self.checksum.encode(out)
    }
}

impl Decode for AggregateShareReq {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const S: &str = "AggregateShareReq";
        Ok(Self {
            batch_selector: BatchSelector::decode(r).at(S, "batch_selector")?,
            aggregation_parameter: r.opaque(LengthWidth::U32, 0).at(S, "agg_param")?,
            report_count: r.u64().at(S, "report_count")?,
            checksum: ReportIdChecksum::decode(r).at(S, "checksum")?,
        })
    }
}

/// `struct AggregateShare` (DAP-09 section 4.6.2), media type
/// `application/dap-aggregate-share`: the Helper's aggregate share, sealed to
/// the Collector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AggregateShare {
    pub encrypted_aggregate_share: HpkeCiphertext,
}

impl Encode for AggregateShare {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.encrypted_aggregate_share.encode(out)
    }
}

impl Decode for AggregateShare {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            encrypted_aggregate_share: HpkeCiphertext::decode(r)
                .at("AggregateShare", "encrypted_aggregate_share")?,
        })
    }
}

/// `struct AggregateShareAad` (DAP-09 section 4.6.4): the associated data an
/// aggregate share is sealed to the Collector with.
#[derive(Clone, PartialEq, Eq)]
pub struct AggregateShareAad {
    pub task_id: TaskId,
    /// `opaque agg_param<0..2^32-1>`.
    pub aggregation_parameter: Vec<u8>,
    pub batch_selector: BatchSelector,
}

impl AggregateShareAad {
    pub fn new(
        task_id: TaskId,
        aggregation_parameter: Vec<u8>,
        batch_selector: BatchSelector,
    ) -> Self {
        Self {
            task_id,
            aggregation_parameter,
            batch_selector,
        }
    }
}

impl fmt::Debug for AggregateShareAad {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AggregateShareAad")
            .field("task_id", &self.task_id)
            .field("aggregation_parameter", &Len(&self.aggregation_parameter))
            .field("batch_selector", &self.batch_selector)
            .finish()
    }
}

impl Encode for AggregateShareAad {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.task_id.encode(out)?;
        put_opaque(
            out,
            LengthWidth::U32,
            0,
            &self.aggregation_parameter,
            ("AggregateShareAad", "agg_param"),
        )?;
        self.batch_selector.encode(out)
    }
}

impl Decode for AggregateShareAad {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const S: &str = "AggregateShareAad";
        Ok(Self {
            task_id: TaskId::decode(r).at(S, "task_id")?,
            aggregation_parameter: r.opaque(LengthWidth::U32, 0).at(S, "agg_param")?,
            batch_selector: BatchSelector::decode(r).at(S, "batch_selector")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::BatchId;

    #[test]
    fn checksum_combines_by_xor() {
        let mut c = ReportIdChecksum::default();
        c.add_report_hash(&[0b1010; 32]);
        c.add_report_hash(&[0b0110; 32]);
        assert_eq!(c, ReportIdChecksum([0b1100; 32]));
        c.add_report_hash(&[0b0110; 32]);
        assert_eq!(c, ReportIdChecksum([0b1010; 32]));
    }

    #[test]
    fn aggregate_share_req_layout() {
        let req = AggregateShareReq {
            batch_selector: BatchSelector::FixedSize(BatchId::from_bytes([1; 32])),
            aggregation_parameter: vec![],
            report_count: 3,
            checksum: ReportIdChecksum([2; 32]),
        };
        let bytes = req.get_encoded().unwrap();
        assert_eq!(bytes.len(), 33 + 4 + 8 + 32);
        assert_eq!(AggregateShareReq::get_decoded(&bytes).unwrap(), req);
        let err = AggregateShareReq::get_decoded(&bytes[..bytes.len() - 1]).unwrap_err();
        assert_eq!(err.location(), Some(("AggregateShareReq", "checksum")));
    }

    #[test]
    fn aggregate_share_aad_puts_the_selector_last() {
        let aad = AggregateShareAad::new(
            TaskId::from_bytes([4; 32]),
            vec![9],
            BatchSelector::FixedSize(BatchId::from_bytes([5; 32])),
        );
        let bytes = aad.get_encoded().unwrap();
        assert_eq!(&bytes[32..37], &[0, 0, 0, 1, 9]);
        assert_eq!(bytes[37], 2);
        assert_eq!(AggregateShareAad::get_decoded(&bytes).unwrap(), aad);
    }
}
