//! Global HPKE keys: keypairs not tied to a task, used by every task that
//! has no keys of its own (DAP-09 section 4.4.1 lets an aggregator answer
//! `GET /hpke_config` without a task ID), with their rotation state.
//!
//! A key's life: [`HpkeKeyState::Pending`] (opens input shares, not yet
//! advertised, so that every replica holds it before any Client sees it),
//! [`HpkeKeyState::Active`] (advertised), [`HpkeKeyState::Expired`] (no
//! longer advertised, still opens input shares sealed by Clients that
//! cached it), then deleted. `Debug` never shows the private key.

use dyad_core::hpke::HpkeKeypair;
use dyad_messages::draft09::{HpkeConfigId, Time};
use std::fmt;
use std::str::FromStr;

/// Where a global key is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HpkeKeyState {
    /// Opens input shares; not advertised yet.
    Pending,
    /// Advertised by `GET /hpke_config`, opens input shares.
    Active,
    /// No longer advertised; still opens input shares.
    Expired,
}

impl HpkeKeyState {
    /// Every state, in life order.
    pub const ALL: [HpkeKeyState; 3] = [Self::Pending, Self::Active, Self::Expired];

    /// The stored code.
    pub(crate) fn code(self) -> i64 {
        match self {
            Self::Pending => 0,
            Self::Active => 1,
            Self::Expired => 2,
        }
    }

    /// The state of a stored code.
    pub(crate) fn from_code(code: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.code() == code)
    }

    /// The state's name: `pending`, `active`, `expired`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Expired => "expired",
        }
    }
}

impl fmt::Display for HpkeKeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for HpkeKeyState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|state| state.name() == s)
            .ok_or_else(|| {
                format!("unknown HPKE key state {s:?}: expected pending, active or expired")
            })
    }
}

/// One stored global key.
#[derive(Clone, PartialEq, Eq)]
pub struct GlobalHpkeKey {
    /// The keypair (its config ID is the row's key).
    pub keypair: HpkeKeypair,
    pub state: HpkeKeyState,
    /// When the key was stored (set by the datastore).
    pub created_at: Time,
    /// When the key entered its state (set by the datastore).
    pub state_changed_at: Time,
}

impl GlobalHpkeKey {
    /// The key's HPKE config ID.
    pub fn id(&self) -> HpkeConfigId {
        self.keypair.id()
    }
}

impl fmt::Debug for GlobalHpkeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `HpkeKeypair`'s Debug redacts its private key.
        f.debug_struct("GlobalHpkeKey")
            .field("keypair", &self.keypair)
            .field("state", &self.state)
            .field("created_at", &self.created_at)
            .field("state_changed_at", &self.state_changed_at)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_through_codes_and_names() {
        for state in HpkeKeyState::ALL {
            assert_eq!(HpkeKeyState::from_code(state.code()), Some(state));
            assert_eq!(state.name().parse::<HpkeKeyState>(), Ok(state));
        }
        assert_eq!(HpkeKeyState::from_code(7), None);
        assert!("deleted".parse::<HpkeKeyState>().is_err());
    }

    #[test]
    fn debug_shows_no_private_key() {
        let keypair = HpkeKeypair::generate_default(HpkeConfigId(4));
        let key = GlobalHpkeKey {
            keypair: keypair.clone(),
            state: HpkeKeyState::Active,
            created_at: Time::from_seconds_since_epoch(1),
            state_changed_at: Time::from_seconds_since_epoch(2),
        };
        let debug = format!("{key:?}");
        let private = keypair.private_key().as_bytes();
        assert!(debug.contains("redacted"), "{debug}");
        assert!(!debug.contains(&format!("{private:?}")), "{debug}");
    }
}
