//! [`Task`]: one DAP task as an aggregator runs it. It holds every task
//! parameter of DAP-09 section 4.2 (endpoints, query configuration,
//! `max_batch_query_count`, `task_expiration`, VDAF, `collector_hpke_config`,
//! `vdaf_verify_key`), the common query parameters of section 4.1
//! (`min_batch_size`, `time_precision`), and what an aggregator needs besides:
//! its role, its authentication tokens, its own HPKE keypairs, how long it
//! keeps reports and how much clock skew it tolerates.
//!
//! A `Task` is always valid: it is made only by
//! [`TaskBuilder::build`](super::TaskBuilder::build) or by deserialization,
//! which runs the same checks. Secrets (verify key, tokens,
//! private keys) are redacted in `Debug` and serialized as base64url.
//!
//! # Where is
//!
//! - the other aggregator's endpoint -> [`Task::peer_aggregator_endpoint`];
//! - `task_expiration` -> [`Task::is_expired_at`];
//! - the keypair a ciphertext's configuration ID names ->
//!   [`Task::hpke_keypair`];
//! - the differential-privacy noise the aggregators add ->
//!   [`Task::dp_strategy`];
//! - the `TaskConfig` of a task provisioned by taskprov ->
//!   [`Task::taskprov_config`].

use super::auth::StoredAuthenticationToken;
use super::batch_mode::BatchMode;
use super::secret::VerifyKey;
use crate::hpke::HpkeKeypair;
use crate::vdaf::{DpStrategy, VdafInstance};
use dyad_messages::draft09::{Duration, HpkeConfig, HpkeConfigId, Role, TaskId, Time};
use serde::Serialize;
use url::Url;

/// A DAP task, as the Leader or the Helper runs it.
///
/// Built with [`Task::builder`]; deserializing goes through the builder too
/// (both in `builder.rs`, so this module does not depend on its builder).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Task {
    pub(super) task_id: TaskId,
    pub(super) role: Role,
    pub(super) leader_aggregator_endpoint: Url,
    pub(super) helper_aggregator_endpoint: Url,
    pub(super) vdaf: VdafInstance,
    /// Written only when the task adds noise, so a task without reads and
    /// writes as before the field existed.
    #[serde(default, skip_serializing_if = "DpStrategy::is_none")]
    pub(super) dp_strategy: DpStrategy,
    pub(super) vdaf_verify_key: VerifyKey,
    pub(super) batch_mode: BatchMode,
    pub(super) min_batch_size: u64,
    pub(super) time_precision: Duration,
    pub(super) max_batch_query_count: u64,
    pub(super) task_expiration: Option<Time>,
    pub(super) report_expiry_age: Option<Duration>,
    pub(super) tolerable_clock_skew: Duration,
    pub(super) collector_hpke_config: HpkeConfig,
    pub(super) aggregator_auth_token: StoredAuthenticationToken,
    pub(super) collector_auth_token: Option<StoredAuthenticationToken>,
    pub(super) hpke_keys: Vec<HpkeKeypair>,
    /// The encoded `TaskConfig` of a task provisioned by taskprov
    /// (draft-wang-ppm-dap-taskprov-06 section 3); its SHA-256 is the task ID.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_taskprov_config"
    )]
    pub(super) taskprov_config: Option<Vec<u8>>,
}

fn serialize_taskprov_config<S: serde::Serializer>(
    bytes: &Option<Vec<u8>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    use base64::Engine as _;
    match bytes {
        Some(bytes) => s.serialize_some(&super::secret::BASE64URL.encode(bytes)),
        None => s.serialize_none(),
    }
}

impl Task {
    /// The task ID (DAP-09 section 4.2).
    pub fn task_id(&self) -> &TaskId {
        &self.task_id
    }

    /// This aggregator's role: [`Role::Leader`] or [`Role::Helper`].
    pub fn role(&self) -> Role {
        self.role
    }

    /// Whether this aggregator is the task's Leader.
    pub fn is_leader(&self) -> bool {
        self.role == Role::Leader
    }

    /// `leader_aggregator_endpoint`: the base URL of the Leader's API
    /// (always ending in `/`, so resource paths join onto it).
    pub fn leader_aggregator_endpoint(&self) -> &Url {
        &self.leader_aggregator_endpoint
    }

