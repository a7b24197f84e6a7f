//! Cross-check of dyad's HPKE (DAP-09 sections 4.4.2, 4.5.1.3 and 4.6.4)
//! against the independent implementation in `janus_core` 0.7.
//!
//! For every ciphersuite dyad supports, both labels and both aggregator
//! roles, what one implementation seals the other opens. Configurations,
//! ciphertexts and AAD messages cross between the two crates only as wire
//! bytes; private keys as their serialized bytes.

use dyad_core::hpke::{
    self, open_aggregate_share, open_input_share, seal_aggregate_share, seal_input_share,
    supported_ciphersuites, HpkeApplicationInfo, HpkeCiphersuite, HpkeError, HpkeKeypair,
    HpkePrivateKey, Label,
};
use dyad_messages::draft09::{
    AggregateShareAad, BatchId, BatchSelector, Duration, Extension, ExtensionType, HpkeCiphertext,
    HpkeConfig, HpkeConfigId, HpkeKemId, InputShareAad, Interval, PlaintextInputShare, ReportId,
    ReportMetadata, Role, TaskId, Time,
};
use dyad_messages::{Decode, Encode};
use janus_core::hpke as jh;
use janus_messages as jm;
use janus_messages::codec::{Decode as _, Encode as _};

// ---- Conversions, through the wire encodings only ----

fn to_janus_config(config: &HpkeConfig) -> jm::HpkeConfig {
    jm::HpkeConfig::get_decoded(&config.get_encoded().unwrap()).unwrap()
}

fn from_janus_config(config: &jm::HpkeConfig) -> HpkeConfig {
    HpkeConfig::get_decoded(&config.get_encoded().unwrap()).unwrap()
}

fn to_janus_ciphertext(ct: &HpkeCiphertext) -> jm::HpkeCiphertext {
    jm::HpkeCiphertext::get_decoded(&ct.get_encoded().unwrap()).unwrap()
}

fn from_janus_ciphertext(ct: &jm::HpkeCiphertext) -> HpkeCiphertext {
    HpkeCiphertext::get_decoded(&ct.get_encoded().unwrap()).unwrap()
}

/// janus's keypair holding dyad's configuration and private key bytes.
fn janus_keypair(keypair: &HpkeKeypair) -> jh::HpkeKeypair {
    jh::HpkeKeypair::new(
        to_janus_config(keypair.config()),
        jh::HpkePrivateKey::new(keypair.private_key().as_bytes().to_vec()),
    )
}

/// dyad's keypair holding janus's configuration and private key bytes.
fn dyad_keypair(keypair: &jh::HpkeKeypair) -> HpkeKeypair {
    HpkeKeypair::new(
        from_janus_config(keypair.config()),
        HpkePrivateKey::new(keypair.private_key().as_ref().to_vec()),
    )
    .unwrap()
}

fn janus_role(role: Role) -> jm::Role {
    match role {
        Role::Collector => jm::Role::Collector,
        Role::Client => jm::Role::Client,
        Role::Leader => jm::Role::Leader,
        Role::Helper => jm::Role::Helper,
    }
}

fn janus_info(label: Label, sender: Role, recipient: Role) -> jh::HpkeApplicationInfo {
    let label = match label {
        Label::InputShare => jh::Label::InputShare,
        Label::AggregateShare => jh::Label::AggregateShare,
    };
    jh::HpkeApplicationInfo::new(&label, &janus_role(sender), &janus_role(recipient))
}

// ---- The messages used as AAD ----

fn input_share_aad(recipient: Role) -> InputShareAad {
    InputShareAad::new(
        TaskId::from([0x17; 32]),
        ReportMetadata::new(
            ReportId::from([recipient.as_u8(); 16]),
            Time::from_seconds_since_epoch(1_726_000_000),
        ),
        b"the report's public share".to_vec(),
    )
}

fn aggregate_share_aad(sender: Role) -> AggregateShareAad {
    // One of each batch selector: time interval for the Leader's share,
    // fixed size for the Helper's.
    let batch_selector = match sender {
        Role::Leader => BatchSelector::TimeInterval(
            Interval::new(
                Time::from_seconds_since_epoch(1_725_998_400),
                Duration::from_seconds(3600),
            )
            .unwrap(),
        ),
        _ => BatchSelector::FixedSize(BatchId::from([0x42; 32])),
    };
    AggregateShareAad::new(TaskId::from([0x17; 32]), vec![1, 2, 3], batch_selector)
}

