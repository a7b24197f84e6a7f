//! Tests of Helper continuation with Poplar1, whose preparation takes a
//! continuation step: advancing, replays (step skew recovery), step
//! mismatches and malformed continuation requests.

use super::*;
use crate::helper_init::{helper_initialize, KnownFacts};
use crate::leader_prepare::{
    build_continue_request, leader_initialize, leader_process_response, LeaderReportAggregation,
};
use crate::test_util::{hash_of, helper_ctx, leader_share, wire, Fixture, NOW};
use dyad_core::vdaf::{new_poplar1, Measurement, Poplar1TurboShake128, VdafInstance};
use dyad_messages::draft09::{PartialBatchSelector, PrepareContinue, ReportId};
use dyad_messages::problem::DapProblemType;
use prio::codec::Encode;
use prio::idpf::IdpfInput;
use prio::topology::ping_pong::PingPongMessage;
use prio::vdaf::poplar1::Poplar1AggregationParam;

type V = Poplar1TurboShake128;

struct Job {
    vdaf: V,
    agg_param: Vec<u8>,
    helper_job: StoredJob,
    helper_reports: Vec<HelperReportAggregation>,
    leader_reports: Vec<LeaderReportAggregation>,
}

/// Three Poplar1 reports initialized on both sides: the Helper waits in
/// step 0 for the Leader's step-1 continuation.
fn job() -> Job {
    let fx = Fixture::new(VdafInstance::Poplar1 { bits: 2 });
    let vdaf = new_poplar1(2).unwrap();
    let agg_param = Poplar1AggregationParam::try_from_prefixes(vec![
        IdpfInput::from_bools(&[false]),
        IdpfInput::from_bools(&[true]),
    ])
    .unwrap()
    .get_encoded()
    .unwrap();
    let shares: Vec<_> = [[false, true], [true, true], [true, false]]
        .iter()
        .map(|bits| leader_share(&fx, &fx.report(&Measurement::Poplar1(bits.to_vec()), NOW)))
        .collect();
    let init = leader_initialize::<V, 16>(
        &vdaf,
        &fx.leader_task,
        &agg_param,
        PartialBatchSelector::TimeInterval,
        &shares,
    )
    .unwrap();
    let facts = KnownFacts::default();
    let helper = helper_initialize::<V, 16, _, _>(
        &vdaf,
        &helper_ctx(&fx, &facts),
        &wire(init.request.as_ref().unwrap()),
        hash_of(init.request.as_ref().unwrap()),
    )
    .unwrap();
    assert!(helper
        .reports
        .iter()
        .all(|r| matches!(r.state, HelperReportState::Continued { .. })));
    let leader_reports =
        leader_process_response::<V, 16>(&vdaf, &agg_param, &init.reports, &helper.response)
            .unwrap();
    Job {
        vdaf,
        agg_param,
        helper_job: StoredJob {
            step: AggregationJobStep::INITIAL,
            last_request_hash: helper.request_hash,
        },
        helper_reports: helper.reports,
        leader_reports,
    }
}

impl Job {
    fn request(&self) -> AggregationJobContinueReq {
        build_continue_request(AggregationJobStep(1), &self.leader_reports).unwrap()
    }

    fn run(
        &self,
        job: &StoredJob,
        reports: &[HelperReportAggregation],
        request: &AggregationJobContinueReq,
    ) -> Result<HelperContinueResult, ProtocolError> {
        helper_continue::<V, 16>(
            &self.vdaf,
            &self.agg_param,
            job,
            reports,
            request,
            hash_of(request),
        )
    }

    fn advance(&self, request: &AggregationJobContinueReq) -> HelperContinueOutcome {
        match self
            .run(&self.helper_job, &self.helper_reports, request)
            .unwrap()
        {
            HelperContinueResult::Advanced(outcome) => outcome,
            HelperContinueResult::Replay => panic!("not a replay"),
        }
    }
}

fn problem(result: Result<HelperContinueResult, ProtocolError>) -> Option<DapProblemType> {
    result.unwrap_err().problem_type()
}

#[test]
fn step_one_finishes_every_report_and_the_leader_agrees() {
    let job = job();
    let outcome = job.advance(&wire(&job.request()));
    assert_eq!(outcome.step, AggregationJobStep(1));
    assert!(outcome
        .response
        .prepare_resps
        .iter()
        .all(|r| r.result == PrepareStepResult::Finished));
    assert!(outcome
        .reports
        .iter()
        .all(|r| matches!(r.state, HelperReportState::Finished { .. })));
    let leader = leader_process_response::<V, 16>(
        &job.vdaf,
        &job.agg_param,
        &job.leader_reports,
        &wire(&outcome.response),
    )
    .unwrap();
    assert!(crate::leader_prepare::job_is_finished(&leader));
    assert!(leader.iter().all(|r| matches!(
        r.state,
        crate::leader_prepare::LeaderReportState::Finished { .. }
    )));
}

