//! One new aggregation job as the Leader stores it (DAP-09 section 4.5):
//! the job with its aggregation parameter, batch and client interval, and
//! its report aggregations in state `Start`, in job order. Shared by both
//! ways jobs are made (`job_creator` for reports as they arrive,
//! `param_jobs` for a collection's parameter).
//!
//! Where is: storing a job → [`put_job`].

use dyad_datastore::models::{AggregationJob, ReportAggregation, ReportAggregationState};
use dyad_datastore::{Transaction, TxError};
use dyad_messages::draft09::{AggregationJobId, BatchId, Interval, ReportMetadata, TaskId};

/// Stores one job of `reports` with `aggregation_parameter` (and, for a
/// fixed-size task, its batch); returns the job's ID.
pub(super) async fn put_job(
    tx: &mut dyn Transaction,
    task_id: &TaskId,
    aggregation_parameter: &[u8],
    batch_id: Option<BatchId>,
    reports: &[ReportMetadata],
) -> Result<AggregationJobId, TxError> {
    let job_id = AggregationJobId::random();
    let mut interval = Interval::EMPTY;
    for report in reports {
        interval = interval.merged_with(report.time).map_err(TxError::abort)?;
    }
    let job = AggregationJob::new(
        *task_id,
        job_id,
        aggregation_parameter.to_vec(),
        batch_id,
        interval,
    );
    tx.put_aggregation_job(&job).await?;
    let report_aggregations: Vec<ReportAggregation> = reports
        .iter()
        .enumerate()
        .map(|(ord, report)| {
            ReportAggregation::new(
                *task_id,
                job_id,
                ord as u64,
                report.id,
                report.time,
                ReportAggregationState::Start,
            )
        })
        .collect();
    tx.put_report_aggregations(&report_aggregations, None)
        .await?;
    Ok(job_id)
}
