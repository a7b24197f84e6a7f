//! HPKE keys: [`HpkePrivateKey`] (zeroized on drop, redacted in `Debug`,
//! compared in constant time) and [`HpkeKeypair`], an aggregator's or the
//! Collector's `HpkeConfig` (DAP-09 section 4.4.1) together with its private
//! key, made ready to open once, when the keypair is built (for the suites
//! AWS-LC serves, the public key is kept beside the private one, so an open
//! costs one scalar multiplication: see `base_mode`).
//!
//! Both serialize for configuration files with the private key as an
//! unpadded base64url string (RFC 4648 section 5), as the public key in
//! `HpkeConfig` is. A keypair is checked when it is built or deserialized: its
//! suite must be supported and its private key must open what is sealed to its
//! public key.
//!
//! # Where is
//!
//! - a keypair's check, also when deserialized -> [`HpkeKeypair::new`];
//! - key generation -> [`HpkeKeypair::generate`],
//!   [`HpkeKeypair::generate_default`] (the mandatory suite);
//! - a private key compared in constant time, redacted, zeroized ->
//!   [`HpkePrivateKey`]'s `PartialEq`, `Debug` and drop.

use super::base_mode::{seal_raw, Opener};
use super::ciphersuite::HpkeCiphersuite;
use super::HpkeError;
use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use dyad_messages::draft09::{
    HpkeAeadId, HpkeConfig, HpkeConfigId, HpkeKdfId, HpkeKemId, HpkePublicKey,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Unpadded base64url for output; padding optional on input.
const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The HPKE `info` of the seal-then-open check that a keypair's halves belong
/// together. It begins unlike any DAP label, so the check cannot produce a
/// ciphertext that means anything in the protocol.
const KEYPAIR_CHECK_INFO: &[u8] = b"dyad hpke keypair check";

/// An HPKE private key in the serialized form of its KEM
/// (`SerializePrivateKey`, RFC 9180 section 7.1.2).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct HpkePrivateKey(Vec<u8>);

impl HpkePrivateKey {
    /// A private key from its serialized bytes (not yet checked; see
    /// [`HpkeKeypair::new`]).
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The serialized key.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl From<Vec<u8>> for HpkePrivateKey {
    fn from(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }
}

impl AsRef<[u8]> for HpkePrivateKey {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for HpkePrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HpkePrivateKey(<redacted>)")
    }
}

impl PartialEq for HpkePrivateKey {
    fn eq(&self, other: &Self) -> bool {
        // Lengths are not secret; `ct_eq` on slices returns false for
        // different lengths without comparing contents.
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for HpkePrivateKey {}

impl FromStr for HpkePrivateKey {
    type Err = HpkeError;

    /// Parses unpadded (or padded) base64url.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BASE64URL
            .decode(s)
            .map(Self)
            .map_err(|_| HpkeError::InvalidPrivateKey)
    }
}

impl Serialize for HpkePrivateKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut encoded = BASE64URL.encode(&self.0);
        let result = s.serialize_str(&encoded);
        encoded.zeroize();
        result
    }
}

impl<'de> Deserialize<'de> for HpkePrivateKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut s = String::deserialize(d)?;
        let key = s.parse::<HpkePrivateKey>();
        s.zeroize();
        // The message must not echo the input: it is (nearly) a secret key.
        key.map_err(|_| serde::de::Error::custom("HPKE private key is not valid base64url"))
    }
}

/// An HPKE configuration together with its private key.
///
/// Construction ([`HpkeKeypair::new`], [`HpkeKeypair::generate`],
/// deserialization) guarantees that the suite is supported and that the
/// private key belongs to the public key, so that a failure to open a
/// ciphertext with it is the ciphertext's fault.
#[derive(Clone)]
pub struct HpkeKeypair {
    config: HpkeConfig,
    private_key: HpkePrivateKey,
    /// The private key as the suite's HPKE implementation opens with it.
    opener: Opener,
}

/// Equal configurations and private keys (the opener follows from them).
impl PartialEq for HpkeKeypair {
    fn eq(&self, other: &Self) -> bool {
        self.config == other.config && self.private_key == other.private_key
    }
}

