//! The Leader's validation of an uploaded report (DAP-09 section 4.4.2,
//! "Upload Request"), and the extension checks shared with input-share
//! validation (section 4.5.1.4).
//!
//! [`validate_upload`] applies, in order:
//!
//! 1. the report's timestamp is past `task_expiration` → `reportRejected`
//!    (the spec's "MAY ignore ... SHOULD also abort ... with error
//!    `reportRejected`");
//! 2. the timestamp is after `now + tolerable_clock_skew` → `reportTooEarly`;
//! 3. the timestamp is older than `now - report_expiry_age` → `reportRejected`
//!    (the report would be dropped at once: it could no longer be checked
//!    for replay, section 4.5.1.4 "report_dropped");
//! 4. the Leader's share is sealed to an unknown HPKE configuration →
//!    `outdatedConfig`;
//! 5. the Leader's share does not open (or does not decode as a
//!    `PlaintextInputShare`) → `reportRejected`;
//! 6. an unrecognized or repeated extension → `invalidMessage` (the spec's
//!    MAY).
//!
//! Then, generic over the task's VDAF, [`check_shares_decode`]: the public
//! share and the Leader's input share must decode as the VDAF specifies, or
//! the upload is malformed → `invalidMessage` naming the VDAF (section 3.2;
//! the Helper would refuse the report anyway with `invalid_message`,
//! section 4.5.1.4, but only long after the Client was told 201 Created, so
//! a misconfigured Client would never learn of it).
//!
//! What needs the store is the caller's: the Leader must ignore a repeated
//! report ID (see [`crate::replay`] for where that is kept), and must
//! ignore a report whose batch was already collected (see
//! [`crate::batch::time_in_collected_interval`] and
//! [`UploadError::BatchCollected`]).
//!
//! # Where is
//!
//! | rule | DAP-09 | function |
//! |---|---|---|
//! | the whole validation, in the order above | 4.4.2 | [`validate_upload`] |
//! | time rules: task expired, too early, too old | 4.4.2 | [`check_report_time`] |
//! | unknown HPKE configuration (`outdatedConfig`); share does not open (`reportRejected`) | 4.4.2 | [`validate_upload`] |
//! | extensions recognized and distinct (shared with the Helper) | 4.4.2, 4.5.1.4 | [`check_extensions`] |
//! | a taskprov task's shares carry the taskprov extension (taskprov-06 "Leader Behavior") | - | [`check_task_extensions`] |
//! | public and Leader input shares decode with the task's VDAF | 3.2, 4.5.1.4 | [`check_shares_decode`] |
//! | the problem type each refusal answers | 4.4.2 | [`UploadError::problem_type`] |

use crate::error::ProtocolError;
use crate::keyring::HpkeKeyring;
use crate::vdaf_codec::{decode_input_share, decode_public_share};
use dyad_core::hpke::{open_input_share, HpkeError};
use dyad_core::task::Task;
use dyad_messages::draft09::{
    Extension, ExtensionType, HpkeCiphertext, HpkeConfigId, InputShareAad, PlaintextInputShare,
    Report, ReportMetadata, Role, Time,
};
use dyad_messages::problem::DapProblemType;
use dyad_messages::taskprov::has_valid_taskprov_extension;
use prio::codec::CodecError;
use prio::vdaf::Vdaf;
use std::collections::HashSet;
use std::fmt;

/// No extension recognized: the default for tasks not provisioned in-band.
pub const NO_EXTENSIONS: &[ExtensionType] = &[];

/// A report that passed upload validation, ready to store.
#[derive(Clone, PartialEq, Eq)]
pub struct ValidatedReport {
    pub metadata: ReportMetadata,
    /// The VDAF public share, encoded.
    pub public_share: Vec<u8>,
    /// The Leader's opened input share: the VDAF input share (`payload`)
    /// and the extensions meant for the Leader. Secret.
    pub leader_input_share: PlaintextInputShare,
    /// The Helper's input share, still sealed to the Helper.
    pub helper_encrypted_input_share: HpkeCiphertext,
}

impl fmt::Debug for ValidatedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValidatedReport")
            .field("metadata", &self.metadata)
            .field("public_share_len", &self.public_share.len())
            .field("leader_input_share", &self.leader_input_share)
            .field(
                "helper_encrypted_input_share",
                &self.helper_encrypted_input_share,
            )
            .finish()
    }
}

