//! Assembling a `Report` from a sharded measurement (DAP-09 section 4.4.2):
//! each input share is wrapped in a `PlaintextInputShare` with the
//! extensions meant for its aggregator and sealed to that aggregator's HPKE
//! configuration, bound by an `InputShareAad` to the task, the report's
//! metadata and the public share.
//!
//! # Where is
//!
//! - each share's `PlaintextInputShare`, `InputShareAad` and sealing to its
//!   aggregator (DAP-09 section 4.4.2) -> [`seal_report`].

use dyad_core::hpke::{seal_input_share, HpkeError};
use dyad_core::vdaf::ShardedMeasurement;
use dyad_messages::draft09::{
    Extension, HpkeConfig, InputShareAad, PlaintextInputShare, Report, ReportMetadata, Role, TaskId,
};

/// What a report is sealed to: each aggregator's configuration and the
/// extensions it is to receive.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Recipients<'a> {
    pub(crate) leader_config: &'a HpkeConfig,
    pub(crate) helper_config: &'a HpkeConfig,
    pub(crate) leader_extensions: &'a [Extension],
    pub(crate) helper_extensions: &'a [Extension],
}

/// The report for `sharded`, with the given metadata, sealed to `recipients`.
pub(crate) fn seal_report(
    task_id: TaskId,
    metadata: ReportMetadata,
    sharded: ShardedMeasurement,
    recipients: Recipients<'_>,
) -> Result<Report, HpkeError> {
    let ShardedMeasurement {
        public_share,
        leader_input_share,
        helper_input_share,
    } = sharded;
    let aad = InputShareAad::new(task_id, metadata, public_share);
    let leader =
        PlaintextInputShare::new(recipients.leader_extensions.to_vec(), leader_input_share);
    let helper =
        PlaintextInputShare::new(recipients.helper_extensions.to_vec(), helper_input_share);
    let leader_encrypted_input_share =
        seal_input_share(recipients.leader_config, Role::Leader, &aad, &leader)?;
    let helper_encrypted_input_share =
        seal_input_share(recipients.helper_config, Role::Helper, &aad, &helper)?;
    Ok(Report::new(
        metadata,
        aad.public_share,
        leader_encrypted_input_share,
        helper_encrypted_input_share,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dyad_core::hpke::{open_input_share, HpkeKeypair};
    use dyad_messages::draft09::{ExtensionType, HpkeConfigId, ReportId, Time};

    #[test]
    fn each_share_opens_only_for_its_own_aggregator() {
        let leader = HpkeKeypair::generate_default(HpkeConfigId(1));
        let helper = HpkeKeypair::generate_default(HpkeConfigId(2));
        let task_id = TaskId::random();
        let metadata =
            ReportMetadata::new(ReportId::random(), Time::from_seconds_since_epoch(3600));
        let extension = Extension::new(ExtensionType::Tbd, b"for the helper".to_vec());
        let report = seal_report(
            task_id,
            metadata,
            ShardedMeasurement {
                public_share: b"public".to_vec(),
                leader_input_share: b"leader share".to_vec(),
                helper_input_share: b"helper share".to_vec(),
            },
            Recipients {
                leader_config: leader.config(),
                helper_config: helper.config(),
                leader_extensions: &[],
                helper_extensions: std::slice::from_ref(&extension),
            },
        )
        .unwrap();
        assert_eq!(report.metadata, metadata);
        assert_eq!(report.public_share, b"public");
        assert_eq!(
            report.leader_encrypted_input_share.config_id,
            HpkeConfigId(1)
        );
        assert_eq!(
            report.helper_encrypted_input_share.config_id,
            HpkeConfigId(2)
        );

        let aad = InputShareAad::new(task_id, metadata, b"public".to_vec());
        let opened = open_input_share(
            &leader,
            Role::Leader,
            &aad,
            &report.leader_encrypted_input_share,
        )
        .unwrap();
        assert_eq!(
            opened,
            PlaintextInputShare::new(vec![], b"leader share".to_vec())
        );
        let opened = open_input_share(
            &helper,
            Role::Helper,
            &aad,
            &report.helper_encrypted_input_share,
        )
        .unwrap();
        assert_eq!(
            opened,
            PlaintextInputShare::new(vec![extension], b"helper share".to_vec())
        );
        assert!(open_input_share(
            &helper,
            Role::Helper,
            &aad,
            &report.leader_encrypted_input_share
        )
        .is_err());
    }
}
