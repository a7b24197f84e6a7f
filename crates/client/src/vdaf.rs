//! [`ClientVdaf`]: how the client shards a measurement. Every
//! `prio::vdaf::Client<16>` is one, with its own typed measurement; for code
//! that learns the VDAF only at run time (a CLI, the interop API),
//! [`AnyVdaf`] shards any catalogue [`VdafInstance`] with a catalogue
//! [`Measurement`].
//!
//! # Where is
//!
//! - sharding with the report ID as the nonce (VDAF-08 section 5.1, DAP-09
//!   section 4.4.2) -> [`ClientVdaf::shard_report`];
//! - a catalogue measurement checked against its instance, then sharded ->
//!   [`AnyVdaf`]'s `shard_report`, through [`shard_measurement`].

use dyad_core::vdaf::{
    shard_measurement, Measurement, ShardedMeasurement, VdafInstance, VdafRunError, NONCE_LEN,
};
use dyad_messages::draft09::ReportId;
use prio::codec::Encode;

/// A VDAF the client can shard measurements with (VDAF-08 section 5.1),
/// using the report ID as the nonce (DAP-09 section 4.4.2).
pub trait ClientVdaf {
    /// What one report measures.
    type Measurement;

    /// The encoded public share and the Leader's and the Helper's encoded
    /// input shares, in that order.
    fn shard_report(
        &self,
        measurement: &Self::Measurement,
        report_id: &ReportId,
    ) -> Result<ShardedMeasurement, VdafRunError>;
}

impl<V: prio::vdaf::Client<NONCE_LEN>> ClientVdaf for V {
    type Measurement = V::Measurement;

    fn shard_report(
        &self,
        measurement: &V::Measurement,
        report_id: &ReportId,
    ) -> Result<ShardedMeasurement, VdafRunError> {
        let (public_share, input_shares) =
            prio::vdaf::Client::shard(self, measurement, report_id.as_bytes())?;
        let [leader, helper] = <[V::InputShare; 2]>::try_from(input_shares).map_err(|shares| {
            VdafRunError::Mismatch {
                vdaf: "VDAF",
                reason: format!("sharding produced {} input shares, not 2", shares.len()),
            }
        })?;
        Ok(ShardedMeasurement {
            public_share: public_share.get_encoded()?,
            leader_input_share: leader.get_encoded()?,
            helper_input_share: helper.get_encoded()?,
        })
    }
}

/// Any catalogue VDAF, chosen at run time; measurements are catalogue
/// [`Measurement`]s, checked against the instance before sharding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AnyVdaf(pub VdafInstance);

impl From<VdafInstance> for AnyVdaf {
    fn from(instance: VdafInstance) -> Self {
        Self(instance)
    }
}

impl ClientVdaf for AnyVdaf {
    type Measurement = Measurement;

    fn shard_report(
        &self,
        measurement: &Measurement,
        report_id: &ReportId,
    ) -> Result<ShardedMeasurement, VdafRunError> {
        shard_measurement(&self.0, measurement, report_id.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dyad_core::vdaf::new_prio3_sum;
    use prio::codec::ParameterizedDecode;
    use prio::vdaf::prio3::Prio3InputShare;

    #[test]
    fn typed_and_catalogue_sharding_give_decodable_shares() {
        let report_id = ReportId::random();
        let vdaf = new_prio3_sum(8).unwrap();
        let typed = vdaf.shard_report(&200, &report_id).unwrap();
        let any = AnyVdaf(VdafInstance::Prio3Sum { bits: 8 })
            .shard_report(&Measurement::Sum(200), &report_id)
            .unwrap();
        for sharded in [typed, any] {
            for (agg_id, share) in [
                (0, &sharded.leader_input_share),
                (1, &sharded.helper_input_share),
            ] {
                Prio3InputShare::get_decoded_with_param(&(&vdaf, agg_id), share).unwrap();
            }
        }
    }

    #[test]
    fn measurements_that_do_not_fit_are_errors() {
        let report_id = ReportId::random();
        assert!(new_prio3_sum(8)
            .unwrap()
            .shard_report(&256, &report_id)
            .is_err());
        assert!(AnyVdaf(VdafInstance::Prio3Count)
            .shard_report(&Measurement::Sum(1), &report_id)
            .is_err());
    }
}
