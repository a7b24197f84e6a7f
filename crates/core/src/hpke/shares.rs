//! Sealing and opening DAP-09's two kinds of encrypted message with the right
//! application info and AAD:
//!
//! - a Client's `PlaintextInputShare` for an aggregator, with an encoded
//!   `InputShareAad` as AAD (section 4.4.2, "Upload Request"; section
//!   4.5.1.3, "Input Share Decryption");
//! - an aggregator's aggregate share for the Collector, with an encoded
//!   `AggregateShareAad` as AAD (section 4.6.4, "Aggregate Share
//!   Encryption").
//!
//! Encoded plaintexts are zeroized once sealed or decoded.
//!
//! # Where is
//!
//! - input shares go only to an aggregator -> [`aggregator`], used by
//!   [`seal_input_share`] and [`open_input_share`];
//! - aggregate shares from an aggregator to the Collector ->
//!   [`seal_aggregate_share`], [`open_aggregate_share`].

use super::{open, seal, HpkeApplicationInfo, HpkeError, HpkeKeypair};
use dyad_messages::draft09::{
    AggregateShareAad, HpkeCiphertext, HpkeConfig, InputShareAad, PlaintextInputShare, Role,
};
use dyad_messages::{Decode, Encode};
use zeroize::Zeroizing;

/// Refuses a role that is not one of the two aggregators: only the Leader
/// and the Helper receive input shares and send aggregate shares.
fn aggregator(role: Role) -> Result<Role, HpkeError> {
    if role.is_aggregator() {
        Ok(role)
    } else {
        Err(HpkeError::NotAnAggregator { role })
    }
}

/// Seals a Client's input share to the aggregator `recipient` (the Leader or
/// the Helper), whose configuration is `config`.
pub fn seal_input_share(
    config: &HpkeConfig,
    recipient: Role,
    aad: &InputShareAad,
    share: &PlaintextInputShare,
) -> Result<HpkeCiphertext, HpkeError> {
    let info = HpkeApplicationInfo::input_share(aggregator(recipient)?);
    let plaintext = Zeroizing::new(share.get_encoded()?);
    seal(config, &info, &plaintext, &aad.get_encoded()?)
}

/// Opens the input share that a Client sealed to the aggregator `recipient`
/// (the one holding `keypair`) and decodes it.
///
/// A ciphertext that does not open is [`HpkeError::Open`] (the report error
/// `hpke_decrypt_error`); one that opens to bytes that are not a
/// `PlaintextInputShare` is [`HpkeError::Decode`].
pub fn open_input_share(
    keypair: &HpkeKeypair,
    recipient: Role,
    aad: &InputShareAad,
    ciphertext: &HpkeCiphertext,
) -> Result<PlaintextInputShare, HpkeError> {
    let info = HpkeApplicationInfo::input_share(aggregator(recipient)?);
    let plaintext = Zeroizing::new(open(keypair, &info, ciphertext, &aad.get_encoded()?)?);
    Ok(PlaintextInputShare::get_decoded(&plaintext)?)
}

/// Seals the encoded aggregate share of the aggregator `sender` (the Leader
/// or the Helper) to the Collector, whose configuration is `config`.
pub fn seal_aggregate_share(
    config: &HpkeConfig,
    sender: Role,
    aad: &AggregateShareAad,
    share: &[u8],
) -> Result<HpkeCiphertext, HpkeError> {
    let info = HpkeApplicationInfo::aggregate_share(aggregator(sender)?);
    seal(config, &info, share, &aad.get_encoded()?)
}

