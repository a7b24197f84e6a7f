//! The TLS presentation-language codec (RFC 8446, section 3) that every DAP
//! message uses: fixed-width big-endian integers, fixed-length opaque arrays,
//! and variable-length vectors with a 1, 2 or 4 byte length prefix.
//!
//! Decoding never panics and never allocates more than the input could hold:
//! every length prefix is checked against the bytes that remain before
//! anything is read or allocated. Errors carry the path of structures and
//! fields that led to the failure, innermost first.

use std::fmt;

/// Why a byte string could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeErrorKind {
    /// The input ended before the value did.
    Truncated { needed: usize, remaining: usize },
    /// The value ended before the input did.
    TrailingBytes { count: usize },
    /// A variable-length vector's length lies outside the range the spec allows.
    LengthOutOfRange {
        length: usize,
        min: usize,
        max: usize,
    },
    /// An enumerated value that the spec does not define (and does not allow
    /// to be extended).
    UnknownValue { value: u64 },
    /// Any other violation of the message's rules.
    Invalid(String),
}

/// A decoding failure, naming the structures and fields that led to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    kind: DecodeErrorKind,
    /// `(structure, field)` pairs, innermost first.
    path: Vec<(&'static str, &'static str)>,
}

impl DecodeError {
    /// A new error with no context yet.
    pub fn new(kind: DecodeErrorKind) -> Self {
        Self {
            kind,
            path: Vec::new(),
        }
    }

    /// Shorthand for an [`DecodeErrorKind::UnknownValue`] error.
    pub fn unknown_value(value: impl Into<u64>) -> Self {
        Self::new(DecodeErrorKind::UnknownValue {
            value: value.into(),
        })
    }

    /// Shorthand for an [`DecodeErrorKind::Invalid`] error.
    pub fn invalid(reason: impl Into<String>) -> Self {
        Self::new(DecodeErrorKind::Invalid(reason.into()))
    }

    /// Records that the error happened while decoding `field` of `structure`.
    pub fn in_field(mut self, structure: &'static str, field: &'static str) -> Self {
        self.path.push((structure, field));
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> &DecodeErrorKind {
        &self.kind
    }

    /// The innermost `(structure, field)` in which the error occurred, if known.
    pub fn location(&self) -> Option<(&'static str, &'static str)> {
        self.path.first().copied()
    }

    /// Every `(structure, field)` from the outermost to the innermost.
    pub fn path(&self) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
        self.path.iter().rev().copied()
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.path.is_empty() {
            let mut first = true;
            for (structure, field) in self.path() {
                if !first {
                    f.write_str(" > ")?;
                }
                first = false;
                write!(f, "{structure}.{field}")?;
            }
            f.write_str(": ")?;
        }
        match &self.kind {
            DecodeErrorKind::Truncated { needed, remaining } => {
                write!(f, "truncated: need {needed} bytes, {remaining} remain")
            }
            DecodeErrorKind::TrailingBytes { count } => {
                write!(f, "{count} unexpected trailing bytes")
            }
            DecodeErrorKind::LengthOutOfRange { length, min, max } => {
                write!(f, "length {length} outside the allowed range {min}..={max}")
            }
            DecodeErrorKind::UnknownValue { value } => write!(f, "unknown value {value}"),
            DecodeErrorKind::Invalid(reason) => f.write_str(reason),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Why a value could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A vector is longer than its length prefix can express, or shorter or
    /// longer than the spec allows.
    #[error("{structure}.{field}: length {length} outside the allowed range {min}..={max}")]
    LengthOutOfRange {
        structure: &'static str,
        field: &'static str,
        length: usize,
        min: usize,
        max: usize,
    },
    /// The value cannot be expressed on the wire.
    #[error("{structure}: {reason}")]
    Invalid {
        structure: &'static str,
        reason: String,
    },
}

/// A cursor over bytes being decoded.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    /// How many bytes remain unread.
    pub fn remaining(&self) -> usize {
        self.bytes.len()
    }

    /// Whether every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The bytes not yet read, without consuming them.
    pub fn peek_rest(&self) -> &'a [u8] {
        self.bytes
    }

