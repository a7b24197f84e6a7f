//! [`HpkeKeyring`]: where an aggregator finds the HPKE keypair an input share
//! was sealed to.
//!
//! DAP-09 section 4.5.1.3 ("Input Share Decryption"): the Aggregator "looks up
//! the HPKE config and corresponding secret key indicated by
//! `encrypted_input_share.config_id`". An aggregator may hold keys per task
//! ([`Task::hpke_keys`]) and keys shared by all its tasks; the caller hands
//! both in, chained with a tuple, and this crate only looks up.
//!
//! # Where is
//!
//! | rule | DAP-09 | function |
//! |---|---|---|
//! | the keypair named by `config_id` (unknown: `hpke_unknown_config_id` / `outdatedConfig`) | 4.4.2, 4.5.1.3 | [`HpkeKeyring::keypair`] |

use dyad_core::hpke::HpkeKeypair;
use dyad_core::task::Task;
use dyad_messages::draft09::HpkeConfigId;

/// A set of HPKE keypairs, looked up by configuration ID.
pub trait HpkeKeyring {
    /// The keypair with configuration ID `id`, if held.
    fn keypair(&self, id: HpkeConfigId) -> Option<&HpkeKeypair>;
}

impl HpkeKeyring for [HpkeKeypair] {
    fn keypair(&self, id: HpkeConfigId) -> Option<&HpkeKeypair> {
        self.iter().find(|keypair| keypair.id() == id)
    }
}

impl HpkeKeyring for Vec<HpkeKeypair> {
    fn keypair(&self, id: HpkeConfigId) -> Option<&HpkeKeypair> {
        self.as_slice().keypair(id)
    }
}

/// A task's own keypairs.
impl HpkeKeyring for Task {
    fn keypair(&self, id: HpkeConfigId) -> Option<&HpkeKeypair> {
        self.hpke_keypair(id)
    }
}

impl<K: HpkeKeyring + ?Sized> HpkeKeyring for &K {
    fn keypair(&self, id: HpkeConfigId) -> Option<&HpkeKeypair> {
        (**self).keypair(id)
    }
}

/// The first ring, then the second: `(task, &global_keys)`.
impl<A: HpkeKeyring, B: HpkeKeyring> HpkeKeyring for (A, B) {
    fn keypair(&self, id: HpkeConfigId) -> Option<&HpkeKeypair> {
        self.0.keypair(id).or_else(|| self.1.keypair(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chained_rings_look_up_in_order() {
        let a = vec![HpkeKeypair::generate_default(HpkeConfigId(1))];
        let b = vec![
            HpkeKeypair::generate_default(HpkeConfigId(1)),
            HpkeKeypair::generate_default(HpkeConfigId(2)),
        ];
        let ring = (&a, &b);
        assert_eq!(ring.keypair(HpkeConfigId(1)).unwrap(), &a[0]);
        assert_eq!(ring.keypair(HpkeConfigId(2)).unwrap(), &b[1]);
        assert!(ring.keypair(HpkeConfigId(3)).is_none());
    }
}
