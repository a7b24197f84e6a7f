//! One step of a Leader's aggregation job (DAP-09 sections 4.5.1.1 and
//! 4.5.2.1), split so that no VDAF work and no HTTP request happen inside a
//! transaction:
//!
//! 1. [`load`] (read transaction): the task, the job, its report
//!    aggregations in job order (for a job that lists its reports on its
//!    row and has no report aggregations yet, made in memory from the list,
//!    all in `Start`), the client reports of those not yet initialized, and
//!    the job's batch aggregations so far;
//! 2. [`prepare`] (CPU): what to send. A job whose reports are all `Start`
//!    is initialized with [`leader_initialize`]; preparation is
//!    deterministic (VDAF-08 section 5.2), so the same stored reports give
//!    the byte-identical `AggregationJobInitReq` every time, which the
//!    Helper answers identically (section 4.5.1.2). Otherwise the
//!    `AggregationJobContinueReq` for step `stored + 1` is rebuilt from the
//!    stored outbound messages, identical on every retry, which is the
//!    Leader's half of step skew recovery (section 4.5.2.3);
//! 3. (the caller sends it);
//! 4. [`apply`] (CPU): the Helper's response through
//!    [`leader_process_response`], and the newly prepared output shares
//!    folded into the job's batch aggregations;
//! 5. [`write()`] (one read-write transaction, every write checking the
//!    lease): report aggregation states (none for a listed job the step
//!    finishes: its reports' outcomes live on in the batch aggregations and
//!    the counters; inserted, for a listed job the step leaves waiting),
//!    batch aggregations, the release of
//!    fixed-size batch room taken by failed reports, the return to the pool
//!    of reports the Helper found too early, the task's statistics (reports
//!    aggregated or failed, by `PrepareError`), and the job's step and state.
//!    Nothing is written if the lease was lost.

use super::batch_aggregation::{accumulate_job_outputs, PreparedReport};
use super::report_state::{to_protocol, to_stored};
use dyad_core::task::{BatchMode, Task};
use dyad_core::vdaf_dispatch;
use dyad_datastore::models::{
    AggregationJob, AggregationJobState, BatchAggregation, LeaderStoredReport, ReportAggregation,
    ReportAggregationState, TaskCounters,
};
use dyad_datastore::{Datastore, DatastoreExt, LeaseToken, Transaction, TxError};
use dyad_messages::draft09::{
    AggregationJobContinueReq, AggregationJobId, AggregationJobInitReq, AggregationJobResp,
    AggregationJobStep, BatchId, PartialBatchSelector, PrepareError, ReportId, TaskId,
};
use dyad_protocol::leader_prepare::{
    build_continue_request, job_is_finished, leader_initialize, leader_process_response,
    LeaderReportAggregation, LeaderReportShare, LeaderReportState,
};
use dyad_protocol::vdaf_codec::DapAggregator;
use dyad_protocol::ProtocolError;
use std::collections::HashMap;
use std::sync::Arc;

/// What one step starts from.
pub(crate) struct LoadedJob {
    pub task: Task,
    pub job: AggregationJob,
    /// In job order (`ord`).
    pub report_aggregations: Vec<ReportAggregation>,
    /// Whether `report_aggregations` were made from the job's report list
    /// (none is stored yet).
    pub from_list: bool,
    /// The client reports of the report aggregations still in `Start`.
    pub client_reports: Vec<LeaderStoredReport>,
    /// The job's batch aggregations written by earlier steps.
    pub batch_aggregations: Vec<BatchAggregation>,
}

