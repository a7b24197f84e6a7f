//! The decoders of stored rows: one function per model, turning one row of
//! its table (as selected by either backend, with the same column names)
//! back into the model, for the table modules (`crate::tables`).

use super::{Result, RowReader, StoredRow};
use crate::models::{
    decode_extensions, AggregateShareJob, AggregationJob, AggregationJobState, BatchAggregation,
    CollectedBatch, CollectionJob, CollectionJobState, LeaderStoredReport, OutstandingBatch,
    ReportAggregation, ReportAggregationState, StoredReportList,
};
use crate::{task_document, DatastoreKeys};
use dyad_core::task::Task;
use dyad_messages::draft09::{
    HpkeCiphertext, PrepareResp, ReportId, ReportIdChecksum, ReportMetadata, TaskId,
};
use dyad_messages::problem::DapProblemType;

/// A task from its sealed document (columns `task_id`, `task_document`).
pub(crate) fn task(row: &impl StoredRow, keys: &DatastoreKeys) -> Result<Task> {
    let r = RowReader::new(row, "tasks");
    let task_id: TaskId = r.id("task_id")?;
    task_document::open(&r.blob("task_document")?, &task_id, keys)
}

/// A task's ID and its document still sealed (columns `task_id`,
/// `task_document`), for re-sealing.
pub(crate) fn sealed_task_document(row: &impl StoredRow) -> Result<(TaskId, Vec<u8>)> {
    let r = RowReader::new(row, "tasks");
    Ok((r.id("task_id")?, r.blob("task_document")?))
}

/// A stored client report.
pub(crate) fn client_report(row: &impl StoredRow) -> Result<LeaderStoredReport> {
    let r = RowReader::new(row, "client_reports");
    let extensions = r.blob("leader_extensions")?;
    Ok(LeaderStoredReport {
        task_id: r.id("task_id")?,
        metadata: ReportMetadata::new(r.id("report_id")?, r.time("client_time")?),
        public_share: r.blob("public_share")?,
        leader_extensions: decode_extensions(&extensions)
            .map_err(|e| r.corrupt("leader_extensions", e))?,
        leader_input_share: r.blob("leader_input_share")?,
        helper_encrypted_input_share: r.decode("helper_encrypted_input_share")?,
    })
}

/// A client report's metadata (columns `report_id`, `client_time`).
pub(crate) fn report_metadata(row: &impl StoredRow) -> Result<ReportMetadata> {
    let r = RowReader::new(row, "client_reports");
    Ok(ReportMetadata::new(
        r.id("report_id")?,
        r.time("client_time")?,
    ))
}

pub(crate) fn aggregation_job(row: &impl StoredRow) -> Result<AggregationJob> {
    let r = RowReader::new(row, "aggregation_jobs");
    let state = r.code("state")?;
    let step = r.small_int("step")?;
    Ok(AggregationJob {
        task_id: r.id("task_id")?,
        aggregation_job_id: r.id("aggregation_job_id")?,
        aggregation_parameter: r.blob("aggregation_parameter")?,
        batch_id: r.opt_id("batch_id")?,
        client_timestamp_interval: r.interval("client_interval_start", "client_interval_end")?,
        state: AggregationJobState::from_code(state)
            .ok_or_else(|| r.corrupt("state", format!("unknown state {state}")))?,
        step: u16::try_from(step).map_err(|_| r.corrupt("step", "not a u16"))?,
        last_request_hash: r.opt_array32("last_request_hash")?,
        init_response: r.opt_blob("init_response")?,
        report_list: r
            .opt_decode::<StoredReportList>("report_list")?
            .map(|list| list.0),
        created_at: r.time("created_at")?,
    })
}

pub(crate) fn report_aggregation(row: &impl StoredRow) -> Result<ReportAggregation> {
    let r = RowReader::new(row, "report_aggregations");
    let error = r
        .opt_code("prepare_error")?
        .map(|code| u8::try_from(code).map_err(|_| r.corrupt("prepare_error", "not a u8")))
        .transpose()?;
    let state =
        ReportAggregationState::from_parts(r.code("state")?, r.opt_blob("state_payload")?, error)
            .map_err(|reason| r.corrupt("state", reason))?;
    Ok(ReportAggregation {
        task_id: r.id("task_id")?,
        aggregation_job_id: r.id("aggregation_job_id")?,
        ord: r.u64("ord")?,
        report_id: r.id("report_id")?,
        time: r.time("client_time")?,
        state,
        last_prep_resp: r.opt_decode::<PrepareResp>("last_prep_resp")?,
    })
}