/// One message to seal: its info (label, sender, recipient) and its AAD.
struct Case {
    label: Label,
    sender: Role,
    recipient: Role,
    aad: Vec<u8>,
    plaintext: Vec<u8>,
}

impl Case {
    fn dyad_info(&self) -> HpkeApplicationInfo {
        HpkeApplicationInfo::new(self.label, self.sender, self.recipient)
    }

    fn janus_info(&self) -> jh::HpkeApplicationInfo {
        janus_info(self.label, self.sender, self.recipient)
    }
}

/// Both labels, each with both aggregator roles, with real encoded AAD.
fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for role in [Role::Leader, Role::Helper] {
        cases.push(Case {
            label: Label::InputShare,
            sender: Role::Client,
            recipient: role,
            aad: input_share_aad(role).get_encoded().unwrap(),
            plaintext: PlaintextInputShare::new(
                vec![Extension::new(ExtensionType::Tbd, vec![role.as_u8()])],
                format!("{role}'s input share").into_bytes(),
            )
            .get_encoded()
            .unwrap(),
        });
        cases.push(Case {
            label: Label::AggregateShare,
            sender: role,
            recipient: Role::Collector,
            aad: aggregate_share_aad(role).get_encoded().unwrap(),
            plaintext: format!("{role}'s aggregate share").into_bytes(),
        });
    }
    cases
}

fn generate(suite: HpkeCiphersuite, id: u8) -> HpkeKeypair {
    HpkeKeypair::generate(HpkeConfigId(id), suite.kem, suite.kdf, suite.aead).unwrap()
}

// ---- The cross-checks ----

#[test]
fn dyad_seals_janus_opens() {
    let mut checked = 0;
    for (i, suite) in supported_ciphersuites().into_iter().enumerate() {
        let keypair = generate(suite, i as u8);
        let janus = janus_keypair(&keypair);
        for case in cases() {
            let ct = hpke::seal(
                keypair.config(),
                &case.dyad_info(),
                &case.plaintext,
                &case.aad,
            )
            .unwrap();
            let opened = jh::open(
                &janus,
                &case.janus_info(),
                &to_janus_ciphertext(&ct),
                &case.aad,
            )
            .unwrap_or_else(|e| panic!("{suite:?} {:?}: {e}", case.label));
            assert_eq!(opened, case.plaintext, "{suite:?}");
            checked += 1;
        }
    }
    assert_eq!(checked, 36 * 4);
}

#[test]
fn janus_seals_dyad_opens() {
    let mut checked = 0;
    for (i, suite) in supported_ciphersuites().into_iter().enumerate() {
        let keypair = generate(suite, i as u8);
        let janus_config = to_janus_config(keypair.config());
        for case in cases() {
            let ct = jh::seal(
                &janus_config,
                &case.janus_info(),
                &case.plaintext,
                &case.aad,
            )
            .unwrap();
            let opened = hpke::open(
                &keypair,
                &case.dyad_info(),
                &from_janus_ciphertext(&ct),
                &case.aad,
            )
            .unwrap_or_else(|e| panic!("{suite:?} {:?}: {e}", case.label));
            assert_eq!(opened, case.plaintext, "{suite:?}");
            checked += 1;
        }
    }
    assert_eq!(checked, 36 * 4);
}

/// Keys janus generates (it generates X25519 and P-256 keys only) are
/// accepted by dyad and work in both directions.
#[test]
fn janus_generated_keys_work_in_dyad() {
    let suites: Vec<_> = supported_ciphersuites()
        .into_iter()
        .filter(|s| {
            matches!(
                s.kem,
                HpkeKemId::X25519HkdfSha256 | HpkeKemId::P256HkdfSha256
            )
        })
        .collect();
    assert_eq!(suites.len(), 18);
    for suite in suites {
        let janus = jh::HpkeKeypair::generate(
            jm::HpkeConfigId::from(200),
            jm::HpkeKemId::from(u16::from(suite.kem)),
            jm::HpkeKdfId::from(u16::from(suite.kdf)),
            jm::HpkeAeadId::from(u16::from(suite.aead)),
        )
        .unwrap();
        let keypair = dyad_keypair(&janus);
        assert_eq!(keypair.ciphersuite(), suite);
        assert_eq!(keypair.id(), HpkeConfigId(200));
        for case in cases() {
            let ct = hpke::seal(
                keypair.config(),
                &case.dyad_info(),
                &case.plaintext,
                &case.aad,
            )
            .unwrap();
            let opened = jh::open(
                &janus,
                &case.janus_info(),
                &to_janus_ciphertext(&ct),
                &case.aad,
            );
            assert_eq!(opened.unwrap(), case.plaintext);

            let ct = jh::seal(
                janus.config(),
                &case.janus_info(),
                &case.plaintext,
                &case.aad,
            )
            .unwrap();
            let opened = hpke::open(
                &keypair,
                &case.dyad_info(),
                &from_janus_ciphertext(&ct),
                &case.aad,
            );
            assert_eq!(opened.unwrap(), case.plaintext);
        }
    }
}

