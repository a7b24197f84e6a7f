//! Debug helpers that print the length of a byte string instead of its bytes,
//! so that shares, payloads and other message bodies never reach logs.

use std::fmt;

/// Prints `<n bytes>` for the wrapped byte string.
pub(crate) struct Len<'a>(pub(crate) &'a [u8]);

impl fmt::Debug for Len<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes>", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_the_length_only() {
        assert_eq!(format!("{:?}", Len(&[0xaa, 0xbb, 0xcc])), "<3 bytes>");
    }
}
