//! The `key-rotator` role: keeps one active global HPKE key per configured
//! ciphersuite, rotating each through pending, active and expired to
//! deletion (see `dyad_datastore::models::GlobalHpkeKey`).
//!
//! - `config.rs`: the `key_rotator` section ([`KeyRotatorConfig`]);
//! - `plan.rs`: what one run changes, from the stored keys and the time
//!   ([`plan::plan`]), pure;
//! - `run.rs`: the loop, one transaction per run under the keys' lock, so
//!   that rotators on many replicas rotate once ([`run::run_key_rotator`]).
//!
//! ## Where is
//!
//! - pending long enough → active, the suite's older active key → expired;
//!   an old active key gets a pending successor; expired long enough →
//!   deleted → [`plan::plan`]
//! - a new key's config ID: after the newest key's, never one in use →
//!   [`plan::next_config_id`]
//! - one rotation however many rotators run → [`run::rotate_once`]

pub mod config;
pub mod plan;
pub mod run;

pub use config::KeyRotatorConfig;
pub use run::{rotate_once, run_key_rotator};
