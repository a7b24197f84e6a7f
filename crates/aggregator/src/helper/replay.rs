//! The Helper's anti-replay storage (DAP-09 section 4.5.1.4, "report
//! replayed", and its implementation note: "each Aggregator is required to
//! keep track of the set of reports it has processed for a given task").
//! The decision itself is [`dyad_protocol::replay::decide`]; this module
//! holds its two storage helpers:
//!
//! - [`lookup_seen`]: the parameters each report was aggregated with
//!   before, read before preparing ([`super::facts`]) and again, as the
//!   authority, in the transaction that stores the job ([`super::init`];
//!   for a single-parameter VDAF only for reports in collected batches,
//!   the insert below finding the other replays);
//! - [`record_seen`]: the final write, recording the accepted reports as
//!   aggregated with the job's parameter; a report a concurrent request
//!   recorded with the same parameter first is replayed.

use crate::http::problem::ApiError;
use dyad_core::vdaf::VdafInstance;
use dyad_datastore::models::SeenReport;
use dyad_datastore::{Transaction, TxError};
use dyad_messages::draft09::{ReportId, ReportMetadata, TaskId};
use std::collections::{HashMap, HashSet};

/// The encoded aggregation parameters each of `reports` was aggregated
/// with before that matter for `agg_param` under `vdaf`'s `is_valid`: those
/// that clash with it and one more, so a report aggregated before is
/// present with at least one parameter (which `collected_blocks` needs)
/// and a report never aggregated is absent. A Poplar1 report aggregated at
/// L levels thus costs one or two rows to check, not L
/// (`VdafInstance::agg_param_clash_prefix`).
pub async fn lookup_seen(
    tx: &mut dyn Transaction,
    task_id: &TaskId,
    vdaf: &VdafInstance,
    agg_param: &[u8],
    reports: &[ReportMetadata],
) -> Result<HashMap<ReportId, Vec<Vec<u8>>>, TxError> {
    let mut previous: HashMap<ReportId, Vec<Vec<u8>>> = HashMap::new();
    if reports.is_empty() {
        return Ok(previous);
    }
    let ids: Vec<ReportId> = reports.iter().map(|r| r.id).collect();
    for (report_id, param) in tx
        .get_helper_seen_aggregation_parameters(
            task_id,
            &ids,
            vdaf.agg_param_clash_prefix(agg_param),
        )
        .await?
    {
        previous.entry(report_id).or_default().push(param);
    }
    Ok(previous)
}

/// Records `reports` as aggregated with `agg_param` (the last step of the
/// replay rule, in the transaction that stores the job). Returns the IDs
/// that were already recorded with `agg_param`: a concurrent request won
/// the race for them, and a repeated parameter is never valid
/// (`dyad_protocol::replay::is_valid`), so they are `report_replayed`.
pub async fn record_seen(
    tx: &mut dyn Transaction,
    task_id: &TaskId,
    agg_param: &[u8],
    reports: &[ReportMetadata],
) -> Result<HashSet<ReportId>, TxError> {
    if reports.is_empty() {
        return Ok(HashSet::new());
    }
    let seen: Vec<SeenReport> = reports
        .iter()
        .map(|r| SeenReport {
            report_id: r.id,
            time: r.time,
        })
        .collect();
    let already = tx
        .put_helper_seen_reports(task_id, agg_param, &seen)
        .await?;
    if already.len() != seen.len() {
        return Err(TxError::abort(ApiError::internal(format!(
            "{} seen-report outcomes for {} reports",
            already.len(),
            seen.len()
        ))));
    }
    Ok(seen
        .iter()
        .zip(already)
        .filter(|(_, was_seen)| *was_seen)
        .map(|(s, _)| s.report_id)
        .collect())
}
