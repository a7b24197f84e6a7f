//! Tests of upload validation: each rule of DAP-09 section 4.4.2 gives its
//! problem type, and a good report comes out ready to store.

use super::*;
use crate::test_util::{Fixture, NOW};
use dyad_core::hpke::HpkeKeypair;
use dyad_core::vdaf::{Measurement, VdafInstance};
use dyad_messages::draft09::{Extension, HpkeConfigId};
use dyad_messages::Encode;

fn fixture() -> Fixture {
    Fixture::new(VdafInstance::Prio3Count)
}

fn secs(s: u64) -> Time {
    Time::from_seconds_since_epoch(s)
}

fn problem(fx: &Fixture, report: &Report, now: Time) -> DapProblemType {
    validate_upload(&fx.leader_task, &fx.leader_keys, report, now, NO_EXTENSIONS)
        .unwrap_err()
        .problem_type()
}

#[test]
fn a_good_report_is_opened_and_kept_whole() {
    let fx = fixture();
    let report = fx.report(&Measurement::Count(true), NOW);
    let validated = validate_upload(
        &fx.leader_task,
        &fx.leader_keys,
        &report,
        NOW,
        NO_EXTENSIONS,
    )
    .unwrap();
    assert_eq!(validated.metadata, report.metadata);
    assert_eq!(validated.public_share, report.public_share);
    assert_eq!(
        validated.helper_encrypted_input_share,
        report.helper_encrypted_input_share
    );
    assert!(validated.leader_input_share.extensions.is_empty());
    assert!(!validated.leader_input_share.payload.is_empty());
    // The opened share is secret: Debug shows lengths only.
    let debug = format!("{validated:?}");
    assert!(debug.contains("bytes>") && !debug.contains("payload: ["));
}

#[test]
fn time_rules_at_their_boundaries() {
    let fx = fixture();
    let now = NOW.as_seconds_since_epoch();
    let skew = fx.leader_task.tolerable_clock_skew().as_seconds();
    let age = fx.leader_task.report_expiry_age().unwrap().as_seconds();
    let at = |t| fx.report(&Measurement::Count(false), secs(t));

    // Exactly now + skew is accepted; one second later is too early.
    assert!(check_report_time(&fx.leader_task, secs(now + skew), NOW).is_ok());
    assert_eq!(
        problem(&fx, &at(now + skew + 1), NOW),
        DapProblemType::ReportTooEarly
    );
    // Exactly now - age is accepted; one second earlier is rejected.
    assert!(check_report_time(&fx.leader_task, secs(now - age), NOW).is_ok());
    assert_eq!(
        problem(&fx, &at(now - age - 1), NOW),
        DapProblemType::ReportRejected
    );
    assert!(matches!(
        check_report_time(&fx.leader_task, secs(now - age - 1), NOW),
        Err(UploadError::Expired { .. })
    ));
}

#[test]
fn reports_after_task_expiration_are_rejected() {
    let expiration = NOW.as_seconds_since_epoch() - 10;
    let fx = Fixture::with_mode(
        VdafInstance::Prio3Count,
        dyad_core::task::BatchMode::TimeInterval,
        |b| b.task_expiration(Some(secs(expiration))),
    );
    let ok = fx.report(&Measurement::Count(true), secs(expiration));
    assert!(validate_upload(&fx.leader_task, &fx.leader_keys, &ok, NOW, NO_EXTENSIONS).is_ok());
    let late = fx.report(&Measurement::Count(true), secs(expiration + 1));
    let err =
        validate_upload(&fx.leader_task, &fx.leader_keys, &late, NOW, NO_EXTENSIONS).unwrap_err();
    assert!(matches!(err, UploadError::TaskExpired { .. }));
    assert_eq!(err.problem_type(), DapProblemType::ReportRejected);
}

#[test]
fn clock_arithmetic_does_not_overflow() {
    let fx = fixture();
    let far = fx.report(&Measurement::Count(true), secs(u64::MAX));
    // Expired (past task_expiration) comes first.
    assert_eq!(
        problem(&fx, &far, secs(u64::MAX)),
        DapProblemType::ReportRejected
    );
    assert!(check_report_time(&fx.leader_task, secs(0), secs(0)).is_ok());
}

#[test]
fn unknown_hpke_config_is_outdated_config() {
    let fx = fixture();
    let mut report = fx.report(&Measurement::Count(true), NOW);
    report.leader_encrypted_input_share.config_id = HpkeConfigId(99);
    let err = validate_upload(
        &fx.leader_task,
        &fx.leader_keys,
        &report,
        NOW,
        NO_EXTENSIONS,
    )
    .unwrap_err();
    assert_eq!(err, UploadError::OutdatedConfig(HpkeConfigId(99)));
    assert_eq!(err.problem_type(), DapProblemType::OutdatedConfig);
    let protocol = err.into_protocol_error(&fx.leader_task);
    assert_eq!(protocol.task_id(), Some(fx.leader_task.task_id()));
}

