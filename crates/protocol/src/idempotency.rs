//! How the Helper tells a retried request from a new one (DAP-09 sections
//! 4.5.1.2 and 4.5.2.3, "Recovering from Aggregation Step Skew").
//!
//! - A second `AggregationJobInitReq` for a job is answered with the stored
//!   response if it is identical to the first and the job has not been
//!   continued since; otherwise it "MUST fail with an HTTP client error".
//! - An `AggregationJobContinueReq` must name step `stored + 1`. One that
//!   names the stored step again is the Leader resending the previous
//!   request: if it is identical (same digest), the Helper re-sends the
//!   stored response; any other step is `stepMismatch`. Step 0 is
//!   `invalidMessage`.
//!
//! Identity is the SHA-256 digest of the request body ([`RequestHash`]),
//! computed once per request by the handler and stored with the job,
//! indexed by step, as section 4.5.2.3 suggests. (A report seen again is a
//! different question: [`crate::replay`].)
//!
//! # Where is
//!
//! | rule | DAP-09 | function |
//! |---|---|---|
//! | a request's identity: the digest of its body | 4.5.2.3 | [`RequestHash::of_body`] |
//! | a repeated init: the stored response if identical and not continued, else a client error | 4.5.1.2 | [`check_init_request`] |
//! | a continuation's step: `stored + 1`, a replay of `stored`, else `stepMismatch`; step 0 `invalidMessage` | 4.5.2.2, 4.5.2.3 | [`check_continue_step`] |

use crate::error::ProtocolError;
use dyad_messages::draft09::AggregationJobStep;
use dyad_messages::problem::DapProblemType;
use sha2::{Digest, Sha256};
use std::fmt;

/// The SHA-256 digest of an encoded request.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestHash(pub [u8; 32]);

impl RequestHash {
    /// The digest of a request body, as received: the one place a request's
    /// identity is computed (DAP-09 section 4.5.2.3 suggests storing it).
    /// The handler calls it once per request and hands the value to
    /// [`check_init_request`] / [`check_continue_step`] and, through
    /// [`crate::helper_init::helper_initialize`] and
    /// [`crate::helper_continue::helper_continue`], to what is stored.
    pub fn of_body(body: &[u8]) -> Self {
        RequestHash(Sha256::digest(body).into())
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for RequestHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RequestHash(")?;
        for byte in &self.0[..8] {
            write!(f, "{byte:02x}")?;
        }
        f.write_str("..)")
    }
}

/// What the Helper knows of an aggregation job it already holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredJob {
    /// The step the job has reached (0 after initialization).
    pub step: AggregationJobStep,
    /// The digest of the request that brought the job to `step`.
    pub last_request_hash: RequestHash,
}

/// What to do with an `AggregationJobInitReq`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitDisposition {
    /// A new job: initialize it.
    Fresh,
    /// The same request again: answer with the stored response.
    Replay,
}

/// Decides an `AggregationJobInitReq` whose digest is `request_hash` for a
/// job the Helper holds as `existing` (or not at all).
pub fn check_init_request(
    existing: Option<&StoredJob>,
    request_hash: &RequestHash,
) -> Result<InitDisposition, ProtocolError> {
    let Some(job) = existing else {
        return Ok(InitDisposition::Fresh);
    };
    if job.step != AggregationJobStep::INITIAL {
        return Err(ProtocolError::invalid_message(format!(
            "aggregation job was already continued to step {}; it cannot be initialized again",
            job.step
        )));
    }
    if job.last_request_hash != *request_hash {
        return Err(ProtocolError::invalid_message(
            "aggregation job exists with a different initialization request",
        ));
    }
    Ok(InitDisposition::Replay)
}

/// What to do with an `AggregationJobContinueReq`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContinueDisposition {
    /// Advance the job to this step.
    Advance(AggregationJobStep),
    /// The previous request again: answer with the stored response.
    Replay,
}