    /// Consumes and returns exactly `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.bytes.len() {
            return Err(DecodeError::new(DecodeErrorKind::Truncated {
                needed: n,
                remaining: self.bytes.len(),
            }));
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    /// Consumes and returns every remaining byte.
    pub fn take_rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.bytes)
    }

    /// Reads a fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let bytes = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// Reads a length prefix of `width` bytes and returns a reader over exactly
    /// that many following bytes, after checking the length against
    /// `min..=max` and against what remains.
    pub fn sub(
        &mut self,
        width: LengthWidth,
        min: usize,
        max: usize,
    ) -> Result<Reader<'a>, DecodeError> {
        let length = match width {
            LengthWidth::U8 => usize::from(self.u8()?),
            LengthWidth::U16 => usize::from(self.u16()?),
            LengthWidth::U32 => usize::try_from(self.u32()?).unwrap_or(usize::MAX),
        };
        if length < min || length > max {
            return Err(DecodeError::new(DecodeErrorKind::LengthOutOfRange {
                length,
                min,
                max,
            }));
        }
        Ok(Reader::new(self.take(length)?))
    }

    /// Reads a variable-length opaque byte string.
    pub fn opaque(&mut self, width: LengthWidth, min: usize) -> Result<Vec<u8>, DecodeError> {
        Ok(self.sub(width, min, width.max())?.take_rest().to_vec())
    }

    /// Reads a variable-length vector of `T`, whose length prefix counts bytes.
    pub fn vec<T: Decode>(
        &mut self,
        width: LengthWidth,
        min_bytes: usize,
    ) -> Result<Vec<T>, DecodeError> {
        let mut inner = self.sub(width, min_bytes, width.max())?;
        let mut items = Vec::new();
        while !inner.is_empty() {
            let before = inner.remaining();
            items.push(T::decode(&mut inner)?);
            // An item that encodes to nothing would repeat forever; no DAP
            // vector holds such items.
            if inner.remaining() == before {
                return Err(DecodeError::invalid("vector item of zero length"));
            }
        }
        Ok(items)
    }

    /// Reads a structure carried inside a variable-length opaque string (as
    /// taskprov does with `query_config`): the structure must span exactly
    /// the bytes the length prefix announces.
    pub fn nested<T: Decode>(&mut self, width: LengthWidth, min: usize) -> Result<T, DecodeError> {
        let mut inner = self.sub(width, min, width.max())?;
        let value = T::decode(&mut inner)?;
        inner.finish()?;
        Ok(value)
    }

    /// Fails unless every byte has been read.
    pub fn finish(&self) -> Result<(), DecodeError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::new(DecodeErrorKind::TrailingBytes {
                count: self.bytes.len(),
            }))
        }
    }
}

/// The width of a vector's length prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LengthWidth {
    U8,
    U16,
    U32,
}

impl LengthWidth {
    /// The largest length the prefix can express.
    pub const fn max(self) -> usize {
        match self {
            LengthWidth::U8 => u8::MAX as usize,
            LengthWidth::U16 => u16::MAX as usize,
            LengthWidth::U32 => u32::MAX as usize,
        }
    }
}

/// A value with a wire encoding.
pub trait Encode {
    /// Appends the encoding of `self` to `out`.
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError>;

    /// The encoding of `self` as a fresh byte vector.
    fn get_encoded(&self) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::new();
        self.encode(&mut out)?;
        Ok(out)
    }
}

/// A value that can be decoded from the wire.
pub trait Decode: Sized {
    /// Decodes one value from the front of `r`, leaving the rest.
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError>;

    /// Decodes a value that must span all of `bytes`.
    fn get_decoded(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let value = Self::decode(&mut r)?;
        r.finish()?;
        Ok(value)
    }
}

/// Writes a length prefix of `width` bytes for `len`, checking `min..=max`.
pub fn put_length(
    out: &mut Vec<u8>,
    width: LengthWidth,
    len: usize,
    min: usize,
    (structure, field): (&'static str, &'static str),
) -> Result<(), EncodeError> {
    if len < min || len > width.max() {
        return Err(EncodeError::LengthOutOfRange {
            structure,
            field,
            length: len,
            min,
            max: width.max(),
        });
    }
    match width {
        LengthWidth::U8 => out.push(len as u8),
        LengthWidth::U16 => out.extend_from_slice(&(len as u16).to_be_bytes()),
        LengthWidth::U32 => out.extend_from_slice(&(len as u32).to_be_bytes()),
    }
    Ok(())
}

/// Writes a variable-length opaque byte string.
pub fn put_opaque(
    out: &mut Vec<u8>,
    width: LengthWidth,
    min: usize,
    bytes: &[u8],
    at: (&'static str, &'static str),
) -> Result<(), EncodeError> {
    put_length(out, width, bytes.len(), min, at)?;
    out.extend_from_slice(bytes);
    Ok(())
}

