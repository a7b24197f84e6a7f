//! Aggregation job requests and responses (DAP-09 sections 4.5.1 and 4.5.2):
//! `AggregationJobInitReq`, `AggregationJobResp`, `AggregationJobContinueReq`
//! and the `AggregationJobStep` counter.

use super::{PartialBatchSelector, PrepareContinue, PrepareInit, PrepareResp};
use crate::codec::{
    put_opaque, put_vec, Decode, DecodeContext, DecodeError, Encode, EncodeError, LengthWidth,
    Reader,
};
use crate::redact::Len;
use serde::{Deserialize, Serialize};
use std::fmt;

/// `uint16 step` of `AggregationJobContinueReq` (DAP-09 section 4.5.2.1): the
/// step the Leader has reached and asks the Helper to advance to. The
/// initialization request is step 0; the first continuation is step 1.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct AggregationJobStep(pub u16);

impl AggregationJobStep {
    /// Step 0, reached by the initialization request.
    pub const INITIAL: AggregationJobStep = AggregationJobStep(0);

    /// The next step, or `None` once the counter is exhausted.
    pub fn next(&self) -> Option<AggregationJobStep> {
        self.0.checked_add(1).map(AggregationJobStep)
    }
}

impl From<u16> for AggregationJobStep {
    fn from(value: u16) -> Self {
        Self(value)
    }
}

impl From<AggregationJobStep> for u16 {
    fn from(value: AggregationJobStep) -> u16 {
        value.0
    }
}

impl fmt::Display for AggregationJobStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Encode for AggregationJobStep {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.0.encode(out)
    }
}

impl Decode for AggregationJobStep {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.u16().map(Self)
    }
}

/// `struct AggregationJobInitReq` (DAP-09 section 4.5.1.1), media type
/// `application/dap-aggregation-job-init-req`.
#[derive(Clone, PartialEq, Eq)]
pub struct AggregationJobInitReq {
    /// `opaque agg_param<0..2^32-1>`.
    pub aggregation_parameter: Vec<u8>,
    /// `PartialBatchSelector part_batch_selector`.
    pub partial_batch_selector: PartialBatchSelector,
    /// `PrepareInit prepare_inits<1..2^32-1>`: at least one.
    pub prepare_inits: Vec<PrepareInit>,
}

impl AggregationJobInitReq {
    pub fn new(
        aggregation_parameter: Vec<u8>,
        partial_batch_selector: PartialBatchSelector,
        prepare_inits: Vec<PrepareInit>,
    ) -> Self {
        Self {
            aggregation_parameter,
            partial_batch_selector,
            prepare_inits,
        }
    }
}

impl fmt::Debug for AggregationJobInitReq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AggregationJobInitReq")
            .field("aggregation_parameter", &Len(&self.aggregation_parameter))
            .field("partial_batch_selector", &self.partial_batch_selector)
            .field("prepare_inits", &self.prepare_inits)
            .finish()
    }
}

impl Encode for AggregationJobInitReq {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        const S: &str = "AggregationJobInitReq";
        put_opaque(
            out,
            LengthWidth::U32,
            0,
            &self.aggregation_parameter,
            (S, "agg_param"),
        )?;
        self.partial_batch_selector.encode(out)?;
        put_vec(
            out,
            LengthWidth::U32,
            1,
            &self.prepare_inits,
            (S, "prepare_inits"),
        )
    }
}

impl Decode for AggregationJobInitReq {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const S: &str = "AggregationJobInitReq";
        Ok(Self {
            aggregation_parameter: r.opaque(LengthWidth::U32, 0).at(S, "agg_param")?,
            partial_batch_selector: PartialBatchSelector::decode(r).at(S, "part_batch_selector")?,
            prepare_inits: r.vec(LengthWidth::U32, 1).at(S, "prepare_inits")?,
        })
    }
}

/// `struct AggregationJobResp` (DAP-09 section 4.5.1.2), media type
/// `application/dap-aggregation-job-resp`: one `PrepareResp` per report of
/// the request, in the same order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AggregationJobResp {
    /// `PrepareResp prepare_resps<1..2^32-1>`: at least one.
    pub prepare_resps: Vec<PrepareResp>,
}

