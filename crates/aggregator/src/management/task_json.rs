//! A stored task in the aggregator API's task form (`GET /tasks/{id}`):
//! [`TaskResponse`], with the API's spellings of the VDAF ([`vdaf_json`])
//! and of the batch mode ([`query_type_json`]). Secrets other than the VDAF
//! verify key are never in it: `aggregator_auth_token` is always `null`
//! here (only the response creating a Helper task carries the token).

use super::error::{ManagementError, ManagementResult};
use super::models::{AuthTokenJson, HpkeConfigJson};
use base64::Engine as _;
use dyad_core::task::{BatchMode, Task};
use dyad_core::vdaf::{DpStrategy, FixedPointBitSize, VdafInstance};
use dyad_messages::draft09::{HpkeConfig, Role, TaskId};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The task form. Times and durations are seconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskResponse {
    pub task_id: TaskId,
    pub peer_aggregator_endpoint: url::Url,
    pub query_type: Value,
    pub vdaf: Value,
    /// `"Leader"` or `"Helper"`: this aggregator's role in the task.
    pub role: String,
    /// Unpadded base64url.
    pub vdaf_verify_key: String,
    pub max_batch_query_count: u64,
    pub task_expiration: Option<u64>,
    pub report_expiry_age: Option<u64>,
    pub min_batch_size: u64,
    pub time_precision: u64,
    pub tolerable_clock_skew: u64,
    /// A new Helper task's token, in the response creating it only.
    pub aggregator_auth_token: Option<AuthTokenJson>,
    pub collector_hpke_config: HpkeConfigJson,
    /// The task's own HPKE configurations, by ID (empty for a task that
    /// uses the global keys).
    pub aggregator_hpke_configs: Vec<HpkeConfigJson>,
}

impl TaskResponse {
    /// The form of a stored task.
    pub fn from_task(task: &Task) -> ManagementResult<Self> {
        let role = match task.role() {
            Role::Leader => "Leader",
            Role::Helper => "Helper",
            other => {
                return Err(ManagementError::internal(format!(
                    "task {} has role {other:?}",
                    task.task_id()
                )))
            }
        };
        let mut aggregator_hpke_configs = task
            .hpke_keys()
            .iter()
            .map(|keypair| config_json(keypair.config()))
            .collect::<ManagementResult<Vec<_>>>()?;
        aggregator_hpke_configs.sort_by_key(|config| config.id);
        Ok(Self {
            task_id: *task.task_id(),
            peer_aggregator_endpoint: task.peer_aggregator_endpoint().clone(),
            query_type: query_type_json(task.batch_mode()),
            vdaf: vdaf_with_dp_json(task.vdaf(), task.dp_strategy()),
            role: role.to_owned(),
            vdaf_verify_key: base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(task.vdaf_verify_key().as_bytes()),
            max_batch_query_count: task.max_batch_query_count(),
            task_expiration: task.task_expiration().map(|t| t.as_seconds_since_epoch()),
            report_expiry_age: task.report_expiry_age().map(|d| d.as_seconds()),
            min_batch_size: task.min_batch_size(),
            time_precision: task.time_precision().as_seconds(),
            tolerable_clock_skew: task.tolerable_clock_skew().as_seconds(),
            aggregator_auth_token: None,
            collector_hpke_config: config_json(task.collector_hpke_config())?,
            aggregator_hpke_configs,
        })
    }
}

fn config_json(config: &HpkeConfig) -> ManagementResult<HpkeConfigJson> {
    HpkeConfigJson::from_config(config).ok_or_else(|| {
        ManagementError::internal(format!(
            "HPKE config {} uses an algorithm the API cannot name",
            config.id.0
        ))
    })
}

/// The API's `QueryType`: `"TimeInterval"`, or `{"FixedSize":
/// {"max_batch_size", "batch_time_window_size"}}` (dyad has no time
/// window: always `null`; `max_batch_size` is `null` when the task has
/// none, which that API cannot express).
pub fn query_type_json(mode: &BatchMode) -> Value {
    match mode {
        BatchMode::TimeInterval => json!("TimeInterval"),
        BatchMode::FixedSize { max_batch_size } => json!({
            "FixedSize": {
                "max_batch_size": max_batch_size,
                "batch_time_window_size": null,
            }
        }),
    }
}

/// [`vdaf_with_dp_json`] for a VDAF without noise.
pub fn vdaf_json(vdaf: &VdafInstance) -> Value {
    vdaf_with_dp_json(vdaf, &DpStrategy::NoDifferentialPrivacy)
}

/// The API's `VdafInstance`: unit VDAFs as a bare name, the others as
/// `{"Name": {parameters}}`; the vector VDAFs with `dp_strategy`, always
/// written (`{"dp_strategy": "NoDifferentialPrivacy"}` for none).
pub fn vdaf_with_dp_json(vdaf: &VdafInstance, dp_strategy: &DpStrategy) -> Value {
    let no_dp = serde_json::to_value(dp_strategy)
        .unwrap_or_else(|_| json!({"dp_strategy": "NoDifferentialPrivacy"}));
    match vdaf {
        VdafInstance::Prio3Count => json!("Prio3Count"),
        VdafInstance::Prio3Sum { bits } => json!({"Prio3Sum": {"bits": bits}}),
        VdafInstance::Prio3SumVec {
            bits,
            length,
            chunk_length,
        } => json!({"Prio3SumVec": {
            "bits": bits, "length": length, "chunk_length": chunk_length, "dp_strategy": no_dp,
        }}),
        VdafInstance::Prio3Histogram {
            length,
            chunk_length,
        } => json!({"Prio3Histogram": {
            "length": length, "chunk_length": chunk_length, "dp_strategy": no_dp,
        }}),
        VdafInstance::Prio3SumVecField64MultiproofHmacSha256Aes128 {
            proofs,
            bits,
            length,
            chunk_length,
        } => json!({"Prio3SumVecField64MultiproofHmacSha256Aes128": {
            "proofs": proofs, "bits": bits, "length": length, "chunk_length": chunk_length,
            "dp_strategy": no_dp,
        }}),
        VdafInstance::Prio3FixedPointBoundedL2VecSum { bitsize, length } => {
            let bitsize = match bitsize {
                FixedPointBitSize::BitSize16 => "BitSize16",
                FixedPointBitSize::BitSize32 => "BitSize32",
                FixedPointBitSize::BitSize64 => "BitSize64",
            };
            json!({"Prio3FixedPointBoundedL2VecSum": {
                "bitsize": bitsize, "dp_strategy": no_dp, "length": length,
            }})
        }
        VdafInstance::Poplar1 { bits } => json!({"Poplar1": {"bits": bits}}),
    }
}
