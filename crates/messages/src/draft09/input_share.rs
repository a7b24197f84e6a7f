//! The plaintext of an encrypted input share and its associated data
//! (DAP-09 section 4.4.2): `PlaintextInputShare` and `InputShareAad`.

use super::{Extension, ReportMetadata};
use crate::codec::{
    put_opaque, put_vec, Decode, DecodeContext, DecodeError, Encode, EncodeError, LengthWidth,
    Reader,
};
use crate::ids::TaskId;
use crate::redact::Len;
use std::fmt;

/// `struct PlaintextInputShare`: what an Aggregator finds inside its
/// `HpkeCiphertext` once opened.
///
/// The payload is a VDAF input share, secret: Debug prints its length only.
#[derive(Clone, PartialEq, Eq)]
pub struct PlaintextInputShare {
    /// `Extension extensions<0..2^16-1>`.
    pub extensions: Vec<Extension>,
    /// `opaque payload<0..2^32-1>`: the Aggregator's VDAF input share.
    pub payload: Vec<u8>,
}

impl PlaintextInputShare {
    pub fn new(extensions: Vec<Extension>, payload: Vec<u8>) -> Self {
        Self {
            extensions,
            payload,
        }
    }
}

impl fmt::Debug for PlaintextInputShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlaintextInputShare")
            .field("extensions", &self.extensions)
            .field("payload", &Len(&self.payload))
            .finish()
    }
}

impl Encode for PlaintextInputShare {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        const S: &str = "PlaintextInputShare";
        put_vec(
            out,
            LengthWidth::U16,
            0,
            &self.extensions,
            (S, "extensions"),
        )?;
        put_opaque(out, LengthWidth::U32, 0, &self.payload, (S, "payload"))
    }
}

impl Decode for PlaintextInputShare {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const S: &str = "PlaintextInputShare";
        Ok(Self {
            extensions: r.vec(LengthWidth::U16, 0).at(S, "extensions")?,
            payload: r.opaque(LengthWidth::U32, 0).at(S, "payload")?,
        })
    }
}

/// `struct InputShareAad`: the associated data an input share is sealed
/// with, binding it to its task, report and public share.
#[derive(Clone, PartialEq, Eq)]
pub struct InputShareAad {
    pub task_id: TaskId,
    /// `ReportMetadata report_metadata`.
    pub metadata: ReportMetadata,
    /// `opaque public_share<0..2^32-1>`.
    pub public_share: Vec<u8>,
}

impl InputShareAad {
    pub fn new(task_id: TaskId, metadata: ReportMetadata, public_share: Vec<u8>) -> Self {
        Self {
            task_id,
            metadata,
            public_share,
        }
    }
}

impl fmt::Debug for InputShareAad {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InputShareAad")
            .field("task_id", &self.task_id)
            .field("metadata", &self.metadata)
            .field("public_share", &Len(&self.public_share))
            .finish()
    }
}

impl Encode for InputShareAad {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.task_id.encode(out)?;
        self.metadata.encode(out)?;
        put_opaque(
            out,
            LengthWidth::U32,
            0,
            &self.public_share,
            ("InputShareAad", "public_share"),
        )
    }
}

impl Decode for InputShareAad {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const S: &str = "InputShareAad";
        Ok(Self {
            task_id: TaskId::decode(r).at(S, "task_id")?,
            metadata: ReportMetadata::decode(r).at(S, "report_metadata")?,
            public_share: r.opaque(LengthWidth::U32, 0).at(S, "public_share")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::draft09::ExtensionType;

    #[test]
    fn plaintext_input_share_layout() {
        let share = PlaintextInputShare::new(
            vec![Extension::new(ExtensionType::Taskprov, vec![])],
            vec![1, 2, 3],
        );
        let bytes = share.get_encoded().unwrap();
        assert_eq!(bytes, [0, 4, 0xff, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3]);
        assert_eq!(PlaintextInputShare::get_decoded(&bytes).unwrap(), share);
    }

    #[test]
    fn extension_list_whose_length_cuts_an_extension_is_rejected() {
        // extensions<..> claims 3 bytes: one full type, then a lone byte.
        let bytes = [0, 3, 0, 0, 0, 0, 0, 0, 0];
        let err = PlaintextInputShare::get_decoded(&bytes).unwrap_err();
        let path: Vec<_> = err.path().collect();
        assert_eq!(path[0], ("PlaintextInputShare", "extensions"));
    }

    #[test]
    fn debug_hides_the_payload() {
        let share = PlaintextInputShare::new(vec![], vec![0x5e; 40]);
        let s = format!("{share:?}");
        assert!(s.contains("<40 bytes>") && !s.contains("94"), "{s}");
    }
}
