//! Test fixtures: a Leader task and its Helper twin with real HPKE keys and
//! tokens, Client reports made with the real VDAF and HPKE, and the Leader's
//! half of aggregation computed with `dyad-protocol`, so Helper tests can
//! check that results unshard correctly.

use dyad_core::hpke::{open_aggregate_share, seal_input_share, HpkeKeypair};
use dyad_core::task::{AuthenticationToken, AuthenticationTokenType, BatchMode, Task, VerifyKey};
use dyad_core::vdaf::{
    shard_measurement, AggregateResult, CatalogueVdaf, Measurement, VdafInstance,
};
use dyad_core::vdaf_dispatch;
use dyad_messages::draft09::{
    AggregateShare, AggregationJobInitReq, AggregationJobResp, BatchSelector, Duration,
    HpkeCiphertext, HpkeConfigId, InputShareAad, PartialBatchSelector, PlaintextInputShare, Report,
    ReportId, ReportIdChecksum, ReportMetadata, Role, TaskId, Time,
};
use dyad_protocol::accumulate::aggregate_output_shares;
use dyad_protocol::batch::checksum_of;
use dyad_protocol::collection::unshard;
use dyad_protocol::leader_prepare::{
    leader_initialize, leader_process_response, LeaderReportAggregation, LeaderReportShare,
    LeaderReportState,
};
use dyad_protocol::seal::aggregate_share_aad;
use dyad_protocol::ProtocolError;

/// The time precision of fixture tasks: one hour.
pub const PRECISION: Duration = Duration::from_seconds(3600);

/// A task as its Leader and its Helper hold it, and the secrets of the
/// other parties.
pub struct TaskPair {
    pub leader: Task,
    pub helper: Task,
    /// What the Leader presents to the Helper.
    pub leader_token: AuthenticationToken,
    /// What the Collector presents to the Leader.
    pub collector_token: AuthenticationToken,
    pub collector_keypair: HpkeKeypair,
}

impl TaskPair {
    /// A task of `vdaf` and `batch_mode`, `min_batch_size` 2.
    pub fn new(vdaf: VdafInstance, batch_mode: BatchMode) -> Self {
        Self::with_endpoints(
            vdaf,
            batch_mode,
            "https://leader.example/",
            "https://helper.example/",
        )
    }

    /// A task whose aggregators are at the given base URLs.
    pub fn with_endpoints(
        vdaf: VdafInstance,
        batch_mode: BatchMode,
        leader_url: &str,
        helper_url: &str,
    ) -> Self {
        let task_id = TaskId::random();
        let leader_token = AuthenticationToken::random(AuthenticationTokenType::DapAuth);
        let collector_token = AuthenticationToken::random(AuthenticationTokenType::Bearer);
        let collector_keypair = HpkeKeypair::generate_default(HpkeConfigId(200));
        let verify_key = VerifyKey::random(vdaf.verify_key_length());
        let common = Task::builder()
            .task_id(task_id)
            .leader_aggregator_endpoint(leader_url.parse().unwrap())
            .helper_aggregator_endpoint(helper_url.parse().unwrap())
            .vdaf(vdaf)
            .vdaf_verify_key(verify_key)
            .batch_mode(batch_mode)
            .min_batch_size(2)
            .time_precision(PRECISION)
            .collector_hpke_config(collector_keypair.config().clone());
        let leader = common
            .clone()
            .role(Role::Leader)
            .aggregator_auth_token(leader_token.clone())
            .collector_auth_token(collector_token.hash())
            .hpke_keys(vec![HpkeKeypair::generate_default(HpkeConfigId(1))])
            .build()
            .unwrap();
        let helper = common
            .role(Role::Helper)
            .aggregator_auth_token(leader_token.hash())
            .hpke_keys(vec![
                HpkeKeypair::generate_default(HpkeConfigId(7)),
                HpkeKeypair::generate_default(HpkeConfigId(8)),
            ])
            .build()
            .unwrap();
        Self {
            leader,
            helper,
            leader_token,
            collector_token,
            collector_keypair,
        }
    }

    /// A time-interval task of `vdaf`.
    pub fn time_interval(vdaf: VdafInstance) -> Self {
        Self::new(vdaf, BatchMode::TimeInterval)
    }

    /// `task` without HPKE keys of its own, as `dyad task add --hpke-keys
    /// global` stores it: it uses the global keys.
    pub fn without_keys(task: &Task) -> Task {
        task.to_builder().hpke_keys(Vec::new()).build().unwrap()
    }

    pub fn task_id(&self) -> TaskId {
        *self.leader.task_id()
    }

