//! [`task_from_config`]: an advertised `TaskConfig` and the configured peer
//! made into the [`Task`] this aggregator runs, or the reason it opts out
//! ([`OptOut`], answered `invalidTask`).
//!
//! Mapping (draft-wang-ppm-dap-taskprov-06 section 3): the endpoints, query
//! configuration, `task_expiration` and VDAF come from the `TaskConfig`;
//! `fixed_size` with `max_batch_size` 0 is a fixed-size task without a
//! maximum; the DP mechanism must be `none` (the draft defines no other, so
//! a taskprov task runs without differential privacy); the verification
//! key is derived from the peer's `verify_key_init`; the Collector's HPKE
//! configuration, report expiry, clock skew and tokens come from the peer.
//! The task keeps no HPKE keypair of its own: its reports are sealed to
//! the aggregator's global keys ("Supporting HPKE Configurations
//! Independent of Tasks").
//!
//! # Where is
//!
//! - "A protocol participant MUST opt out ... if it does not support an
//!   indicated task parameter (e.g., VDAF, DP mechanism, or query type)" ->
//!   [`task_from_config`] ([`OptOut::UnsupportedVdaf`],
//!   [`OptOut::UnsupportedDp`], [`OptOut::UnsupportedQuery`]).

use super::derive::derive_verify_key;
use super::peer::PeerAggregator;
use crate::task::{BatchMode, Task, TaskError};
use crate::vdaf::VdafInstance;
use dyad_messages::draft09::{Role, TaskId};
use dyad_messages::taskprov::{DpMechanism, QueryTypeConfig, TaskConfig, VdafType};
use url::Url;

/// Why this aggregator opts out of an advertised task.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptOut {
    /// A VDAF this aggregator does not run.
    #[error("unsupported VDAF type {0:#010x}")]
    UnsupportedVdaf(u32),
    /// A DP mechanism other than `none`.
    #[error("unsupported differential privacy mechanism {0}")]
    UnsupportedDp(u8),
    /// A query type other than `time_interval` and `fixed_size`.
    #[error("unsupported query type {0}")]
    UnsupportedQuery(u8),
    /// A VDAF whose aggregation parameter the Collector chooses (Poplar1)
    /// in a `fixed_size` task: dyad aggregates such reports per
    /// time-interval batch once a collection names the parameter, and a
    /// fixed-size batch would be formed before.
    #[error("{0} tasks need the time_interval query type")]
    NeedsTimeInterval(&'static str),
    /// An endpoint that is not a URL.
    #[error("{0} is not an absolute URL")]
    BadEndpoint(&'static str),
    /// The peer is not the other aggregator the `TaskConfig` names in the
    /// peer's role.
    #[error("the peer aggregator is not the task's {0}")]
    WrongPeer(Role),
    /// The parameters do not make a valid task (e.g. a VDAF parameter out
    /// of range, `max_batch_size` below `min_batch_size`).
    #[error("invalid task: {0}")]
    Invalid(#[from] TaskError),
}

/// The task this aggregator runs for `config` (encoded as `config_bytes`,
/// whose SHA-256 is `task_id`) with `peer`, in the role the peer leaves to
/// it; or why it opts out. Expiry and the operator's policy are the
/// caller's.
pub fn task_from_config(
    config: &TaskConfig,
    config_bytes: &[u8],
    task_id: TaskId,
    peer: &PeerAggregator,
) -> Result<Task, OptOut> {
    let leader = endpoint(
        config.leader_aggregator_endpoint.as_str(),
        "leader_aggregator_endpoint",
    )?;
    let helper = endpoint(
        config.helper_aggregator_endpoint.as_str(),
        "helper_aggregator_endpoint",
    )?;
    if !peer.serves(leader.as_str(), helper.as_str()) {
        return Err(OptOut::WrongPeer(peer.role()));
    }
    let vdaf = vdaf_of(&config.vdaf_config.vdaf_type)?;
    if let DpMechanism::Other { code, .. } = config.vdaf_config.dp_config.dp_mechanism {
        return Err(OptOut::UnsupportedDp(code));
    }
    let query = &config.query_config;
    let batch_mode = match &query.query {
        QueryTypeConfig::TimeInterval => BatchMode::TimeInterval,
        QueryTypeConfig::FixedSize { .. } => BatchMode::FixedSize {
            max_batch_size: query.query.max_batch_size().map(u64::from),
        },
        QueryTypeConfig::Other { code, .. } => return Err(OptOut::UnsupportedQuery(*code)),
    };
    if vdaf.fixed_aggregation_parameter().is_none() && batch_mode != BatchMode::TimeInterval {
        return Err(OptOut::NeedsTimeInterval(vdaf.type_name()));
    }
    let role = peer.our_role();
    let verify_key = derive_verify_key(peer.verify_key_init(), &task_id, vdaf.verify_key_length());
    let mut builder = Task::builder()
        .task_id(task_id)
        .role(role)
        .leader_aggregator_endpoint(leader)
        .helper_aggregator_endpoint(helper)
        .vdaf(vdaf)
        .vdaf_verify_key(verify_key)
        .batch_mode(batch_mode)
        .min_batch_size(query.min_batch_size.into())
        .time_precision(query.time_precision)
        .max_batch_query_count(query.max_batch_query_count.into())
        .task_expiration(Some(config.task_expiration))
        .report_expiry_age(peer.report_expiry_age())
        .tolerable_clock_skew(peer.tolerable_clock_skew())
        .collector_hpke_config(peer.collector_hpke_config().clone())
        .aggregator_auth_token(peer.aggregator_auth_tokens()[0].clone())
        .taskprov_config(Some(config_bytes.to_vec()));
    if role == Role::Leader {
        if let Some(token) = peer.collector_auth_tokens().first() {
            builder = builder.collector_auth_token(token.clone());
        }
    }
    Ok(builder.build()?)
}

fn endpoint(text: &str, field: &'static str) -> Result<Url, OptOut> {
    Url::parse(text).map_err(|_| OptOut::BadEndpoint(field))
}

/// The VDAF a `VdafType` names (codepoints of VDAF-08).
fn vdaf_of(vdaf: &VdafType) -> Result<VdafInstance, OptOut> {
    crate::task_config::catalogue_vdaf(vdaf).ok_or(OptOut::UnsupportedVdaf(vdaf.code()))
}

#[cfg(test)]
#[path = "convert_tests.rs"]
mod tests;