impl Eq for HpkeKeypair {}

impl HpkeKeypair {
    /// A keypair from a configuration and the private key of its public key.
    ///
    /// Fails with [`HpkeError::Unsupported`] if dyad cannot use the suite,
    /// [`HpkeError::InvalidPublicKey`] if the public key is not a key of the
    /// suite's KEM, and [`HpkeError::InvalidPrivateKey`] if the private key
    /// is malformed or is not the public key's.
    pub fn new(config: HpkeConfig, private_key: HpkePrivateKey) -> Result<Self, HpkeError> {
        let suite = HpkeCiphersuite::of(&config);
        let opener = Opener::new(&suite, private_key.as_bytes())?;
        match opener.public_key() {
            // The implementation derived the public key when it loaded the
            // private one (a fixed-base multiplication): compare. A task is
            // read, and so its keys checked, on every upload.
            Some(derived) if derived.len() != config.public_key.as_ref().len() => {
                return Err(HpkeError::InvalidPublicKey)
            }
            Some(derived) if derived != config.public_key.as_ref() => {
                return Err(HpkeError::InvalidPrivateKey)
            }
            Some(_) => {}
            // Otherwise: seal to the public key, open with the private one.
            None => {
                let (enc, ciphertext) = seal_raw(
                    &suite,
                    config.public_key.as_ref(),
                    KEYPAIR_CHECK_INFO,
                    &[],
                    &[],
                )?;
                opener
                    .open(
                        private_key.as_bytes(),
                        &enc,
                        KEYPAIR_CHECK_INFO,
                        &ciphertext,
                        &[],
                    )
                    .map_err(|_| HpkeError::InvalidPrivateKey)?;
            }
        }
        Ok(Self {
            config,
            private_key,
            opener,
        })
    }

    /// A fresh keypair for the given configuration ID and suite, from the
    /// operating system's random number generator.
    pub fn generate(
        id: HpkeConfigId,
        kem: HpkeKemId,
        kdf: HpkeKdfId,
        aead: HpkeAeadId,
    ) -> Result<Self, HpkeError> {
        let suite = HpkeCiphersuite::new(kem, kdf, aead);
        let dispatch = suite.dispatch_config()?;
        let mut generated = hpke_dispatch::gen_keypair(dispatch.kem);
        let private_key = HpkePrivateKey::new(std::mem::take(&mut generated.private_key));
        let public_key = HpkePublicKey::from(std::mem::take(&mut generated.public_key));
        let opener = Opener::new(&suite, private_key.as_bytes())?;
        Ok(Self {
            config: HpkeConfig {
                id,
                kem_id: kem,
                kdf_id: kdf,
                aead_id: aead,
                public_key,
            },
            private_key,
            opener,
        })
    }

    /// A fresh keypair with [`HpkeCiphersuite::DEFAULT`], the suite every DAP
    /// implementation supports (DAP-09 section 6, "Compliance Requirements").
    pub fn generate_default(id: HpkeConfigId) -> Self {
        let HpkeCiphersuite { kem, kdf, aead } = HpkeCiphersuite::DEFAULT;
        Self::generate(id, kem, kdf, aead)
            .expect("the mandatory suite is supported, and a fresh X25519 key is valid")
    }

    /// The public configuration, as published in an `HpkeConfigList`.
    pub fn config(&self) -> &HpkeConfig {
        &self.config
    }

    /// The configuration ID ciphertexts for this keypair carry.
    pub fn id(&self) -> HpkeConfigId {
        self.config.id
    }

    /// The suite of the configuration.
    pub fn ciphersuite(&self) -> HpkeCiphersuite {
        HpkeCiphersuite::of(&self.config)
    }

    /// The private key.
    pub fn private_key(&self) -> &HpkePrivateKey {
        &self.private_key
    }

    /// The private key as the suite's implementation opens with it.
    pub(crate) fn opener(&self) -> &Opener {
        &self.opener
    }
}