/// The typed input-share functions agree with janus's own message types:
/// the AAD janus encodes from its `InputShareAad` is dyad's, and the
/// plaintext decodes as janus's `PlaintextInputShare`.
#[test]
fn input_shares_agree_with_janus_messages() {
    for suite in supported_ciphersuites() {
        let keypair = generate(suite, 3);
        let janus = janus_keypair(&keypair);
        for role in [Role::Leader, Role::Helper] {
            let aad = input_share_aad(role);
            let aad_bytes = aad.get_encoded().unwrap();
            let janus_aad = jm::InputShareAad::get_decoded(&aad_bytes).unwrap();
            assert_eq!(janus_aad.get_encoded().unwrap(), aad_bytes);
            let janus_info = janus_info(Label::InputShare, Role::Client, role);

            // dyad (Client) seals, janus (aggregator) opens.
            let share = PlaintextInputShare::new(
                vec![Extension::new(ExtensionType::Tbd, b"ext".to_vec())],
                b"vdaf input share".to_vec(),
            );
            let ct = seal_input_share(keypair.config(), role, &aad, &share).unwrap();
            let plaintext = jh::open(
                &janus,
                &janus_info,
                &to_janus_ciphertext(&ct),
                &janus_aad.get_encoded().unwrap(),
            )
            .unwrap();
            let janus_share = jm::PlaintextInputShare::get_decoded(&plaintext).unwrap();
            assert_eq!(janus_share.payload(), b"vdaf input share");
            assert_eq!(janus_share.extensions().len(), 1);
            assert_eq!(janus_share.extensions()[0].extension_data(), b"ext");
            assert_eq!(
                *janus_share.extensions()[0].extension_type(),
                jm::ExtensionType::Tbd
            );

            // janus (Client) seals, dyad (aggregator) opens.
            let janus_share = jm::PlaintextInputShare::new(
                vec![jm::Extension::new(jm::ExtensionType::Taskprov, vec![])],
                b"another share".to_vec(),
            );
            let ct = jh::seal(
                &to_janus_config(keypair.config()),
                &janus_info,
                &janus_share.get_encoded().unwrap(),
                &janus_aad.get_encoded().unwrap(),
            )
            .unwrap();
            let opened =
                open_input_share(&keypair, role, &aad, &from_janus_ciphertext(&ct)).unwrap();
            assert_eq!(
                opened,
                PlaintextInputShare::new(
                    vec![Extension::new(ExtensionType::Taskprov, vec![])],
                    b"another share".to_vec(),
                )
            );
        }
    }
}

/// The typed aggregate-share functions agree with janus's
/// `AggregateShareAad` for both query types.
#[test]
fn aggregate_shares_agree_with_janus_messages() {
    for suite in supported_ciphersuites() {
        let keypair = generate(suite, 4);
        let janus = janus_keypair(&keypair);
        for role in [Role::Leader, Role::Helper] {
            let aad = aggregate_share_aad(role);
            let aad_bytes = aad.get_encoded().unwrap();
            let janus_aad_bytes = match aad.batch_selector {
                BatchSelector::TimeInterval(_) => {
                    jm::AggregateShareAad::<jm::query_type::TimeInterval>::get_decoded(&aad_bytes)
                        .unwrap()
                        .get_encoded()
                        .unwrap()
                }
                BatchSelector::FixedSize(_) => {
                    jm::AggregateShareAad::<jm::query_type::FixedSize>::get_decoded(&aad_bytes)
                        .unwrap()
                        .get_encoded()
                        .unwrap()
                }
            };
            assert_eq!(janus_aad_bytes, aad_bytes);
            let janus_info = janus_info(Label::AggregateShare, role, Role::Collector);

            // dyad (aggregator) seals, janus (Collector) opens.
            let ct = seal_aggregate_share(keypair.config(), role, &aad, b"aggregate").unwrap();
            let opened = jh::open(
                &janus,
                &janus_info,
                &to_janus_ciphertext(&ct),
                &janus_aad_bytes,
            );
            assert_eq!(opened.unwrap(), b"aggregate");

            // janus (aggregator) seals, dyad (Collector) opens.
            let ct = jh::seal(
                &to_janus_config(keypair.config()),
                &janus_info,
                b"janus aggregate",
                &janus_aad_bytes,
            )
            .unwrap();
            let opened = open_aggregate_share(&keypair, role, &aad, &from_janus_ciphertext(&ct));
            assert_eq!(opened.unwrap(), b"janus aggregate");
        }
    }
}

