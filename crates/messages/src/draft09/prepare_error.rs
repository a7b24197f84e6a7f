//! `PrepareError` (DAP-09 section 4.5.1.2 and the Prepare Error Registry of
//! section 8.2.3): why an Aggregator rejected a report share.

use crate::codec::{Decode, DecodeError, Encode, EncodeError, Reader};
use std::fmt;

/// `uint8 PrepareError` (called `ReportShareError` in earlier drafts).
///
/// Unknown values are kept as [`PrepareError::Other`] rather than rejected:
/// the Prepare Error Registry is an IANA registry open to new values, the
/// value is the last field of its structure and selects no layout, so it can
/// be carried losslessly. Rejecting it would turn one rejected report into an
/// undecodable `AggregationJobResp` and fail the whole aggregation job; kept,
/// the Leader simply treats the report as rejected, as the spec asks for any
/// `reject` response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PrepareError {
    /// `batch_collected(0)`
    BatchCollected,
    /// `report_replayed(1)`
    ReportReplayed,
    /// `report_dropped(2)`
    ReportDropped,
    /// `hpke_unknown_config_id(3)`
    HpkeUnknownConfigId,
    /// `hpke_decrypt_error(4)`
    HpkeDecryptError,
    /// `vdaf_prep_error(5)`
    VdafPrepError,
    /// `batch_saturated(6)`
    BatchSaturated,
    /// `task_expired(7)`
    TaskExpired,
    /// `invalid_message(8)`
    InvalidMessage,
    /// `report_too_early(9)`
    ReportTooEarly,
    /// A value registered after DAP-09, or not registered at all.
    Other(u8),
}

/// The name DAP-06 and earlier used, and that Janus still uses.
pub type ReportShareError = PrepareError;

impl PrepareError {
    /// Every value DAP-09 registers, in code-point order.
    pub const KNOWN: &'static [PrepareError] = &[
        PrepareError::BatchCollected,
        PrepareError::ReportReplayed,
        PrepareError::ReportDropped,
        PrepareError::HpkeUnknownConfigId,
        PrepareError::HpkeDecryptError,
        PrepareError::VdafPrepError,
        PrepareError::BatchSaturated,
        PrepareError::TaskExpired,
        PrepareError::InvalidMessage,
        PrepareError::ReportTooEarly,
    ];

    /// The wire value.
    pub fn as_u8(&self) -> u8 {
        u8::from(*self)
    }

    /// The spec's snake_case name, or `unknown` for [`PrepareError::Other`].
    pub fn as_str(&self) -> &'static str {
        match self {
            PrepareError::BatchCollected => "batch_collected",
            PrepareError::ReportReplayed => "report_replayed",
            PrepareError::ReportDropped => "report_dropped",
            PrepareError::HpkeUnknownConfigId => "hpke_unknown_config_id",
            PrepareError::HpkeDecryptError => "hpke_decrypt_error",
            PrepareError::VdafPrepError => "vdaf_prep_error",
            PrepareError::BatchSaturated => "batch_saturated",
            PrepareError::TaskExpired => "task_expired",
            PrepareError::InvalidMessage => "invalid_message",
            PrepareError::ReportTooEarly => "report_too_early",
            PrepareError::Other(_) => "unknown",
        }
    }
}

impl From<u8> for PrepareError {
    fn from(value: u8) -> Self {
        match value {
            0 => PrepareError::BatchCollected,
            1 => PrepareError::ReportReplayed,
            2 => PrepareError::ReportDropped,
            3 => PrepareError::HpkeUnknownConfigId,
            4 => PrepareError::HpkeDecryptError,
            5 => PrepareError::VdafPrepError,
            6 => PrepareError::BatchSaturated,
            7 => PrepareError::TaskExpired,
            8 => PrepareError::InvalidMessage,
            9 => PrepareError::ReportTooEarly,
            other => PrepareError::Other(other),
        }
    }
}

impl From<PrepareError> for u8 {
    fn from(value: PrepareError) -> u8 {
        match value {
            PrepareError::BatchCollected => 0,
            PrepareError::ReportReplayed => 1,
            PrepareError::ReportDropped => 2,
            PrepareError::HpkeUnknownConfigId => 3,
            PrepareError::HpkeDecryptError => 4,
            PrepareError::VdafPrepError => 5,
            PrepareError::BatchSaturated => 6,
            PrepareError::TaskExpired => 7,
            PrepareError::InvalidMessage => 8,
            PrepareError::ReportTooEarly => 9,
            PrepareError::Other(other) => other,
        }
    }
}

impl fmt::Display for PrepareError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrepareError::Other(value) => write!(f, "unknown({value})"),
            known => f.write_str(known.as_str()),
        }
    }
}

impl Encode for PrepareError {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        out.push(self.as_u8());
        Ok(())
    }
}

impl Decode for PrepareError {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.u8().map(PrepareError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_values_match_the_spec() {
        for (code, error) in PrepareError::KNOWN.iter().enumerate() {
            assert_eq!(usize::from(error.as_u8()), code);
            assert_eq!(PrepareError::from(code as u8), *error);
        }
        assert_eq!(PrepareError::from(10), PrepareError::Other(10));
        assert_eq!(PrepareError::get_decoded(&[200]).unwrap().as_u8(), 200);
        assert_eq!(PrepareError::ReportTooEarly.to_string(), "report_too_early");
    }
}
