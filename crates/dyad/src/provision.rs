//! Provisioning a new task for a dyad: the Leader's and the Helper's views of
//! the same task (DAP-09 section 4.2: both share the task ID, VDAF, verify
//! key, query configuration and the Leader→Helper token), and what the
//! Collector needs (its token and HPKE keypair). Used by `dyad task add
//! --generate` and by the quickstart.

use anyhow::Context as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use dyad_core::hpke::HpkeKeypair;
use dyad_core::task::{AuthenticationToken, AuthenticationTokenType, BatchMode, Task, VerifyKey};
use dyad_core::vdaf::VdafInstance;
use dyad_messages::draft09::{Duration, HpkeConfigId, Role, TaskId, Time};
use dyad_messages::Encode;
use serde::{Deserialize, Serialize};
use url::Url;

/// The parameters an operator chooses; everything secret is generated.
#[derive(Debug, Clone)]
pub struct TaskParameters {
    pub leader: Url,
    pub helper: Url,
    pub vdaf: VdafInstance,
    pub batch_mode: BatchMode,
    pub min_batch_size: u64,
    pub time_precision: Duration,
    pub max_batch_query_count: u64,
    pub task_expiration: Option<Time>,
    pub report_expiry_age: Option<Duration>,
    pub tolerable_clock_skew: Option<Duration>,
}

/// A freshly provisioned task, as each party sees it.
pub struct ProvisionedTask {
    pub leader_task: Task,
    pub helper_task: Task,
    pub collector: CollectorCredentials,
}

/// What the Collector needs to collect the task's results. Secret: it holds
/// the Collector's token and private key.
#[derive(Clone, Serialize, Deserialize)]
pub struct CollectorCredentials {
    pub task_id: TaskId,
    pub leader: Url,
    pub helper: Url,
    pub vdaf: VdafInstance,
    pub batch_mode: BatchMode,
    pub time_precision: Duration,
    /// Sent as `Authorization: Bearer` to the Leader.
    pub collector_bearer_token: String,
    /// The Collector's encoded HpkeConfig, base64url.
    pub hpke_config: String,
    /// The Collector's HPKE private key, base64url.
    pub hpke_private_key: String,
}

impl std::fmt::Debug for CollectorCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CollectorCredentials")
            .field("task_id", &self.task_id)
            .field("leader", &self.leader.as_str())
            .field("vdaf", &self.vdaf)
            .finish_non_exhaustive()
    }
}

impl CollectorCredentials {
    pub fn keypair(&self) -> anyhow::Result<HpkeKeypair> {
        crate::commands::args::CollectorKeyArgs {
            hpke_config: self.hpke_config.clone(),
            hpke_private_key: self.hpke_private_key.clone(),
        }
        .keypair()
    }

    pub fn token(&self) -> anyhow::Result<AuthenticationToken> {
        AuthenticationToken::new_bearer(self.collector_bearer_token.clone())
            .context("collector token")
    }
}

/// Generates a task ID, verify key, tokens and HPKE keys, and builds both
/// aggregators' tasks and the Collector's credentials.
pub fn provision(params: &TaskParameters) -> anyhow::Result<ProvisionedTask> {
    let task_id = TaskId::random();
    let verify_key = VerifyKey::random(params.vdaf.verify_key_length());
    let aggregator_token = AuthenticationToken::random(AuthenticationTokenType::DapAuth);
    let collector_token = AuthenticationToken::random(AuthenticationTokenType::Bearer);
    let collector_keypair = HpkeKeypair::generate_default(HpkeConfigId(1));

    let base = |role: Role, key_id: u8| {
        let mut builder = Task::builder()
            .task_id(task_id)
            .role(role)
            .leader_aggregator_endpoint(params.leader.clone())
            .helper_aggregator_endpoint(params.helper.clone())
            .vdaf(params.vdaf)
            .vdaf_verify_key(verify_key.clone())
            .batch_mode(params.batch_mode)
            .min_batch_size(params.min_batch_size)
            .time_precision(params.time_precision)
            .max_batch_query_count(params.max_batch_query_count)
            .task_expiration(params.task_expiration)
            .report_expiry_age(params.report_expiry_age)
            .collector_hpke_config(collector_keypair.config().clone())
            .aggregator_auth_token(aggregator_token.clone())
            .hpke_keys(vec![HpkeKeypair::generate_default(HpkeConfigId(key_id))]);
        if let Some(skew) = params.tolerable_clock_skew {
            builder = builder.tolerable_clock_skew(skew);
        }
        builder
    };
    let leader_task = base(Role::Leader, 1)
        .collector_auth_token(collector_token.clone())
        .build()
        .context("building the Leader's task")?;
    let helper_task = base(Role::Helper, 2)
        .aggregator_auth_token(aggregator_token.hash())
        .build()
        .context("building the Helper's task")?;
    let collector = CollectorCredentials {
        task_id,
        leader: params.leader.clone(),
        helper: params.helper.clone(),
        vdaf: params.vdaf,
        batch_mode: params.batch_mode,
        time_precision: params.time_precision,
        collector_bearer_token: collector_token.as_str().to_owned(),
        hpke_config: URL_SAFE_NO_PAD.encode(collector_keypair.config().get_encoded()?),
        hpke_private_key: URL_SAFE_NO_PAD.encode(collector_keypair.private_key().as_bytes()),
    };
    Ok(ProvisionedTask {
        leader_task,
        helper_task,
        collector,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> TaskParameters {
        TaskParameters {
            leader: "http://127.0.0.1:1/".parse().unwrap(),
            helper: "http://127.0.0.1:2/".parse().unwrap(),
            vdaf: VdafInstance::Prio3Count,
            batch_mode: BatchMode::TimeInterval,
            min_batch_size: 10,
            time_precision: Duration::from_seconds(3600),
            max_batch_query_count: 1,
            task_expiration: None,
            report_expiry_age: None,
            tolerable_clock_skew: None,
        }
    }

    #[test]
    fn both_views_share_the_task_and_the_helper_keeps_only_a_token_hash() {
        let p = provision(&params()).unwrap();
        assert_eq!(p.leader_task.task_id(), p.helper_task.task_id());
        assert_eq!(
            p.leader_task.vdaf_verify_key(),
            p.helper_task.vdaf_verify_key()
        );
        assert!(p.helper_task.aggregator_auth_token().token().is_none());
        let sent = p.leader_task.aggregator_auth_token().token().unwrap();
        assert!(p.helper_task.aggregator_auth_token().validate(sent));
        assert!(p.helper_task.collector_auth_token().is_none());
        assert_eq!(
            p.collector.keypair().unwrap().config(),
            p.leader_task.collector_hpke_config()
        );
    }

    #[test]
    fn tasks_survive_a_yaml_round_trip() {
        let p = provision(&params()).unwrap();
        let yaml = serde_yaml::to_string(&p.helper_task).unwrap();
        let back: Task = serde_yaml::from_str(&yaml).unwrap();
        assert_eq!(back, p.helper_task);
    }
}
