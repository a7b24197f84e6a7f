//! RFC 9180 base mode (section 6.1, `SealBase` and `OpenBase`) over raw
//! keys and bytes, dispatched per suite to one of two HPKE
//! implementations, and how their failures map to [`HpkeError`]: the one
//! place dyad seals and opens. [`super::seal()`] and [`super::open()`] use
//! it for DAP's messages, and [`HpkeKeypair::new`](super::HpkeKeypair::new)
//! to check that a private key is its public key's.
//!
//! | suites | implementation | an open costs |
//! |---|---|---|
//! | DHKEM(X25519, HKDF-SHA256) with HKDF-SHA256 or HKDF-SHA384, any AEAD (the mandatory suite among them) | AWS-LC ([`super::aws_lc`]) | one X25519 (the public key is kept in the [`Opener`]) |
//! | every other supported suite: the P-256, P-384 and P-521 KEMs, and X25519 with HKDF-SHA512 | `hpke-dispatch` | two scalar multiplications (it derives the public key again) |
//!
//! Both implement the same RFC: what one seals the other opens (checked by
//! this file's tests for every suite AWS-LC serves).
//!
//! # Where is
//!
//! - which implementation serves a suite -> [`seal_raw`], [`Opener::new`];
//! - a public key that is no key of the suite's KEM (or a low-order X25519
//!   point) -> [`HpkeError::InvalidPublicKey`], in [`seal_raw`];
//! - any failure to open -> [`HpkeError::Open`], without detail, in
//!   [`Opener::open`].

use super::aws_lc::{self, AwsLcSuite, RecipientKey};
use super::{HpkeCiphersuite, HpkeError};
use std::sync::Arc;

/// `SealBase` to `public_key` under `suite`, returning `(enc, ciphertext)`.
pub(crate) fn seal_raw(
    suite: &HpkeCiphersuite,
    public_key: &[u8],
    info: &[u8],
    plaintext: &[u8],
    aad: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), HpkeError> {
    let dispatch = suite.dispatch_config()?;
    if let Some(aws_lc_suite) = AwsLcSuite::of(suite) {
        return aws_lc::seal(aws_lc_suite, public_key, info, plaintext, aad);
    }
    dispatch_seal(&dispatch, public_key, info, plaintext, aad)
}

/// `SealBase` with `hpke-dispatch`.
fn dispatch_seal(
    dispatch: &hpke_dispatch::Config,
    public_key: &[u8],
    info: &[u8],
    plaintext: &[u8],
    aad: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), HpkeError> {
    dispatch
        .base_mode_seal(public_key, info, plaintext, aad)
        .map(hpke_dispatch::EncappedKeyAndCiphertext::into_parts)
        .map_err(|err| match err {
            // Deserializing the public key failed, or it led to an all-zero
            // shared secret (a low-order X25519 point).
            hpke_dispatch::HpkeError::IncorrectInputLength(..)
            | hpke_dispatch::HpkeError::ValidationError
            | hpke_dispatch::HpkeError::EncapError => HpkeError::InvalidPublicKey,
            _ => HpkeError::Seal,
        })
}

/// A recipient's private key made ready to open with its suite's
/// implementation, once, when the keypair is built.
#[derive(Clone)]
pub(crate) enum Opener {
    /// AWS-LC's key, holding the public key beside the private one.
    AwsLc {
        suite: AwsLcSuite,
        key: Arc<RecipientKey>,
    },
    /// `hpke-dispatch` opens from the serialized private key each time.
    Dispatch(hpke_dispatch::Config),
}

impl Opener {
    /// The opener of `private_key` (its serialized bytes) under `suite`: [`HpkeError::Unsupported`]
    /// for a suite dyad does not support, [`HpkeError::InvalidPrivateKey`]
    /// for a key AWS-LC refuses (`hpke-dispatch` checks keys only when
    /// opening).
    pub(crate) fn new(suite: &HpkeCiphersuite, private_key: &[u8]) -> Result<Self, HpkeError> {
        let dispatch = suite.dispatch_config()?;
        Ok(match AwsLcSuite::of(suite) {
            Some(aws_lc_suite) => Opener::AwsLc {
                suite: aws_lc_suite,
                key: Arc::new(RecipientKey::new(aws_lc_suite, private_key)?),
            },
            None => Opener::Dispatch(dispatch),
        })
    }

    /// The public key of the private key, where the implementation
    /// derived it when loading the key (AWS-LC).
    pub(crate) fn public_key(&self) -> Option<Vec<u8>> {
        match self {
            Opener::AwsLc { key, .. } => Some(key.public_key()),
            Opener::Dispatch(_) => None,
        }
    }

