//! Running a VDAF end to end in one process: shard each measurement, prepare
//! it between a Leader and a Helper with the ping-pong topology (VDAF-08
//! section 5.8, as DAP-09 section 4.5 uses it), aggregate the output shares
//! and unshard. Every message crosses between the two parties in its encoded
//! form, as it would on the wire.
//!
//! This proves a catalogue entry works without any DAP machinery; the
//! quickstart and tests use it to check results against
//! [`plaintext_aggregate`](super::plaintext_aggregate).
//!
//! # Where is
//!
//! - preparation between the two parties (VDAF-08 section 5.8) -> [`prepare`],
//!   at most [`MAX_MESSAGES`] messages; aggregation -> [`accumulate`];
//! - the whole run -> [`run_locally`], [`aggregate_locally`].

use super::catalogue_vdaf::CatalogueVdaf;
use super::concrete::NONCE_LEN;
use super::error::VdafRunError;
use super::instance::VdafInstance;
use super::measurement::{AggregateResult, AggregationParam, Measurement};
use super::shard::shard_with;
use prio::codec::{Decode, Encode, ParameterizedDecode};
use prio::topology::ping_pong::{
    PingPongContinuedValue, PingPongMessage, PingPongState, PingPongTopology,
};
use prio::vdaf::{Aggregatable, Aggregator, Client, Collector};

/// More messages than any catalogued VDAF needs: Prio3 takes two, Poplar1 three.
const MAX_MESSAGES: usize = 8;

/// Shards, prepares, aggregates and unshards `measurements` with the VDAF
/// `instance` names, under `verify_key` and `param`.
pub fn aggregate_locally(
    instance: &VdafInstance,
    verify_key: &[u8],
    param: &AggregationParam,
    measurements: &[Measurement],
) -> Result<AggregateResult, VdafRunError> {
    for measurement in measurements {
        measurement.check(instance)?;
    }
    crate::vdaf_dispatch!(instance, |vdaf, V, VERIFY_KEY_LEN| {
        let verify_key: &[u8; VERIFY_KEY_LEN] = verify_key.try_into().map_err(|_| {
            VdafRunError::mismatch(
                instance.type_name(),
                format!(
                    "verify key is {} bytes, VDAF needs {VERIFY_KEY_LEN}",
                    verify_key.len()
                ),
            )
        })?;
        let param = vdaf.to_vdaf_aggregation_param(param)?;
        let result = run_locally::<V, VERIFY_KEY_LEN>(&vdaf, verify_key, &param, measurements)?;
        Ok::<_, VdafRunError>(vdaf.to_aggregate_result(result))
    })
}

/// [`aggregate_locally`] for a concrete VDAF.
pub fn run_locally<V, const VERIFY_KEY_LEN: usize>(
    vdaf: &V,
    verify_key: &[u8; VERIFY_KEY_LEN],
    param: &V::AggregationParam,
    measurements: &[Measurement],
) -> Result<V::AggregateResult, VdafRunError>
where
    V: Client<NONCE_LEN> + Aggregator<VERIFY_KEY_LEN, NONCE_LEN> + Collector + CatalogueVdaf,
{
    let mut leader_share: Option<V::AggregateShare> = None;
    let mut helper_share: Option<V::AggregateShare> = None;
    for measurement in measurements {
        let nonce: [u8; NONCE_LEN] = rand::random();
        let sharded = shard_with(vdaf, measurement, &nonce)?;
        let public_share = V::PublicShare::get_decoded_with_param(vdaf, &sharded.public_share)?;
        let leader_input =
            V::InputShare::get_decoded_with_param(&(vdaf, 0), &sharded.leader_input_share)?;
        let helper_input =
            V::InputShare::get_decoded_with_param(&(vdaf, 1), &sharded.helper_input_share)?;

        let (leader_out, helper_out) = prepare(
            vdaf,
            verify_key,
            param,
            &nonce,
            &public_share,
            &leader_input,
            &helper_input,
        )?;
        accumulate(&mut leader_share, leader_out)?;
        accumulate(&mut helper_share, helper_out)?;
    }

    let mut shares = Vec::with_capacity(2);
    for share in [leader_share, helper_share] {
        let share = match share {
            Some(share) => share,
            None => vdaf.aggregate(param, [])?,
        };
        // Aggregate shares travel to the collector encoded, too.
        let encoded = share.get_encoded()?;
        shares.push(V::AggregateShare::get_decoded_with_param(
            &(vdaf, param),
            &encoded,
        )?);
    }
    Ok(vdaf.unshard(param, shares, measurements.len())?)
}

