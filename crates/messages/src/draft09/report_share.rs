//! `ReportShare` (DAP-09 section 4.5.1.1): one Aggregator's share of a
//! report, as the Leader forwards it to the Helper.

use super::{HpkeCiphertext, ReportMetadata};
use crate::codec::{
    put_opaque, Decode, DecodeContext, DecodeError, Encode, EncodeError, LengthWidth, Reader,
};
use crate::redact::Len;
use std::fmt;

/// `struct ReportShare`: report metadata, public share and the recipient's
/// sealed input share.
#[derive(Clone, PartialEq, Eq)]
pub struct ReportShare {
    /// `ReportMetadata report_metadata`.
    pub metadata: ReportMetadata,
    /// `opaque public_share<0..2^32-1>`.
    pub public_share: Vec<u8>,
    pub encrypted_input_share: HpkeCiphertext,
}

impl ReportShare {
    pub fn new(
        metadata: ReportMetadata,
        public_share: Vec<u8>,
        encrypted_input_share: HpkeCiphertext,
    ) -> Self {
        Self {
            metadata,
            public_share,
            encrypted_input_share,
        }
    }
}

impl fmt::Debug for ReportShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReportShare")
            .field("metadata", &self.metadata)
            .field("public_share", &Len(&self.public_share))
            .field("encrypted_input_share", &self.encrypted_input_share)
            .finish()
    }
}

impl Encode for ReportShare {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.metadata.encode(out)?;
        put_opaque(
            out,
            LengthWidth::U32,
            0,
            &self.public_share,
            ("ReportShare", "public_share"),
        )?;
        self.encrypted_input_share.encode(out)
    }
}

impl Decode for ReportShare {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const S: &str = "ReportShare";
        Ok(Self {
            metadata: ReportMetadata::decode(r).at(S, "report_metadata")?,
            public_share: r.opaque(LengthWidth::U32, 0).at(S, "public_share")?,
            encrypted_input_share: HpkeCiphertext::decode(r).at(S, "encrypted_input_share")?,
        })
    }
}
