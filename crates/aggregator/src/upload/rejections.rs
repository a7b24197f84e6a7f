//! Uploads refused before the report writer, counted in memory per task
//! ([`RejectionCounts`]) and added to the task's statistics
//! (`dyad task stats`) by the writer at most once every
//! [`FLUSH_INTERVAL`], in one transaction for all tasks. A refused upload
//! thus never opens a transaction of its own: a client sending garbage
//! cannot make the Leader write to its database once per request.
//!
//! What a crash loses: the rejections of at most the last
//! [`FLUSH_INTERVAL`] (a graceful shutdown writes them). Accepted and
//! duplicate reports and reports of a collected batch are counted exactly,
//! in the writer's transaction that stores them (see [`super::writer`]).
//!
//! ## Where is
//!
//! - which counter a refusal goes to (DAP-09 section 4.4.2) →
//!   [`Rejection::of_upload_error`], [`Rejection::of_api_error`]

use crate::http::problem::ApiError;
use dyad_datastore::models::TaskCounters;
use dyad_messages::draft09::TaskId;
use dyad_messages::problem::DapProblemType;
use dyad_protocol::upload::UploadError;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// How often the writer adds the refusals counted meanwhile.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// Why an upload of a known task was refused before the writer stored it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// `reportTooEarly`.
    TooEarly,
    /// `reportRejected`: after the task's expiration.
    TaskExpired,
    /// `reportRejected`: older than the report expiry age.
    ReportExpired,
    /// `reportRejected`: the Leader's share did not decrypt.
    DecryptFailed,
    /// `outdatedConfig`.
    OutdatedConfig,
    /// `invalidMessage`.
    InvalidMessage,
    /// `reportRejected`: the batch was already collected.
    BatchCollected,
    /// Refused before the report was read (415, 413, 408).
    RefusedRequest,
    /// Not stored for a fault on our side (503, 500).
    ServerError,
}

impl Rejection {
    /// The counter of a failed validation.
    pub fn of_upload_error(error: &UploadError) -> Self {
        match error {
            UploadError::TooEarly { .. } => Rejection::TooEarly,
            UploadError::TaskExpired { .. } => Rejection::TaskExpired,
            UploadError::Expired { .. } => Rejection::ReportExpired,
            UploadError::DecryptFailed => Rejection::DecryptFailed,
            UploadError::OutdatedConfig(_) => Rejection::OutdatedConfig,
            UploadError::UndecodablePlaintext(_)
            | UploadError::UnrecognizedExtension(_)
            | UploadError::RepeatedExtension(_)
            | UploadError::MissingTaskprovExtension
            | UploadError::UndecodableShare { .. } => Rejection::InvalidMessage,
            UploadError::BatchCollected => Rejection::BatchCollected,
        }
    }

    /// The counter of any other refusal, by its answer.
    pub fn of_api_error(error: &ApiError) -> Self {
        let status = error.status();
        if status.is_server_error() {
            return Rejection::ServerError;
        }
        match status.as_u16() {
            // Typed `invalidMessage` too, but refused before reading the
            // report.
            408 | 413 | 415 => Rejection::RefusedRequest,
            _ => match error.problem_type() {
                Some(DapProblemType::InvalidMessage) => Rejection::InvalidMessage,
                Some(DapProblemType::ReportTooEarly) => Rejection::TooEarly,
                _ => Rejection::RefusedRequest,
            },
        }
    }

    fn count(self, counters: &mut TaskCounters) {
        let counter = match self {
            Rejection::TooEarly => &mut counters.uploads_too_early,
            Rejection::TaskExpired => &mut counters.uploads_task_expired,
            Rejection::ReportExpired => &mut counters.uploads_report_expired,
            Rejection::DecryptFailed => &mut counters.uploads_decrypt_failed,
            Rejection::OutdatedConfig => &mut counters.uploads_outdated_config,
            Rejection::InvalidMessage => &mut counters.uploads_invalid_message,
            Rejection::BatchCollected => &mut counters.uploads_batch_collected,
            Rejection::RefusedRequest => &mut counters.uploads_refused_request,
            Rejection::ServerError => &mut counters.uploads_server_error,
        };
        *counter = counter.saturating_add(1);
    }
}

/// Refusals per task not yet written. Holds one entry per task refused
/// since the last flush: bounded by the number of tasks, whatever the
/// request rate.
#[derive(Debug, Default)]
pub struct RejectionCounts {
    counts: Mutex<HashMap<TaskId, TaskCounters>>,
}

impl RejectionCounts {
    /// Counts one refused upload of `task_id`.
    pub fn note(&self, task_id: TaskId, rejection: Rejection) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        rejection.count(counts.entry(task_id).or_default());
    }

    /// Everything counted so far, leaving nothing.
    pub fn take(&self) -> HashMap<TaskId, TaskCounters> {
        std::mem::take(&mut *self.counts.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Gives back counts that could not be written, for the next flush.
    pub fn restore(&self, taken: HashMap<TaskId, TaskCounters>) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        for (task_id, counters) in taken {
            counts.entry(task_id).or_default().add(&counters);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_counted_per_task_and_survive_a_failed_flush() {
        let counts = RejectionCounts::default();
        let (a, b) = (TaskId::random(), TaskId::random());
        counts.note(a, Rejection::TooEarly);
        counts.note(a, Rejection::TooEarly);
        counts.note(a, Rejection::DecryptFailed);
        counts.note(b, Rejection::ServerError);
        let taken = counts.take();
        assert_eq!(taken[&a].uploads_too_early, 2);
        assert_eq!(taken[&a].uploads_decrypt_failed, 1);
        assert_eq!(taken[&b].uploads_server_error, 1);
        assert!(counts.take().is_empty());

        counts.note(a, Rejection::TooEarly);
        counts.restore(taken);
        assert_eq!(counts.take()[&a].uploads_too_early, 3);
    }

    #[test]
    fn each_validation_failure_has_its_counter() {
        let expired = UploadError::Expired {
            time: dyad_messages::draft09::Time::from_seconds_since_epoch(1),
            earliest: dyad_messages::draft09::Time::from_seconds_since_epoch(2),
        };
        assert_eq!(
            Rejection::of_upload_error(&expired),
            Rejection::ReportExpired
        );
        assert_eq!(
            Rejection::of_upload_error(&UploadError::DecryptFailed),
            Rejection::DecryptFailed
        );
        assert_eq!(
            Rejection::of_api_error(&ApiError::body_too_large(10)),
            Rejection::RefusedRequest
        );
        assert_eq!(
            Rejection::of_api_error(&ApiError::unsupported_media_type("a", None)),
            Rejection::RefusedRequest
        );
        assert_eq!(
            Rejection::of_api_error(&ApiError::invalid_message("x")),
            Rejection::InvalidMessage
        );
        assert_eq!(
            Rejection::of_api_error(&ApiError::internal("x")),
            Rejection::ServerError
        );
    }
}
