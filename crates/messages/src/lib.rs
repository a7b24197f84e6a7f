//! DAP wire messages and their TLS-syntax codec.
//!
//! Pure: no IO, no async, no cryptography. The codec lives in [`codec`]; the
//! messages of each DAP draft live in their own module ([`draft09`]), and the
//! taskprov extension's in [`taskprov`].

pub mod codec;
pub mod draft09;
mod ids;
mod time;

pub use codec::{Decode, DecodeError, DecodeErrorKind, Encode, EncodeError};
