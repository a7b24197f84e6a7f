//! `Url` (DAP-09 section 4): an ASCII-encoded URL, `opaque Url<1..2^16-1>`,
//! used for the aggregator endpoints of a task (and by taskprov's
//! `TaskConfig`).

use crate::codec::{
    put_opaque, Decode, DecodeContext, DecodeError, Encode, EncodeError, LengthWidth, Reader,
};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// `opaque Url<1..2^16-1>`: a non-empty ASCII string of at most 65535 bytes.
///
/// The string is not parsed as a URL here (that is the business of whoever
/// dials it); only the wire constraints are enforced, at construction and
/// on decoding.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Url(String);

/// A string that cannot be a DAP `Url`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("Url must not be empty")]
    Empty,
    #[error("Url is {0} bytes long, at most 65535 are allowed")]
    TooLong(usize),
    #[error("Url must be ASCII")]
    NotAscii,
}

impl Url {
    /// The longest URL the length prefix can carry.
    pub const MAX_LEN: usize = u16::MAX as usize;

    /// The URL as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The URL's bytes as they appear on the wire.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    fn check(bytes: &[u8]) -> Result<(), UrlError> {
        if bytes.is_empty() {
            Err(UrlError::Empty)
        } else if bytes.len() > Self::MAX_LEN {
            Err(UrlError::TooLong(bytes.len()))
        } else if !bytes.is_ascii() {
            Err(UrlError::NotAscii)
        } else {
            Ok(())
        }
    }
}

impl TryFrom<String> for Url {
    type Error = UrlError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::check(s.as_bytes())?;
        Ok(Self(s))
    }
}

impl TryFrom<&str> for Url {
    type Error = UrlError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::try_from(s.to_owned())
    }
}

impl TryFrom<&[u8]> for Url {
    type Error = UrlError;
    fn try_from(bytes: &[u8]) -> Result<Self, Self::Error> {
        Self::check(bytes)?;
        // ASCII is valid UTF-8.
        std::str::from_utf8(bytes)
            .map(|s| Self(s.to_owned()))
            .map_err(|_| UrlError::NotAscii)
    }
}

impl FromStr for Url {
    type Err = UrlError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::try_from(s)
    }
}

impl AsRef<str> for Url {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Url({:?})", self.0)
    }
}

impl Serialize for Url {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Url {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Url::try_from(s).map_err(serde::de::Error::custom)
    }
}

impl Encode for Url {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        put_opaque(out, LengthWidth::U16, 1, self.as_bytes(), ("Url", "value"))
    }
}

impl Decode for Url {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let bytes = r
            .sub(LengthWidth::U16, 1, Self::MAX_LEN)
            .at("Url", "value")?;
        Url::try_from(bytes.peek_rest())
            .map_err(|e| DecodeError::invalid(e.to_string()).in_field("Url", "value"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::DecodeErrorKind;

    #[test]
    fn url_round_trips_with_a_u16_prefix() {
        let url = Url::try_from("https://example.com/").unwrap();
        let bytes = url.get_encoded().unwrap();
        assert_eq!(&bytes[..2], &[0, 20]);
        assert_eq!(Url::get_decoded(&bytes).unwrap(), url);
    }

    #[test]
    fn empty_and_non_ascii_urls_are_rejected() {
        assert_eq!(Url::try_from(""), Err(UrlError::Empty));
        assert_eq!(
            Url::try_from("https://ex\u{e4}mple"),
            Err(UrlError::NotAscii)
        );
        let err = Url::get_decoded(&[0, 0]).unwrap_err();
        assert!(matches!(
            err.kind(),
            DecodeErrorKind::LengthOutOfRange { .. }
        ));
        let err = Url::get_decoded(&[0, 1, 0xc3]).unwrap_err();
        assert_eq!(err.location(), Some(("Url", "value")));
        assert!(matches!(err.kind(), DecodeErrorKind::Invalid(_)));
    }
}
