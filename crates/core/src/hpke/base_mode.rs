//! RFC 9180 base mode (section 6.1, `SealBase` and `OpenBase`) over raw
//! keys and bytes, and how `hpke-dispatch`'s failures map to [`HpkeError`]:
//! the one place dyad seals and opens with the HPKE implementation.
//! [`super::seal()`] and [`super::open()`] use it for DAP's messages, and
//! [`HpkeKeypair::new`](super::HpkeKeypair::new) to check that a private
//! key is its public key's.
//!
//! # Where is
//!
//! - a public key that is no key of the suite's KEM (or a low-order X25519
//!   point) -> [`HpkeError::InvalidPublicKey`], in [`seal_raw`];
//! - any failure to open -> [`HpkeError::Open`], without detail, in
//!   [`open_raw`].

use super::HpkeError;

/// `SealBase`, returning `(enc, ciphertext)`.
pub(crate) fn seal_raw(
    dispatch: &hpke_dispatch::Config,
    public_key: &[u8],
    info: &[u8],
    plaintext: &[u8],
    aad: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), HpkeError> {
    dispatch
        .base_mode_seal(public_key, info, plaintext, aad)
        .map(hpke_dispatch::EncappedKeyAndCiphertext::into_parts)
        .map_err(|err| match err {
            // Deserializing the public key failed, or it led to an all-zero
            // shared secret (a low-order X25519 point).
            hpke_dispatch::HpkeError::IncorrectInputLength(..)
            | hpke_dispatch::HpkeError::ValidationError
            | hpke_dispatch::HpkeError::EncapError => HpkeError::InvalidPublicKey,
            _ => HpkeError::Seal,
        })
}

/// `OpenBase`. Every failure is [`HpkeError::Open`]: the private key was
/// checked when the keypair was built, so the fault is the ciphertext's.
pub(crate) fn open_raw(
    dispatch: &hpke_dispatch::Config,
    private_key: &[u8],
    encapsulated_key: &[u8],
    info: &[u8],
    payload: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, HpkeError> {
    dispatch
        .base_mode_open(private_key, encapsulated_key, info, payload, aad)
        .map_err(|_| HpkeError::Open)
}