impl fmt::Debug for HpkeKeypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HpkeKeypair")
            .field("config", &self.config)
            .field("private_key", &self.private_key)
            .finish()
    }
}

/// The serialized form: `{config: HpkeConfig, private_key: "<base64url>"}`.
#[derive(Serialize)]
struct KeypairRef<'a> {
    config: &'a HpkeConfig,
    private_key: &'a HpkePrivateKey,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeypairFields {
    config: HpkeConfig,
    private_key: HpkePrivateKey,
}

impl Serialize for HpkeKeypair {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        KeypairRef {
            config: &self.config,
            private_key: &self.private_key,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for HpkeKeypair {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let KeypairFields {
            config,
            private_key,
        } = KeypairFields::deserialize(d)?;
        HpkeKeypair::new(config, private_key).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hpke::supported_ciphersuites;

    /// Every way the key bytes could show up in text.
    fn renderings(bytes: &[u8]) -> Vec<String> {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        vec![
            BASE64URL.encode(bytes),
            base64::engine::general_purpose::STANDARD.encode(bytes),
            hex.clone(),
            hex.to_uppercase(),
            format!("{bytes:?}"),
            // A run of the decimal bytes as `Vec<u8>`'s Debug would print them.
            bytes[..8]
                .iter()
                .map(u8::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        ]
    }

    #[test]
    fn debug_output_contains_no_key_bytes() {
        for suite in supported_ciphersuites() {
            let kp =
                HpkeKeypair::generate(HpkeConfigId(3), suite.kem, suite.kdf, suite.aead).unwrap();
            let key = kp.private_key().as_bytes();
            for text in [
                format!("{kp:?}"),
                format!("{kp:#?}"),
                format!("{:?}", kp.private_key()),
            ] {
                assert!(text.contains("redacted"), "{text}");
                for r in renderings(key) {
                    assert!(!text.contains(&r), "{suite:?}: {text}");
                }
            }
        }
    }

    #[test]
    fn generate_refuses_unsupported_suites() {
        let cases = [
            (
                HpkeKemId::X448HkdfSha512,
                HpkeKdfId::HkdfSha512,
                HpkeAeadId::Aes256Gcm,
            ),
            (
                HpkeKemId::Other(0x0041),
                HpkeKdfId::HkdfSha256,
                HpkeAeadId::Aes128Gcm,
            ),
            (
                HpkeKemId::X25519HkdfSha256,
                HpkeKdfId::Other(0x0011),
                HpkeAeadId::Aes128Gcm,
            ),
            (
                HpkeKemId::X25519HkdfSha256,
                HpkeKdfId::HkdfSha256,
                HpkeAeadId::ExportOnly,
            ),
            (
                HpkeKemId::P256HkdfSha256,
                HpkeKdfId::HkdfSha256,
                HpkeAeadId::Other(0x0004),
            ),
        ];
        for (kem, kdf, aead) in cases {
            assert_eq!(
                HpkeKeypair::generate(HpkeConfigId(0), kem, kdf, aead).unwrap_err(),
                HpkeError::Unsupported { kem, kdf, aead }
            );
        }
    }

    #[test]
    fn generate_default_uses_the_default_suite() {
        let kp = HpkeKeypair::generate_default(HpkeConfigId(9));
        assert_eq!(kp.id(), HpkeConfigId(9));
        assert_eq!(kp.ciphersuite(), HpkeCiphersuite::DEFAULT);
        assert_eq!(kp.config().public_key.0.len(), 32);
        // It is a consistent keypair.
        HpkeKeypair::new(kp.config().clone(), kp.private_key().clone()).unwrap();
    }

    #[test]
    fn new_checks_the_keys() {
        for suite in supported_ciphersuites() {
            let a =
                HpkeKeypair::generate(HpkeConfigId(1), suite.kem, suite.kdf, suite.aead).unwrap();
            let b =
                HpkeKeypair::generate(HpkeConfigId(1), suite.kem, suite.kdf, suite.aead).unwrap();
            assert_eq!(
                HpkeKeypair::new(a.config().clone(), a.private_key().clone()).unwrap(),
                a
            );
            // The private key of another keypair.
            assert_eq!(
                HpkeKeypair::new(a.config().clone(), b.private_key().clone()).unwrap_err(),
                HpkeError::InvalidPrivateKey
            );
            // Malformed private keys.
            let len = a.private_key().as_bytes().len();
            for bad in [
                vec![],
                vec![1; len - 1],
                vec![1; len + 1],
                vec![0; len],
                vec![0xff; len],
            ] {
                let res = HpkeKeypair::new(a.config().clone(), HpkePrivateKey::new(bad));
                assert_eq!(res.unwrap_err(), HpkeError::InvalidPrivateKey, "{suite:?}");
            }
            // A malformed public key.
            let mut config = a.config().clone();
            config.public_key = HpkePublicKey(vec![0x04; 3]);
            assert_eq!(
                HpkeKeypair::new(config, a.private_key().clone()).unwrap_err(),
                HpkeError::InvalidPublicKey
            );
        }
    }

    #[test]
    fn new_refuses_unsupported_suites() {
        let kp = HpkeKeypair::generate_default(HpkeConfigId(1));
        let mut config = kp.config().clone();
        config.kem_id = HpkeKemId::X448HkdfSha512;
        assert!(matches!(
            HpkeKeypair::new(config, kp.private_key().clone()),
            Err(HpkeError::Unsupported { .. })
        ));
    }

    #[test]
    fn private_key_equality_and_parsing() {
        let key = HpkePrivateKey::new(vec![1, 2, 3, 0xfb, 0xff]);
        assert_eq!(key, HpkePrivateKey::from(vec![1, 2, 3, 0xfb, 0xff]));
        assert_ne!(key, HpkePrivateKey::new(vec![1, 2, 3, 0xfb, 0xfe]));
        assert_ne!(key, HpkePrivateKey::new(vec![1, 2, 3, 0xfb]));
        assert_eq!("AQID-_8".parse::<HpkePrivateKey>().unwrap(), key);
        assert_eq!("AQID-_8=".parse::<HpkePrivateKey>().unwrap(), key);
        assert_eq!(
            "AQID+/8".parse::<HpkePrivateKey>().unwrap_err(),
            HpkeError::InvalidPrivateKey
        );
    }

    #[test]
    fn keypair_serde_round_trip() {
        let kp = HpkeKeypair::generate(
            HpkeConfigId(42),
            HpkeKemId::P256HkdfSha256,
            HpkeKdfId::HkdfSha256,
            HpkeAeadId::ChaCha20Poly1305,
        )
        .unwrap();
        let json = serde_json::to_value(&kp).unwrap();
        assert_eq!(
            json["private_key"],
            serde_json::Value::String(BASE64URL.encode(kp.private_key().as_bytes()))
        );
        assert_eq!(json["config"]["id"], 42);
        assert_eq!(json["config"]["kem_id"], 0x10);
        let back: HpkeKeypair = serde_json::from_value(json).unwrap();
        assert_eq!(back, kp);

        let yaml = serde_yaml::to_string(&kp).unwrap();
        let back: HpkeKeypair = serde_yaml::from_str(&yaml).unwrap();
        assert_eq!(back, kp);
    }

    #[test]
    fn keypair_deserialization_checks_the_keys() {
        let a = HpkeKeypair::generate_default(HpkeConfigId(1));
        let b = HpkeKeypair::generate_default(HpkeConfigId(1));
        let mut json = serde_json::to_value(&a).unwrap();
        json["private_key"] = serde_json::to_value(b.private_key()).unwrap();
        let err = serde_json::from_value::<HpkeKeypair>(json).unwrap_err();
        assert!(
            err.to_string().contains("invalid HPKE private key"),
            "{err}"
        );

        let mut json = serde_json::to_value(&a).unwrap();
        json["private_key"] = "not base64 !".into();
        let err = serde_json::from_value::<HpkeKeypair>(json).unwrap_err();
        assert!(!err.to_string().contains("not base64"), "{err}");
    }
}
