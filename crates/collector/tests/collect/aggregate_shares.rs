//! Real aggregate shares for the fake Leader to serve: each measurement is
//! sharded, prepared between the two aggregators (as many rounds as the
//! VDAF takes) and the output shares aggregated, as a Leader and a Helper
//! would; the encoded shares are what DAP seals to the Collector.

use prio::codec::Encode;
use prio::vdaf::{Aggregator, Client, PrepareTransition};

pub struct AggregateShares {
    pub leader: Vec<u8>,
    pub helper: Vec<u8>,
    pub report_count: u64,
}

pub fn aggregate_shares<V>(
    vdaf: &V,
    param: &V::AggregationParam,
    measurements: &[V::Measurement],
) -> AggregateShares
where
    V: Client<16> + Aggregator<16, 16>,
{
    let verify_key: [u8; 16] = rand::random();
    let mut outputs = (Vec::new(), Vec::new());
    for measurement in measurements {
        let nonce: [u8; 16] = rand::random();
        let (public_share, input_shares) = vdaf.shard(measurement, &nonce).unwrap();
        let (mut leader_state, leader_share) = vdaf
            .prepare_init(
                &verify_key,
                0,
                param,
                &nonce,
                &public_share,
                &input_shares[0],
            )
            .unwrap();
        let (mut helper_state, helper_share) = vdaf
            .prepare_init(
                &verify_key,
                1,
                param,
                &nonce,
                &public_share,
                &input_shares[1],
            )
            .unwrap();
        let mut shares = [leader_share, helper_share];
        loop {
            let message = vdaf
                .prepare_shares_to_prepare_message(param, shares)
                .unwrap();
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
    AggregateShares {
        leader: vdaf
            .aggregate(param, outputs.0)
            .unwrap()
            .get_encoded()
            .unwrap(),
        helper: vdaf
            .aggregate(param, outputs.1)
            .unwrap()
            .get_encoded()
            .unwrap(),
        report_count: measurements.len() as u64,
    }
}