/// Opens, as the Collector holding `keypair`, the encoded aggregate share
/// that the aggregator `sender` sealed.
pub fn open_aggregate_share(
    keypair: &HpkeKeypair,
    sender: Role,
    aad: &AggregateShareAad,
    ciphertext: &HpkeCiphertext,
) -> Result<Vec<u8>, HpkeError> {
    let info = HpkeApplicationInfo::aggregate_share(aggregator(sender)?);
    open(keypair, &info, ciphertext, &aad.get_encoded()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hpke::supported_ciphersuites;
    use dyad_messages::draft09::{
        BatchId, BatchSelector, Duration, Extension, ExtensionType, HpkeConfigId, Interval,
        ReportId, ReportMetadata, TaskId, Time,
    };

    fn input_share_aad() -> InputShareAad {
        InputShareAad::new(
            TaskId::from([7; 32]),
            ReportMetadata::new(
                ReportId::from([9; 16]),
                Time::from_seconds_since_epoch(1_700_000_000),
            ),
            b"public share".to_vec(),
        )
    }

    fn aggregate_share_aad() -> AggregateShareAad {
        AggregateShareAad::new(
            TaskId::from([7; 32]),
            b"agg param".to_vec(),
            BatchSelector::TimeInterval(
                Interval::new(
                    Time::from_seconds_since_epoch(1_699_999_200),
                    Duration::from_seconds(3600),
                )
                .unwrap(),
            ),
        )
    }

    fn plaintext_share() -> PlaintextInputShare {
        PlaintextInputShare::new(
            vec![Extension::new(ExtensionType::Tbd, b"ext".to_vec())],
            b"vdaf input share".to_vec(),
        )
    }

    #[test]
    fn input_share_round_trip() {
        for suite in supported_ciphersuites() {
            let kp =
                HpkeKeypair::generate(HpkeConfigId(5), suite.kem, suite.kdf, suite.aead).unwrap();
            for role in [Role::Leader, Role::Helper] {
                let ct =
                    seal_input_share(kp.config(), role, &input_share_aad(), &plaintext_share())
                        .unwrap();
                let opened = open_input_share(&kp, role, &input_share_aad(), &ct).unwrap();
                assert_eq!(opened, plaintext_share());
                // The same bytes open with the raw API and the spec's info.
                let raw = open(
                    &kp,
                    &HpkeApplicationInfo::input_share(role),
                    &ct,
                    &input_share_aad().get_encoded().unwrap(),
                )
                .unwrap();
                assert_eq!(raw, plaintext_share().get_encoded().unwrap());
            }
        }
    }

    #[test]
    fn aggregate_share_round_trip() {
        for suite in supported_ciphersuites() {
            let kp =
                HpkeKeypair::generate(HpkeConfigId(6), suite.kem, suite.kdf, suite.aead).unwrap();
            for role in [Role::Leader, Role::Helper] {
                let ct = seal_aggregate_share(kp.config(), role, &aggregate_share_aad(), b"sum")
                    .unwrap();
                let opened = open_aggregate_share(&kp, role, &aggregate_share_aad(), &ct);
                assert_eq!(opened.unwrap(), b"sum");
            }
        }
    }

    #[test]
    fn input_share_for_the_other_aggregator_or_report_does_not_open() {
        let kp = HpkeKeypair::generate_default(HpkeConfigId(1));
        let aad = input_share_aad();
        let ct = seal_input_share(kp.config(), Role::Leader, &aad, &plaintext_share()).unwrap();
        assert_eq!(
            open_input_share(&kp, Role::Helper, &aad, &ct),
            Err(HpkeError::Open)
        );
        let mut other = aad.clone();
        other.metadata.time = Time::from_seconds_since_epoch(1_700_000_001);
        assert_eq!(
            open_input_share(&kp, Role::Leader, &other, &ct),
            Err(HpkeError::Open)
        );
        let mut other = aad.clone();
        other.public_share.push(0);
        assert_eq!(
            open_input_share(&kp, Role::Leader, &other, &ct),
            Err(HpkeError::Open)
        );
        // Nor as an aggregate share.
        assert_eq!(
            open(
                &kp,
                &HpkeApplicationInfo::aggregate_share(Role::Leader),
                &ct,
                &aad.get_encoded().unwrap()
            ),
            Err(HpkeError::Open)
        );
    }

    #[test]
    fn aggregate_share_from_the_other_aggregator_or_batch_does_not_open() {
        let kp = HpkeKeypair::generate_default(HpkeConfigId(1));
        let aad = aggregate_share_aad();
        let ct = seal_aggregate_share(kp.config(), Role::Helper, &aad, b"share").unwrap();
        assert_eq!(
            open_aggregate_share(&kp, Role::Leader, &aad, &ct),
            Err(HpkeError::Open)
        );
        let mut other = aad.clone();
        other.batch_selector = BatchSelector::FixedSize(BatchId::from([0; 32]));
        assert_eq!(
            open_aggregate_share(&kp, Role::Helper, &other, &ct),
            Err(HpkeError::Open)
        );
        let mut other = aad.clone();
        other.aggregation_parameter.clear();
        assert_eq!(
            open_aggregate_share(&kp, Role::Helper, &other, &ct),
            Err(HpkeError::Open)
        );
    }

    #[test]
    fn non_aggregator_roles_are_refused() {
        let kp = HpkeKeypair::generate_default(HpkeConfigId(1));
        for role in [Role::Client, Role::Collector] {
            let err = HpkeError::NotAnAggregator { role };
            assert_eq!(
                seal_input_share(kp.config(), role, &input_share_aad(), &plaintext_share()),
                Err(err.clone())
            );
            assert_eq!(
                seal_aggregate_share(kp.config(), role, &aggregate_share_aad(), b"x"),
                Err(err.clone())
            );
            let ct = seal_aggregate_share(kp.config(), Role::Leader, &aggregate_share_aad(), b"x")
                .unwrap();
            assert_eq!(
                open_aggregate_share(&kp, role, &aggregate_share_aad(), &ct),
                Err(err.clone())
            );
            assert_eq!(
                open_input_share(&kp, role, &input_share_aad(), &ct),
                Err(err)
            );
        }
    }

    #[test]
    fn opened_garbage_is_a_decode_error() {
        let kp = HpkeKeypair::generate_default(HpkeConfigId(1));
        let aad = input_share_aad();
        // A plaintext that claims more extension bytes than it holds.
        let ct = seal(
            kp.config(),
            &HpkeApplicationInfo::input_share(Role::Helper),
            &[0xff, 0xff, 0],
            &aad.get_encoded().unwrap(),
        )
        .unwrap();
        assert!(matches!(
            open_input_share(&kp, Role::Helper, &aad, &ct),
            Err(HpkeError::Decode(_))
        ));
    }
}