#[test]
fn a_resent_request_is_a_replay_after_the_job_advanced() {
    let job = job();
    let request = job.request();
    let outcome = job.advance(&request);
    let advanced = StoredJob {
        step: outcome.step,
        last_request_hash: outcome.request_hash,
    };
    // The response was lost; the Leader sends the same request again.
    assert_eq!(
        job.run(&advanced, &outcome.reports, &request).unwrap(),
        HelperContinueResult::Replay
    );
    // Not the same request: a Leader trying to rewind.
    let mut changed = request.clone();
    changed.prepare_continues.pop();
    assert_eq!(
        problem(job.run(&advanced, &outcome.reports, &changed)),
        Some(DapProblemType::StepMismatch)
    );
    // A step-2 request for reports that are finished names nothing in flight.
    let mut next = request;
    next.step = AggregationJobStep(2);
    assert_eq!(
        problem(job.run(&advanced, &outcome.reports, &next)),
        Some(DapProblemType::InvalidMessage)
    );
}

#[test]
fn wrong_steps() {
    let job = job();
    let mut request = job.request();
    request.step = AggregationJobStep(0);
    assert_eq!(
        problem(job.run(&job.helper_job, &job.helper_reports, &request)),
        Some(DapProblemType::InvalidMessage)
    );
    for step in [2, 7, u16::MAX] {
        request.step = AggregationJobStep(step);
        assert_eq!(
            problem(job.run(&job.helper_job, &job.helper_reports, &request)),
            Some(DapProblemType::StepMismatch)
        );
    }
}

#[test]
fn unknown_repeated_or_reordered_reports_are_invalid() {
    let job = job();
    let good = job.request();
    let mut unknown = good.clone();
    unknown.prepare_continues[1].report_id = ReportId::from([0xaa; 16]);
    let mut repeated = good.clone();
    repeated
        .prepare_continues
        .push(good.prepare_continues[2].clone());
    let mut reordered = good.clone();
    reordered.prepare_continues.swap(0, 2);
    for request in [unknown, repeated, reordered] {
        assert_eq!(
            problem(job.run(&job.helper_job, &job.helper_reports, &request)),
            Some(DapProblemType::InvalidMessage)
        );
    }
}

#[test]
fn reports_the_leader_left_out_were_rejected_by_it() {
    let job = job();
    let mut request = job.request();
    request.prepare_continues.remove(1);
    let outcome = job.advance(&request);
    assert_eq!(outcome.response.prepare_resps.len(), 2);
    assert_eq!(
        outcome.reports[1].state,
        HelperReportState::AbandonedByLeader
    );
    assert!(matches!(
        outcome.reports[0].state,
        HelperReportState::Finished { .. }
    ));
}

#[test]
fn bad_payloads_reject_only_their_report() {
    let job = job();
    let mut request = job.request();
    // A message that does not decode: the VDAF rejects it, like any other
    // bad message (draft-irtf-cfrg-vdaf-08 section 5.8).
    request.prepare_continues[0] =
        PrepareContinue::new(request.prepare_continues[0].report_id, vec![2, 0]);
    // A well-formed message of the wrong kind: the Helper's VDAF finishes
    // here, but the Leader's message asks it to continue.
    let PingPongMessage::Finish { prep_msg } =
        decode_ping_pong(&request.prepare_continues[1].payload).unwrap()
    else {
        panic!("Poplar1's last Leader message is a finish");
    };
    let wrong = PingPongMessage::Continue {
        prep_msg,
        prep_share: vec![],
    };
    request.prepare_continues[1].payload = encode_ping_pong(&wrong).unwrap();
    let outcome = job.advance(&request);
    let results: Vec<_> = outcome
        .response
        .prepare_resps
        .iter()
        .map(|r| &r.result)
        .collect();
    assert_eq!(
        results[0],
        &PrepareStepResult::Reject(PrepareError::VdafPrepError)
    );
    assert_eq!(
        results[1],
        &PrepareStepResult::Reject(PrepareError::VdafPrepError)
    );
    assert_eq!(results[2], &PrepareStepResult::Finished);
    assert_eq!(
        outcome.reports[1].state,
        HelperReportState::Failed(PrepareError::VdafPrepError)
    );
}

#[test]
fn stored_state_that_does_not_decode_is_our_fault() {
    let job = job();
    let mut reports = job.helper_reports.clone();
    reports[0].state = HelperReportState::Continued {
        prep_state: vec![9, 9],
    };
    let err = job
        .run(&job.helper_job, &reports, &job.request())
        .unwrap_err();
    assert!(err.is_internal());
}
