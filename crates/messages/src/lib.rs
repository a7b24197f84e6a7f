//! DAP wire messages and their TLS-syntax codec.
//!
//! Pure: no IO, no async, no cryptography. The codec lives in [`codec`]; the
//! messages of each DAP draft live in their own module ([`draft09`]), and the
//! taskprov extension's in [`taskprov`]. [`media_type`] names the HTTP media
//! types of the messages and [`problem`] the DAP problem types and problem
//! documents. With the `test-util` feature, the module `testing` offers proptest
//! strategies for every message.

pub mod codec;
pub mod draft09;
mod ids;
pub mod media_type;
pub mod problem;
mod redact;
pub mod taskprov;
#[cfg(any(test, feature = "test-util"))]
pub mod testing;
mod time;

pub use codec::{Decode, DecodeError, DecodeErrorKind, Encode, EncodeError};
