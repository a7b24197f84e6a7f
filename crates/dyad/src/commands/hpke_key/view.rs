//! [`KeyView`]: a global HPKE key as the `hpke-key` commands print it: its
//! config ID, state, ciphersuite and times (not known over the management
//! API, which shows no times), never its private key.

use crate::commands::task::{aead_name, kdf_name, kem_name};
use crate::output::rfc3339;
use crate::report::hinted;
use dyad_aggregator::management::models::{parse_aead, parse_kdf, parse_kem, GlobalHpkeConfigJson};
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
    /// RFC 3339; `None` over the management API.
    pub state_since: Option<String>,
    /// RFC 3339; `None` over the management API.
    pub created_at: Option<String>,
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
            state_since: Some(rfc3339(key.state_changed_at)),
            created_at: Some(rfc3339(key.created_at)),
        }
    }

    /// A key as the management API lists it (`GET /hpke_configs`).
    pub fn of_api(item: &GlobalHpkeConfigJson) -> anyhow::Result<Self> {
        let config = &item.config;
        let unknown = |what: &str, name: &str| {
            anyhow::anyhow!(
                "the management API names global HPKE key {}'s {what} {name:?}, unknown to dyad",
                config.id
            )
        };
        Ok(Self {
            config_id: config.id,
            state: HpkeKeyState::from(item.state).to_string(),
            kem: kem_name(parse_kem(&config.kem_id).ok_or_else(|| unknown("KEM", &config.kem_id))?),
            kdf: kdf_name(parse_kdf(&config.kdf_id).ok_or_else(|| unknown("KDF", &config.kdf_id))?),
            aead: aead_name(
                parse_aead(&config.aead_id).ok_or_else(|| unknown("AEAD", &config.aead_id))?,
            ),
            state_since: None,
            created_at: None,
        })
    }

    /// Since when the key is in its state, or `unknown`.
    pub fn state_since_text(&self) -> String {
        self.state_since
            .clone()
            .unwrap_or_else(|| "unknown".to_owned())
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

/// [`no_such_key`] for the aggregator behind a management API at `base`.
pub(super) fn no_such_remote_key(id: HpkeConfigId, base: &url::Url) -> anyhow::Error {
    hinted(
        format!("no global HPKE key {id} at {base}"),
        "`dyad hpke-key list --api ...` shows its keys",
    )
}

/// A `STATE` argument.
pub(super) fn parse_state(value: &str) -> Result<HpkeKeyState, String> {
    value.parse()
}
