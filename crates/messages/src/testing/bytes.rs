//! The byte-string strategies every message strategy builds on: arbitrary
//! bytes of a bounded length, and the short opaque bodies (shares,
//! payloads, parameters) messages carry. Kept apart from the module root so
//! that the message strategies import it, not their parent.

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