    /// A Client's report of `measurement` at `time`, sealed to both
    /// aggregators' first keys.
    pub fn report(&self, measurement: &Measurement, time: Time) -> ClientReport {
        let report_id = ReportId::random();
        let sharded =
            shard_measurement(self.leader.vdaf(), measurement, report_id.as_bytes()).unwrap();
        let metadata = ReportMetadata::new(report_id, time);
        let aad = InputShareAad::new(self.task_id(), metadata, sharded.public_share.clone());
        // A taskprov task's shares carry the taskprov extension
        // (draft-wang-ppm-dap-taskprov-06, "Client Behavior").
        let extensions = match self.leader.taskprov_config() {
            Some(_) => vec![dyad_messages::taskprov::taskprov_extension()],
            None => vec![],
        };
        let seal = |task: &Task, role, payload: &[u8]| {
            seal_input_share(
                task.hpke_keys()[0].config(),
                role,
                &aad,
                &PlaintextInputShare::new(extensions.clone(), payload.to_vec()),
            )
            .unwrap()
        };
        let leader_ct = seal(&self.leader, Role::Leader, &sharded.leader_input_share);
        let helper_ct = seal(&self.helper, Role::Helper, &sharded.helper_input_share);
        ClientReport {
            report: Report::new(
                metadata,
                sharded.public_share.clone(),
                leader_ct,
                helper_ct.clone(),
            ),
            leader_share: LeaderReportShare {
                metadata,
                public_share: sharded.public_share,
                leader_input_share: sharded.leader_input_share,
                helper_encrypted_input_share: helper_ct,
            },
        }
    }

    /// The Leader's initialization of a job over `reports`.
    pub fn leader_init(
        &self,
        agg_param: &[u8],
        selector: PartialBatchSelector,
        reports: &[ClientReport],
    ) -> (AggregationJobInitReq, Vec<LeaderReportAggregation>) {
        let shares: Vec<LeaderReportShare> =
            reports.iter().map(|r| r.leader_share.clone()).collect();
        let outcome = vdaf_dispatch!(self.leader.vdaf(), |vdaf, V, VERIFY_KEY_LEN| {
            leader_initialize::<V, VERIFY_KEY_LEN>(
                &vdaf,
                &self.leader,
                agg_param,
                selector,
                &shares,
            )
        })
        .unwrap();
        (outcome.request.unwrap(), outcome.reports)
    }

    /// The Leader's processing of the Helper's response.
    pub fn leader_process(
        &self,
        agg_param: &[u8],
        reports: &[LeaderReportAggregation],
        response: &AggregationJobResp,
    ) -> Vec<LeaderReportAggregation> {
        vdaf_dispatch!(self.leader.vdaf(), |vdaf, V, VERIFY_KEY_LEN| {
            leader_process_response::<V, VERIFY_KEY_LEN>(&vdaf, agg_param, reports, response)
        })
        .unwrap()
    }

    /// The Leader's aggregate share, report count and checksum of its
    /// finished reports.
    pub fn leader_aggregate(
        &self,
        agg_param: &[u8],
        reports: &[LeaderReportAggregation],
    ) -> (Vec<u8>, u64, ReportIdChecksum) {
        let finished: Vec<(&ReportId, &[u8])> = reports
            .iter()
            .filter_map(|r| match &r.state {
                LeaderReportState::Finished { output_share } => {
                    Some((r.report_id(), output_share.as_slice()))
                }
                _ => None,
            })
            .collect();
        let share = vdaf_dispatch!(self.leader.vdaf(), |vdaf, V, VERIFY_KEY_LEN| {
            aggregate_output_shares::<V, VERIFY_KEY_LEN>(
                &vdaf,
                agg_param,
                None,
                finished.iter().map(|(_, s)| *s),
            )
        })
        .unwrap();
        let checksum = checksum_of(finished.iter().map(|(id, _)| *id));
        (share, finished.len() as u64, checksum)
    }

    /// The Collector's opening of the Helper's share and unsharding with
    /// the Leader's.
    pub fn collect(
        &self,
        agg_param: &[u8],
        batch_selector: BatchSelector,
        leader_share: &[u8],
        helper_share: &AggregateShare,
        report_count: u64,
    ) -> AggregateResult {
        let helper_share = self.open_share(
            Role::Helper,
            agg_param,
            batch_selector,
            &helper_share.encrypted_aggregate_share,
        );
        self.unshard(agg_param, leader_share, &helper_share, report_count)
    }

    /// The Collector's opening of an aggregate share `sender` sealed.
    pub fn open_share(
        &self,
        sender: Role,
        agg_param: &[u8],
        batch_selector: BatchSelector,
        ciphertext: &HpkeCiphertext,
    ) -> Vec<u8> {
        let aad = aggregate_share_aad(&self.helper, batch_selector, agg_param);
        open_aggregate_share(&self.collector_keypair, sender, &aad, ciphertext).unwrap()
    }

    /// The Collector's unsharding of the two encoded aggregate shares.
    pub fn unshard(
        &self,
        agg_param: &[u8],
        leader_share: &[u8],
        helper_share: &[u8],
        report_count: u64,
    ) -> AggregateResult {
        vdaf_dispatch!(self.leader.vdaf(), |vdaf, V, VERIFY_KEY_LEN| {
            unshard(&vdaf, agg_param, leader_share, helper_share, report_count)
                .map(|result| vdaf.to_aggregate_result(result))
        })
        .map_err(|e: ProtocolError| e.to_string())
        .unwrap()
    }
}

/// A report as a Client uploads it, and as the Leader stores it.
#[derive(Clone)]
pub struct ClientReport {
    pub report: Report,
    pub leader_share: LeaderReportShare,
}

impl ClientReport {
    pub fn id(&self) -> ReportId {
        self.report.metadata.id
    }
}
