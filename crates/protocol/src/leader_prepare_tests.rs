//! Tests of the Leader's side of an aggregation job: what it sends, and how
//! it applies each kind of answer (DAP-09 sections 4.5.1.1 and 4.5.2.1).

use super::*;
use crate::helper_init::{helper_initialize, KnownFacts};
use crate::test_util::{hash_of, helper_ctx, leader_share, wire, Fixture, NOW};
use dyad_core::vdaf::{new_prio3_count, Measurement, Prio3Count, VdafInstance};
use dyad_messages::draft09::PrepareResp;

type V = Prio3Count;

fn init(fx: &Fixture, shares: &[LeaderReportShare]) -> LeaderInitOutcome {
    leader_initialize::<V, 16>(
        &new_prio3_count().unwrap(),
        &fx.leader_task,
        &[],
        PartialBatchSelector::TimeInterval,
        shares,
    )
    .unwrap()
}

fn two_reports(fx: &Fixture) -> Vec<LeaderReportShare> {
    (0..2)
        .map(|i| leader_share(fx, &fx.report(&Measurement::Count(i == 0), NOW)))
        .collect()
}

fn apply(
    reports: &[LeaderReportAggregation],
    response: &AggregationJobResp,
) -> Result<Vec<LeaderReportAggregation>, ProtocolError> {
    leader_process_response::<V, 16>(&new_prio3_count().unwrap(), &[], reports, response)
}

#[test]
fn request_carries_every_initialized_report_in_order() {
    let fx = Fixture::new(VdafInstance::Prio3Count);
    let shares = two_reports(&fx);
    let outcome = init(&fx, &shares);
    let request = outcome.request.unwrap();
    assert_eq!(
        request.partial_batch_selector,
        PartialBatchSelector::TimeInterval
    );
    assert!(request.aggregation_parameter.is_empty());
    let ids: Vec<_> = request
        .prepare_inits
        .iter()
        .map(|p| p.report_share.metadata.id)
        .collect();
    assert_eq!(ids, [shares[0].metadata.id, shares[1].metadata.id]);
    for (init, share) in request.prepare_inits.iter().zip(&shares) {
        assert_eq!(
            init.report_share.encrypted_input_share,
            share.helper_encrypted_input_share
        );
        assert_eq!(init.report_share.public_share, share.public_share);
    }
    for (report, init) in outcome.reports.iter().zip(&request.prepare_inits) {
        let LeaderReportState::Continued { outbound, .. } = &report.state else {
            panic!("initialized reports continue");
        };
        assert_eq!(outbound, &init.payload);
    }
}

#[test]
fn undecodable_shares_are_rejected_before_the_helper_sees_them() {
    let fx = Fixture::new(VdafInstance::Prio3Count);
    let mut shares = two_reports(&fx);
    shares[0].public_share = vec![1, 2, 3];
    shares[1].leader_input_share.truncate(3);
    let outcome = init(&fx, &shares);
    assert!(outcome.request.is_none(), "no report left to send");
    for report in &outcome.reports {
        assert_eq!(
            report.state,
            LeaderReportState::Failed {
                error: PrepareError::InvalidMessage
            }
        );
        assert!(!report.state.is_retryable());
    }
    assert!(job_is_finished(&outcome.reports));
    assert!(build_continue_request(AggregationJobStep(1), &outcome.reports).is_none());
}

/// The Helper's real answer to the Leader's real request.
fn exchange(fx: &Fixture) -> (LeaderInitOutcome, AggregationJobResp) {
    let outcome = init(fx, &two_reports(fx));
    let facts = KnownFacts::default();
    let helper = helper_initialize::<V, 16, _, _>(
        &new_prio3_count().unwrap(),
        &helper_ctx(fx, &facts),
        &wire(outcome.request.as_ref().unwrap()),
        hash_of(outcome.request.as_ref().unwrap()),
    )
    .unwrap();
    (outcome, wire(&helper.response))
}

#[test]
fn the_helpers_continue_finishes_prio3_reports() {
    let fx = Fixture::new(VdafInstance::Prio3Count);
    let (outcome, response) = exchange(&fx);
    let reports = apply(&outcome.reports, &response).unwrap();
    assert!(reports
        .iter()
        .all(|r| matches!(r.state, LeaderReportState::Finished { .. })));
    assert!(job_is_finished(&reports));
}

#[test]
fn response_must_name_the_same_reports_in_the_same_order() {
    let fx = Fixture::new(VdafInstance::Prio3Count);
    let (outcome, response) = exchange(&fx);
    let mut swapped = response.clone();
    swapped.prepare_resps.reverse();
    assert!(apply(&outcome.reports, &swapped).is_err());
    let mut short = response.clone();
    short.prepare_resps.pop();
    assert!(apply(&outcome.reports, &short).is_err());
    let mut long = response.clone();
    long.prepare_resps.push(response.prepare_resps[0].clone());
    assert!(apply(&outcome.reports, &long).is_err());
    let mut renamed = response;
    renamed.prepare_resps[1].report_id = ReportId::from([0xee; 16]);
    assert!(apply(&outcome.reports, &renamed).is_err());
}