/// Writes a variable-length vector of encodable items; the prefix counts bytes.
pub fn put_vec<T: Encode>(
    out: &mut Vec<u8>,
    width: LengthWidth,
    min_bytes: usize,
    items: &[T],
    at: (&'static str, &'static str),
) -> Result<(), EncodeError> {
    let prefix_at = out.len();
    let prefix_len = match width {
        LengthWidth::U8 => 1,
        LengthWidth::U16 => 2,
        LengthWidth::U32 => 4,
    };
    out.resize(prefix_at + prefix_len, 0);
    for item in items {
        item.encode(out)?;
    }
    let body_len = out.len() - prefix_at - prefix_len;
    let mut prefix = Vec::with_capacity(prefix_len);
    put_length(&mut prefix, width, body_len, min_bytes, at)?;
    out[prefix_at..prefix_at + prefix_len].copy_from_slice(&prefix);
    Ok(())
}

/// Writes a structure inside a variable-length opaque string: the length
/// prefix counts the bytes of the structure's encoding.
pub fn put_nested<T: Encode>(
    out: &mut Vec<u8>,
    width: LengthWidth,
    min: usize,
    value: &T,
    at: (&'static str, &'static str),
) -> Result<(), EncodeError> {
    put_vec(out, width, min, std::slice::from_ref(value), at)
}

/// Adds `(structure, field)` context to the error of a decoding step.
pub trait DecodeContext<T> {
    fn at(self, structure: &'static str, field: &'static str) -> Result<T, DecodeError>;
}

impl<T> DecodeContext<T> for Result<T, DecodeError> {
    fn at(self, structure: &'static str, field: &'static str) -> Result<T, DecodeError> {
        self.map_err(|e| e.in_field(structure, field))
    }
}

macro_rules! impl_uint {
    ($($t:ty => $read:ident),*) => {$(
        impl Encode for $t {
            fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
                out.extend_from_slice(&self.to_be_bytes());
                Ok(())
            }
        }
        impl Decode for $t {
            fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                r.$read()
            }
        }
    )*};
}
impl_uint!(u8 => u8, u16 => u16, u32 => u32, u64 => u64);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_input_is_an_error_not_a_panic() {
        let mut r = Reader::new(&[0, 1]);
        let err = r.u32().unwrap_err();
        assert_eq!(
            err.kind(),
            &DecodeErrorKind::Truncated {
                needed: 4,
                remaining: 2
            }
        );
    }

    #[test]
    fn length_prefix_longer_than_input_is_rejected_before_allocating() {
        // Claims 4 GiB of payload, holds three bytes.
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff, 1, 2, 3]);
        let err = r.opaque(LengthWidth::U32, 0).unwrap_err();
        assert!(matches!(err.kind(), DecodeErrorKind::Truncated { .. }));
    }

    #[test]
    fn length_below_minimum_is_rejected() {
        let mut r = Reader::new(&[0, 0]);
        let err = r.opaque(LengthWidth::U16, 1).unwrap_err();
        assert_eq!(
            err.kind(),
            &DecodeErrorKind::LengthOutOfRange {
                length: 0,
                min: 1,
                max: 65535
            }
        );
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let err = u16::get_decoded(&[0, 1, 2]).unwrap_err();
        assert_eq!(err.kind(), &DecodeErrorKind::TrailingBytes { count: 1 });
    }

    #[test]
    fn error_names_the_path_outermost_first() {
        let err = DecodeError::new(DecodeErrorKind::UnknownValue { value: 7 })
            .in_field("HpkeConfig", "kem_id")
            .in_field("HpkeConfigList", "configs");
        assert_eq!(
            err.to_string(),
            "HpkeConfigList.configs > HpkeConfig.kem_id: unknown value 7"
        );
        assert_eq!(err.location(), Some(("HpkeConfig", "kem_id")));
    }

    #[test]
    fn encoding_an_over_long_vector_fails() {
        let mut out = Vec::new();
        let err = put_opaque(&mut out, LengthWidth::U8, 0, &[0u8; 256], ("T", "f")).unwrap_err();
        assert!(matches!(
            err,
            EncodeError::LengthOutOfRange { length: 256, .. }
        ));
    }

    #[test]
    fn vec_of_zero_length_items_is_rejected_not_looped() {
        struct Nothing;
        impl Decode for Nothing {
            fn decode(_: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok(Nothing)
            }
        }
        let mut r = Reader::new(&[1, 0]);
        assert!(r.vec::<Nothing>(LengthWidth::U8, 0).is_err());
    }

    #[test]
    fn vec_round_trips_with_byte_counted_prefix() {
        let items: Vec<u16> = vec![1, 2, 3];
        let mut out = Vec::new();
        put_vec(&mut out, LengthWidth::U16, 0, &items, ("T", "f")).unwrap();
        assert_eq!(out, [0, 6, 0, 1, 0, 2, 0, 3]);
        let mut r = Reader::new(&out);
        assert_eq!(r.vec::<u16>(LengthWidth::U16, 0).unwrap(), items);
        r.finish().unwrap();
    }
}
