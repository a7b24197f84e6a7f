//! [`HpkeError`]: every way sealing, opening or loading an HPKE key can fail.
//!
//! Failures to open a ciphertext carry no detail at all: whether the
//! encapsulated key was malformed, the tag did not verify or the AAD or
//! application info differed is not told apart, so that an error message
//! cannot serve as an oracle to whoever crafted the ciphertext. In DAP-09 every
//! one of them is the same report error, `hpke_decrypt_error` (section 4.5.1.3,
//! "Input Share Decryption").
//!
//! # Where is
//!
//! - one error for every failure to open (DAP-09 section 4.5.1.3) ->
//!   [`HpkeError::Open`], raised by
//!   [`Opener::open`](super::base_mode::Opener::open) and the share openers.

use dyad_messages::draft09::{HpkeAeadId, HpkeConfigId, HpkeKdfId, HpkeKemId, Role};
use dyad_messages::{DecodeError, EncodeError};

/// Why an HPKE operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HpkeError {
    /// The (KEM, KDF, AEAD) triple names an algorithm that dyad cannot use to
    /// seal or open DAP messages: one the HPKE registry defines but the
    /// underlying library does not implement (X448, for instance), the
    /// export-only AEAD (which cannot encrypt), or an identifier the registry
    /// does not define at all.
    #[error(
        "unsupported HPKE ciphersuite: KEM {:#06x}, KDF {:#06x}, AEAD {:#06x}",
        u16::from(*kem),
        u16::from(*kdf),
        u16::from(*aead)
    )]
    Unsupported {
        kem: HpkeKemId,
        kdf: HpkeKdfId,
        aead: HpkeAeadId,
    },

    /// The ciphertext was sealed to a different HPKE configuration than the
    /// key offered to open it (DAP-09 section 4.5.1.3: the configuration is
    /// chosen by `HpkeCiphertext.config_id`).
    #[error("HPKE ciphertext is for config {ciphertext}, but the key is for config {keypair}")]
    WrongConfigId {
        /// The ID of the keypair's configuration.
        keypair: HpkeConfigId,
        /// The ID the ciphertext carries.
        ciphertext: HpkeConfigId,
    },

    /// The recipient's public key is not a valid key of the configuration's
    /// KEM (wrong length, not a point on the curve, or a low-order point).
    #[error("invalid HPKE public key")]
    InvalidPublicKey,

    /// The private key is not a valid key of the configuration's KEM, or does
    /// not belong to the configuration's public key.
    #[error("invalid HPKE private key")]
    InvalidPrivateKey,

    /// A role other than the Leader or the Helper was named as the recipient
    /// of an input share or the sender of an aggregate share (DAP-09
    /// sections 4.4.2 and 4.6.4 allow only `server_role`, 0x02 or 0x03).
    #[error("the {role} is not an aggregator")]
    NotAnAggregator { role: Role },

    /// Sealing failed for a reason other than the recipient's key.
    #[error("HPKE seal failed")]
    Seal,

    /// The ciphertext could not be opened. Deliberately without detail.
    #[error("HPKE open failed")]
    Open,

    /// A message to be sealed (or used as AAD) could not be encoded.
    #[error("encoding a message for HPKE failed: {0}")]
    Encode(#[from] EncodeError),

    /// An opened plaintext is not a valid encoding of the expected message.
    #[error("decoding an opened HPKE plaintext failed: {0}")]
    Decode(#[from] DecodeError),
}
