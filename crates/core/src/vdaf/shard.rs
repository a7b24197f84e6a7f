//! Sharding one catalogue [`Measurement`] (VDAF-08 section 5.1) with the
//! concrete VDAF its [`VdafInstance`] names, into the encoded public share and
//! the two input shares a DAP-09 report carries (section 4.4.2).
//!
//! # Where is
//!
//! - sharding with the report ID as the nonce (VDAF-08 section 5.1) ->
//!   [`shard_measurement`], for a typed VDAF [`shard_with`].

use super::catalogue_vdaf::CatalogueVdaf;
use super::concrete::NONCE_LEN;
use super::error::VdafRunError;
use super::instance::VdafInstance;
use super::measurement::Measurement;
use prio::codec::Encode;
use prio::vdaf::Client;
use std::fmt;

/// The encoded outputs of sharding one measurement: `PublicShare`, and the
/// Leader's and the Helper's `InputShare` (each to be sealed to its
/// aggregator as a `PlaintextInputShare` payload).
#[derive(Clone, PartialEq, Eq)]
pub struct ShardedMeasurement {
    pub public_share: Vec<u8>,
    pub leader_input_share: Vec<u8>,
    pub helper_input_share: Vec<u8>,
}

/// Input shares are secret: only their lengths are shown.
impl fmt::Debug for ShardedMeasurement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShardedMeasurement")
            .field("public_share_len", &self.public_share.len())
            .field("leader_input_share_len", &self.leader_input_share.len())
            .field("helper_input_share_len", &self.helper_input_share.len())
            .finish()
    }
}

/// Shards `measurement` with the VDAF `instance` names, using `nonce` (the
/// report ID) as the VDAF nonce. The measurement is checked against the
/// instance first.
pub fn shard_measurement(
    instance: &VdafInstance,
    measurement: &Measurement,
    nonce: &[u8; NONCE_LEN],
) -> Result<ShardedMeasurement, VdafRunError> {
    measurement.check(instance)?;
    crate::vdaf_dispatch!(instance, |vdaf, V, VERIFY_KEY_LEN| {
        shard_with(&vdaf, measurement, nonce)
    })
}

/// Shards `measurement` with a concrete VDAF (for code already inside
/// [`crate::vdaf_dispatch!`]).
pub fn shard_with<V>(
    vdaf: &V,
    measurement: &Measurement,
    nonce: &[u8; NONCE_LEN],
) -> Result<ShardedMeasurement, VdafRunError>
where
    V: Client<NONCE_LEN> + CatalogueVdaf,
{
    let measurement = vdaf.to_vdaf_measurement(measurement)?;
    let (public_share, input_shares) = vdaf.shard(&measurement, nonce)?;
    let [leader, helper] = <[V::InputShare; 2]>::try_from(input_shares).map_err(|shares| {
        VdafRunError::mismatch(
            V::FAMILY,
            format!("sharding produced {} input shares, not 2", shares.len()),
        )
    })?;
    Ok(ShardedMeasurement {
        public_share: public_share.get_encoded()?,
        leader_input_share: leader.get_encoded()?,
        helper_input_share: helper.get_encoded()?,
    })
}
