//! Encoding and decoding every VDAF value that crosses this crate's boundary.
//!
//! The protocol is generic over the VDAF, but what the datastore keeps must
//! not be: preparation states, output shares, aggregate shares and
//! aggregation parameters leave this crate as opaque bytes and come back the
//! same way. The encodings are `prio`'s own (`Encode`, `ParameterizedDecode`),
//! which are the VDAF-08 encodings wherever VDAF-08 defines one (DAP-09
//! section 4 requires encodings of `PublicShare`, `InputShare`, `AggParam`,
//! `AggShare`, `PrepShare` and `PrepMessage`).
//!
//! [`DapAggregator`] is `prio::vdaf::Aggregator<VERIFY_KEY_LEN, 16>` plus an
//! encodable preparation state; every catalogued VDAF has it through the
//! blanket implementation, so code inside `dyad_core::vdaf_dispatch!`
//! compiles for each of them.
//!
//! Decoding never panics: malformed bytes are a [`CodecError`].
//!
//! # Where is
//!
//! | rule | DAP-09 | function |
//! |---|---|---|
//! | the aggregator index of each role (Leader 0, Helper 1) | 4.5.1 | [`aggregator_index`] |
//! | `AggParam`, refusing a Poplar1 parameter that claims more than it holds | 4 | [`encode_agg_param`], [`decode_agg_param`] |
//! | `PublicShare` and `InputShare` | 4, 4.5.1.4 | [`decode_public_share`], [`decode_input_share`] |
//! | output and aggregate shares, as stored | 4.6.2 | [`encode_output_share`], [`decode_output_share`], [`encode_aggregate_share`], [`decode_aggregate_share`] |
//! | the ping-pong messages carried in `payload` fields | 4.5.1, 4.5.2 | [`encode_ping_pong`], [`decode_ping_pong`] |
//! | the zero aggregate share of an empty batch | 4.6.2 | [`empty_aggregate_share`] |

use prio::codec::{CodecError, Decode, Encode, ParameterizedDecode};
use prio::topology::ping_pong::PingPongMessage;
use prio::vdaf::poplar1::Poplar1AggregationParam;
use prio::vdaf::{Aggregatable, Aggregator, Vdaf};

use dyad_messages::draft09::Role;

/// The VDAF nonce length of DAP-09: the 16-byte report ID (section 4).
pub const NONCE_LEN: usize = 16;

/// A VDAF aggregator whose preparation state can be stored, shared by the
/// threads that prepare one job's reports ([`crate::parallel`]).
pub trait DapAggregator<const VERIFY_KEY_LEN: usize>:
    Aggregator<VERIFY_KEY_LEN, NONCE_LEN> + Sync
{
    /// Encodes a preparation state.
    fn encode_prep_state(&self, state: &Self::PrepareState) -> Result<Vec<u8>, CodecError>;

    /// Decodes a preparation state of the aggregator playing `role`.
    fn decode_prep_state(&self, role: Role, bytes: &[u8])
        -> Result<Self::PrepareState, CodecError>;
}

impl<V, const VERIFY_KEY_LEN: usize> DapAggregator<VERIFY_KEY_LEN> for V
where
    V: Aggregator<VERIFY_KEY_LEN, NONCE_LEN> + Sync,
    V::PrepareState: Encode + for<'a> ParameterizedDecode<(&'a V, usize)>,
{
    fn encode_prep_state(&self, state: &Self::PrepareState) -> Result<Vec<u8>, CodecError> {
        state.get_encoded()
    }

    fn decode_prep_state(
        &self,
        role: Role,
        bytes: &[u8],
    ) -> Result<Self::PrepareState, CodecError> {
        V::PrepareState::get_decoded_with_param(&(self, aggregator_index(role)?), bytes)
    }
}

/// The VDAF aggregator index of a DAP role: 0 for the Leader, 1 for the
/// Helper (DAP-09 section 4.4.2: the first input share is the Leader's).
pub fn aggregator_index(role: Role) -> Result<usize, CodecError> {
    match role {
        Role::Leader => Ok(0),
        Role::Helper => Ok(1),
        other => Err(CodecError::Other(
            format!("the {other} has no VDAF aggregator index").into(),
        )),
    }
}

/// Encodes an aggregation parameter (`agg_param` of DAP-09 messages).
pub fn encode_agg_param<V: Vdaf>(param: &V::AggregationParam) -> Result<Vec<u8>, CodecError> {
    param.get_encoded()
}

/// Decodes an aggregation parameter.
pub fn decode_agg_param<V: Vdaf>(bytes: &[u8]) -> Result<V::AggregationParam, CodecError> {
    if std::any::type_name::<V::AggregationParam>()
        == std::any::type_name::<Poplar1AggregationParam>()
    {
        check_poplar1_agg_param_length(bytes)?;
    }
    V::AggregationParam::get_decoded(bytes)
}

/// `prio` 0.16 decodes a Poplar1 aggregation parameter by first allocating
/// as many bytes as its header claims (`(level + 1) * count` bits), before
/// reading them: a 6-byte parameter can ask for terabytes and abort the
/// process. This checks the claim against the bytes actually present first.
/// (The encoding is VDAF-08 section 8.2.6.4: `level: u16`, `count: u32`,
/// then the packed prefixes.)
fn check_poplar1_agg_param_length(bytes: &[u8]) -> Result<(), CodecError> {
    let (Some(level), Some(count)) = (bytes.get(0..2), bytes.get(2..6)) else {
        return Err(CodecError::UnexpectedValue);
    };
    let level = u64::from(u16::from_be_bytes([level[0], level[1]]));
    let count = u64::from(u32::from_be_bytes([count[0], count[1], count[2], count[3]]));
    let packed_len = (level + 1).saturating_mul(count).div_ceil(8);
    let present = u64::try_from(bytes.len() - 6).unwrap_or(u64::MAX);
    if packed_len > present {
        return Err(CodecError::LengthPrefixTooBig(
            usize::try_from(packed_len).unwrap_or(usize::MAX),
        ));
    }
    Ok(())
}

