//! [`TaskError`]: why a set of task parameters does not make a usable task.
//!
//! # Where is
//!
//! - no rule of its own: raised by
//!   [`TaskBuilder::build`](super::TaskBuilder::build).

/// A task that cannot be built: a parameter is missing, or a parameter (or a
/// combination of them) is invalid for the task's role, VDAF or batch mode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// A required parameter was not given.
    #[error("task is missing {0}")]
    Missing(&'static str),
    /// A parameter is invalid.
    #[error("task {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
}

impl TaskError {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        TaskError::Invalid {
            field,
            reason: reason.into(),
        }
    }
}
