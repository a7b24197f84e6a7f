//! Per-report preparation messages of an aggregation job (DAP-09 sections
//! 4.5.1 and 4.5.2): `PrepareInit`, `PrepareResp` with its
//! `PrepareStepResult`, and `PrepareContinue`.
//!
//! Payloads are opaque here: they hold the VDAF ping-pong messages
//! (VDAF-08 section 5.8), which the protocol layer encodes and decodes.

use super::{PrepareError, ReportShare};
use crate::codec::{
    put_opaque, Decode, DecodeContext, DecodeError, Encode, EncodeError, LengthWidth, Reader,
};
use crate::ids::ReportId;
use crate::redact::Len;
use std::fmt;

/// `struct PrepareInit` (DAP-09 section 4.5.1.1): the Helper's report share
/// and the Leader's first preparation message for it.
#[derive(Clone, PartialEq, Eq)]
pub struct PrepareInit {
    pub report_share: ReportShare,
    /// `opaque payload<0..2^32-1>`: the Leader's outbound ping-pong message.
    pub payload: Vec<u8>,
}

impl PrepareInit {
    pub fn new(report_share: ReportShare, payload: Vec<u8>) -> Self {
        Self {
            report_share,
            payload,
        }
    }
}

impl fmt::Debug for PrepareInit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrepareInit")
            .field("report_share", &self.report_share)
            .field("payload", &Len(&self.payload))
            .finish()
    }
}

impl Encode for PrepareInit {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.report_share.encode(out)?;
        put_opaque(
            out,
            LengthWidth::U32,
            0,
            &self.payload,
            ("PrepareInit", "payload"),
        )
    }
}

impl Decode for PrepareInit {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const S: &str = "PrepareInit";
        Ok(Self {
            report_share: ReportShare::decode(r).at(S, "report_share")?,
            payload: r.opaque(LengthWidth::U32, 0).at(S, "payload")?,
        })
    }
}

/// The `PrepareRespState` of a `PrepareResp` with the body it selects
/// (DAP-09 section 4.5.1.2).
#[derive(Clone, PartialEq, Eq)]
pub enum PrepareStepResult {
    /// `continue(0)`: `opaque payload<0..2^32-1>`, the next ping-pong message.
    Continue { payload: Vec<u8> },
    /// `finished(1)`: `Empty`.
    Finished,
    /// `reject(2)`: `PrepareError prepare_error`.
    Reject(PrepareError),
}

impl PrepareStepResult {
    /// The `PrepareRespState` wire value.
    pub fn state_code(&self) -> u8 {
        match self {
            PrepareStepResult::Continue { .. } => 0,
            PrepareStepResult::Finished => 1,
            PrepareStepResult::Reject(_) => 2,
        }
    }
}

impl fmt::Debug for PrepareStepResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrepareStepResult::Continue { payload } => f
                .debug_struct("Continue")
                .field("payload", &Len(payload))
                .finish(),
            PrepareStepResult::Finished => f.write_str("Finished"),
            PrepareStepResult::Reject(error) => f.debug_tuple("Reject").field(error).finish(),
        }
    }
}

impl Encode for PrepareStepResult {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        out.push(self.state_code());
        match self {
            PrepareStepResult::Continue { payload } => put_opaque(
                out,
                LengthWidth::U32,
                0,
                payload,
                ("PrepareResp", "payload"),
            ),
            PrepareStepResult::Finished => Ok(()),
            PrepareStepResult::Reject(error) => error.encode(out),
        }
    }
}

impl Decode for PrepareStepResult {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const S: &str = "PrepareResp";
        // PrepareRespState selects the layout: unknown values are rejected.
        match r.u8().at(S, "prepare_resp_state")? {
            0 => Ok(PrepareStepResult::Continue {
                payload: r.opaque(LengthWidth::U32, 0).at(S, "payload")?,
            }),
            1 => Ok(PrepareStepResult::Finished),
            2 => Ok(PrepareStepResult::Reject(
                PrepareError::decode(r).at(S, "prepare_error")?,
            )),
            other => Err(DecodeError::unknown_value(other).in_field(S, "prepare_resp_state")),
        }
    }
}

