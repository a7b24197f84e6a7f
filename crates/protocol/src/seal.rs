//! Sealing aggregate shares to the Collector (DAP-09 section 4.6.4,
//! "Aggregate Share Encryption"): each Aggregator encrypts its aggregate
//! share to the task's Collector HPKE configuration, bound by the
//! `AggregateShareAad` to the task, the aggregation parameter and the
//! batch selector. Only the Collector holds the private key; the
//! aggregators only ever seal.
//!
//! # Where is
//!
//! | rule | DAP-09 | function |
//! |---|---|---|
//! | the AAD: task ID, aggregation parameter, batch selector | 4.6.4 | [`aggregate_share_aad`] |
//! | the Helper seals with the `AggregateShareReq`'s batch selector | 4.6.2, 4.6.4 | [`seal_helper_aggregate_share`] |
//! | the Leader seals with the batch selector of the Collector's query | 4.6.1, 4.6.4 | [`seal_leader_aggregate_share`] |
//!
//! The HPKE `info` string (which names the sender's role) is
//! `dyad_core::hpke`'s.

use crate::batch::QueriedBatch;
use crate::error::ProtocolError;
use dyad_core::hpke::seal_aggregate_share;
use dyad_core::task::Task;
use dyad_messages::draft09::{AggregateShareAad, BatchSelector, HpkeCiphertext, Role};

/// The `AggregateShareAad` of an aggregate share (DAP-09 section 4.6.4).
pub fn aggregate_share_aad(
    task: &Task,
    batch_selector: BatchSelector,
    agg_param: &[u8],
) -> AggregateShareAad {
    AggregateShareAad::new(*task.task_id(), agg_param.to_vec(), batch_selector)
}

/// The Helper's encoded aggregate share sealed to the Collector (DAP-09
/// section 4.6.4), under the batch selector of the Leader's
/// `AggregateShareReq`.
pub fn seal_helper_aggregate_share(
    task: &Task,
    batch_selector: BatchSelector,
    agg_param: &[u8],
    aggregate_share: &[u8],
) -> Result<HpkeCiphertext, ProtocolError> {
    seal(
        task,
        Role::Helper,
        batch_selector,
        agg_param,
        aggregate_share,
    )
}

/// The Leader's encoded aggregate share sealed to the Collector (DAP-09
/// section 4.6.4), with the batch selector computed from the Collector's
/// query.
pub fn seal_leader_aggregate_share(
    task: &Task,
    batch: &QueriedBatch,
    agg_param: &[u8],
    aggregate_share: &[u8],
) -> Result<HpkeCiphertext, ProtocolError> {
    seal(
        task,
        Role::Leader,
        batch.batch_selector(),
        agg_param,
        aggregate_share,
    )
}

fn seal(
    task: &Task,
    role: Role,
    batch_selector: BatchSelector,
    agg_param: &[u8],
    aggregate_share: &[u8],
) -> Result<HpkeCiphertext, ProtocolError> {
    let aad = aggregate_share_aad(task, batch_selector, agg_param);
    seal_aggregate_share(task.collector_hpke_config(), role, &aad, aggregate_share)
        .map_err(|e| ProtocolError::internal(format!("sealing aggregate share: {e}")))
}
