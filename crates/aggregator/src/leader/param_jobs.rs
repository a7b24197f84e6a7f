//! Aggregation jobs for VDAFs whose aggregation parameter the Collector
//! chooses (Poplar1; DAP-09 section 4.6.1: "for some VDAFs, it is not
//! possible to begin running aggregation jobs until the Collector
//! initiates a collection job"). Part of the job creator's run.
//!
//! Such reports are stored on upload and left alone. For each (batch,
//! aggregation parameter) that a collection job in state `Start` names,
//! the creator puts the batch's reports that no job holds with that
//! parameter into new jobs of at most `max_job_size` reports, carrying
//! the parameter. A report is thus aggregated once per distinct parameter
//! (what VDAF-08's `is_valid` allows, and what the Helper enforces per
//! report). The collection driver waits while any report of the batch is
//! not yet in a job with its parameter (`collection_batch`).
//!
//! One transaction per task and run creates the jobs and their report
//! aggregations (state `Start`). Reports are not marked: "no job with this
//! parameter holds it" is read from the jobs themselves, so a crash leaves
//! either all of a run's jobs or none, and two creators racing on one
//! report conflict in the database (PostgreSQL's serializable isolation
//! fails one, whose rerun sees the other's jobs; SQLite has one writer).
//!
//! Only `time_interval` tasks: a `fixed_size` batch is assigned when its
//! reports are aggregated, which for these VDAFs happens only once a
//! collection names its batch, so the collection handler refuses the
//! combination (`collection_jobs`).
//!
//! Where is: the (batch, parameter) pairs to aggregate and their jobs →
//! [`create_jobs_for_collections`].

use super::new_job::{put_job, JobReports};
use dyad_core::task::{BatchMode, Task};
use dyad_datastore::models::BatchIdentifier;
use dyad_datastore::{Transaction, TxError};
use dyad_messages::draft09::{AggregationJobId, TaskId};
use tracing::debug;

/// What one task's run created.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct ParamJobs {
    /// The jobs, with their task's ID.
    pub job_ids: Vec<(TaskId, AggregationJobId)>,
    /// Reports put in them.
    pub reports: u64,
}

/// Creates the jobs that `waiting` (the (batch, parameter) pairs of the
/// task's waiting collection jobs, read beforehand) need, at most
/// `max_jobs` of `max_job_size` reports. The collection jobs themselves
/// are not read here: the collection driver rewrites their leases every
/// poll, and on PostgreSQL a creator reading them would fail
/// serialization against it again and again.
pub(super) async fn create_jobs_for_collections(
    tx: &mut dyn Transaction,
    task: &Task,
    waiting: &[(BatchIdentifier, Vec<u8>)],
    max_job_size: u64,
    max_jobs: u64,
) -> Result<ParamJobs, TxError> {
    let task_id = *task.task_id();
    let mut summary = ParamJobs::default();
    if !matches!(task.batch_mode(), BatchMode::TimeInterval) {
        return Ok(summary);
    }
    for (batch, agg_param) in waiting.iter().cloned() {
        let BatchIdentifier::TimeInterval(interval) = batch else {
            continue;
        };
        // A malformed parameter is refused when the collection job is
        // created; one stored anyway is never aggregated with.
        if task.vdaf().check_aggregation_parameter(&agg_param).is_err() {
            continue;
        }
        let left = max_jobs.saturating_sub(summary.job_ids.len() as u64);
        if left == 0 {
            break;
        }
        let limit = max_job_size.saturating_mul(left);
        let reports = tx
            .get_client_reports_not_aggregated_with(&task_id, interval, &agg_param, limit)
            .await?;
        for chunk in reports.chunks(max_job_size.max(1) as usize) {
            if summary.job_ids.len() as u64 >= max_jobs {
                break;
            }
            let job_id = put_job(tx, &task_id, &agg_param, None, chunk, JobReports::Rows).await?;
            debug!(
                %task_id,
                aggregation_job_id = %job_id,
                %interval,
                reports = chunk.len(),
                "aggregation job created for a collection's parameter"
            );
            summary.job_ids.push((task_id, job_id));
            summary.reports += chunk.len() as u64;
        }
    }
    Ok(summary)
}