/// Reads what a step needs; `None` if the task or the job is gone.
pub(crate) async fn load(
    ds: &dyn Datastore,
    task_id: TaskId,
    job_id: AggregationJobId,
) -> Result<Option<LoadedJob>, TxError> {
    ds.run_read_tx("aggregation_step_load", move |tx| {
        Box::pin(async move {
            let Some(task) = tx.get_task(&task_id).await? else {
                return Ok(None);
            };
            let Some(job) = tx.get_aggregation_job(&task_id, &job_id).await? else {
                return Ok(None);
            };
            let (report_aggregations, from_list) = job_reports(tx, &job).await?;
            let unstarted: Vec<_> = report_aggregations
                .iter()
                .filter(|ra| ra.state == ReportAggregationState::Start)
                .map(|ra| ra.report_id)
                .collect();
            let client_reports = if unstarted.is_empty() {
                Vec::new()
            } else {
                tx.get_client_reports(&task_id, &unstarted).await?
            };
            let batch_aggregations = tx.get_batch_aggregations_for_job(&task_id, &job_id).await?;
            Ok(Some(LoadedJob {
                task,
                job,
                report_aggregations,
                from_list,
                client_reports,
                batch_aggregations,
            }))
        })
    })
    .await
}

/// A job's reports in job order, and whether they were made from its
/// report list: its stored report aggregations if it has any, else (a job
/// listing its reports, before any step stored them) the list, all in
/// `Start`.
pub(crate) async fn job_reports(
    tx: &mut dyn Transaction,
    job: &AggregationJob,
) -> Result<(Vec<ReportAggregation>, bool), TxError> {
    let (task_id, job_id) = (job.task_id, job.aggregation_job_id);
    let stored = tx.get_report_aggregations(&task_id, &job_id).await?;
    Ok(match &job.report_list {
        Some(list) if stored.is_empty() => {
            (ReportAggregation::starting(task_id, job_id, list), true)
        }
        _ => (stored, false),
    })
}

/// The request of a step.
#[derive(Clone, Debug)]
pub(crate) enum StepRequest {
    Init(AggregationJobInitReq),
    Continue(AggregationJobContinueReq),
}

/// What [`prepare`] decided.
pub(crate) struct PreparedStep {
    /// The step the job reaches once the Helper has answered.
    pub step: AggregationJobStep,
    /// Every report of the job, in job order, before the Helper's answer.
    pub reports: Vec<LeaderReportAggregation>,
    /// What to send; `None` when no report is left to prepare with the
    /// Helper (the Leader rejected all of them).
    pub request: Option<StepRequest>,
}

