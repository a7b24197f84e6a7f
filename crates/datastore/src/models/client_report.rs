//! Reports as the Leader stores them at upload (DAP-09 section 4.4.2): the
//! Leader's input share is already decrypted, the Helper's stays sealed until
//! it is sent in an `AggregationJobInitReq` (section 4.5.1.1).

use crate::redact::Len;
use dyad_messages::codec::{put_vec, LengthWidth, Reader};
use dyad_messages::draft09::{Extension, HpkeCiphertext, ReportId, ReportMetadata, TaskId, Time};
use dyad_messages::{DecodeError, EncodeError};
use std::fmt;

/// A client report accepted by the Leader, waiting to be aggregated.
#[derive(Clone, PartialEq, Eq)]
pub struct LeaderStoredReport {
    pub task_id: TaskId,
    /// The report ID and its (rounded) timestamp.
    pub metadata: ReportMetadata,
    /// The VDAF public share, opaque.
    pub public_share: Vec<u8>,
    /// The extensions of the Leader's `PlaintextInputShare`.
    pub leader_extensions: Vec<Extension>,
    /// The Leader's decrypted input share payload (secret).
    pub leader_input_share: Vec<u8>,
    /// The Helper's sealed input share, passed on as is.
    pub helper_encrypted_input_share: HpkeCiphertext,
}

impl LeaderStoredReport {
    pub fn report_id(&self) -> &ReportId {
        &self.metadata.id
    }

    pub fn time(&self) -> Time {
        self.metadata.time
    }
}

impl fmt::Debug for LeaderStoredReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeaderStoredReport")
            .field("task_id", &self.task_id)
            .field("metadata", &self.metadata)
            .field("public_share", &Len(&self.public_share))
            .field("leader_extensions", &self.leader_extensions)
            .field("leader_input_share", &Len(&self.leader_input_share))
            .field(
                "helper_encrypted_input_share",
                &self.helper_encrypted_input_share,
            )
            .finish()
    }
}

/// What storing one report did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportWriteOutcome {
    /// The report was new and is now stored.
    Stored,
    /// A report with the same ID was already stored for the task (or came
    /// earlier in the same batch): this one was dropped, the first one kept.
    Duplicate,
}

/// Encodes extensions as `Extension extensions<0..2^16-1>` (the field of
/// `PlaintextInputShare`, DAP-09 section 4.4.2).
pub fn encode_extensions(extensions: &[Extension]) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    put_vec(
        &mut out,
        LengthWidth::U16,
        0,
        extensions,
        ("PlaintextInputShare", "extensions"),
    )?;
    Ok(out)
}

/// Decodes what [`encode_extensions`] wrote.
pub fn decode_extensions(bytes: &[u8]) -> Result<Vec<Extension>, DecodeError> {
    let mut reader = Reader::new(bytes);
    let extensions = reader.vec(LengthWidth::U16, 0)?;
    reader.finish()?;
    Ok(extensions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dyad_messages::draft09::{ExtensionType, HpkeConfigId};

    #[test]
    fn extensions_round_trip() {
        let extensions = vec![
            Extension::new(ExtensionType::Tbd, vec![1, 2]),
            Extension::new(ExtensionType::Other(9), vec![]),
        ];
        let bytes = encode_extensions(&extensions).unwrap();
        assert_eq!(decode_extensions(&bytes).unwrap(), extensions);
        assert_eq!(
            decode_extensions(&encode_extensions(&[]).unwrap()).unwrap(),
            vec![]
        );
        assert!(decode_extensions(&[0, 9, 1]).is_err());
    }

    #[test]
    fn debug_hides_shares() {
        let report = LeaderStoredReport {
            task_id: TaskId::from_bytes([1; 32]),
            metadata: ReportMetadata::new(
                ReportId::from_bytes([2; 16]),
                Time::from_seconds_since_epoch(5),
            ),
            public_share: vec![0xab; 3],
            leader_extensions: vec![],
            leader_input_share: vec![0xcd; 7],
            helper_encrypted_input_share: HpkeCiphertext {
                config_id: HpkeConfigId(1),
                encapsulated_key: vec![],
                payload: vec![],
            },
        };
        let shown = format!("{report:?}");
        assert!(
            shown.contains("<7 bytes>") && !shown.contains("205"),
            "{shown}"
        );
    }
}