/// The harness is not vacuous: across the two implementations, a different
/// role, label or AAD still fails to open.
#[test]
fn mismatches_fail_across_implementations() {
    let keypair = HpkeKeypair::generate_default(HpkeConfigId(1));
    let janus = janus_keypair(&keypair);
    let aad = input_share_aad(Role::Leader).get_encoded().unwrap();
    let info = HpkeApplicationInfo::input_share(Role::Leader);

    let ct = hpke::seal(keypair.config(), &info, b"share", &aad).unwrap();
    let janus_ct = to_janus_ciphertext(&ct);
    let wrong_infos = [
        janus_info(Label::InputShare, Role::Client, Role::Helper),
        janus_info(Label::AggregateShare, Role::Client, Role::Leader),
        janus_info(Label::AggregateShare, Role::Leader, Role::Collector),
    ];
    for wrong in &wrong_infos {
        assert!(jh::open(&janus, wrong, &janus_ct, &aad).is_err());
    }
    let right = janus_info(Label::InputShare, Role::Client, Role::Leader);
    assert!(jh::open(&janus, &right, &janus_ct, b"other aad").is_err());
    assert!(jh::open(&janus, &right, &janus_ct, &aad).is_ok());

    let ct = jh::seal(&to_janus_config(keypair.config()), &right, b"share", &aad).unwrap();
    let ct = from_janus_ciphertext(&ct);
    assert_eq!(
        hpke::open(
            &keypair,
            &HpkeApplicationInfo::input_share(Role::Helper),
            &ct,
            &aad
        ),
        Err(HpkeError::Open)
    );
    assert_eq!(
        hpke::open(&keypair, &info, &ct, &aad[1..]),
        Err(HpkeError::Open)
    );
    assert_eq!(hpke::open(&keypair, &info, &ct, &aad).unwrap(), b"share");
}

/// `HpkeConfig`, `HpkeConfigList` and `HpkeCiphertext` encode identically.
#[test]
fn wire_encodings_agree() {
    let configs: Vec<HpkeConfig> = supported_ciphersuites()
        .into_iter()
        .enumerate()
        .map(|(i, s)| generate(s, i as u8).config().clone())
        .collect();
    for config in &configs {
        let bytes = config.get_encoded().unwrap();
        assert_eq!(to_janus_config(config).get_encoded().unwrap(), bytes);
        assert_eq!(&from_janus_config(&to_janus_config(config)), config);
    }
    let list = dyad_messages::draft09::HpkeConfigList(configs);
    let bytes = list.get_encoded().unwrap();
    let janus_list = jm::HpkeConfigList::get_decoded(&bytes).unwrap();
    assert_eq!(janus_list.hpke_configs().len(), 36);
    assert_eq!(janus_list.get_encoded().unwrap(), bytes);

    let keypair = HpkeKeypair::generate_default(HpkeConfigId(77));
    let ct = hpke::seal(
        keypair.config(),
        &HpkeApplicationInfo::aggregate_share(Role::Helper),
        b"x",
        b"",
    )
    .unwrap();
    let janus_ct = to_janus_ciphertext(&ct);
    assert_eq!(*janus_ct.config_id(), jm::HpkeConfigId::from(77));
    assert_eq!(janus_ct.encapsulated_key(), ct.encapsulated_key.as_slice());
    assert_eq!(janus_ct.payload(), ct.payload.as_slice());
    assert_eq!(from_janus_ciphertext(&janus_ct), ct);
}