fn accumulate<S: Aggregatable>(
    share: &mut Option<S>,
    output: S::OutputShare,
) -> Result<(), VdafRunError> {
    match share {
        Some(share) => share.accumulate(&output)?,
        None => *share = Some(S::from(output)),
    }
    Ok(())
}

/// Runs the ping-pong topology for one report between the two aggregators,
/// returning the Leader's and the Helper's output shares.
#[allow(clippy::too_many_arguments)]
fn prepare<V, const VERIFY_KEY_LEN: usize>(
    vdaf: &V,
    verify_key: &[u8; VERIFY_KEY_LEN],
    param: &V::AggregationParam,
    nonce: &[u8; NONCE_LEN],
    public_share: &V::PublicShare,
    leader_input: &V::InputShare,
    helper_input: &V::InputShare,
) -> Result<(V::OutputShare, V::OutputShare), VdafRunError>
where
    V: Aggregator<VERIFY_KEY_LEN, NONCE_LEN>,
{
    let wire = |message: &PingPongMessage| -> Result<PingPongMessage, VdafRunError> {
        Ok(PingPongMessage::get_decoded(&message.get_encoded()?)?)
    };

    let (leader_state, to_helper) =
        vdaf.leader_initialized(verify_key, param, nonce, public_share, leader_input)?;
    let (helper_state, to_leader) = vdaf
        .helper_initialized(
            verify_key,
            param,
            nonce,
            public_share,
            helper_input,
            &wire(&to_helper)?,
        )?
        .evaluate(vdaf)?;

    let mut leader = Some(leader_state);
    let mut helper = Some(helper_state);
    // The message in flight, and whether the Leader receives it.
    let mut in_flight = Some((wire(&to_leader)?, true));
    for _ in 0..MAX_MESSAGES {
        let Some((message, to_leader)) = in_flight.take() else {
            break;
        };
        let (slot, is_leader) = if to_leader {
            (&mut leader, true)
        } else {
            (&mut helper, false)
        };
        let state = slot.take().ok_or_else(|| {
            VdafRunError::mismatch("ping-pong", "message for a party without state")
        })?;
        let value = if is_leader {
            vdaf.leader_continued(state, param, &message)?
        } else {
            vdaf.helper_continued(state, param, &message)?
        };
        match value {
            PingPongContinuedValue::WithMessage { transition } => {
                let (state, outbound) = transition.evaluate(vdaf)?;
                *slot = Some(state);
                in_flight = Some((wire(&outbound)?, !is_leader));
            }
            PingPongContinuedValue::FinishedNoMessage { output_share } => {
                *slot = Some(PingPongState::Finished(output_share));
            }
        }
    }
    match (leader, helper) {
        (Some(PingPongState::Finished(l)), Some(PingPongState::Finished(h))) => Ok((l, h)),
        _ => Err(VdafRunError::mismatch(
            "ping-pong",
            "preparation did not finish for both aggregators",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vdaf::{plaintext_aggregate, random_measurement, FixedPointBitSize};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn prio3_instances() -> Vec<VdafInstance> {
        vec![
            VdafInstance::Prio3Count,
            VdafInstance::Prio3Sum { bits: 8 },
            VdafInstance::Prio3Sum { bits: 64 },
            VdafInstance::Prio3SumVec {
                bits: 8,
                length: 10,
                chunk_length: 4,
            },
            VdafInstance::Prio3Histogram {
                length: 7,
                chunk_length: 3,
            },
            VdafInstance::Prio3SumVecField64MultiproofHmacSha256Aes128 {
                proofs: 3,
                bits: 16,
                length: 5,
                chunk_length: 2,
            },
            VdafInstance::Prio3FixedPointBoundedL2VecSum {
                bitsize: FixedPointBitSize::BitSize16,
                length: 4,
            },
            VdafInstance::Prio3FixedPointBoundedL2VecSum {
                bitsize: FixedPointBitSize::BitSize32,
                length: 4,
            },
            VdafInstance::Prio3FixedPointBoundedL2VecSum {
                bitsize: FixedPointBitSize::BitSize64,
                length: 2,
            },
        ]
    }

    fn verify_key(instance: &VdafInstance, rng: &mut StdRng) -> Vec<u8> {
        (0..instance.verify_key_length())
            .map(|_| rng.gen())
            .collect()
    }

    #[test]
    fn every_prio3_entry_aggregates_to_the_plaintext_total() {
        let mut rng = StdRng::seed_from_u64(1);
        for instance in prio3_instances() {
            let measurements: Vec<Measurement> = (0..6)
                .map(|_| random_measurement(&instance, &mut rng))
                .collect();
            let key = verify_key(&instance, &mut rng);
            let param = AggregationParam::Empty;
            let got = aggregate_locally(&instance, &key, &param, &measurements)
                .unwrap_or_else(|e| panic!("{instance}: {e}"));
            let want = plaintext_aggregate(&instance, &param, &measurements).unwrap();
            assert_eq!(got, want, "{instance}");
        }
    }

    #[test]
    fn empty_batch_aggregates_to_zero() {
        let instance = VdafInstance::Prio3SumVec {
            bits: 4,
            length: 3,
            chunk_length: 2,
        };
        let got = aggregate_locally(&instance, &[7; 16], &AggregationParam::Empty, &[]).unwrap();
        assert_eq!(got, AggregateResult::SumVec(vec![0, 0, 0]));
    }

    #[test]
    fn poplar1_aggregates_prefix_counts_over_two_rounds() {
        let mut rng = StdRng::seed_from_u64(2);
        let instance = VdafInstance::Poplar1 { bits: 4 };
        let measurements: Vec<Measurement> = (0..5)
            .map(|_| random_measurement(&instance, &mut rng))
            .collect();
        let key = verify_key(&instance, &mut rng);
        for prefixes in [
            vec![vec![false], vec![true]],
            vec![
                vec![false, true, true, false],
                vec![true, false, false, true],
            ],
        ] {
            let param = AggregationParam::Poplar1 { prefixes };
            let got = aggregate_locally(&instance, &key, &param, &measurements).unwrap();
            let want = plaintext_aggregate(&instance, &param, &measurements).unwrap();
            assert_eq!(got, want);
        }
    }

    #[test]
    fn wrong_inputs_are_errors() {
        let instance = VdafInstance::Prio3Count;
        let ok = [Measurement::Count(true)];
        assert!(aggregate_locally(&instance, &[0; 15], &AggregationParam::Empty, &ok).is_err());
        assert!(aggregate_locally(
            &instance,
            &[0; 16],
            &AggregationParam::Empty,
            &[Measurement::Sum(1)]
        )
        .is_err());
        assert!(aggregate_locally(
            &VdafInstance::Poplar1 { bits: 2 },
            &[0; 16],
            &AggregationParam::Empty,
            &[Measurement::Poplar1(vec![true, true])]
        )
        .is_err());
    }

    /// Prepared with a different verification key, the aggregators' proofs
    /// disagree and preparation fails: the key really enters the run.
    #[test]
    fn mismatched_verify_keys_fail_preparation() {
        type V = crate::vdaf::Prio3Sum;
        let vdaf = crate::vdaf::new_prio3_sum(8).unwrap();
        let nonce = [3; 16];
        let sharded = shard_with(&vdaf, &Measurement::Sum(5), &nonce).unwrap();
        let public_share = <V as prio::vdaf::Vdaf>::PublicShare::get_decoded_with_param(
            &vdaf,
            &sharded.public_share,
        )
        .unwrap();
        let leader_input = <V as prio::vdaf::Vdaf>::InputShare::get_decoded_with_param(
            &(&vdaf, 0),
            &sharded.leader_input_share,
        )
        .unwrap();
        let helper_input = <V as prio::vdaf::Vdaf>::InputShare::get_decoded_with_param(
            &(&vdaf, 1),
            &sharded.helper_input_share,
        )
        .unwrap();
        let (_, to_helper) = vdaf
            .leader_initialized(&[1; 16], &(), &nonce, &public_share, &leader_input)
            .unwrap();
        let result = vdaf
            .helper_initialized(
                &[2; 16],
                &(),
                &nonce,
                &public_share,
                &helper_input,
                &to_helper,
            )
            .and_then(|t| t.evaluate(&vdaf));
        assert!(result.is_err());
    }
}
