//! `Report` (DAP-09 section 4.4.2): what a Client uploads to the Leader, with
//! media type `application/dap-report`.

use super::{HpkeCiphertext, ReportMetadata};
use crate::codec::{
    put_opaque, Decode, DecodeContext, DecodeError, Encode, EncodeError, LengthWidth, Reader,
};
use crate::redact::Len;
use std::fmt;

/// `struct Report`: report metadata, the VDAF public share, and one sealed
/// input share for each Aggregator.
#[derive(Clone, PartialEq, Eq)]
pub struct Report {
    /// `ReportMetadata report_metadata`.
    pub metadata: ReportMetadata,
    /// `opaque public_share<0..2^32-1>`; may be empty, depending on the VDAF.
    pub public_share: Vec<u8>,
    pub leader_encrypted_input_share: HpkeCiphertext,
    pub helper_encrypted_input_share: HpkeCiphertext,
}

impl Report {
    pub fn new(
        metadata: ReportMetadata,
        public_share: Vec<u8>,
        leader_encrypted_input_share: HpkeCiphertext,
        helper_encrypted_input_share: HpkeCiphertext,
    ) -> Self {
        Self {
            metadata,
            public_share,
            leader_encrypted_input_share,
            helper_encrypted_input_share,
        }
    }
}

impl fmt::Debug for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Report")
            .field("metadata", &self.metadata)
            .field("public_share", &Len(&self.public_share))
            .field(
                "leader_encrypted_input_share",
                &self.leader_encrypted_input_share,
            )
            .field(
                "helper_encrypted_input_share",
                &self.helper_encrypted_input_share,
            )
            .finish()
    }
}

impl Encode for Report {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.metadata.encode(out)?;
        put_opaque(
            out,
            LengthWidth::U32,
            0,
            &self.public_share,
            ("Report", "public_share"),
        )?;
        self.leader_encrypted_input_share.encode(out)?;
        self.helper_encrypted_input_share.encode(out)
    }
}

impl Decode for Report {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const S: &str = "Report";
        Ok(Self {
            metadata: ReportMetadata::decode(r).at(S, "report_metadata")?,
            public_share: r.opaque(LengthWidth::U32, 0).at(S, "public_share")?,
            leader_encrypted_input_share: HpkeCiphertext::decode(r)
                .at(S, "leader_encrypted_input_share")?,
            helper_encrypted_input_share: HpkeCiphertext::decode(r)
                .at(S, "helper_encrypted_input_share")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::draft09::{HpkeConfigId, ReportId, Time};

    fn ciphertext(id: u8) -> HpkeCiphertext {
        HpkeCiphertext {
            config_id: HpkeConfigId(id),
            encapsulated_key: vec![id; 2],
            payload: vec![id; 3],
        }
    }

    #[test]
    fn report_layout_and_round_trip() {
        let report = Report::new(
            ReportMetadata::new(
                ReportId::from_bytes([1; 16]),
                Time::from_seconds_since_epoch(9),
            ),
            vec![],
            ciphertext(2),
            ciphertext(3),
        );
        let bytes = report.get_encoded().unwrap();
        // metadata 24, public share prefix 4, each ciphertext 1+2+2+4+3.
        assert_eq!(bytes.len(), 24 + 4 + 2 * 12);
        assert_eq!(Report::get_decoded(&bytes).unwrap(), report);

        let err = Report::get_decoded(&bytes[..bytes.len() - 1]).unwrap_err();
        let path: Vec<_> = err.path().collect();
        assert_eq!(path[0], ("Report", "helper_encrypted_input_share"));
        assert_eq!(err.location(), Some(("HpkeCiphertext", "payload")));

        let mut long = bytes.clone();
        long.push(0);
        assert!(Report::get_decoded(&long).is_err());
    }
}
