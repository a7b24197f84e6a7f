//! One new aggregation job as the Leader stores it (DAP-09 section 4.5):
//! the job with its aggregation parameter, batch and client interval, and
//! its reports in job order. Shared by both ways jobs are made
//! (`job_creator` for reports as they arrive, `param_jobs` for a
//! collection's parameter).
//!
//! The reports of a job of a VDAF of one round (every Prio3 VDAF, the ones
//! `job_creator` takes) are listed on the job's row
//! ([`JobReports::Listed`]): the job's first step brings each of them to
//! its final state, and nothing reads those states again, so a row per
//! report would be written, read and rewritten for nothing. Other jobs
//! (Poplar1) store a report aggregation in state `Start` per report.
//!
//! Where is: storing a job → [`put_job`].

use dyad_datastore::models::{AggregationJob, ReportAggregation};
use dyad_datastore::{Transaction, TxError};
use dyad_messages::draft09::{AggregationJobId, BatchId, Interval, ReportMetadata, TaskId};

/// How a new job holds its reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum JobReports {
    /// Listed on the job's row (a VDAF of one round).
    Listed,
    /// One report aggregation each, in state `Start`.
    Rows,
}

/// Stores one job of `reports` with `aggregation_parameter` (and, for a
/// fixed-size task, its batch); returns the job's ID.
pub(super) async fn put_job(
    tx: &mut dyn Transaction,
    task_id: &TaskId,
    aggregation_parameter: &[u8],
    batch_id: Option<BatchId>,
    reports: &[ReportMetadata],
    held: JobReports,
) -> Result<AggregationJobId, TxError> {
    let job_id = AggregationJobId::random();
    let mut interval = Interval::EMPTY;
    for report in reports {
        interval = interval.merged_with(report.time).map_err(TxError::abort)?;
    }
    let mut job = AggregationJob::new(
        *task_id,
        job_id,
        aggregation_parameter.to_vec(),
        batch_id,
        interval,
    );
    if held == JobReports::Listed {
        job.report_list = Some(reports.to_vec());
        tx.put_aggregation_job(&job).await?;
        return Ok(job_id);
    }
    tx.put_aggregation_job(&job).await?;
    let report_aggregations = ReportAggregation::starting(*task_id, job_id, reports);
    tx.put_report_aggregations(&report_aggregations, None)
        .await?;
    Ok(job_id)
}
