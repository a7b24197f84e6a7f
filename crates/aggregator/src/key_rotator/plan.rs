//! What one run of the key rotator changes ([`plan`]): a pure function of
//! the stored global keys, the configuration and the time, so that every
//! rule is tested without a datastore.
//!
//! For each configured ciphersuite, in order:
//! 1. a pending key pending for `pending_secs` becomes active, and the
//!    suite's other active keys expire (Clients are given the new one from
//!    now on; the old one still opens what they seal with a cached copy);
//! 2. with no pending key, a new pending key is made when the suite has no
//!    active key or its newest active key has been active `active_secs`.
//!
//! Then, whatever their suite: a pending or active key of a suite no longer
//! configured expires, and a key expired for `expired_secs` is deleted.

use super::config::KeyRotatorConfig;
use dyad_core::hpke::HpkeCiphersuite;
use dyad_datastore::models::{GlobalHpkeKey, HpkeKeyState};
use dyad_messages::draft09::{HpkeConfigId, Time};
use std::collections::HashSet;

/// One change to the global keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Make a new pending key of this suite under this config ID.
    Create(HpkeConfigId, HpkeCiphersuite),
    /// Make this pending key active.
    Activate(HpkeConfigId, HpkeCiphersuite),
    /// Make this key expired.
    Expire(HpkeConfigId, HpkeCiphersuite),
    /// Delete this expired key.
    Delete(HpkeConfigId, HpkeCiphersuite),
}

impl Change {
    /// The transition's name, as the metric and the log say it.
    pub fn transition(&self) -> &'static str {
        match self {
            Change::Create(..) => "created",
            Change::Activate(..) => "activated",
            Change::Expire(..) => "expired",
            Change::Delete(..) => "deleted",
        }
    }

    /// The key's config ID and suite.
    pub fn key(&self) -> (HpkeConfigId, HpkeCiphersuite) {
        match *self {
            Change::Create(id, suite)
            | Change::Activate(id, suite)
            | Change::Expire(id, suite)
            | Change::Delete(id, suite) => (id, suite),
        }
    }
}

/// Why a run cannot do what it must.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlanError {
    /// Every one of the 256 config IDs is taken.
    #[error("no free HPKE config ID: all 256 are taken by global keys (delete some with `dyad hpke-key delete`)")]
    NoFreeConfigId,
}

/// The changes one run makes to `keys` at `now` (see the module
/// documentation), in the order to apply them.
pub fn plan(
    keys: &[GlobalHpkeKey],
    config: &KeyRotatorConfig,
    now: Time,
) -> Result<Vec<Change>, PlanError> {
    let age = |key: &GlobalHpkeKey| {
        now.as_seconds_since_epoch()
            .saturating_sub(key.state_changed_at.as_seconds_since_epoch())
    };
    let suites = config.suites();
    let mut changes = Vec::new();
    let mut used: HashSet<HpkeConfigId> = keys.iter().map(GlobalHpkeKey::id).collect();
    let mut newest = newest_id(keys);

    for &suite in &suites {
        let of_suite = |state| {
            keys.iter()
                .filter(move |key| key.keypair.ciphersuite() == suite && key.state == state)
        };
        // The pending key that waited longest, if it waited long enough.
        let ripe = of_suite(HpkeKeyState::Pending)
            .filter(|key| age(key) >= config.pending_secs)
            .max_by_key(|key| age(key));
        if let Some(ripe) = ripe {
            changes.push(Change::Activate(ripe.id(), suite));
            for old in of_suite(HpkeKeyState::Active) {
                changes.push(Change::Expire(old.id(), suite));
            }
            continue;
        }
        let has_pending = of_suite(HpkeKeyState::Pending).next().is_some();
        let newest_active_age = of_suite(HpkeKeyState::Active).map(age).min();
        let due = newest_active_age.is_none_or(|age| age >= config.active_secs);
        if !has_pending && due {
            let id = next_config_id(newest, &used).ok_or(PlanError::NoFreeConfigId)?;
            used.insert(id);
            newest = Some(id);
            changes.push(Change::Create(id, suite));
        }
    }

    for key in keys {
        let suite = key.keypair.ciphersuite();
        match key.state {
            HpkeKeyState::Pending | HpkeKeyState::Active if !suites.contains(&suite) => {
                changes.push(Change::Expire(key.id(), suite));
            }
            HpkeKeyState::Expired if age(key) >= config.expired_secs => {
                changes.push(Change::Delete(key.id(), suite));
            }
            _ => {}
        }
    }
    Ok(changes)
}

/// The config ID for a key made now beside `keys` (see
/// [`next_config_id`]); `None` if all 256 are in use.
pub fn new_config_id(keys: &[GlobalHpkeKey]) -> Option<HpkeConfigId> {
    let used: HashSet<HpkeConfigId> = keys.iter().map(GlobalHpkeKey::id).collect();
    next_config_id(newest_id(keys), &used)
}

/// The config ID of the key made last (latest `created_at`, then highest
/// ID), if any.
fn newest_id(keys: &[GlobalHpkeKey]) -> Option<HpkeConfigId> {
    keys.iter()
        .max_by_key(|key| (key.created_at, key.id().0))
        .map(GlobalHpkeKey::id)
}

