//! Single-shot HPKE in base mode (RFC 9180 section 6.1, `SealBase` and
//! `OpenBase`) over raw bytes, as every DAP-09 encryption uses it: input
//! shares (sections 4.4.2 and 4.5.1.3) and aggregate shares (section 4.6.4).
//!
//! Each call sets up a fresh HPKE context: DAP never sends a second message
//! in one context.
//!
//! # Where is
//!
//! - the ciphertext names its configuration ID -> [`seal`]; one naming another
//!   is refused before opening -> [`open`].

use super::base_mode::seal_raw;
use super::{HpkeApplicationInfo, HpkeCiphersuite, HpkeError, HpkeKeypair};
use dyad_messages::draft09::{HpkeCiphertext, HpkeConfig};

/// Seals `plaintext` to the public key of `config`, binding `info` and `aad`
/// to it. The ciphertext carries `config.id`.
///
/// Fails with [`HpkeError::Unsupported`] if dyad cannot use the suite and
/// [`HpkeError::InvalidPublicKey`] if the public key is not a key of the
/// suite's KEM.
pub fn seal(
    config: &HpkeConfig,
    info: &HpkeApplicationInfo,
    plaintext: &[u8],
    aad: &[u8],
) -> Result<HpkeCiphertext, HpkeError> {
    let (encapsulated_key, payload) = seal_raw(
        &HpkeCiphersuite::of(config),
        config.public_key.as_ref(),
        info.as_bytes(),
        plaintext,
        aad,
    )?;
    Ok(HpkeCiphertext {
        config_id: config.id,
        encapsulated_key,
        payload,
    })
}

