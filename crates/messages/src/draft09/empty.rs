//! `Empty` (DAP-09 section 4): `struct {} Empty`, the zero-length body of
//! select arms that carry nothing.

use crate::codec::{Decode, DecodeError, Encode, EncodeError, Reader};

/// `struct {} Empty`: encodes to zero bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Empty;

impl Encode for Empty {
    fn encode(&self, _out: &mut Vec<u8>) -> Result<(), EncodeError> {
        Ok(())
    }
}

impl Decode for Empty {
    fn decode(_r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Empty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_is_zero_bytes() {
        assert!(Empty.get_encoded().unwrap().is_empty());
        assert_eq!(Empty::get_decoded(&[]).unwrap(), Empty);
        assert!(Empty::get_decoded(&[0]).is_err());
    }
}