/// Decodes a report's public share.
pub fn decode_public_share<V: Vdaf>(vdaf: &V, bytes: &[u8]) -> Result<V::PublicShare, CodecError> {
    V::PublicShare::get_decoded_with_param(vdaf, bytes)
}

/// Decodes the input share of the aggregator playing `role`.
pub fn decode_input_share<V: Vdaf>(
    vdaf: &V,
    role: Role,
    bytes: &[u8],
) -> Result<V::InputShare, CodecError> {
    V::InputShare::get_decoded_with_param(&(vdaf, aggregator_index(role)?), bytes)
}

/// Encodes an output share.
pub fn encode_output_share<V: Vdaf>(share: &V::OutputShare) -> Result<Vec<u8>, CodecError> {
    share.get_encoded()
}

/// Decodes an output share prepared under `param`.
pub fn decode_output_share<V: Vdaf>(
    vdaf: &V,
    param: &V::AggregationParam,
    bytes: &[u8],
) -> Result<V::OutputShare, CodecError> {
    V::OutputShare::get_decoded_with_param(&(vdaf, param), bytes)
}

/// Encodes an aggregate share.
pub fn encode_aggregate_share<V: Vdaf>(share: &V::AggregateShare) -> Result<Vec<u8>, CodecError> {
    share.get_encoded()
}

/// Decodes an aggregate share aggregated under `param`.
pub fn decode_aggregate_share<V: Vdaf>(
    vdaf: &V,
    param: &V::AggregationParam,
    bytes: &[u8],
) -> Result<V::AggregateShare, CodecError> {
    V::AggregateShare::get_decoded_with_param(&(vdaf, param), bytes)
}

/// Encodes a ping-pong message (VDAF-08 section 5.8), the payload of
/// `PrepareInit`, `PrepareResp` (continue) and `PrepareContinue`.
pub fn encode_ping_pong(message: &PingPongMessage) -> Result<Vec<u8>, CodecError> {
    message.get_encoded()
}

/// Decodes a ping-pong message.
pub fn decode_ping_pong(bytes: &[u8]) -> Result<PingPongMessage, CodecError> {
    PingPongMessage::get_decoded(bytes)
}

/// The empty aggregate share under `param`: aggregating no output shares.
pub fn empty_aggregate_share<V: Aggregator<L, NONCE_LEN>, const L: usize>(
    vdaf: &V,
    param: &V::AggregationParam,
) -> Result<V::AggregateShare, prio::vdaf::VdafError> {
    vdaf.aggregate(param, [])
}

/// Adds `output` into `share`, starting it if there is none yet.
pub(crate) fn accumulate_into<S: Aggregatable>(
    share: &mut Option<S>,
    output: &S::OutputShare,
) -> Result<(), prio::vdaf::VdafError>
where
    S::OutputShare: Clone,
{
    match share {
        Some(share) => share.accumulate(output),
        None => {
            *share = Some(S::from(output.clone()));
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dyad_core::vdaf::{new_prio3_count, new_prio3_sum, Prio3Sum};
    use prio::vdaf::Client;

    #[test]
    fn prep_states_round_trip_for_both_roles() {
        let vdaf: Prio3Sum = new_prio3_sum(8).unwrap();
        let nonce = [1; 16];
        let (public, inputs) = vdaf.shard(&17, &nonce).unwrap();
        for (index, role) in [Role::Leader, Role::Helper].into_iter().enumerate() {
            let (prep, _) = vdaf
                .prepare_init(&[0; 16], index, &(), &nonce, &public, &inputs[index])
                .unwrap();
            let bytes = vdaf.encode_prep_state(&prep).unwrap();
            assert_eq!(vdaf.decode_prep_state(role, &bytes).unwrap(), prep);
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let vdaf = new_prio3_count().unwrap();
        for bytes in [&[][..], &[0xff; 3], &[0; 100]] {
            assert!(vdaf.decode_prep_state(Role::Helper, bytes).is_err());
            assert!(decode_input_share(&vdaf, Role::Leader, bytes).is_err());
            assert!(decode_output_share(&vdaf, &(), bytes).is_err());
        }
        assert!(decode_ping_pong(&[7, 0, 0]).is_err());
        assert!(decode_input_share(&vdaf, Role::Client, &[]).is_err());
        assert!(decode_agg_param::<prio::vdaf::prio3::Prio3Count>(&[1]).is_err());
    }

    /// prio 0.16 would try to allocate ~32 TB for this 6-byte parameter.
    #[test]
    fn poplar1_parameter_claiming_more_prefixes_than_present_is_refused() {
        type P = dyad_core::vdaf::Poplar1TurboShake128;
        let huge = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        assert!(matches!(
            decode_agg_param::<P>(&huge),
            Err(CodecError::LengthPrefixTooBig(_))
        ));
        assert!(decode_agg_param::<P>(&[0, 0]).is_err());
        let param = Poplar1AggregationParam::try_from_prefixes(vec![
            prio::idpf::IdpfInput::from_bools(&[true, false]),
            prio::idpf::IdpfInput::from_bools(&[true, true]),
        ])
        .unwrap();
        let encoded = param.get_encoded().unwrap();
        assert_eq!(decode_agg_param::<P>(&encoded).unwrap(), param);
        assert!(decode_agg_param::<P>(&encoded[..encoded.len() - 1]).is_err());
    }
}
