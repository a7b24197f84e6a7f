//! Upload extensions (DAP-09 section 4.4.3): `Extension` and the
//! `ExtensionType` registry, which taskprov-06 extends with `taskprov(0xff00)`.

use crate::codec::{
    put_opaque, Decode, DecodeContext, DecodeError, Encode, EncodeError, LengthWidth, Reader,
};
use crate::redact::Len;
use std::fmt;

/// `uint16 ExtensionType` (DAP-09 section 4.4.3; `taskprov` from
/// draft-wang-ppm-dap-taskprov-06 section 4).
///
/// The Upload Extension Registry is open to extension, so values this build
/// does not name are kept as [`ExtensionType::Other`]: decoding succeeds, and
/// it is the Aggregator's input-share validation that rejects a report with an
/// extension it does not recognize (DAP-09 section 4.5.1.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ExtensionType {
    /// `TBD(0)`: the placeholder the draft registers.
    Tbd,
    /// `taskprov(0xff00)`: the report belongs to a task provisioned in-band.
    Taskprov,
    /// A value this build does not name.
    Other(u16),
}

impl ExtensionType {
    /// The wire value.
    pub fn as_u16(&self) -> u16 {
        u16::from(*self)
    }
}

impl From<u16> for ExtensionType {
    fn from(value: u16) -> Self {
        match value {
            0 => ExtensionType::Tbd,
            0xff00 => ExtensionType::Taskprov,
            other => ExtensionType::Other(other),
        }
    }
}

impl From<ExtensionType> for u16 {
    fn from(value: ExtensionType) -> u16 {
        match value {
            ExtensionType::Tbd => 0,
            ExtensionType::Taskprov => 0xff00,
            ExtensionType::Other(other) => other,
        }
    }
}

impl Encode for ExtensionType {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.as_u16().encode(out)
    }
}

impl Decode for ExtensionType {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.u16().map(ExtensionType::from)
    }
}

/// `struct Extension` (DAP-09 section 4.4.3): a tag-length-value extension
/// carried in a `PlaintextInputShare`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Extension {
    pub extension_type: ExtensionType,
    /// `opaque extension_data<0..2^16-1>`.
    pub extension_data: Vec<u8>,
}

impl Extension {
    pub fn new(extension_type: ExtensionType, extension_data: Vec<u8>) -> Self {
        Self {
            extension_type,
            extension_data,
        }
    }
}

impl fmt::Debug for Extension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extension")
            .field("extension_type", &self.extension_type)
            .field("extension_data", &Len(&self.extension_data))
            .finish()
    }
}

impl Encode for Extension {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.extension_type.encode(out)?;
        put_opaque(
            out,
            LengthWidth::U16,
            0,
            &self.extension_data,
            ("Extension", "extension_data"),
        )
    }
}

impl Decode for Extension {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const S: &str = "Extension";
        Ok(Self {
            extension_type: ExtensionType::decode(r).at(S, "extension_type")?,
            extension_data: r.opaque(LengthWidth::U16, 0).at(S, "extension_data")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_extension_types_are_kept() {
        let ext = Extension::get_decoded(&[0x12, 0x34, 0, 1, 9]).unwrap();
        assert_eq!(ext.extension_type, ExtensionType::Other(0x1234));
        assert_eq!(ext.get_encoded().unwrap(), [0x12, 0x34, 0, 1, 9]);
    }

    #[test]
    fn taskprov_has_its_code_point() {
        let ext = Extension::new(ExtensionType::Taskprov, Vec::new());
        assert_eq!(ext.get_encoded().unwrap(), [0xff, 0x00, 0, 0]);
    }

    #[test]
    fn truncated_extension_names_the_field() {
        let err = Extension::get_decoded(&[0, 0, 0, 5, 1]).unwrap_err();
        assert_eq!(err.location(), Some(("Extension", "extension_data")));
    }

    #[test]
    fn debug_hides_extension_data() {
        let ext = Extension::new(ExtensionType::Tbd, vec![0xde, 0xad]);
        let s = format!("{ext:?}");
        assert!(s.contains("<2 bytes>") && !s.contains("222"), "{s}");
    }
}