/// Decides an `AggregationJobContinueReq` for `step` whose digest is
/// `request_hash`, for the job as stored.
pub fn check_continue_step(
    job: &StoredJob,
    step: AggregationJobStep,
    request_hash: &RequestHash,
) -> Result<ContinueDisposition, ProtocolError> {
    if step == AggregationJobStep::INITIAL {
        return Err(ProtocolError::invalid_message(
            "AggregationJobContinueReq.step must not be 0",
        ));
    }
    if Some(step) == job.step.next() {
        return Ok(ContinueDisposition::Advance(step));
    }
    if step == job.step && *request_hash == job.last_request_hash {
        return Ok(ContinueDisposition::Replay);
    }
    let detail = if step == job.step {
        format!("step {step} was already taken with a different request")
    } else {
        format!(
            "request is for step {step}, the job is at step {}",
            job.step
        )
    };
    Err(ProtocolError::new(DapProblemType::StepMismatch, detail))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn job(step: u16, hash: u8) -> StoredJob {
        StoredJob {
            step: AggregationJobStep(step),
            last_request_hash: RequestHash([hash; 32]),
        }
    }

    #[test]
    fn init_fresh_replay_and_conflicts() {
        let h = RequestHash([1; 32]);
        assert_eq!(
            check_init_request(None, &h).unwrap(),
            InitDisposition::Fresh
        );
        assert_eq!(
            check_init_request(Some(&job(0, 1)), &h).unwrap(),
            InitDisposition::Replay
        );
        let changed = check_init_request(Some(&job(0, 2)), &h).unwrap_err();
        assert_eq!(changed.problem_type(), Some(DapProblemType::InvalidMessage));
        // Identical, but the job has moved on: no rewinding.
        let continued = check_init_request(Some(&job(1, 1)), &h).unwrap_err();
        assert_eq!(
            continued.problem_type(),
            Some(DapProblemType::InvalidMessage)
        );
    }

    #[test]
    fn continue_steps() {
        let stored = job(1, 9);
        let same = RequestHash([9; 32]);
        let other = RequestHash([8; 32]);
        assert_eq!(
            check_continue_step(&stored, AggregationJobStep(2), &other).unwrap(),
            ContinueDisposition::Advance(AggregationJobStep(2))
        );
        assert_eq!(
            check_continue_step(&stored, AggregationJobStep(1), &same).unwrap(),
            ContinueDisposition::Replay
        );
        for (step, hash) in [(1, other), (3, other), (3, same)] {
            let err = check_continue_step(&stored, AggregationJobStep(step), &hash).unwrap_err();
            assert_eq!(err.problem_type(), Some(DapProblemType::StepMismatch));
        }
        let zero = check_continue_step(&job(0, 9), AggregationJobStep(0), &same).unwrap_err();
        assert_eq!(zero.problem_type(), Some(DapProblemType::InvalidMessage));
        // The first continuation after initialization is step 1.
        assert_eq!(
            check_continue_step(&job(0, 9), AggregationJobStep(1), &other).unwrap(),
            ContinueDisposition::Advance(AggregationJobStep(1))
        );
    }

    #[test]
    fn exhausted_step_counter_is_a_mismatch_not_an_overflow() {
        let stored = job(u16::MAX, 1);
        let err =
            check_continue_step(&stored, AggregationJobStep(0), &RequestHash([0; 32])).unwrap_err();
        assert_eq!(err.problem_type(), Some(DapProblemType::InvalidMessage));
        let err =
            check_continue_step(&stored, AggregationJobStep(5), &RequestHash([0; 32])).unwrap_err();
        assert_eq!(err.problem_type(), Some(DapProblemType::StepMismatch));
    }

    proptest! {
        /// Only `stored + 1` advances, only `stored` with the same digest
        /// replays; everything else is refused.
        #[test]
        fn only_next_step_or_identical_replay_is_accepted(
            stored in 0u16..=u16::MAX, step in 0u16..=u16::MAX, same in any::<bool>()
        ) {
            let hash = if same { RequestHash([5; 32]) } else { RequestHash([6; 32]) };
            let result = check_continue_step(&job(stored, 5), AggregationJobStep(step), &hash);
            match result {
                Ok(ContinueDisposition::Advance(s)) => {
                    prop_assert_eq!(u32::from(s.0), u32::from(stored) + 1)
                }
                Ok(ContinueDisposition::Replay) => prop_assert!(same && step == stored && step != 0),
                Err(_) => prop_assert!(
                    step == 0 || (u32::from(step) != u32::from(stored) + 1 && !(same && step == stored))
                ),
            }
        }
    }

    #[test]
    fn a_request_body_has_one_digest_and_any_change_alters_it() {
        use dyad_messages::draft09::{AggregationJobContinueReq, PrepareContinue, ReportId};
        use dyad_messages::Encode;
        let request = AggregationJobContinueReq::new(
            AggregationJobStep(1),
            vec![PrepareContinue::new(ReportId::from([1; 16]), vec![1, 2])],
        );
        let bytes = request.get_encoded().unwrap();
        // The codec is canonical: encoding the decoded request again gives
        // the same body, hence the same digest.
        assert_eq!(
            RequestHash::of_body(&request.get_encoded().unwrap()),
            RequestHash::of_body(&bytes)
        );
        assert_ne!(
            RequestHash::of_body(&bytes[1..]),
            RequestHash::of_body(&bytes)
        );
    }
}
