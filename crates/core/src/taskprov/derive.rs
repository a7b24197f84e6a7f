//! The two derivations of draft-wang-ppm-dap-taskprov-06 section 3: the
//! task ID is the SHA-256 of the encoded `TaskConfig` ("Deriving the Task
//! ID"), and the VDAF verification key is expanded from the secret the two
//! aggregators share, `verify_key_init`, with HKDF-SHA256 (RFC 5869) salted
//! with SHA-256("dap-taskprov") and the task ID as info ("Deriving the VDAF
//! Verification Key").
//!
//! [`VerifyKeyInit`] is that shared secret: 32 bytes, redacted in `Debug`,
//! compared in constant time, zeroized on drop, base64url in text.
//!
//! # Where is
//!
//! - the task ID -> [`task_id_of`];
//! - `taskprov_salt` -> [`taskprov_salt`];
//! - the verification key -> [`derive_verify_key`].

use crate::task::VerifyKey;
use base64::Engine as _;
use dyad_messages::draft09::TaskId;
use hkdf::Hkdf;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// The length of `verify_key_init` ("The length of this secret MUST be 32
/// bytes").
pub const VERIFY_KEY_INIT_LEN: usize = 32;

/// The task ID of a task advertised with `task_config`, its encoded
/// `TaskConfig`: `SHA-256(task_config)`.
pub fn task_id_of(task_config: &[u8]) -> TaskId {
    TaskId::from_bytes(Sha256::digest(task_config).into())
}

/// `taskprov_salt`: the SHA-256 of the octet string "dap-taskprov".
pub fn taskprov_salt() -> [u8; 32] {
    Sha256::digest(b"dap-taskprov").into()
}

/// `verify_key = HKDF-Expand(HKDF-Extract(taskprov_salt, verify_key_init),
/// task_id, VERIFY_KEY_SIZE)`, both with SHA-256; `length` is the VDAF's
/// `VERIFY_KEY_SIZE` (at most 255 * 32 bytes, far above any VDAF's).
pub fn derive_verify_key(init: &VerifyKeyInit, task_id: &TaskId, length: usize) -> VerifyKey {
    let hkdf = Hkdf::<Sha256>::new(Some(&taskprov_salt()), &init.0);
    let mut key = Zeroizing::new(vec![0; length]);
    hkdf.expand(task_id.as_bytes(), &mut key)
        .expect("VERIFY_KEY_SIZE is far below HKDF-SHA256's limit of 8160 bytes");
    VerifyKey::new(key.to_vec())
}

/// `verify_key_init`: the secret two aggregators share out of band, from
/// which every taskprov task's verification key is derived.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct VerifyKeyInit([u8; VERIFY_KEY_INIT_LEN]);

/// A `verify_key_init` that is not 32 bytes of base64url.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("verify_key_init must be {VERIFY_KEY_INIT_LEN} bytes in unpadded base64url")]
pub struct VerifyKeyInitError;

impl VerifyKeyInit {
    /// The secret from its 32 bytes.
    pub fn new(bytes: [u8; VERIFY_KEY_INIT_LEN]) -> Self {
        Self(bytes)
    }

    /// A fresh secret from a cryptographically secure source.
    pub fn random() -> Self {
        let mut bytes = [0; VERIFY_KEY_INIT_LEN];
        rand::Rng::fill(&mut rand::thread_rng(), &mut bytes);
        Self(bytes)
    }

    /// The secret's bytes.
    pub fn as_bytes(&self) -> &[u8; VERIFY_KEY_INIT_LEN] {
        &self.0
    }

    /// The secret in unpadded base64url (for the operator who shares it
    /// with the other aggregator).
    pub fn to_base64url(&self) -> Zeroizing<String> {
        Zeroizing::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.0))
    }
}

impl FromStr for VerifyKeyInit {
    type Err = VerifyKeyInitError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = Zeroizing::new(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(s.trim().trim_end_matches('='))
                .map_err(|_| VerifyKeyInitError)?,
        );
        let array: [u8; VERIFY_KEY_INIT_LEN] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| VerifyKeyInitError)?;
        Ok(Self(array))
    }
}

impl fmt::Debug for VerifyKeyInit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VerifyKeyInit(<redacted>)")
    }
}

impl PartialEq for VerifyKeyInit {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for VerifyKeyInit {}

impl Serialize for VerifyKeyInit {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_base64url())
    }
}

impl<'de> Deserialize<'de> for VerifyKeyInit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Zeroizing::new(String::deserialize(d)?);
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[path = "derive_tests.rs"]
mod tests;