    /// `helper_aggregator_endpoint`: the base URL of the Helper's API
    /// (always ending in `/`).
    pub fn helper_aggregator_endpoint(&self) -> &Url {
        &self.helper_aggregator_endpoint
    }

    /// The other aggregator's endpoint: the Helper's for the Leader, and the
    /// Leader's for the Helper.
    pub fn peer_aggregator_endpoint(&self) -> &Url {
        match self.role {
            Role::Leader => &self.helper_aggregator_endpoint,
            _ => &self.leader_aggregator_endpoint,
        }
    }

    /// The task's VDAF.
    pub fn vdaf(&self) -> &VdafInstance {
        &self.vdaf
    }

    /// The differential-privacy strategy: the noise each aggregator adds
    /// to its aggregate share (one the VDAF supports).
    pub fn dp_strategy(&self) -> &DpStrategy {
        &self.dp_strategy
    }

    /// `vdaf_verify_key`, of the VDAF's verify key length.
    pub fn vdaf_verify_key(&self) -> &VerifyKey {
        &self.vdaf_verify_key
    }

    /// The query configuration (DAP-09 section 4.1).
    pub fn batch_mode(&self) -> &BatchMode {
        &self.batch_mode
    }

    /// `min_batch_size`: the fewest reports a batch may hold (at least 1).
    pub fn min_batch_size(&self) -> u64 {
        self.min_batch_size
    }

    /// `max_batch_size`, for a fixed-size task that has one.
    pub fn max_batch_size(&self) -> Option<u64> {
        self.batch_mode.max_batch_size()
    }

    /// `time_precision`: clients round report timestamps down to a multiple
    /// of it; time-interval batches are aligned to it (positive).
    pub fn time_precision(&self) -> Duration {
        self.time_precision
    }

    /// `max_batch_query_count`: how many times a batch may be collected (at least 1).
    pub fn max_batch_query_count(&self) -> u64 {
        self.max_batch_query_count
    }

    /// `task_expiration`: the time after which clients are no longer expected
    /// to upload, if any.
    pub fn task_expiration(&self) -> Option<Time> {
        self.task_expiration
    }

    /// How long after its timestamp a report may be deleted, if reports
    /// expire at all.
    pub fn report_expiry_age(&self) -> Option<Duration> {
        self.report_expiry_age
    }

    /// How far in the future a report's timestamp may be before it is
    /// rejected (DAP-09 section 4.4.2 suggests "a few minutes").
    pub fn tolerable_clock_skew(&self) -> Duration {
        self.tolerable_clock_skew
    }

    /// `collector_hpke_config`: the key aggregate shares are sealed to.
    pub fn collector_hpke_config(&self) -> &HpkeConfig {
        &self.collector_hpke_config
    }

    /// The token the Leader presents to the Helper: the token itself on the
    /// Leader, the token or its hash on the Helper.
    pub fn aggregator_auth_token(&self) -> &StoredAuthenticationToken {
        &self.aggregator_auth_token
    }

    /// The token the Collector presents to the Leader (the Leader only).
    pub fn collector_auth_token(&self) -> Option<&StoredAuthenticationToken> {
        self.collector_auth_token.as_ref()
    }

    /// This aggregator's HPKE keypairs for the task, in order of preference;
    /// empty if the aggregator uses only its global keys.
    pub fn hpke_keys(&self) -> &[HpkeKeypair] {
        &self.hpke_keys
    }

    /// The task's keypair with the given configuration ID.
    pub fn hpke_keypair(&self, id: HpkeConfigId) -> Option<&HpkeKeypair> {
        self.hpke_keys.iter().find(|keypair| keypair.id() == id)
    }

    /// The encoded `TaskConfig` this task was provisioned from by taskprov
    /// (draft-wang-ppm-dap-taskprov-06), if it was: the bytes whose SHA-256
    /// is the task ID, sent again in the `dap-taskprov` header of every
    /// request about the task and compared with any later one.
    pub fn taskprov_config(&self) -> Option<&[u8]> {
        self.taskprov_config.as_deref()
    }

    /// Whether `now` is past the task's expiration.
    pub fn is_expired_at(&self, now: Time) -> bool {
        self.task_expiration
            .is_some_and(|expiration| now > expiration)
    }
}
