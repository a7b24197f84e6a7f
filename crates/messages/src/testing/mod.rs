//! Proptest strategies for every message (feature `test-util`), shared by
//! this crate's tests, other crates' tests and the fuzzers.
//!
//! Each strategy yields only values that encode successfully (lengths inside
//! the spec's ranges) and whose registry values are normalised (an `Other`
//! never holds a value this build names), so `decode(encode(v)) == v` holds
//! for every generated `v`. Byte strings and lists are kept short.

mod draft09;
pub mod layout;
pub mod mutation;
mod taskprov;

pub use self::draft09::*;
pub use self::taskprov::*;

use proptest::collection::vec;
use proptest::prelude::*;

/// Arbitrary bytes, `min..=max` long.
pub fn bytes(min: usize, max: usize) -> impl Strategy<Value = Vec<u8>> + Clone {
    vec(any::<u8>(), min..=max)
}

/// Opaque message bodies (shares, payloads, parameters): 0 to 48 bytes.
pub fn opaque() -> impl Strategy<Value = Vec<u8>> + Clone {
    bytes(0, 48)
}

/// Non-empty opaque bodies: 1 to 48 bytes.
pub fn opaque_nonempty() -> impl Strategy<Value = Vec<u8>> + Clone {
    bytes(1, 48)
}