#[test]
fn rejections_fail_reports_and_only_too_early_is_retryable() {
    let fx = Fixture::new(VdafInstance::Prio3Count);
    let (outcome, response) = exchange(&fx);
    let rejected = AggregationJobResp::new(vec![
        PrepareResp::new(
            response.prepare_resps[0].report_id,
            PrepareStepResult::Reject(PrepareError::ReportTooEarly),
        ),
        PrepareResp::new(
            response.prepare_resps[1].report_id,
            PrepareStepResult::Reject(PrepareError::ReportReplayed),
        ),
    ]);
    let reports = apply(&outcome.reports, &rejected).unwrap();
    assert!(reports[0].state.is_retryable());
    assert!(!reports[1].state.is_retryable());
    assert_eq!(
        reports[1].state,
        LeaderReportState::Failed {
            error: PrepareError::ReportReplayed
        }
    );
}

#[test]
fn finished_at_initialization_aborts_the_job() {
    let fx = Fixture::new(VdafInstance::Prio3Count);
    let (outcome, mut response) = exchange(&fx);
    response.prepare_resps[1].result = PrepareStepResult::Finished;
    let err = apply(&outcome.reports, &response).unwrap_err();
    assert!(!err.is_internal());
}

#[test]
fn a_malformed_or_wrong_helper_message_fails_only_its_report() {
    let fx = Fixture::new(VdafInstance::Prio3Count);
    let (outcome, mut response) = exchange(&fx);
    response.prepare_resps[0].result = PrepareStepResult::Continue {
        payload: vec![9, 9, 9],
    };
    // A well-formed ping-pong message of the wrong kind.
    let initialize = prio::topology::ping_pong::PingPongMessage::Initialize { prep_share: vec![] };
    response.prepare_resps[1].result = PrepareStepResult::Continue {
        payload: crate::vdaf_codec::encode_ping_pong(&initialize).unwrap(),
    };
    let reports = apply(&outcome.reports, &response).unwrap();
    for report in &reports {
        assert_eq!(
            report.state,
            LeaderReportState::Failed {
                error: PrepareError::VdafPrepError
            }
        );
    }
}

#[test]
fn stored_state_that_does_not_decode_is_our_fault() {
    let fx = Fixture::new(VdafInstance::Prio3Count);
    let (mut outcome, response) = exchange(&fx);
    for bad in [vec![], vec![7, 1, 2], vec![0, 1, 2]] {
        outcome.reports[0].state = LeaderReportState::Continued {
            state: bad,
            outbound: vec![],
        };
        assert!(apply(&outcome.reports, &response)
            .unwrap_err()
            .is_internal());
    }
}

#[test]
fn continue_request_carries_only_reports_in_flight() {
    let meta = |b| ReportMetadata::new(ReportId::from([b; 16]), NOW);
    let reports = vec![
        LeaderReportAggregation {
            metadata: meta(1),
            state: LeaderReportState::Continued {
                state: vec![0],
                outbound: vec![1, 1],
            },
        },
        LeaderReportAggregation {
            metadata: meta(2),
            state: LeaderReportState::Failed {
                error: PrepareError::VdafPrepError,
            },
        },
        LeaderReportAggregation {
            metadata: meta(3),
            state: LeaderReportState::Finished {
                output_share: vec![5],
            },
        },
        LeaderReportAggregation {
            metadata: meta(4),
            state: LeaderReportState::Continued {
                state: vec![1],
                outbound: vec![4],
            },
        },
    ];
    let request = build_continue_request(AggregationJobStep(3), &reports).unwrap();
    assert_eq!(request.step, AggregationJobStep(3));
    let sent: Vec<_> = request
        .prepare_continues
        .iter()
        .map(|p| (p.report_id, p.payload.clone()))
        .collect();
    assert_eq!(sent, [(meta(1).id, vec![1, 1]), (meta(4).id, vec![4])]);
    assert!(!job_is_finished(&reports));
}

#[test]
fn secrets_stay_out_of_debug() {
    let fx = Fixture::new(VdafInstance::Prio3Count);
    let mut share = two_reports(&fx).remove(0);
    share.leader_input_share = vec![0xab; 40];
    let debug = format!("{share:?}");
    assert!(debug.contains("leader_input_share_len: 40"));
    assert!(!debug.contains("171"));
    let state = LeaderReportState::Finished {
        output_share: vec![0xab; 3],
    };
    assert!(!format!("{state:?}").contains("171"));
}
