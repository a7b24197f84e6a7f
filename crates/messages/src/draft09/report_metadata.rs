//! `ReportMetadata` (DAP-09 section 4.4.2): the public metadata of a report,
//! its ID and timestamp.

use crate::codec::{Decode, DecodeContext, DecodeError, Encode, EncodeError, Reader};
use crate::ids::ReportId;
use crate::time::Time;

/// `struct { ReportID report_id; Time time; } ReportMetadata`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReportMetadata {
    /// `report_id`: 16 random bytes chosen by the Client; also the VDAF nonce.
    pub id: ReportId,
    /// `time`: when the report was generated, rounded down to the task's
    /// `time_precision` by well-behaved Clients.
    pub time: Time,
}

impl ReportMetadata {
    pub fn new(id: ReportId, time: Time) -> Self {
        Self { id, time }
    }
}

impl Encode for ReportMetadata {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.id.encode(out)?;
        self.time.encode(out)
    }
}

impl Decode for ReportMetadata {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const S: &str = "ReportMetadata";
        Ok(Self {
            id: ReportId::decode(r).at(S, "report_id")?,
            time: Time::decode(r).at(S, "time")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_id_then_time() {
        let m = ReportMetadata::new(
            ReportId::from_bytes([7; 16]),
            Time::from_seconds_since_epoch(0x0102),
        );
        let bytes = m.get_encoded().unwrap();
        assert_eq!(bytes.len(), 24);
        assert_eq!(&bytes[..16], &[7; 16]);
        assert_eq!(&bytes[16..], &[0, 0, 0, 0, 0, 0, 1, 2]);
        assert_eq!(ReportMetadata::get_decoded(&bytes).unwrap(), m);
        let err = ReportMetadata::get_decoded(&bytes[..20]).unwrap_err();
        assert_eq!(err.location(), Some(("ReportMetadata", "time")));
    }
}