/// Why an upload was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UploadError {
    /// The report's timestamp is past the task's expiration.
    #[error("report time {time} is past the task expiration {expiration}")]
    TaskExpired { time: Time, expiration: Time },
    /// The report's timestamp is too far in the future.
    #[error("report time {time} is after {latest} (now plus tolerable clock skew)")]
    TooEarly { time: Time, latest: Time },
    /// The report is older than the task's report expiry age.
    #[error("report time {time} is before {earliest} (now minus report expiry age)")]
    Expired { time: Time, earliest: Time },
    /// The Leader's share is sealed to a configuration the Leader does not hold.
    #[error("unknown HPKE configuration {0}")]
    OutdatedConfig(HpkeConfigId),
    /// The Leader's share does not open.
    #[error("the Leader's input share could not be decrypted")]
    DecryptFailed,
    /// The Leader's share opens to bytes that are not a
    /// `PlaintextInputShare` (the message is malformed, not undecryptable).
    #[error("the Leader's input share opens but is not a PlaintextInputShare: {0}")]
    UndecodablePlaintext(String),
    /// An extension this task does not recognize.
    #[error("unrecognized extension {0:?}")]
    UnrecognizedExtension(ExtensionType),
    /// Two extensions of the same type.
    #[error("repeated extension {0:?}")]
    RepeatedExtension(ExtensionType),
    /// A report of a task provisioned by taskprov without the taskprov
    /// extension (with empty data) in its input share.
    #[error("the input share of a taskprov task lacks the taskprov extension with empty data")]
    MissingTaskprovExtension,
    /// The public share or the Leader's input share does not decode as the
    /// task's VDAF specifies: the Client uses another VDAF or other
    /// parameters than the task.
    #[error("the report's {part} does not decode as {vdaf} ({cause}); is the client configured with the task's VDAF?")]
    UndecodableShare {
        part: &'static str,
        vdaf: String,
        cause: String,
    },
    /// The report falls in a batch already collected (decided by the caller).
    #[error("the report's batch was already collected")]
    BatchCollected,
}

impl UploadError {
    /// The problem type to answer the Client with.
    pub fn problem_type(&self) -> DapProblemType {
        match self {
            UploadError::TooEarly { .. } => DapProblemType::ReportTooEarly,
            UploadError::OutdatedConfig(_) => DapProblemType::OutdatedConfig,
            UploadError::UnrecognizedExtension(_)
            | UploadError::RepeatedExtension(_)
            | UploadError::MissingTaskprovExtension
            | UploadError::UndecodablePlaintext(_)
            | UploadError::UndecodableShare { .. } => DapProblemType::InvalidMessage,
            UploadError::TaskExpired { .. }
            | UploadError::Expired { .. }
            | UploadError::DecryptFailed
            | UploadError::BatchCollected => DapProblemType::ReportRejected,
        }
    }

    /// This error as a [`ProtocolError`] for `task`.
    pub fn into_protocol_error(self, task: &Task) -> ProtocolError {
        ProtocolError::new(self.problem_type(), self.to_string()).with_task_id(*task.task_id())
    }
}

/// Checks extensions (DAP-09 sections 4.4.2 and 4.5.1.4): every one must be
/// of a type in `recognized`, and no type may appear twice.
pub fn check_extensions(
    extensions: &[Extension],
    recognized: &[ExtensionType],
) -> Result<(), UploadError> {
    let mut seen = HashSet::with_capacity(extensions.len());
    for extension in extensions {
        let extension_type = extension.extension_type;
        if !seen.insert(extension_type) {
            return Err(UploadError::RepeatedExtension(extension_type));
        }
    }
    // Unrecognized is checked after duplicates so that the report's
    // first fault is reported consistently whatever the task recognizes.
    match extensions
        .iter()
        .find(|e| !recognized.contains(&e.extension_type))
    {
        Some(extension) => Err(UploadError::UnrecognizedExtension(extension.extension_type)),
        None => Ok(()),
    }
}

