//! [`KeyRotatorConfig`]: the `key_rotator` section of the configuration.
//!
//! ```yaml
//! key_rotator:
//!   interval_secs: 60          # how often a rotator looks at the keys
//!   pending_secs: 3600         # a new key waits this long before it is advertised
//!   active_secs: 2419200       # advertised this long (4 weeks), then replaced
//!   expired_secs: 604800       # still opens reports this long (1 week), then deleted
//!   ciphersuites:              # one active key each (RFC 9180 code points)
//!     - {kem: 32, kdf: 1, aead: 1}   # X25519-HKDF-SHA256, HKDF-SHA256, AES-128-GCM
//! ```

use dyad_core::hpke::HpkeCiphersuite;
use dyad_messages::draft09::{HpkeAeadId, HpkeKdfId, HpkeKemId};
use serde::Deserialize;
use std::collections::HashSet;
use std::time::Duration;

/// One ciphersuite of the `ciphersuites` list: RFC 9180 code points.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CiphersuiteConfig {
    /// KEM (RFC 9180 section 7.1), e.g. 32 for DHKEM(X25519, HKDF-SHA256).
    pub kem: u16,
    /// KDF (section 7.2), e.g. 1 for HKDF-SHA256.
    pub kdf: u16,
    /// AEAD (section 7.3), e.g. 1 for AES-128-GCM.
    pub aead: u16,
}

impl CiphersuiteConfig {
    /// The suite these code points name.
    pub fn suite(&self) -> HpkeCiphersuite {
        HpkeCiphersuite::new(
            HpkeKemId::from(self.kem),
            HpkeKdfId::from(self.kdf),
            HpkeAeadId::from(self.aead),
        )
    }
}

impl From<HpkeCiphersuite> for CiphersuiteConfig {
    fn from(suite: HpkeCiphersuite) -> Self {
        Self {
            kem: suite.kem.into(),
            kdf: suite.kdf.into(),
            aead: suite.aead.into(),
        }
    }
}

/// The key rotator (YAML section `key_rotator`). Every field has a
/// default; durations are in seconds.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeyRotatorConfig {
    /// Time between two runs.
    pub interval_secs: u64,
    /// How long a new key stays pending (opening reports, not advertised)
    /// before it becomes active: longer than `hpke_keys.refresh_interval_secs`,
    /// so that every replica holds it before any Client is given it.
    pub pending_secs: u64,
    /// How long a key stays active before a successor is made (which
    /// becomes active `pending_secs` later, when this one expires).
    pub active_secs: u64,
    /// How long an expired key still opens reports before it is deleted:
    /// longer than `hpke_keys.config_max_age_secs`, the longest a Client
    /// may keep using a configuration it fetched.
    pub expired_secs: u64,
    /// The ciphersuites to keep an active key of, in order of preference
    /// (the order `GET /hpke_config` lists them in).
    pub ciphersuites: Vec<CiphersuiteConfig>,
}

impl Default for KeyRotatorConfig {
    fn default() -> Self {
        Self {
            interval_secs: 60,
            pending_secs: 3_600,
            active_secs: 28 * 86_400,
            expired_secs: 7 * 86_400,
            ciphersuites: vec![HpkeCiphersuite::DEFAULT.into()],
        }
    }
}

/// At most this many ciphersuites: each may hold three keys at once
/// (pending, active, expired) and there are 256 config IDs.
pub const MAX_CIPHERSUITES: usize = 32;

impl KeyRotatorConfig {
    /// The configured suites, in order.
    pub fn suites(&self) -> Vec<HpkeCiphersuite> {
        self.ciphersuites
            .iter()
            .map(CiphersuiteConfig::suite)
            .collect()
    }

    /// [`Self::interval_secs`] as a duration.
    pub fn interval(&self) -> Duration {
        Duration::from_secs(self.interval_secs)
    }

    /// Checks what serde cannot; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        for (field, value) in [
            ("key_rotator.interval_secs", self.interval_secs),
            ("key_rotator.pending_secs", self.pending_secs),
            ("key_rotator.active_secs", self.active_secs),
            ("key_rotator.expired_secs", self.expired_secs),
        ] {
            if value == 0 {
                return Err(format!("{field}: must be positive"));
            }
            if value > 10 * 365 * 86_400 {
                return Err(format!("{field}: must be at most ten years"));
            }
        }
        if self.ciphersuites.is_empty() {
            return Err("key_rotator.ciphersuites: at least one ciphersuite is needed".into());
        }
        if self.ciphersuites.len() > MAX_CIPHERSUITES {
            return Err(format!(
                "key_rotator.ciphersuites: at most {MAX_CIPHERSUITES} (256 config IDs, up to \
                 three keys each)"
            ));
        }
        let mut seen = HashSet::new();
        for suite in self.suites() {
            if !suite.is_supported() {
                return Err(format!(
                    "key_rotator.ciphersuites: kem {}, kdf {}, aead {} is not a ciphersuite dyad \
                     supports (kem 16, 17, 18 or 32; kdf 1, 2 or 3; aead 1, 2 or 3)",
                    u16::from(suite.kem),
                    u16::from(suite.kdf),
                    u16::from(suite.aead)
                ));
            }
            if !seen.insert(suite) {
                return Err(format!(
                    "key_rotator.ciphersuites: kem {}, kdf {}, aead {} is listed twice",
                    u16::from(suite.kem),
                    u16::from(suite.kdf),
                    u16::from(suite.aead)
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<KeyRotatorConfig, String> {
        let config: KeyRotatorConfig = serde_yaml::from_str(yaml).map_err(|e| e.to_string())?;
        config.validate()?;
        Ok(config)
    }

    #[test]
    fn defaults_keep_one_x25519_key_for_four_weeks() {
        let config = parse("{}").unwrap();
        assert_eq!(config, KeyRotatorConfig::default());
        assert_eq!(config.suites(), vec![HpkeCiphersuite::DEFAULT]);
        assert_eq!(config.pending_secs, 3600);
        assert_eq!(config.active_secs, 2_419_200);
        assert_eq!(config.expired_secs, 604_800);
    }

    #[test]
    fn several_suites_in_seconds() {
        let config = parse(
            "{interval_secs: 1, pending_secs: 2, active_secs: 5, expired_secs: 5, \
             ciphersuites: [{kem: 32, kdf: 1, aead: 1}, {kem: 16, kdf: 1, aead: 3}]}",
        )
        .unwrap();
        assert_eq!(config.suites().len(), 2);
        assert_eq!(config.interval(), Duration::from_secs(1));
    }

    #[test]
    fn bad_values_name_their_field() {
        for (yaml, expected) in [
            (
                "{pending_secs: 0}",
                "key_rotator.pending_secs: must be positive",
            ),
            ("{ciphersuites: []}", "at least one ciphersuite"),
            (
                "{ciphersuites: [{kem: 33, kdf: 1, aead: 1}]}",
                "not a ciphersuite dyad supports",
            ),
            (
                "{ciphersuites: [{kem: 32, kdf: 1, aead: 1}, {kem: 32, kdf: 1, aead: 1}]}",
                "listed twice",
            ),
            ("{unknown: 1}", "unknown field"),
            ("{ciphersuites: [{kem: 32, kdf: 1}]}", "missing field"),
        ] {
            let error = parse(yaml).unwrap_err();
            assert!(error.contains(expected), "{yaml}: {error}");
        }
    }
}