/// `struct PrepareResp` (DAP-09 section 4.5.1.2): the Helper's answer for one
/// report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrepareResp {
    pub report_id: ReportId,
    /// `prepare_resp_state` and the body it selects.
    pub result: PrepareStepResult,
}

impl PrepareResp {
    pub fn new(report_id: ReportId, result: PrepareStepResult) -> Self {
        Self { report_id, result }
    }
}

impl Encode for PrepareResp {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.report_id.encode(out)?;
        self.result.encode(out)
    }
}

impl Decode for PrepareResp {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            report_id: ReportId::decode(r).at("PrepareResp", "report_id")?,
            result: PrepareStepResult::decode(r)?,
        })
    }
}

/// `struct PrepareContinue` (DAP-09 section 4.5.2.1): the Leader's next
/// preparation message for one report.
#[derive(Clone, PartialEq, Eq)]
pub struct PrepareContinue {
    pub report_id: ReportId,
    /// `opaque payload<0..2^32-1>`: the Leader's outbound ping-pong message.
    pub payload: Vec<u8>,
}

impl PrepareContinue {
    pub fn new(report_id: ReportId, payload: Vec<u8>) -> Self {
        Self { report_id, payload }
    }
}

impl fmt::Debug for PrepareContinue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrepareContinue")
            .field("report_id", &self.report_id)
            .field("payload", &Len(&self.payload))
            .finish()
    }
}

impl Encode for PrepareContinue {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.report_id.encode(out)?;
        put_opaque(
            out,
            LengthWidth::U32,
            0,
            &self.payload,
            ("PrepareContinue", "payload"),
        )
    }
}

impl Decode for PrepareContinue {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const S: &str = "PrepareContinue";
        Ok(Self {
            report_id: ReportId::decode(r).at(S, "report_id")?,
            payload: r.opaque(LengthWidth::U32, 0).at(S, "payload")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::DecodeErrorKind;

    fn rid() -> ReportId {
        ReportId::from_bytes([3; 16])
    }

    #[test]
    fn prepare_resp_layouts() {
        let cont = PrepareResp::new(rid(), PrepareStepResult::Continue { payload: vec![8] });
        let bytes = cont.get_encoded().unwrap();
        assert_eq!(&bytes[16..], &[0, 0, 0, 0, 1, 8]);
        assert_eq!(PrepareResp::get_decoded(&bytes).unwrap(), cont);

        let fin = PrepareResp::new(rid(), PrepareStepResult::Finished);
        assert_eq!(&fin.get_encoded().unwrap()[16..], &[1]);

        let rej = PrepareResp::new(
            rid(),
            PrepareStepResult::Reject(PrepareError::VdafPrepError),
        );
        let bytes = rej.get_encoded().unwrap();
        assert_eq!(&bytes[16..], &[2, 5]);
        assert_eq!(PrepareResp::get_decoded(&bytes).unwrap(), rej);
    }

    #[test]
    fn unknown_prepare_resp_state_is_rejected() {
        let mut bytes = rid().as_bytes().to_vec();
        bytes.push(3);
        let err = PrepareResp::get_decoded(&bytes).unwrap_err();
        assert_eq!(err.location(), Some(("PrepareResp", "prepare_resp_state")));
        assert_eq!(err.kind(), &DecodeErrorKind::UnknownValue { value: 3 });
    }

    #[test]
    fn finished_with_a_body_is_trailing_garbage() {
        let mut bytes = rid().as_bytes().to_vec();
        bytes.extend_from_slice(&[1, 0]);
        let err = PrepareResp::get_decoded(&bytes).unwrap_err();
        assert_eq!(err.kind(), &DecodeErrorKind::TrailingBytes { count: 1 });
    }

    #[test]
    fn debug_hides_payloads() {
        let c = PrepareContinue::new(rid(), vec![0x77; 5]);
        let s = format!("{c:?}");
        assert!(s.contains("<5 bytes>") && !s.contains("119"), "{s}");
        let r = PrepareStepResult::Continue {
            payload: vec![0x77; 5],
        };
        assert!(format!("{r:?}").contains("<5 bytes>"));
    }
}
