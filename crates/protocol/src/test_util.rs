//! Test fixtures: a Leader task and a Helper task that agree, their HPKE
//! keys and the Collector's, and Clients' reports made with the real VDAFs
//! and HPKE.

use crate::idempotency::RequestHash;
use dyad_core::hpke::{seal_input_share, HpkeKeypair};
use dyad_core::task::{AuthenticationToken, AuthenticationTokenType, BatchMode, Task, VerifyKey};
use dyad_core::vdaf::{shard_measurement, Measurement, VdafInstance};
use dyad_messages::draft09::{
    Duration, Extension, HpkeConfigId, InputShareAad, PlaintextInputShare, Report, ReportId,
    ReportMetadata, Role, TaskId, Time,
};
use dyad_messages::Encode;

/// The digest of `message`'s encoding, as the Helper's handler computes it
/// from the body it received ([`RequestHash::of_body`]).
pub fn hash_of<M: Encode>(message: &M) -> RequestHash {
    RequestHash::of_body(&message.get_encoded().expect("test messages encode"))
}

/// A time aligned to [`PRECISION`], standing for "now".
pub const NOW: Time = Time::from_seconds_since_epoch(1_700_000_000 - 1_700_000_000 % 3600);
pub const PRECISION: Duration = Duration::from_seconds(3600);

pub struct Fixture {
    pub instance: VdafInstance,
    pub leader_task: Task,
    pub helper_task: Task,
    pub leader_keys: Vec<HpkeKeypair>,
    pub helper_keys: Vec<HpkeKeypair>,
    pub collector: HpkeKeypair,
}

impl Fixture {
    pub fn new(instance: VdafInstance) -> Self {
        Self::with_mode(instance, BatchMode::TimeInterval, |b| b)
    }

    /// A fixture whose task builders pass through `adjust` (for both roles).
    pub fn with_mode(
        instance: VdafInstance,
        batch_mode: BatchMode,
        adjust: impl Fn(dyad_core::task::TaskBuilder) -> dyad_core::task::TaskBuilder,
    ) -> Self {
        let collector = HpkeKeypair::generate_default(HpkeConfigId(200));
        let leader_keys = vec![HpkeKeypair::generate_default(HpkeConfigId(1))];
        let helper_keys = vec![HpkeKeypair::generate_default(HpkeConfigId(2))];
        let token = AuthenticationToken::random(AuthenticationTokenType::DapAuth);
        let base = Task::builder()
            .task_id(TaskId::from_bytes([7; 32]))
            .leader_aggregator_endpoint("https://leader.example/".parse().unwrap())
            .helper_aggregator_endpoint("https://helper.example/".parse().unwrap())
            .vdaf(instance)
            .vdaf_verify_key(VerifyKey::random(instance.verify_key_length()))
            .batch_mode(batch_mode)
            .min_batch_size(1)
            .time_precision(PRECISION)
            .max_batch_query_count(1)
            .task_expiration(Some(Time::from_seconds_since_epoch(2_000_000_000)))
            .report_expiry_age(Some(Duration::from_seconds(7 * 86_400)))
            .tolerable_clock_skew(Duration::from_seconds(300))
            .collector_hpke_config(collector.config().clone());
        let base = adjust(base);
        let leader_task = base
            .clone()
            .role(Role::Leader)
            .aggregator_auth_token(token.clone())
            .collector_auth_token(AuthenticationToken::random(AuthenticationTokenType::Bearer))
            .hpke_keys(leader_keys.clone())
            .build()
            .unwrap();
        let helper_task = base
            .role(Role::Helper)
            .aggregator_auth_token(token.hash())
            .hpke_keys(helper_keys.clone())
            .build()
            .unwrap();
        Self {
            instance,
            leader_task,
            helper_task,
            leader_keys,
            helper_keys,
            collector,
        }
    }

    /// A Client's report of `measurement` at `time`.
    pub fn report(&self, measurement: &Measurement, time: Time) -> Report {
        self.report_with_extensions(measurement, time, vec![], vec![])
    }

    pub fn report_with_extensions(
        &self,
        measurement: &Measurement,
        time: Time,
        leader_extensions: Vec<Extension>,
        helper_extensions: Vec<Extension>,
    ) -> Report {
        let id = ReportId::random();
        let sharded = shard_measurement(&self.instance, measurement, id.as_bytes()).unwrap();
        let metadata = ReportMetadata::new(id, time);
        self.seal(
            metadata,
            sharded.public_share,
            PlaintextInputShare::new(leader_extensions, sharded.leader_input_share),
            PlaintextInputShare::new(helper_extensions, sharded.helper_input_share),
        )
    }

    /// A report with the given plaintexts, sealed properly.
    pub fn seal(
        &self,
        metadata: ReportMetadata,
        public_share: Vec<u8>,
        leader: PlaintextInputShare,
        helper: PlaintextInputShare,
    ) -> Report {
        let aad = InputShareAad::new(*self.leader_task.task_id(), metadata, public_share.clone());
        let leader_ct =
            seal_input_share(self.leader_keys[0].config(), Role::Leader, &aad, &leader).unwrap();
        let helper_ct =
            seal_input_share(self.helper_keys[0].config(), Role::Helper, &aad, &helper).unwrap();
        Report::new(metadata, public_share, leader_ct, helper_ct)
    }
}

/// Decodes `message`'s encoding: what crosses the wire.
pub fn wire<M: dyad_messages::Encode + dyad_messages::Decode>(message: &M) -> M {
    M::get_decoded(&message.get_encoded().unwrap()).unwrap()
}

/// The Leader's stored share of a report, as upload validation leaves it.
pub fn leader_share(fx: &Fixture, report: &Report) -> crate::leader_prepare::LeaderReportShare {
    let validated = crate::upload::validate_upload(
        &fx.leader_task,
        &fx.leader_keys,
        report,
        NOW,
        crate::upload::NO_EXTENSIONS,
    )
    .unwrap();
    crate::leader_prepare::LeaderReportShare {
        metadata: validated.metadata,
        public_share: validated.public_share,
        leader_input_share: validated.leader_input_share.payload,
        helper_encrypted_input_share: validated.helper_encrypted_input_share,
    }
}

/// A Helper context with no stored facts, at [`NOW`].
pub fn helper_ctx<'a>(
    fx: &'a Fixture,
    facts: &'a crate::helper_init::KnownFacts,
) -> crate::helper_init::HelperInitContext<'a, Vec<HpkeKeypair>, crate::helper_init::KnownFacts> {
    crate::helper_init::HelperInitContext {
        task: &fx.helper_task,
        keys: &fx.helper_keys,
        facts,
        now: NOW,
        recognized_extensions: crate::upload::NO_EXTENSIONS,
        batch_capacity: None,
    }
}
