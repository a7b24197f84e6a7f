//! Debug helper that prints the length of a byte string instead of its
//! bytes, so shares, prep states and input shares never reach logs.

use std::fmt;

/// Prints `<n bytes>` for the wrapped byte string.
pub(crate) struct Len<'a>(pub(crate) &'a [u8]);

impl fmt::Debug for Len<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes>", self.0.len())
    }
}