pub(crate) fn batch_aggregation(row: &impl StoredRow) -> Result<BatchAggregation> {
    let r = RowReader::new(row, "batch_aggregations");
    Ok(BatchAggregation {
        task_id: r.id("task_id")?,
        batch_identifier: r.batch_identifier("batch_identifier")?,
        aggregation_parameter: r.blob("aggregation_parameter")?,
        aggregation_job_id: r.id("aggregation_job_id")?,
        aggregate_share: r.blob("aggregate_share")?,
        report_count: r.u64("report_count")?,
        checksum: ReportIdChecksum(r.array32("checksum")?),
        client_timestamp_interval: r.interval("client_interval_start", "client_interval_end")?,
    })
}

pub(crate) fn collected_batch(row: &impl StoredRow) -> Result<CollectedBatch> {
    let r = RowReader::new(row, "collected_batches");
    Ok(CollectedBatch {
        task_id: r.id("task_id")?,
        batch_identifier: r.batch_identifier("batch_identifier")?,
        aggregation_parameter: r.blob("aggregation_parameter")?,
        created_at: r.time("created_at")?,
    })
}

fn collection_job_state<R: StoredRow>(r: &RowReader<'_, R>) -> Result<CollectionJobState> {
    Ok(match r.code("state")? {
        0 => CollectionJobState::Start,
        1 => CollectionJobState::Finished {
            report_count: r.u64("report_count")?,
            interval: r.interval("result_interval_start", "result_interval_end")?,
            leader_encrypted_agg_share: r.decode::<HpkeCiphertext>("leader_encrypted_agg_share")?,
            helper_encrypted_agg_share: r.decode::<HpkeCiphertext>("helper_encrypted_agg_share")?,
        },
        2 => {
            let urn = r
                .opt_text("problem_type")?
                .ok_or_else(|| r.corrupt("problem_type", "missing"))?;
            CollectionJobState::Failed {
                problem_type: urn
                    .parse::<DapProblemType>()
                    .map_err(|e| r.corrupt("problem_type", e))?,
                detail: r.opt_text("problem_detail")?.unwrap_or_default(),
            }
        }
        3 => CollectionJobState::Abandoned,
        4 => CollectionJobState::Deleted,
        other => return Err(r.corrupt("state", format!("unknown state {other}"))),
    })
}

pub(crate) fn collection_job(row: &impl StoredRow) -> Result<CollectionJob> {
    let r = RowReader::new(row, "collection_jobs");
    Ok(CollectionJob {
        task_id: r.id("task_id")?,
        collection_job_id: r.id("collection_job_id")?,
        query: r.decode("query")?,
        aggregation_parameter: r.blob("aggregation_parameter")?,
        batch_identifier: r.batch_identifier("batch_identifier")?,
        request: r.blob("request")?,
        state: collection_job_state(&r)?,
        created_at: r.time("created_at")?,
    })
}

pub(crate) fn aggregate_share_job(row: &impl StoredRow) -> Result<AggregateShareJob> {
    let r = RowReader::new(row, "aggregate_share_jobs");
    Ok(AggregateShareJob {
        task_id: r.id("task_id")?,
        batch_identifier: r.batch_identifier("batch_identifier")?,
        aggregation_parameter: r.blob("aggregation_parameter")?,
        report_count: r.u64("report_count")?,
        checksum: ReportIdChecksum(r.array32("checksum")?),
        response: r.decode("response")?,
        created_at: r.time("created_at")?,
    })
}

pub(crate) fn outstanding_batch(row: &impl StoredRow) -> Result<OutstandingBatch> {
    let r = RowReader::new(row, "outstanding_batches");
    Ok(OutstandingBatch {
        task_id: r.id("task_id")?,
        batch_id: r.id("batch_id")?,
        created_at: r.time("created_at")?,
        size: r.u64("size")?,
        filled: r.bool("filled")?,
        collected: r.bool("collected")?,
    })
}

/// An entry of the Helper's anti-replay set: report ID and aggregation
/// parameter.
pub(crate) fn seen_report(row: &impl StoredRow) -> Result<(ReportId, Vec<u8>)> {
    let r = RowReader::new(row, "helper_seen_reports");
    Ok((r.id("report_id")?, r.blob("aggregation_parameter")?))
}