    /// `OpenBase`. Every failure is [`HpkeError::Open`]: the private key
    /// was checked when the keypair was built, so the fault is the
    /// ciphertext's.
    pub(crate) fn open(
        &self,
        private_key: &[u8],
        encapsulated_key: &[u8],
        info: &[u8],
        payload: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, HpkeError> {
        match self {
            Opener::AwsLc { suite, key } => key.open(*suite, encapsulated_key, info, payload, aad),
            Opener::Dispatch(dispatch) => dispatch
                .base_mode_open(private_key, encapsulated_key, info, payload, aad)
                .map_err(|_| HpkeError::Open),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hpke::{supported_ciphersuites, HpkeKeypair, HpkePrivateKey};
    use dyad_messages::draft09::HpkeConfigId;

    const INFO: &[u8] = b"dyad base mode test";
    const AAD: &[u8] = b"associated data";
    const PLAINTEXT: &[u8] = b"an input share";

    fn aws_lc_suites() -> Vec<HpkeCiphersuite> {
        supported_ciphersuites()
            .into_iter()
            .filter(|suite| AwsLcSuite::of(suite).is_some())
            .collect()
    }

    #[test]
    fn aws_lc_serves_the_x25519_suites_with_sha256_or_sha384() {
        let suites = aws_lc_suites();
        // X25519 x {SHA-256, SHA-384} x three AEADs.
        assert_eq!(suites.len(), 6);
        assert!(suites.contains(&HpkeCiphersuite::DEFAULT));
    }

    /// The two implementations agree: AWS-LC opens what `hpke-dispatch`
    /// seals, and the other way round, for every suite AWS-LC serves.
    #[test]
    fn aws_lc_and_hpke_dispatch_open_each_others_ciphertexts() {
        for suite in aws_lc_suites() {
            let kp =
                HpkeKeypair::generate(HpkeConfigId(1), suite.kem, suite.kdf, suite.aead).unwrap();
            let dispatch = suite.dispatch_config().unwrap();
            let public_key = kp.config().public_key.as_ref();

            let (enc, ct) = dispatch_seal(&dispatch, public_key, INFO, PLAINTEXT, AAD).unwrap();
            let opener = Opener::new(&suite, kp.private_key().as_bytes()).unwrap();
            assert!(matches!(opener, Opener::AwsLc { .. }));
            assert_eq!(
                opener
                    .open(kp.private_key().as_bytes(), &enc, INFO, &ct, AAD)
                    .unwrap(),
                PLAINTEXT,
                "{suite:?}"
            );

            let (enc, ct) = seal_raw(&suite, public_key, INFO, PLAINTEXT, AAD).unwrap();
            let opened = dispatch
                .base_mode_open(kp.private_key().as_bytes(), &enc, INFO, &ct, AAD)
                .unwrap();
            assert_eq!(opened, PLAINTEXT, "{suite:?}");
        }
    }

    #[test]
    fn aws_lc_keeps_the_public_key_of_the_private_key() {
        let kp = HpkeKeypair::generate_default(HpkeConfigId(1));
        let Opener::AwsLc { key, .. } =
            Opener::new(&HpkeCiphersuite::DEFAULT, kp.private_key().as_bytes()).unwrap()
        else {
            panic!("the mandatory suite is AWS-LC's");
        };
        assert_eq!(key.public_key(), kp.config().public_key.as_ref());
    }

    #[test]
    fn aws_lc_refuses_private_keys_of_the_wrong_length() {
        for len in [0, 31, 33, 64] {
            let key = HpkePrivateKey::new(vec![1; len]);
            assert_eq!(
                Opener::new(&HpkeCiphersuite::DEFAULT, key.as_bytes()).err(),
                Some(HpkeError::InvalidPrivateKey),
                "{len}"
            );
        }
    }

    /// The base-mode test vectors of RFC 9180 (appendix A and the CFRG's
    /// full set) for every suite dyad supports that they cover (the first
    /// encryption of each): the recipient's key opens the ciphertext to the
    /// plaintext, whichever implementation serves the suite, and AWS-LC
    /// derives the vector's public key from its private key.
    #[test]
    fn rfc_9180_base_mode_vectors_open() {
        use dyad_messages::draft09::{HpkeAeadId, HpkeKdfId, HpkeKemId};
        let unhex = |v: &serde_json::Value| -> Vec<u8> {
            let s = v.as_str().unwrap();
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect()
        };
        let vectors: Vec<serde_json::Value> =
            serde_json::from_str(include_str!("rfc9180_base_vectors.json")).unwrap();
        let mut aws_lc_checked = 0;
        for v in &vectors {
            let id = |name: &str| u16::try_from(v[name].as_u64().unwrap()).unwrap();
            let suite = HpkeCiphersuite::new(
                HpkeKemId::from(id("kem_id")),
                HpkeKdfId::from(id("kdf_id")),
                HpkeAeadId::from(id("aead_id")),
            );
            assert!(suite.is_supported(), "{suite:?}");
            let private_key = HpkePrivateKey::new(unhex(&v["skRm"]));
            let opener = Opener::new(&suite, private_key.as_bytes()).unwrap();
            let opened = opener
                .open(
                    private_key.as_bytes(),
                    &unhex(&v["enc"]),
                    &unhex(&v["info"]),
                    &unhex(&v["ct"]),
                    &unhex(&v["aad"]),
                )
                .unwrap();
            assert_eq!(opened, unhex(&v["pt"]), "{suite:?}");
            if let Opener::AwsLc { key, .. } = &opener {
                assert_eq!(key.public_key(), unhex(&v["pkRm"]), "{suite:?}");
                aws_lc_checked += 1;
            }
        }
        assert_eq!(vectors.len(), 18);
        assert_eq!(aws_lc_checked, 3);
    }
}