/// Checks an input share's extensions for `task`: [`check_extensions`]
/// against `recognized`, and for a task provisioned by taskprov
/// (draft-wang-ppm-dap-taskprov-06, "Client Behavior": the extension "MUST
/// be offered" in both input shares, with zero-length data) the taskprov
/// extension is recognized too and required, once, with empty data; the
/// Leader aborts the upload without it ("Leader Behavior"), the Helper
/// rejects the report with `invalid_message` ("Helper Behavior").
pub fn check_task_extensions(
    task: &Task,
    extensions: &[Extension],
    recognized: &[ExtensionType],
) -> Result<(), UploadError> {
    if task.taskprov_config().is_none() {
        return check_extensions(extensions, recognized);
    }
    let mut with_taskprov = recognized.to_vec();
    with_taskprov.push(ExtensionType::Taskprov);
    check_extensions(extensions, &with_taskprov)?;
    if !has_valid_taskprov_extension(extensions) {
        return Err(UploadError::MissingTaskprovExtension);
    }
    Ok(())
}

/// Checks a report's timestamp against the task at time `now` (steps 1 to
/// 3 of the module documentation).
pub fn check_report_time(task: &Task, time: Time, now: Time) -> Result<(), UploadError> {
    if let Some(expiration) = task.task_expiration() {
        if time > expiration {
            return Err(UploadError::TaskExpired { time, expiration });
        }
    }
    let latest = now
        .checked_add(task.tolerable_clock_skew())
        .unwrap_or(Time::from_seconds_since_epoch(u64::MAX));
    if time > latest {
        return Err(UploadError::TooEarly { time, latest });
    }
    if let Some(age) = task.report_expiry_age() {
        if let Some(earliest) = now.checked_sub(age) {
            if time < earliest {
                return Err(UploadError::Expired { time, earliest });
            }
        }
    }
    Ok(())
}

/// Validates an uploaded report for `task` at time `now`, opening the
/// Leader's input share with a key from `keys`. `recognized_extensions` are
/// the extension types this task understands (often [`NO_EXTENSIONS`]).
pub fn validate_upload<K: HpkeKeyring + ?Sized>(
    task: &Task,
    keys: &K,
    report: &Report,
    now: Time,
    recognized_extensions: &[ExtensionType],
) -> Result<ValidatedReport, UploadError> {
    check_report_time(task, report.metadata.time, now)?;

    let ciphertext = &report.leader_encrypted_input_share;
    let keypair = keys
        .keypair(ciphertext.config_id)
        .ok_or(UploadError::OutdatedConfig(ciphertext.config_id))?;
    let aad = InputShareAad::new(
        *task.task_id(),
        report.metadata,
        report.public_share.clone(),
    );
    let leader_input_share =
        open_input_share(keypair, Role::Leader, &aad, ciphertext).map_err(|e| match e {
            HpkeError::WrongConfigId { ciphertext, .. } => UploadError::OutdatedConfig(ciphertext),
            // Decode errors name fields and lengths, never values.
            HpkeError::Decode(error) => UploadError::UndecodablePlaintext(error.to_string()),
            _ => UploadError::DecryptFailed,
        })?;

    check_task_extensions(task, &leader_input_share.extensions, recognized_extensions)?;

    Ok(ValidatedReport {
        metadata: report.metadata,
        public_share: report.public_share.clone(),
        leader_input_share,
        helper_encrypted_input_share: report.helper_encrypted_input_share.clone(),
    })
}

/// Checks that a validated report's public share and Leader input share
/// decode with `vdaf` (described as `vdaf_name` in the error), the last
/// step of upload validation (see the module documentation). Call it from
/// inside `vdaf_dispatch!` over the task's VDAF.
pub fn check_shares_decode<V: Vdaf>(
    vdaf: &V,
    vdaf_name: &dyn fmt::Display,
    report: &ValidatedReport,
) -> Result<(), UploadError> {
    let undecodable = |part: &'static str, cause: CodecError| UploadError::UndecodableShare {
        part,
        vdaf: vdaf_name.to_string(),
        cause: cause.to_string(),
    };
    decode_public_share(vdaf, &report.public_share).map_err(|e| undecodable("public share", e))?;
    decode_input_share(vdaf, Role::Leader, &report.leader_input_share.payload)
        .map_err(|e| undecodable("Leader input share", e))?;
    Ok(())
}

#[cfg(test)]
#[path = "upload_tests.rs"]
mod tests;
