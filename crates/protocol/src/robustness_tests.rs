//! No input makes the protocol panic: arbitrary bytes wherever a peer or
//! the store supplies them come back as errors or rejections.

use crate::helper_continue::helper_continue;
use crate::helper_init::{helper_initialize, HelperReportState, KnownFacts};
use crate::idempotency::StoredJob;
use crate::leader_prepare::{leader_initialize, leader_process_response, LeaderReportState};
use crate::test_util::{hash_of, helper_ctx, leader_share, Fixture, NOW};
use crate::vdaf_codec::*;
use dyad_core::vdaf::{
    new_poplar1, new_prio3_sum, Measurement, Poplar1TurboShake128, VdafInstance,
};
use dyad_messages::draft09::{
    AggregationJobContinueReq, AggregationJobResp, AggregationJobStep, PartialBatchSelector,
    PrepareContinue, PrepareResp, PrepareStepResult, Role,
};
use prio::codec::Encode;
use prio::idpf::IdpfInput;
use prio::vdaf::poplar1::Poplar1AggregationParam;
use proptest::prelude::*;

fn poplar_param() -> Vec<u8> {
    Poplar1AggregationParam::try_from_prefixes(vec![IdpfInput::from_bools(&[true])])
        .unwrap()
        .get_encoded()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let sum = new_prio3_sum(8).unwrap();
        let poplar = new_poplar1(4).unwrap();
        let param = decode_agg_param::<Poplar1TurboShake128>(&poplar_param()).unwrap();
        for role in [Role::Leader, Role::Helper, Role::Collector] {
            let _ = DapAggregator::<16>::decode_prep_state(&sum, role, &bytes);
            let _ = DapAggregator::<16>::decode_prep_state(&poplar, role, &bytes);
            let _ = decode_input_share(&sum, role, &bytes);
            let _ = decode_input_share(&poplar, role, &bytes);
        }
        let _ = decode_public_share(&sum, &bytes);
        let _ = decode_public_share(&poplar, &bytes);
        let _ = decode_output_share(&sum, &(), &bytes);
        let _ = decode_output_share(&poplar, &param, &bytes);
        let _ = decode_aggregate_share(&sum, &(), &bytes);
        let _ = decode_aggregate_share(&poplar, &param, &bytes);
        let _ = decode_agg_param::<Poplar1TurboShake128>(&bytes);
        let _ = decode_ping_pong(&bytes);
    }

    /// Arbitrary Leader messages at initialization and continuation, and
    /// arbitrary Helper answers: rejections or aborts, never a panic, and
    /// never a report that "finishes" on garbage.
    #[test]
    fn arbitrary_peer_messages_are_rejections(
        payload in proptest::collection::vec(any::<u8>(), 0..120),
        tag in 0u8..3,
    ) {
        let fx = Fixture::new(VdafInstance::Poplar1 { bits: 4 });
        let vdaf = new_poplar1(4).unwrap();
        let param = poplar_param();
        let share = leader_share(&fx, &fx.report(&Measurement::Poplar1(vec![true; 4]), NOW));
        let init = leader_initialize::<_, 16>(
            &vdaf, &fx.leader_task, &param, PartialBatchSelector::TimeInterval, &[share],
        ).unwrap();
        let mut garbage = vec![tag];
        garbage.extend_from_slice(&payload);

        // The Helper, given a garbage Leader message.
        let mut request = init.request.clone().unwrap();
        request.prepare_inits[0].payload = garbage.clone();
        let facts = KnownFacts::default();
        let outcome =
            helper_initialize::<_, 16, _, _>(
                &vdaf, &helper_ctx(&fx, &facts), &request, hash_of(&request),
            ).unwrap();
        prop_assert!(matches!(outcome.reports[0].state, HelperReportState::Failed(_)));

        // The Leader, given a garbage Helper message.
        let report_id = init.reports[0].metadata.id;
        let response = AggregationJobResp::new(vec![PrepareResp::new(
            report_id,
            PrepareStepResult::Continue { payload: garbage.clone() },
        )]);
        let reports = leader_process_response::<_, 16>(&vdaf, &param, &init.reports, &response)
            .unwrap();
        let failed = matches!(reports[0].state, LeaderReportState::Failed { .. });
        prop_assert!(failed);

        // The Helper continuing, given a garbage step-1 message.
        let good = helper_initialize::<_, 16, _, _>(
            &vdaf, &helper_ctx(&fx, &facts), init.request.as_ref().unwrap(),
            hash_of(init.request.as_ref().unwrap()),
        ).unwrap();
        let continue_req = AggregationJobContinueReq::new(
            AggregationJobStep(1),
            vec![PrepareContinue::new(report_id, garbage)],
        );
        let job = StoredJob {
            step: AggregationJobStep::INITIAL,
            last_request_hash: good.request_hash,
        };
        let result = helper_continue::<_, 16>(
            &vdaf, &param, &job, &good.reports, &continue_req, hash_of(&continue_req),
        )
            .unwrap();
        let crate::helper_continue::HelperContinueResult::Advanced(advanced) = result else {
            panic!("a new step is not a replay");
        };
        prop_assert!(matches!(advanced.reports[0].state, HelperReportState::Failed(_)));
    }
}
