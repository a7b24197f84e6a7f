//! [`KeyView`]: a global HPKE key as the `hpke-key` commands print it: its
//! config ID, state, ciphersuite and times, never its private key.

use crate::commands::task::{aead_name, kdf_name, kem_name};
use crate::output::rfc3339;
use crate::report::hinted;
use dyad_datastore::models::{GlobalHpkeKey, HpkeKeyState};
use dyad_messages::draft09::HpkeConfigId;
use serde::Serialize;

/// What is printed of a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct KeyView {
    pub config_id: u8,
    pub state: String,
    pub kem: String,
    pub kdf: String,
    pub aead: String,
    /// RFC 3339.
    pub state_since: String,
    /// RFC 3339.
    pub created_at: String,
}

impl KeyView {
    pub fn of(key: &GlobalHpkeKey) -> Self {
        let config = key.keypair.config();
        Self {
            config_id: config.id.0,
            state: key.state.to_string(),
            kem: kem_name(config.kem_id),
            kdf: kdf_name(config.kdf_id),
            aead: aead_name(config.aead_id),
            state_since: rfc3339(key.state_changed_at),
            created_at: rfc3339(key.created_at),
        }
    }

    /// `X25519-HKDF-SHA256, HKDF-SHA256, AES-128-GCM`.
    pub fn ciphersuite(&self) -> String {
        format!("{}, {}, {}", self.kem, self.kdf, self.aead)
    }
}

/// The key with config ID `id`, or an error saying there is none.
pub(super) fn find(keys: &[GlobalHpkeKey], id: HpkeConfigId) -> anyhow::Result<&GlobalHpkeKey> {
    keys.iter()
        .find(|key| key.id() == id)
        .ok_or_else(|| no_such_key(id))
}

pub(super) fn no_such_key(id: HpkeConfigId) -> anyhow::Error {
    hinted(
        format!("no global HPKE key {id} in this datastore"),
        "`dyad hpke-key list` shows the stored keys",
    )
}

/// A `STATE` argument.
pub(super) fn parse_state(value: &str) -> Result<HpkeKeyState, String> {
    value.parse()
}