impl AggregationJobResp {
    pub fn new(prepare_resps: Vec<PrepareResp>) -> Self {
        Self { prepare_resps }
    }
}

impl Encode for AggregationJobResp {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        put_vec(
            out,
            LengthWidth::U32,
            1,
            &self.prepare_resps,
            ("AggregationJobResp", "prepare_resps"),
        )
    }
}

impl Decode for AggregationJobResp {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            prepare_resps: r
                .vec(LengthWidth::U32, 1)
                .at("AggregationJobResp", "prepare_resps")?,
        })
    }
}

/// `struct AggregationJobContinueReq` (DAP-09 section 4.5.2.1), media type
/// `application/dap-aggregation-job-continue-req`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AggregationJobContinueReq {
    /// `uint16 step`.
    pub step: AggregationJobStep,
    /// `PrepareContinue prepare_continues<1..2^32-1>`: at least one.
    pub prepare_continues: Vec<PrepareContinue>,
}

impl AggregationJobContinueReq {
    pub fn new(step: AggregationJobStep, prepare_continues: Vec<PrepareContinue>) -> Self {
        Self {
            step,
            prepare_continues,
        }
    }
}

impl Encode for AggregationJobContinueReq {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.step.encode(out)?;
        put_vec(
            out,
            LengthWidth::U32,
            1,
            &self.prepare_continues,
            ("AggregationJobContinueReq", "prepare_continues"),
        )
    }
}

impl Decode for AggregationJobContinueReq {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const S: &str = "AggregationJobContinueReq";
        Ok(Self {
            step: AggregationJobStep::decode(r).at(S, "step")?,
            prepare_continues: r.vec(LengthWidth::U32, 1).at(S, "prepare_continues")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::DecodeErrorKind;
    use crate::draft09::PrepareStepResult;
    use crate::ids::ReportId;

    #[test]
    fn empty_lists_are_rejected_both_ways() {
        let resp = AggregationJobResp::new(vec![]);
        assert!(matches!(
            resp.get_encoded(),
            Err(EncodeError::LengthOutOfRange { min: 1, .. })
        ));
        let err = AggregationJobResp::get_decoded(&[0, 0, 0, 0]).unwrap_err();
        assert_eq!(
            err.location(),
            Some(("AggregationJobResp", "prepare_resps"))
        );
        let err = AggregationJobContinueReq::get_decoded(&[0, 1, 0, 0, 0, 0]).unwrap_err();
        assert!(matches!(
            err.kind(),
            DecodeErrorKind::LengthOutOfRange { .. }
        ));
    }

    #[test]
    fn continue_req_step_is_u16() {
        let req = AggregationJobContinueReq::new(
            AggregationJobStep(0x0102),
            vec![PrepareContinue::new(ReportId::from_bytes([1; 16]), vec![])],
        );
        let bytes = req.get_encoded().unwrap();
        assert_eq!(&bytes[..6], &[1, 2, 0, 0, 0, 20]);
        assert_eq!(AggregationJobContinueReq::get_decoded(&bytes).unwrap(), req);
        assert_eq!(AggregationJobStep(u16::MAX).next(), None);
        assert_eq!(AggregationJobStep(1).next(), Some(AggregationJobStep(2)));
    }

    #[test]
    fn init_req_selector_follows_agg_param() {
        let bytes = [
            0, 0, 0, 1, 0xaa, // agg_param
            2,    // fixed_size ...
        ];
        let err = AggregationJobInitReq::get_decoded(&bytes).unwrap_err();
        let path: Vec<_> = err.path().collect();
        assert_eq!(path[0], ("AggregationJobInitReq", "part_batch_selector"));
        assert_eq!(err.location(), Some(("PartialBatchSelector", "batch_id")));

        let resp = AggregationJobResp::new(vec![PrepareResp::new(
            ReportId::from_bytes([2; 16]),
            PrepareStepResult::Finished,
        )]);
        assert_eq!(resp.get_encoded().unwrap().len(), 4 + 17);
    }
}