/// Decides the step's request (CPU work: run it off the async runtime).
pub(crate) fn prepare(loaded: &LoadedJob) -> Result<PreparedStep, ProtocolError> {
    let starting = loaded
        .report_aggregations
        .iter()
        .any(|ra| ra.state == ReportAggregationState::Start);
    if starting {
        return vdaf_dispatch!(loaded.task.vdaf(), |vdaf, V, VERIFY_KEY_LEN| {
            prepare_init::<V, VERIFY_KEY_LEN>(&vdaf, loaded)
        });
    }
    let reports = loaded
        .report_aggregations
        .iter()
        .map(|ra| {
            to_protocol(ra)?.ok_or_else(|| ProtocolError::internal("unreachable Start state"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let step = AggregationJobStep(loaded.job.step)
        .next()
        .ok_or_else(|| ProtocolError::internal("aggregation job step counter exhausted"))?;
    let request = build_continue_request(step, &reports).map(StepRequest::Continue);
    Ok(PreparedStep {
        step,
        reports,
        request,
    })
}

/// Leader initialization of a job whose reports are all `Start` (or, for
/// robustness, already final).
fn prepare_init<V: DapAggregator<L>, const L: usize>(
    vdaf: &V,
    loaded: &LoadedJob,
) -> Result<PreparedStep, ProtocolError> {
    let by_id: HashMap<_, _> = loaded
        .client_reports
        .iter()
        .map(|report| (report.metadata.id, report))
        .collect();
    let mut shares = Vec::new();
    // Per report: `None` if it goes through initialization, else its state.
    let mut fixed: Vec<Option<LeaderReportAggregation>> = Vec::new();
    for ra in &loaded.report_aggregations {
        match (&ra.state, by_id.get(&ra.report_id)) {
            (ReportAggregationState::Start, Some(report)) => {
                shares.push(LeaderReportShare {
                    metadata: report.metadata,
                    public_share: report.public_share.clone(),
                    leader_input_share: report.leader_input_share.clone(),
                    helper_encrypted_input_share: report.helper_encrypted_input_share.clone(),
                });
                fixed.push(None);
            }
            (ReportAggregationState::Start, None) => {
                // The client report is gone (garbage collected): the report
                // cannot be prepared.
                fixed.push(Some(LeaderReportAggregation {
                    metadata: dyad_messages::draft09::ReportMetadata::new(ra.report_id, ra.time),
                    state: LeaderReportState::Failed {
                        error: PrepareError::ReportDropped,
                    },
                }));
            }
            (ReportAggregationState::Finished | ReportAggregationState::Failed(_), _) => {
                fixed.push(to_protocol(ra)?);
            }
            _ => {
                return Err(ProtocolError::internal(
                    "aggregation job mixes unstarted and waiting reports",
                ))
            }
        }
    }
    let outcome = leader_initialize(
        vdaf,
        &loaded.task,
        &loaded.job.aggregation_parameter,
        partial_batch_selector(&loaded.task, &loaded.job)?,
        &shares,
    )?;
    let mut initialized = outcome.reports.into_iter();
    let reports = fixed
        .into_iter()
        .map(|slot| match slot {
            Some(report) => Ok(report),
            None => initialized
                .next()
                .ok_or_else(|| ProtocolError::internal("initialization lost a report")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PreparedStep {
        step: AggregationJobStep::INITIAL,
        reports,
        request: outcome.request.map(StepRequest::Init),
    })
}

/// The job's `PartialBatchSelector` (DAP-09 section 4.5.1.1).
pub(super) fn partial_batch_selector(
    task: &Task,
    job: &AggregationJob,
) -> Result<PartialBatchSelector, ProtocolError> {
    match task.batch_mode() {
        BatchMode::TimeInterval => Ok(PartialBatchSelector::TimeInterval),
        BatchMode::FixedSize { .. } => job
            .batch_id
            .map(PartialBatchSelector::FixedSize)
            .ok_or_else(|| {
                ProtocolError::internal("fixed-size aggregation job without a batch ID")
            }),
    }
}

/// Counts of what a step did, for logs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct StepCounts {
    pub finished: u64,
    pub failed: u64,
    pub waiting: u64,
}

/// What [`write()`] does with a step's report aggregations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RowWrite {
    /// Update the stored ones.
    Update,
    /// Insert them (a listed job the step leaves waiting: every report of
    /// the job changed from `Start`, so all of them are here).
    Insert,
    /// Store none (a listed job the step finishes).
    Skip,
}

/// What [`write()`] stores.
pub(crate) struct StepWrite {
    pub job: AggregationJob,
    /// The report aggregations whose state the step changed.
    pub report_aggregations: Vec<ReportAggregation>,
    pub rows: RowWrite,
    pub batch_aggregations: Vec<BatchAggregation>,
    /// Fixed-size batch room to give back for reports that failed.
    pub release: Option<(BatchId, u64)>,
    /// Reports the Helper refused as `report_too_early` in this step: they
    /// go back to the pool of unaggregated reports, for a later job to
    /// take again, rather than being lost to clock skew between the
    /// aggregators (the Helper records no report it refuses as too early,
    /// DAP-09 section 4.5.1.4, so it takes them again).
    pub back_to_pool: Vec<ReportId>,
    pub counts: StepCounts,
}

/// Applies the Helper's response (CPU work: run it off the async runtime).
/// `response` is `None` exactly when the prepared request was.
pub(crate) fn apply(
    loaded: &LoadedJob,
    prepared: PreparedStep,
    response: Option<&AggregationJobResp>,
) -> Result<StepWrite, ProtocolError> {
    vdaf_dispatch!(loaded.task.vdaf(), |vdaf, V, VERIFY_KEY_LEN| {
        apply_with::<V, VERIFY_KEY_LEN>(&vdaf, loaded, &prepared, response)
    })
}

fn apply_with<V: DapAggregator<L>, const L: usize>(
    vdaf: &V,
    loaded: &LoadedJob,
    prepared: &PreparedStep,
    response: Option<&AggregationJobResp>,
) -> Result<StepWrite, ProtocolError> {
    let after = match response {
        Some(response) => leader_process_response(
            vdaf,
            &loaded.job.aggregation_parameter,
            &prepared.reports,
            response,
        )?,
        None => prepared.reports.clone(),
    };
    if after.len() != loaded.report_aggregations.len() {
        return Err(ProtocolError::internal(
            "step changed the number of reports",
        ));
    }
    let mut counts = StepCounts::default();
    let mut changed = Vec::new();
    let mut newly_prepared = Vec::new();
    for (stored, report) in loaded.report_aggregations.iter().zip(&after) {
        let new_state = to_stored(&report.state)?;
        match &report.state {
            LeaderReportState::Finished { output_share } => {
                counts.finished += 1;
                if stored.state != ReportAggregationState::Finished {
                    newly_prepared.push(PreparedReport {
                        report_id: stored.report_id,
                        time: stored.time,
                        output_share: output_share.clone(),
                    });
                }
            }
            LeaderReportState::Failed { .. } => counts.failed += 1,
            LeaderReportState::Continued { .. } => counts.waiting += 1,
        }
        if new_state != stored.state {
            let mut updated = stored.clone();
            updated.state = new_state;
            updated.last_prep_resp = None;
            changed.push(updated);
        }
    }
    let newly_failed = changed
        .iter()
        .filter(|ra| matches!(ra.state, ReportAggregationState::Failed(_)))
        .count() as u64;
    let back_to_pool = changed
        .iter()
        .filter(|ra| ra.state == ReportAggregationState::Failed(PrepareError::ReportTooEarly))
        .map(|ra| ra.report_id)
        .collect();
    let batch_aggregations = accumulate_job_outputs(
        vdaf,
        &loaded.task,
        &loaded.job,
        &loaded.batch_aggregations,
        &newly_prepared,
    )?;
    let mut job = loaded.job.clone();
    job.step = prepared.step.0;
    if job_is_finished(&after) {
        job.state = AggregationJobState::Finished;
    }
    let rows = match (loaded.from_list, job.state) {
        (false, _) => RowWrite::Update,
        (true, AggregationJobState::Finished) => RowWrite::Skip,
        (true, _) => RowWrite::Insert,
    };
    let release = match (loaded.job.batch_id, newly_failed) {
        (Some(batch_id), count) if count > 0 => Some((batch_id, count)),
        _ => None,
    };
    Ok(StepWrite {
        job,
        report_aggregations: changed,
        rows,
        batch_aggregations,
        release,
        back_to_pool,
        counts,
    })
}

/// Stores a step in one transaction, under the lease.
pub(crate) async fn write(
    ds: &dyn Datastore,
    token: LeaseToken,
    step: Arc<StepWrite>,
) -> Result<(), TxError> {
    ds.run_tx("aggregation_step_write", move |tx| {
        let step = Arc::clone(&step);
        Box::pin(async move {
            if !step.report_aggregations.is_empty() {
                match step.rows {
                    RowWrite::Update => {
                        tx.update_report_aggregations(&step.report_aggregations, Some(&token))
                            .await?
                    }
                    RowWrite::Insert => {
                        tx.put_report_aggregations(&step.report_aggregations, Some(&token))
                            .await?
                    }
                    RowWrite::Skip => {}
                }
            }
            if !step.batch_aggregations.is_empty() {
                tx.put_batch_aggregations(&step.batch_aggregations, Some(&token))
                    .await?;
            }
            if let Some((batch_id, count)) = &step.release {
                tx.release_outstanding_batch_reservation(&step.job.task_id, batch_id, *count)
                    .await?;
            }
            if !step.back_to_pool.is_empty() {
                tx.unmark_client_reports_aggregation_started(&step.job.task_id, &step.back_to_pool)
                    .await?;
            }
            // Each report counted once, when it reaches its final state.
            let mut counters = TaskCounters::default();
            for ra in &step.report_aggregations {
                counters.count_prepared(&ra.state);
            }
            tx.add_task_counters(&step.job.task_id, &counters).await?;
            tx.update_aggregation_job(&step.job, Some(&token)).await?;
            Ok(())
        })
    })
    .await
}