/// The config ID for a new key: the first free one after `newest` (the
/// last key made), wrapping at 255, so that an ID comes back only after
/// all others were used: a Client still holding a deleted key's
/// configuration is then told `outdatedConfig`, not handed to a new key
/// under the same ID. From 1 when there is no key. `None` if all 256 are
/// in use.
pub fn next_config_id(
    newest: Option<HpkeConfigId>,
    used: &HashSet<HpkeConfigId>,
) -> Option<HpkeConfigId> {
    let start = newest.map_or(1, |id| u16::from(id.0) + 1);
    (0..256u16)
        .map(|offset| HpkeConfigId(((start + offset) % 256) as u8))
        .find(|id| !used.contains(id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dyad_core::hpke::HpkeKeypair;
    use dyad_messages::draft09::{HpkeAeadId, HpkeKdfId, HpkeKemId};

    const P256: HpkeCiphersuite = HpkeCiphersuite::new(
        HpkeKemId::P256HkdfSha256,
        HpkeKdfId::HkdfSha256,
        HpkeAeadId::Aes128Gcm,
    );

    fn config() -> KeyRotatorConfig {
        KeyRotatorConfig {
            pending_secs: 10,
            active_secs: 100,
            expired_secs: 50,
            ..KeyRotatorConfig::default()
        }
    }

    fn key(id: u8, suite: HpkeCiphersuite, state: HpkeKeyState, since: u64) -> GlobalHpkeKey {
        GlobalHpkeKey {
            keypair: HpkeKeypair::generate(HpkeConfigId(id), suite.kem, suite.kdf, suite.aead)
                .unwrap(),
            state,
            created_at: Time::from_seconds_since_epoch(since),
            state_changed_at: Time::from_seconds_since_epoch(since),
        }
    }

    fn at(seconds: u64) -> Time {
        Time::from_seconds_since_epoch(seconds)
    }

    const DEFAULT: HpkeCiphersuite = HpkeCiphersuite::DEFAULT;
    use HpkeKeyState::{Active, Expired, Pending};

    #[test]
    fn no_key_makes_a_pending_key_with_config_id_one() {
        assert_eq!(
            plan(&[], &config(), at(0)).unwrap(),
            vec![Change::Create(HpkeConfigId(1), DEFAULT)]
        );
    }

    #[test]
    fn a_pending_key_waits_then_becomes_active() {
        let keys = [key(1, DEFAULT, Pending, 100)];
        assert_eq!(plan(&keys, &config(), at(109)).unwrap(), vec![]);
        assert_eq!(
            plan(&keys, &config(), at(110)).unwrap(),
            vec![Change::Activate(HpkeConfigId(1), DEFAULT)]
        );
    }

    #[test]
    fn an_old_active_key_gets_a_successor_which_then_expires_it() {
        let active = key(7, DEFAULT, Active, 100);
        assert_eq!(
            plan(std::slice::from_ref(&active), &config(), at(199)).unwrap(),
            vec![]
        );
        assert_eq!(
            plan(std::slice::from_ref(&active), &config(), at(200)).unwrap(),
            vec![Change::Create(HpkeConfigId(8), DEFAULT)]
        );
        let successor = key(8, DEFAULT, Pending, 200);
        let both = [active, successor];
        assert_eq!(plan(&both, &config(), at(205)).unwrap(), vec![]);
        assert_eq!(
            plan(&both, &config(), at(210)).unwrap(),
            vec![
                Change::Activate(HpkeConfigId(8), DEFAULT),
                Change::Expire(HpkeConfigId(7), DEFAULT)
            ]
        );
    }

    #[test]
    fn expired_keys_are_deleted_after_their_time() {
        let keys = [key(2, DEFAULT, Active, 0), key(1, DEFAULT, Expired, 0)];
        assert_eq!(plan(&keys, &config(), at(49)).unwrap(), vec![]);
        assert_eq!(
            plan(&keys, &config(), at(50)).unwrap(),
            vec![Change::Delete(HpkeConfigId(1), DEFAULT)]
        );
    }

    #[test]
    fn each_suite_has_its_own_key_and_unlisted_suites_expire() {
        let mut config = config();
        config.ciphersuites = vec![P256.into()];
        let keys = [key(3, DEFAULT, Active, 0), key(4, DEFAULT, Pending, 0)];
        assert_eq!(
            plan(&keys, &config, at(1)).unwrap(),
            vec![
                Change::Create(HpkeConfigId(5), P256),
                Change::Expire(HpkeConfigId(3), DEFAULT),
                Change::Expire(HpkeConfigId(4), DEFAULT),
            ]
        );
        config.ciphersuites = vec![DEFAULT.into(), P256.into()];
        assert_eq!(
            plan(&[], &config, at(0)).unwrap(),
            vec![
                Change::Create(HpkeConfigId(1), DEFAULT),
                Change::Create(HpkeConfigId(2), P256)
            ]
        );
    }

    #[test]
    fn config_ids_follow_the_newest_key_wrap_and_skip_used_ones() {
        let used: HashSet<_> = [0, 1, 255].into_iter().map(HpkeConfigId).collect();
        assert_eq!(next_config_id(None, &HashSet::new()), Some(HpkeConfigId(1)));
        assert_eq!(
            next_config_id(Some(HpkeConfigId(254)), &used),
            Some(HpkeConfigId(2))
        );
        assert_eq!(
            next_config_id(Some(HpkeConfigId(9)), &used),
            Some(HpkeConfigId(10))
        );
        let all: HashSet<_> = (0..=255).map(HpkeConfigId).collect();
        assert_eq!(next_config_id(Some(HpkeConfigId(9)), &all), None);
        // A deleted key's ID is not the next one: the newest key decides.
        let keys = [key(40, DEFAULT, Active, 0)];
        assert_eq!(newest_id(&keys), Some(HpkeConfigId(40)));
    }
}