#[test]
fn shares_that_do_not_open_are_rejected() {
    let fx = fixture();
    // Tampered ciphertext.
    let mut report = fx.report(&Measurement::Count(true), NOW);
    report.leader_encrypted_input_share.payload[0] ^= 0x80;
    assert_eq!(problem(&fx, &report, NOW), DapProblemType::ReportRejected);
    // Metadata changed after sealing: the AAD no longer matches.
    let mut report = fx.report(&Measurement::Count(true), NOW);
    report.metadata.time = secs(NOW.as_seconds_since_epoch() - 1);
    assert_eq!(problem(&fx, &report, NOW), DapProblemType::ReportRejected);
    // Sealed to the Helper's key (right ID, wrong key).
    let other = vec![HpkeKeypair::generate_default(HpkeConfigId(1))];
    let report = fx.report(&Measurement::Count(true), NOW);
    let err = validate_upload(&fx.leader_task, &other, &report, NOW, NO_EXTENSIONS).unwrap_err();
    assert_eq!(err, UploadError::DecryptFailed);
}

#[test]
fn a_share_that_opens_to_a_malformed_plaintext_is_invalid_message() {
    let fx = fixture();
    let mut report = fx.report(&Measurement::Count(true), NOW);
    let aad = InputShareAad::new(
        *fx.leader_task.task_id(),
        report.metadata,
        report.public_share.clone(),
    );
    // Opens with the right key and AAD, but the extensions' length runs
    // past the end.
    report.leader_encrypted_input_share = dyad_core::hpke::seal(
        fx.leader_keys[0].config(),
        &dyad_core::hpke::HpkeApplicationInfo::input_share(Role::Leader),
        &[0xff, 0xff, 0, 0, 0, 0],
        &aad.get_encoded().unwrap(),
    )
    .unwrap();
    let err = validate_upload(
        &fx.leader_task,
        &fx.leader_keys,
        &report,
        NOW,
        NO_EXTENSIONS,
    )
    .unwrap_err();
    assert!(matches!(err, UploadError::UndecodablePlaintext(_)), "{err}");
    assert_eq!(err.problem_type(), DapProblemType::InvalidMessage);
}

#[test]
fn extensions_must_be_recognized_and_distinct() {
    let fx = fixture();
    let ext = |t| Extension::new(t, vec![1]);
    let with = |exts: Vec<Extension>| {
        fx.report_with_extensions(&Measurement::Count(true), NOW, exts, vec![])
    };
    let unknown = with(vec![ext(ExtensionType::Other(7))]);
    assert_eq!(problem(&fx, &unknown, NOW), DapProblemType::InvalidMessage);

    let taskprov = [ExtensionType::Taskprov];
    let once = with(vec![ext(ExtensionType::Taskprov)]);
    assert!(validate_upload(&fx.leader_task, &fx.leader_keys, &once, NOW, &taskprov).is_ok());
    let twice = with(vec![
        ext(ExtensionType::Taskprov),
        ext(ExtensionType::Taskprov),
    ]);
    let err =
        validate_upload(&fx.leader_task, &fx.leader_keys, &twice, NOW, &taskprov).unwrap_err();
    assert_eq!(err, UploadError::RepeatedExtension(ExtensionType::Taskprov));
    assert_eq!(err.problem_type(), DapProblemType::InvalidMessage);
    // The Helper's extensions are not the Leader's business.
    let helper_only = fx.report_with_extensions(
        &Measurement::Count(true),
        NOW,
        vec![],
        vec![ext(ExtensionType::Other(9))],
    );
    assert!(validate_upload(
        &fx.leader_task,
        &fx.leader_keys,
        &helper_only,
        NOW,
        NO_EXTENSIONS
    )
    .is_ok());
}

#[test]
fn a_collected_batch_maps_to_report_rejected() {
    assert_eq!(
        UploadError::BatchCollected.problem_type(),
        DapProblemType::ReportRejected
    );
}

#[test]
fn shares_must_decode_with_the_task_vdaf() {
    let fx = fixture();
    let report = fx.report(&Measurement::Count(true), NOW);
    let mut validated = validate_upload(
        &fx.leader_task,
        &fx.leader_keys,
        &report,
        NOW,
        NO_EXTENSIONS,
    )
    .unwrap();
    let vdaf = dyad_core::vdaf::concrete::new_prio3_count().unwrap();
    let name = VdafInstance::Prio3Count;
    assert_eq!(check_shares_decode(&vdaf, &name, &validated), Ok(()));

    // One byte too many, one too few, a public share where none belongs.
    let good_payload = validated.leader_input_share.payload.clone();
    for payload in [
        [good_payload.as_slice(), &[0]].concat(),
        good_payload[..good_payload.len() - 1].to_vec(),
    ] {
        validated.leader_input_share.payload = payload;
        let error = check_shares_decode(&vdaf, &name, &validated).unwrap_err();
        assert_eq!(error.problem_type(), DapProblemType::InvalidMessage);
        let message = error.to_string();
        assert!(
            message.contains("Leader input share does not decode as")
                && message.contains("Prio3Count"),
            "{message}"
        );
    }
    validated.leader_input_share.payload = good_payload;
    validated.public_share = vec![1, 2, 3];
    let error = check_shares_decode(&vdaf, &name, &validated).unwrap_err();
    assert!(error.to_string().contains("public share"), "{error}");
}
