//! HPKE (RFC 9180) as DAP-09 uses it: key generation, and seal/open with the application info strings and AAD structures of DAP-09 sections 4.4.2, 4.5.1.3 and 4.6.4.
//!
//! - [`HpkeCiphersuite`] and [`supported_ciphersuites`]: which algorithm
//!   triples dyad can use; [`HpkeCiphersuite::DEFAULT`] is the suite DAP-09
//!   section 6 makes mandatory.
//! - [`HpkePrivateKey`] and [`HpkeKeypair`]: keys, checked when built,
//!   redacted in `Debug`, zeroized on drop.
//! - [`Label`] and [`HpkeApplicationInfo`]: the `info` string of each message.
//! - [`seal()`] and [`open()`]: base-mode single-shot HPKE over bytes.
//! - [`seal_input_share`], [`open_input_share`], [`seal_aggregate_share`] and
//!   [`open_aggregate_share`]: the same for DAP's messages, with their info
//!   and encoded AAD.
//!
//! (Section numbers count the headings of draft-ietf-ppm-dap-09: "Upload
//! Request" is 4.4.2, "Input Share Decryption" 4.5.1.3 and "Aggregate Share
//! Encryption" 4.6.4.)
//!
//! # Where is
//!
//! - the mandatory suite (DAP-09 section 6) and the supported ones ->
//!   [`HpkeCiphersuite::DEFAULT`], [`supported_ciphersuites`];
//! - the info string of each message -> [`HpkeApplicationInfo::input_share`],
//!   [`HpkeApplicationInfo::aggregate_share`];
//! - the AAD of each message -> [`seal_input_share`], [`open_input_share`],
//!   [`seal_aggregate_share`], [`open_aggregate_share`];
//! - a keypair's private key opens what its public key seals ->
//!   [`HpkeKeypair::new`];
//! - a failure to open tells nothing more (DAP-09 section 4.5.1.3,
//!   `hpke_decrypt_error`) -> [`HpkeError::Open`];
//! - the random generator seeded before the first seal ->
//!   [`seed_randomness`];
//! - which HPKE implementation serves which suite -> `base_mode` (AWS-LC
//!   for the X25519 suites with HKDF-SHA256/384, `hpke-dispatch` for the
//!   rest).

mod aws_lc;
mod base_mode;
mod ciphersuite;
mod error;
mod info;
mod keys;
mod seal;
mod shares;

pub use ciphersuite::{supported_ciphersuites, HpkeCiphersuite};
pub use error::HpkeError;
pub use info::{HpkeApplicationInfo, Label};
pub use keys::{HpkeKeypair, HpkePrivateKey};
pub use seal::{open, seal};
pub use shares::{open_aggregate_share, open_input_share, seal_aggregate_share, seal_input_share};

/// Seeds the random generator that HPKE seals draw their ephemeral keys
/// from, so that the first seal does not pay for it: a server calls this
/// once as it starts (its one-time seeding took about 20 ms here).
pub fn seed_randomness() {
    aws_lc::seed_randomness();
}
