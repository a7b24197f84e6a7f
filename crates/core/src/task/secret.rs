//! Secret byte strings of a task, and their text form.
//!
//! [`VerifyKey`] is the VDAF verification key shared by the two aggregators
//! (DAP-09 section 4.2, `vdaf_verify_key`; its requirements are in section
//! 7.5.1). Like every secret of a task it is redacted in `Debug`, compared in
//! constant time and zeroized on drop; it serializes as an unpadded
//! base64url string (RFC 4648 section 5), as the interop test API sends it.
//!
//! # Where is
//!
//! - a random key -> [`VerifyKey::random`]; its length checked against the
//!   VDAF -> [`TaskBuilder::build`](super::TaskBuilder::build);
//! - compared in constant time, redacted -> `PartialEq` and `Debug` for
//!   [`VerifyKey`].

use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Unpadded base64url for output; padding optional on input.
pub(crate) const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Serializes secret bytes as base64url without leaving a copy behind.
pub(crate) fn serialize_secret<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    let encoded = Zeroizing::new(BASE64URL.encode(bytes));
    s.serialize_str(&encoded)
}

/// Deserializes base64url secret bytes; the error never echoes the input.
pub(crate) fn deserialize_secret<'de, D: Deserializer<'de>>(
    d: D,
    what: &'static str,
) -> Result<Zeroizing<Vec<u8>>, D::Error> {
    let text = Zeroizing::new(String::deserialize(d)?);
    BASE64URL
        .decode(text.as_bytes())
        .map(Zeroizing::new)
        .map_err(|_| serde::de::Error::custom(format!("{what} is not valid base64url")))
}

/// The VDAF verification key (`vdaf_verify_key`, DAP-09 section 4.2).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct VerifyKey(Vec<u8>);

impl VerifyKey {
    /// A key from its bytes (its length is checked against the VDAF when a
    /// task is built).
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// A fresh key of `length` bytes from a cryptographically secure source.
    pub fn random(length: usize) -> Self {
        let mut bytes = vec![0; length];
        rand::Rng::fill(&mut rand::thread_rng(), bytes.as_mut_slice());
        Self(bytes)
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The key as the fixed-size array a VDAF takes, if it has that length.
    pub fn as_array<const L: usize>(&self) -> Option<&[u8; L]> {
        self.0.as_slice().try_into().ok()
    }

    /// The key's length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the key is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifyKey(<redacted {} bytes>)", self.0.len())
    }
}

impl PartialEq for VerifyKey {
    fn eq(&self, other: &Self) -> bool {
        // Lengths are not secret: `ct_eq` on slices of different lengths is
        // false without comparing contents.
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for VerifyKey {}

impl FromStr for VerifyKey {
    type Err = base64::DecodeError;

    /// Parses unpadded (or padded) base64url.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BASE64URL.decode(s).map(Self)
    }
}

impl Serialize for VerifyKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_secret(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for VerifyKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes = deserialize_secret(d, "VDAF verify key")?;
        Ok(Self(bytes.to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_key_text_forms() {
        let key = VerifyKey::new(vec![0xfb, 0xff, 0x01]);
        assert_eq!(serde_json::to_string(&key).unwrap(), "\"-_8B\"");
        assert_eq!(serde_json::from_str::<VerifyKey>("\"-_8B\"").unwrap(), key);
        assert_eq!("-_8B".parse::<VerifyKey>().unwrap(), key);
        assert_eq!(format!("{key:?}"), "VerifyKey(<redacted 3 bytes>)");
        let err = serde_json::from_str::<VerifyKey>("\"+/8B?\"").unwrap_err();
        assert!(!err.to_string().contains("+/8B"), "{err}");
    }

    #[test]
    fn verify_key_equality_and_arrays() {
        let key = VerifyKey::random(16);
        assert_eq!(key.len(), 16);
        assert_ne!(key, VerifyKey::random(16));
        assert_ne!(key, VerifyKey::new(key.as_bytes()[..15].to_vec()));
        assert_eq!(key.as_array::<16>().unwrap().as_slice(), key.as_bytes());
        assert!(key.as_array::<32>().is_none());
    }
}
