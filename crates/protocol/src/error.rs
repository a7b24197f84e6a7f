//! [`ProtocolError`]: the one error type of the protocol layer.
//!
//! DAP-09 section 3.2 ("Errors") says that when a party "aborts" with an
//! error type, it answers with a problem document of that type. Every abort
//! this crate decides carries its [`DapProblemType`], the task it concerns (if
//! known) and a human-readable detail; the HTTP edge turns it into an
//! `application/problem+json` document in one place
//! ([`ProtocolError::to_problem_document`]).
//!
//! Some failures are not the peer's fault but ours: stored state that does
//! not decode, a VDAF that cannot be built, a message that cannot be encoded.
//! Those carry no problem type ([`ProtocolError::is_internal`]) and map to a
//! server error.
//!
//! # Where is
//!
//! | rule | DAP-09 | function |
//! |---|---|---|
//! | an abort carries a problem type | 3.2 | [`ProtocolError::new`], [`ProtocolError::invalid_message`] |
//! | an error about a task names the task | 3.2 | [`ProtocolError::with_task_id`] |
//! | the problem document answered | 3.2 | [`ProtocolError::to_problem_document`] |
//! | our own failures are server errors, with no problem type | 3.2 | [`ProtocolError::internal`] |

use dyad_messages::draft09::TaskId;
use dyad_messages::problem::{DapProblemType, ProblemDocument};
use std::fmt;

/// Why the protocol aborted a request, a job or an upload.
#[derive(Clone, PartialEq, Eq)]
pub struct ProtocolError {
    problem_type: Option<DapProblemType>,
    task_id: Option<TaskId>,
    detail: String,
}

impl ProtocolError {
    /// An abort with the given DAP problem type.
    pub fn new(problem_type: DapProblemType, detail: impl Into<String>) -> Self {
        Self {
            problem_type: Some(problem_type),
            task_id: None,
            detail: detail.into(),
        }
    }

    /// A failure on our side (no problem type: a server error).
    pub fn internal(detail: impl Into<String>) -> Self {
        Self {
            problem_type: None,
            task_id: None,
            detail: detail.into(),
        }
    }

    /// `invalidMessage`.
    pub fn invalid_message(detail: impl Into<String>) -> Self {
        Self::new(DapProblemType::InvalidMessage, detail)
    }

    /// Adds the task the error concerns.
    pub fn with_task_id(mut self, task_id: TaskId) -> Self {
        self.task_id = Some(task_id);
        self
    }

    /// The DAP problem type, or `None` for an internal failure.
    pub fn problem_type(&self) -> Option<DapProblemType> {
        self.problem_type
    }

    /// Whether this is a failure on our side rather than the peer's.
    pub fn is_internal(&self) -> bool {
        self.problem_type.is_none()
    }

    /// The task the error concerns, if known.
    pub fn task_id(&self) -> Option<&TaskId> {
        self.task_id.as_ref()
    }

    /// The human-readable detail.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// The problem document to answer with, or `None` for an internal
    /// failure (which the edge answers with a plain server error, so that no
    /// internal detail reaches the peer).
    pub fn to_problem_document(&self) -> Option<ProblemDocument> {
        let problem_type = self.problem_type?;
        let mut document = ProblemDocument::new(problem_type).with_detail(self.detail.clone());
        if let Some(task_id) = self.task_id {
            document = document.with_task_id(task_id);
        }
        Some(document)
    }
}

impl fmt::Debug for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProtocolError")
            .field(
                "problem_type",
                &self.problem_type.map(|t| t.name()).unwrap_or("internal"),
            )
            .field("task_id", &self.task_id)
            .field("detail", &self.detail)
            .finish()
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.problem_type {
            Some(problem_type) => write!(f, "{}: {}", problem_type.name(), self.detail)?,
            None => write!(f, "internal error: {}", self.detail)?,
        }
        if let Some(task_id) = &self.task_id {
            write!(f, " [task {task_id}]")?;
        }
        Ok(())
    }
}

impl std::error::Error for ProtocolError {}

impl From<prio::codec::CodecError> for ProtocolError {
    /// A VDAF value of our own (stored state, share) that does not encode or
    /// decode: internal. Decoding the *peer's* values is mapped explicitly
    /// where it happens.
    fn from(error: prio::codec::CodecError) -> Self {
        ProtocolError::internal(format!("VDAF codec: {error}"))
    }
}

impl From<prio::vdaf::VdafError> for ProtocolError {
    fn from(error: prio::vdaf::VdafError) -> Self {
        ProtocolError::internal(format!("VDAF: {error}"))
    }
}

impl From<dyad_messages::EncodeError> for ProtocolError {
    fn from(error: dyad_messages::EncodeError) -> Self {
        ProtocolError::internal(format!("message encoding: {error}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_document_carries_type_detail_and_task() {
        let task_id = TaskId::from_bytes([4; 32]);
        let error = ProtocolError::new(DapProblemType::StepMismatch, "step 3, expected 2")
            .with_task_id(task_id);
        let document = error.to_problem_document().unwrap();
        assert_eq!(document.dap_type(), Some(DapProblemType::StepMismatch));
        assert_eq!(document.detail.as_deref(), Some("step 3, expected 2"));
        assert_eq!(document.taskid, Some(task_id));
        assert!(error.to_string().starts_with("stepMismatch: step 3"));
    }

    #[test]
    fn internal_errors_have_no_problem_document() {
        let error = ProtocolError::internal("stored state does not decode");
        assert!(error.is_internal());
        assert_eq!(error.to_problem_document(), None);
        assert!(format!("{error:?}").contains("internal"));
    }
}
