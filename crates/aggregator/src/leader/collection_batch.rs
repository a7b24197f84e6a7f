//! The batch of a collection job, on the Leader (DAP-09 sections 4.6.1,
//! 4.6.2 and 4.6.5): whether it is ready, whether it is valid, the Leader's
//! aggregate share of it, and the finished job's contents.
//!
//! [`check_and_record`] is one read-write transaction that decides readiness,
//! validates, and records the batch as collected; the rest is computation.

use super::batch_aggregation::merge_batch;
use super::job_creator::eager_aggregation_parameter;
use crate::batch_facts::StoredBatchFacts;
use crate::vdaf_ops::add_task_noise;
use dyad_core::task::Task;
use dyad_core::vdaf_dispatch;
use dyad_datastore::models::{
    BatchAggregation, BatchIdentifier, CollectionJob, CollectionJobState,
};
use dyad_datastore::{Datastore, DatastoreExt, Lease, TxError};
use dyad_messages::draft09::{AggregateShare, AggregateShareReq};
use dyad_protocol::accumulate::AccumulatedBatch;
use dyad_protocol::batch::{self as protocol_batch, validate_batch};
use dyad_protocol::collection::build_aggregate_share_req;
use dyad_protocol::seal::seal_leader_aggregate_share;
use dyad_protocol::ProtocolError;

/// What [`check_and_record`] found.
pub(crate) enum Readiness {
    /// The job or its task is gone, or the job is no longer waiting.
    Gone,
    /// Not yet: why.
    NotReady(&'static str),
    /// The batch fails validation: the job fails with this problem.
    Invalid(ProtocolError),
    /// Ready, validated and recorded as collected.
    Ready(Box<ReadyBatch>),
}

/// A batch ready to be collected.
pub(crate) struct ReadyBatch {
    pub task: Task,
    pub job: CollectionJob,
    /// Every job's contribution to the batch.
    pub rows: Vec<BatchAggregation>,
}

/// The protocol crate's name for a stored batch identifier.
fn protocol_identifier(batch: &BatchIdentifier) -> protocol_batch::QueriedBatch {
    protocol_batch::QueriedBatch::from(batch.to_batch_selector())
}

/// Readiness, validation and the collected-batch record, in one transaction
/// that checks the lease (see [`super::collection_driver`]).
pub(crate) async fn check_and_record(
    ds: &dyn Datastore,
    lease: &Lease<CollectionJob>,
) -> Result<Readiness, TxError> {
    let task_id = lease.leased.task_id;
    let job_id = lease.leased.collection_job_id;
    let token = lease.token;
    ds.run_tx("collection_job_prepare", move |tx| {
        Box::pin(async move {
            let Some(task) = tx.get_task(&task_id).await? else {
                return Ok(Readiness::Gone);
            };
            let Some(job) = tx.get_collection_job(&task_id, &job_id).await? else {
                return Ok(Readiness::Gone);
            };
            if job.state != CollectionJobState::Start {
                return Ok(Readiness::Gone);
            }
            let batch = job.batch_identifier;
            let parameter = job.aggregation_parameter.clone();
            if tx
                .count_unfinished_aggregation_jobs_for_batch(&task_id, &batch, &parameter)
                .await?
                > 0
            {
                return Ok(Readiness::NotReady(
                    "aggregation jobs of the batch are running",
                ));
            }
            // Reports not yet in a job are waited for only if the job
            // creator will aggregate them with this parameter: as they
            // arrive (Prio3), or for this collection (a parameter the
            // Collector chooses, `param_jobs`).
            if let BatchIdentifier::TimeInterval(interval) = batch {
                let waiting = match eager_aggregation_parameter(&task) {
                    Some(eager) if eager == parameter => {
                        tx.count_unaggregated_client_reports(&task_id, Some(interval))
                            .await?
                    }
                    Some(_) => 0,
                    None => {
                        tx.count_client_reports_not_aggregated_with(&task_id, interval, &parameter)
                            .await?
                    }
                };
                if waiting > 0 {
                    return Ok(Readiness::NotReady(
                        "reports of the batch wait for aggregation",
                    ));
                }
            }
            let rows = tx
                .get_batch_aggregations_for_batch(&task_id, &batch, &parameter)
                .await?;
            let report_count = rows
                .iter()
                .fold(0u64, |sum, row| sum.saturating_add(row.report_count));
            if report_count < task.min_batch_size() {
                return Ok(Readiness::NotReady("fewer reports than min_batch_size"));
            }

            let stored = StoredBatchFacts::read(tx, &task_id, &batch).await?;
            let facts = stored.with_report_count(report_count);
            if let Err(problem) =
                validate_batch(&task, &protocol_identifier(&batch), &parameter, &facts)
            {
                return Ok(Readiness::Invalid(problem));
            }
            tx.put_collected_batch(&task_id, &batch, &parameter).await?;
            // Unchanged, but proves the lease is still held.
            tx.update_collection_job(&job, Some(&token)).await?;
            Ok(Readiness::Ready(Box::new(ReadyBatch { task, job, rows })))
        })
    })
    .await
}

/// The Leader's aggregate of the batch, with the task's
/// differential-privacy noise (CPU work). Only the finished job stores it:
/// an attempt that fails before that released nothing, and a finished job
/// is never driven again, so one noisy share is ever sealed per job.
pub(crate) fn leader_share(ready: &ReadyBatch) -> Result<AccumulatedBatch, ProtocolError> {
    let mut share = vdaf_dispatch!(ready.task.vdaf(), |vdaf, V, VERIFY_KEY_LEN| {
        merge_batch::<V, VERIFY_KEY_LEN>(&vdaf, &ready.job.aggregation_parameter, &ready.rows)
    })?;
    add_task_noise(&ready.task, &mut share)?;
    Ok(share)
}

/// The `AggregateShareReq` for the batch (DAP-09 section 4.6.2).
pub(crate) fn aggregate_share_req(
    ready: &ReadyBatch,
    leader: &AccumulatedBatch,
) -> AggregateShareReq {
    build_aggregate_share_req(
        &protocol_identifier(&ready.job.batch_identifier),
        &ready.job.aggregation_parameter,
        leader.report_count,
        leader.checksum,
    )
}

/// The finished job: counts, interval and both sealed shares.
pub(crate) fn finished_state(
    ready: &ReadyBatch,
    leader: &AccumulatedBatch,
    helper: AggregateShare,
) -> Result<CollectionJobState, ProtocolError> {
    let leader_encrypted_agg_share = seal_leader_aggregate_share(
        &ready.task,
        &protocol_identifier(&ready.job.batch_identifier),
        &ready.job.aggregation_parameter,
        &leader.aggregate_share,
    )?;
    Ok(CollectionJobState::Finished {
        report_count: leader.report_count,
        interval: leader.span.aligned_interval(ready.task.time_precision())?,
        leader_encrypted_agg_share,
        helper_encrypted_agg_share: helper.encrypted_aggregate_share,
    })
}