/// Opens `ciphertext` with `keypair`; `info` and `aad` must be exactly those
/// it was sealed with.
///
/// Fails with [`HpkeError::WrongConfigId`] if the ciphertext names another
/// configuration, and with [`HpkeError::Open`], without further detail, if it
/// does not open (malformed or tampered encapsulated key or payload, other
/// info or AAD).
pub fn open(
    keypair: &HpkeKeypair,
    info: &HpkeApplicationInfo,
    ciphertext: &HpkeCiphertext,
    aad: &[u8],
) -> Result<Vec<u8>, HpkeError> {
    if ciphertext.config_id != keypair.id() {
        return Err(HpkeError::WrongConfigId {
            keypair: keypair.id(),
            ciphertext: ciphertext.config_id,
        });
    }
    keypair.opener().open(
        keypair.private_key().as_bytes(),
        &ciphertext.encapsulated_key,
        info.as_bytes(),
        &ciphertext.payload,
        aad,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hpke::{supported_ciphersuites, HpkePrivateKey, Label};
    use dyad_messages::draft09::{HpkeConfigId, HpkeKemId, HpkePublicKey, Role};

    const PLAINTEXT: &[u8] = b"a measurement's share";
    const AAD: &[u8] = b"task id, report metadata, public share";

    fn keypair(suite: HpkeCiphersuite) -> HpkeKeypair {
        HpkeKeypair::generate(HpkeConfigId(7), suite.kem, suite.kdf, suite.aead).unwrap()
    }

    fn all_infos() -> Vec<HpkeApplicationInfo> {
        vec![
            HpkeApplicationInfo::input_share(Role::Leader),
            HpkeApplicationInfo::input_share(Role::Helper),
            HpkeApplicationInfo::aggregate_share(Role::Leader),
            HpkeApplicationInfo::aggregate_share(Role::Helper),
        ]
    }

    #[test]
    fn round_trip_every_supported_suite() {
        for suite in supported_ciphersuites() {
            let kp = keypair(suite);
            for info in all_infos() {
                for plaintext in [PLAINTEXT, b"".as_slice()] {
                    let ct = seal(kp.config(), &info, plaintext, AAD).unwrap();
                    assert_eq!(ct.config_id, HpkeConfigId(7));
                    assert_eq!(open(&kp, &info, &ct, AAD).unwrap(), plaintext, "{suite:?}");
                }
            }
        }
    }

    #[test]
    fn wrong_label_role_or_aad_does_not_open() {
        for suite in supported_ciphersuites() {
            let kp = keypair(suite);
            let info = HpkeApplicationInfo::input_share(Role::Leader);
            let ct = seal(kp.config(), &info, PLAINTEXT, AAD).unwrap();
            let wrong_infos = [
                HpkeApplicationInfo::new(Label::AggregateShare, Role::Client, Role::Leader),
                HpkeApplicationInfo::input_share(Role::Helper),
                HpkeApplicationInfo::new(Label::InputShare, Role::Leader, Role::Leader),
                HpkeApplicationInfo::aggregate_share(Role::Leader),
            ];
            for wrong in &wrong_infos {
                assert_eq!(
                    open(&kp, wrong, &ct, AAD),
                    Err(HpkeError::Open),
                    "{suite:?}"
                );
            }
            assert_eq!(open(&kp, &info, &ct, b"other aad"), Err(HpkeError::Open));
            assert_eq!(open(&kp, &info, &ct, b""), Err(HpkeError::Open));
        }
    }

    #[test]
    fn tampered_ciphertext_does_not_open() {
        for suite in supported_ciphersuites() {
            let kp = keypair(suite);
            let info = HpkeApplicationInfo::aggregate_share(Role::Helper);
            let ct = seal(kp.config(), &info, PLAINTEXT, AAD).unwrap();

            let mut cases = Vec::new();
            for i in [0, ct.payload.len() / 2, ct.payload.len() - 1] {
                let mut t = ct.clone();
                t.payload[i] ^= 0x01;
                cases.push(t);
            }
            for i in [
                0,
                ct.encapsulated_key.len() / 2,
                ct.encapsulated_key.len() - 1,
            ] {
                let mut t = ct.clone();
                t.encapsulated_key[i] ^= 0x80;
                cases.push(t);
            }
            let mut truncated = ct.clone();
            truncated.payload.pop();
            cases.push(truncated);
            let mut extended = ct.clone();
            extended.payload.push(0);
            cases.push(extended);
            let mut short_enc = ct.clone();
            short_enc.encapsulated_key.pop();
            cases.push(short_enc);
            let mut empty_enc = ct.clone();
            empty_enc.encapsulated_key.clear();
            cases.push(empty_enc);
            let mut empty_payload = ct.clone();
            empty_payload.payload.clear();
            cases.push(empty_payload);
            // An encapsulated key of another, valid keypair.
            let other = seal(keypair(suite).config(), &info, PLAINTEXT, AAD).unwrap();
            let mut swapped = ct.clone();
            swapped.encapsulated_key = other.encapsulated_key;
            cases.push(swapped);

            for t in cases {
                assert_eq!(open(&kp, &info, &t, AAD), Err(HpkeError::Open), "{suite:?}");
            }
        }
    }

    #[test]
    fn ciphertext_for_another_config_is_refused() {
        let kp = HpkeKeypair::generate_default(HpkeConfigId(1));
        let info = HpkeApplicationInfo::input_share(Role::Helper);
        let mut ct = seal(kp.config(), &info, PLAINTEXT, AAD).unwrap();
        ct.config_id = HpkeConfigId(2);
        assert_eq!(
            open(&kp, &info, &ct, AAD),
            Err(HpkeError::WrongConfigId {
                keypair: HpkeConfigId(1),
                ciphertext: HpkeConfigId(2),
            })
        );
    }

    #[test]
    fn ciphertext_sealed_to_another_key_does_not_open() {
        let a = HpkeKeypair::generate_default(HpkeConfigId(1));
        let b = HpkeKeypair::generate_default(HpkeConfigId(1));
        let info = HpkeApplicationInfo::input_share(Role::Leader);
        let ct = seal(a.config(), &info, PLAINTEXT, AAD).unwrap();
        assert_eq!(open(&b, &info, &ct, AAD), Err(HpkeError::Open));
    }

    #[test]
    fn garbage_public_keys_are_invalid() {
        for suite in supported_ciphersuites() {
            let mut config = keypair(suite).config().clone();
            let good_len = config.public_key.0.len();
            let mut garbage: Vec<Vec<u8>> = vec![
                vec![],
                vec![0x04],
                vec![0x04; good_len + 1],
                vec![0x04; good_len - 1],
                vec![0x00],
            ];
            if suite.kem != HpkeKemId::X25519HkdfSha256 {
                // Every 32-byte string is an X25519 public key; on the NIST
                // curves these are not points (a bad SEC1 tag, and a pair of
                // coordinates off the curve).
                garbage.push(vec![0xff; good_len]);
                garbage.push(vec![0x04; good_len]);
            }
            for pk in garbage {
                config.public_key = HpkePublicKey(pk);
                let res = seal(&config, &all_infos()[0], PLAINTEXT, AAD);
                assert_eq!(res.unwrap_err(), HpkeError::InvalidPublicKey, "{suite:?}");
            }
        }
    }

    #[test]
    fn low_order_x25519_public_key_is_invalid() {
        let mut config = HpkeKeypair::generate_default(HpkeConfigId(0))
            .config()
            .clone();
        // The all-zero point has small order: the DH output would be zero.
        config.public_key = HpkePublicKey(vec![0; 32]);
        let res = seal(&config, &all_infos()[0], PLAINTEXT, AAD);
        assert_eq!(res.unwrap_err(), HpkeError::InvalidPublicKey);
    }

    #[test]
    fn unsupported_config_is_refused_when_sealing() {
        let kp = HpkeKeypair::generate_default(HpkeConfigId(0));
        let mut config = kp.config().clone();
        config.aead_id = dyad_messages::draft09::HpkeAeadId::ExportOnly;
        assert!(matches!(
            seal(&config, &all_infos()[0], PLAINTEXT, AAD),
            Err(HpkeError::Unsupported { .. })
        ));
    }

    mod never_panics {
        use super::*;
        use proptest::prelude::*;
        use std::sync::OnceLock;

        /// One keypair per supported suite, generated once.
        fn keypairs() -> &'static [HpkeKeypair] {
            static KEYPAIRS: OnceLock<Vec<HpkeKeypair>> = OnceLock::new();
            KEYPAIRS.get_or_init(|| supported_ciphersuites().into_iter().map(keypair).collect())
        }

        /// Byte strings of any length up to 200, and often of exactly the
        /// length of a key of one of the supported KEMs (X25519, then the
        /// uncompressed points of P-256, P-384 and P-521).
        fn key_like_bytes() -> impl Strategy<Value = Vec<u8>> {
            use proptest::collection::vec;
            prop_oneof![
                vec(any::<u8>(), 0..200),
                vec(any::<u8>(), 32),
                vec(any::<u8>(), 65),
                vec(any::<u8>(), 97),
                vec(any::<u8>(), 133),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn open_arbitrary_ciphertexts(
                index in 0..36usize,
                enc in key_like_bytes(),
                payload in proptest::collection::vec(any::<u8>(), 0..100),
            ) {
                let kp = &keypairs()[index];
                let ct = HpkeCiphertext { config_id: kp.id(), encapsulated_key: enc, payload };
                let info = HpkeApplicationInfo::input_share(Role::Leader);
                prop_assert_eq!(open(kp, &info, &ct, AAD), Err(HpkeError::Open));
            }

            #[test]
            fn seal_to_arbitrary_public_keys(
                index in 0..36usize,
                public_key in key_like_bytes(),
            ) {
                let mut config = keypairs()[index].config().clone();
                config.public_key = HpkePublicKey(public_key);
                let info = HpkeApplicationInfo::aggregate_share(Role::Helper);
                match seal(&config, &info, PLAINTEXT, AAD) {
                    Ok(ct) => prop_assert_eq!(ct.config_id, config.id),
                    Err(err) => prop_assert_eq!(err, HpkeError::InvalidPublicKey),
                }
            }

            #[test]
            fn keypair_from_arbitrary_private_keys(
                index in 0..36usize,
                private_key in proptest::collection::vec(any::<u8>(), 0..100),
            ) {
                let config = keypairs()[index].config().clone();
                let res = HpkeKeypair::new(config, HpkePrivateKey::new(private_key));
                prop_assert_eq!(res.unwrap_err(), HpkeError::InvalidPrivateKey);
            }
        }
    }
}
