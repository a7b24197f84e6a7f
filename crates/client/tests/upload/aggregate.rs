//! Aggregates the reports the fake aggregators received, as the real ones
//! would: decode each opened input share, prepare it between the two
//! aggregators with the report ID as the nonce, aggregate the output shares
//! and unshard. A report sharded with the wrong nonce, or a share that is
//! not what the VDAF produced, fails here.

use crate::fake_aggregators::ReceivedReport;
use prio::codec::ParameterizedDecode;
use prio::vdaf::{Aggregator, Client, Collector, PrepareTransition};

pub fn aggregate_reports<V>(
    vdaf: &V,
    param: &V::AggregationParam,
    reports: &[ReceivedReport],
) -> V::AggregateResult
where
    V: Client<16> + Aggregator<16, 16> + Collector,
{
    let verify_key: [u8; 16] = rand::random();
    let mut outputs = (Vec::new(), Vec::new());
    for report in reports {
        let nonce = report.metadata.id.as_bytes();
        let public_share = V::PublicShare::get_decoded_with_param(vdaf, &report.public_share)
            .expect("public share decodes");
        let inputs = [&report.leader_share, &report.helper_share].map(|share| &share.payload);
        let leader_input = V::InputShare::get_decoded_with_param(&(vdaf, 0), inputs[0])
            .expect("leader input share decodes");
        let helper_input = V::InputShare::get_decoded_with_param(&(vdaf, 1), inputs[1])
            .expect("helper input share decodes");
        let (mut leader_state, leader_share) = vdaf
            .prepare_init(&verify_key, 0, param, nonce, &public_share, &leader_input)
            .unwrap();
        let (mut helper_state, helper_share) = vdaf
            .prepare_init(&verify_key, 1, param, nonce, &public_share, &helper_input)
            .unwrap();
        let mut shares = [leader_share, helper_share];
        loop {
            let message = vdaf
                .prepare_shares_to_prepare_message(param, shares)
                .expect("the two aggregators agree on the report");
            match (
                vdaf.prepare_next(leader_state, message.clone()).unwrap(),
                vdaf.prepare_next(helper_state, message).unwrap(),
            ) {
                (PrepareTransition::Finish(leader), PrepareTransition::Finish(helper)) => {
                    outputs.0.push(leader);
                    outputs.1.push(helper);
                    break;
                }
                (
                    PrepareTransition::Continue(next_leader, leader_share),
                    PrepareTransition::Continue(next_helper, helper_share),
                ) => {
                    leader_state = next_leader;
                    helper_state = next_helper;
                    shares = [leader_share, helper_share];
                }
                _ => panic!("the aggregators disagree on the number of rounds"),
            }
        }
    }
    let leader = vdaf.aggregate(param, outputs.0).unwrap();
    let helper = vdaf.aggregate(param, outputs.1).unwrap();
    vdaf.unshard(param, [leader, helper], reports.len())
        .unwrap()
}
