//! Both aggregators' protocol work on a set of reports, in memory: the
//! crypto limit of a deployment. A job's reports are spread over the
//! threads of the current rayon pool as in the aggregators
//! ([`crate::parallel`]); inside [`crate::parallel::on_one_core`] all of it
//! runs on the calling thread, one core's limit.
//!
//! [`Deployment`] holds a Leader task and a Helper task that agree (each with
//! its own fresh HPKE keypair), makes Clients' reports with the real VDAF and
//! HPKE ([`Deployment::report`]), and runs on them exactly the protocol
//! functions the aggregators run, with no storage and no HTTP in between:
//!
//! 1. [`Deployment::upload`]: the Leader's upload validation (DAP-09
//!    section 4.4.2: HPKE open of the Leader's share, and the shares decode
//!    with the task's VDAF), [`crate::upload::validate_upload`] and
//!    [`crate::upload::check_shares_decode`];
//! 2. [`Deployment::aggregate`]: one aggregation job over the uploaded
//!    shares: the Leader's initialization ([`crate::leader_prepare`],
//!    section 4.5.1.1), the Helper's (HPKE open of its share, validation and
//!    preparation, [`crate::helper_init`], sections 4.5.1.2-4), the
//!    Leader's processing of the answer, continuations while any report is
//!    in flight (section 4.5.2), and each side's aggregation of its output
//!    shares ([`crate::accumulate`], section 4.6.2).
//!
//! Every message between the two crosses encoded and decoded, as on the
//! wire. What is left is the cost the cryptography and the encodings put
//! on each report: `dyad bench` divides its measured throughputs by it,
//! and the criterion benches time its steps one by one.
//!
//! # Where is
//!
//! - the Leader's per-report upload work (4.4.2) -> [`Deployment::upload`];
//! - a whole aggregation job on both sides (4.5.1, 4.5.2, 4.6.2) ->
//!   [`Deployment::aggregate`].

use crate::accumulate::BatchAccumulator;
use crate::error::ProtocolError;
use crate::helper_continue::{helper_continue, HelperContinueResult};
use crate::helper_init::{helper_initialize, HelperInitContext, HelperReportState, KnownFacts};
use crate::idempotency::{RequestHash, StoredJob};
use crate::leader_prepare::{
    build_continue_request, leader_initialize, leader_process_response, LeaderReportShare,
    LeaderReportState,
};
use crate::upload::{check_shares_decode, validate_upload, NO_EXTENSIONS};
use crate::vdaf_codec::DapAggregator;
use dyad_core::hpke::{seal_input_share, HpkeKeypair};
use dyad_core::task::{AuthenticationToken, AuthenticationTokenType, BatchMode, Task, VerifyKey};
use dyad_core::vdaf::{
    shard_measurement, AggregationParam, CatalogueVdaf, Measurement, VdafInstance,
};
use dyad_messages::draft09::{
    AggregationJobStep, Duration, HpkeConfigId, InputShareAad, PartialBatchSelector,
    PlaintextInputShare, Report, ReportId, ReportMetadata, Role, TaskId, Time,
};
use dyad_messages::{Decode, Encode};
use prio::codec::Encode as _;

/// The time precision of the deployment's tasks (one hour).
pub const TIME_PRECISION: Duration = Duration::from_seconds(3600);

/// A Leader task and a Helper task that agree, with their HPKE keys.
pub struct Deployment {
    instance: VdafInstance,
    leader_task: Task,
    helper_task: Task,
    leader_keys: Vec<HpkeKeypair>,
    helper_keys: Vec<HpkeKeypair>,
}

/// What one aggregation job did with its reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JobSummary {
    /// Reports both aggregators prepared and aggregated.
    pub aggregated: u64,
    /// Reports either aggregator rejected.
    pub rejected: u64,
    /// Continuation steps after initialization (0 for one-round VDAFs).
    pub continuations: usize,
}

impl Deployment {
    /// A fresh deployment of `instance`, with random keys and verification
    /// key. A VDAF whose aggregation parameter the Collector chooses
    /// (Poplar1) runs its jobs with [`Self::aggregate_with`].
    pub fn new(instance: VdafInstance) -> Result<Self, ProtocolError> {
        let collector = HpkeKeypair::generate_default(HpkeConfigId(0));
        let leader_keys = vec![HpkeKeypair::generate_default(HpkeConfigId(1))];
        let helper_keys = vec![HpkeKeypair::generate_default(HpkeConfigId(2))];
        let token = AuthenticationToken::random(AuthenticationTokenType::DapAuth);
        let base = Task::builder()
            .task_id(TaskId::from_bytes(rand::random()))
            .leader_aggregator_endpoint("https://leader.invalid/".parse().expect("a URL"))
            .helper_aggregator_endpoint("https://helper.invalid/".parse().expect("a URL"))
            .vdaf(instance)
            .vdaf_verify_key(VerifyKey::random(instance.verify_key_length()))
            .batch_mode(BatchMode::TimeInterval)
            .min_batch_size(1)
            .time_precision(TIME_PRECISION)
            .max_batch_query_count(match instance {
                VdafInstance::Poplar1 { bits } => u64::from(bits),
                _ => 1,
            })
            .tolerable_clock_skew(Duration::from_seconds(300))
            .collector_hpke_config(collector.config().clone());
        let build_error = |e: dyad_core::task::TaskError| ProtocolError::internal(e.to_string());
        let leader_task = base
            .clone()
            .role(Role::Leader)
            .aggregator_auth_token(token.clone())
            .collector_auth_token(AuthenticationToken::random(AuthenticationTokenType::Bearer))
            .hpke_keys(leader_keys.clone())
            .build()
            .map_err(build_error)?;
        let helper_task = base
            .role(Role::Helper)
            .aggregator_auth_token(token.hash())
            .hpke_keys(helper_keys.clone())
            .build()
            .map_err(build_error)?;
        Ok(Self {
            instance,
            leader_task,
            helper_task,
            leader_keys,
            helper_keys,
        })
    }

    /// The VDAF.
    pub fn instance(&self) -> VdafInstance {
        self.instance
    }

    /// The Leader's task.
    pub fn leader_task(&self) -> &Task {
        &self.leader_task
    }

    /// The Helper's task.
    pub fn helper_task(&self) -> &Task {
        &self.helper_task
    }

    /// The Helper's HPKE keypairs.
    pub fn helper_keys(&self) -> &[HpkeKeypair] {
        &self.helper_keys
    }

    /// A Client's report of `measurement` at `time`, sharded and sealed to
    /// both aggregators.
    pub fn report(&self, measurement: &Measurement, time: Time) -> Result<Report, ProtocolError> {
        let internal = |e: &dyn std::fmt::Display| ProtocolError::internal(e.to_string());
        let id = ReportId::random();
        let sharded = shard_measurement(&self.instance, measurement, id.as_bytes())
            .map_err(|e| internal(&e))?;
        let metadata = ReportMetadata::new(id, time);
        let aad = InputShareAad::new(
            *self.leader_task.task_id(),
            metadata,
            sharded.public_share.clone(),
        );
        let seal = |keys: &[HpkeKeypair], role, payload| {
            seal_input_share(
                keys[0].config(),
                role,
                &aad,
                &PlaintextInputShare::new(Vec::new(), payload),
            )
            .map_err(|e| internal(&e))
        };
        let leader = seal(&self.leader_keys, Role::Leader, sharded.leader_input_share)?;
        let helper = seal(&self.helper_keys, Role::Helper, sharded.helper_input_share)?;
        Ok(Report::new(metadata, sharded.public_share, leader, helper))
    }

    /// The Leader's upload work on an encoded report at `now`: decode,
    /// validate (its share opened), check that the shares decode; the share
    /// it would store.
    pub fn upload(
        &self,
        encoded_report: &[u8],
        now: Time,
    ) -> Result<LeaderReportShare, ProtocolError> {
        let task = &self.leader_task;
        let report = Report::get_decoded(encoded_report)
            .map_err(|e| ProtocolError::invalid_message(e.to_string()))?;
        let validated = validate_upload(task, &self.leader_keys, &report, now, NO_EXTENSIONS)
            .and_then(|validated| {
                dyad_core::vdaf_dispatch!(self.instance, |vdaf, V, VERIFY_KEY_LEN| {
                    Ok::<_, prio::vdaf::VdafError>(check_shares_decode(
                        &vdaf,
                        &self.instance,
                        &validated,
                    ))
                })
                .map_err(|e| crate::upload::UploadError::UndecodableShare {
                    part: "VDAF",
                    vdaf: self.instance.to_string(),
                    cause: e.to_string(),
                })?
                .map(|()| validated)
            })
            .map_err(|e| e.into_protocol_error(task))?;
        Ok(LeaderReportShare {
            metadata: validated.metadata,
            public_share: validated.public_share,
            leader_input_share: validated.leader_input_share.payload,
            helper_encrypted_input_share: validated.helper_encrypted_input_share,
        })
    }

    /// One aggregation job over `shares` (as [`Self::upload`] returned
    /// them) at `now`, on both sides, through to each side's aggregate
    /// share.
    pub fn aggregate(
        &self,
        shares: &[LeaderReportShare],
        now: Time,
    ) -> Result<JobSummary, ProtocolError> {
        self.aggregate_with(shares, now, &AggregationParam::Empty)
    }

    /// [`Self::aggregate`] with the aggregation parameter `param` (for
    /// Poplar1, the candidate prefixes of one level of the prefix tree,
    /// VDAF-08 section 8.2).
    pub fn aggregate_with(
        &self,
        shares: &[LeaderReportShare],
        now: Time,
        param: &AggregationParam,
    ) -> Result<JobSummary, ProtocolError> {
        dyad_core::vdaf_dispatch!(self.instance, |vdaf, V, VERIFY_KEY_LEN| {
            let agg_param = vdaf
                .to_vdaf_aggregation_param(param)
                .map_err(|e| ProtocolError::internal(e.to_string()))?
                .get_encoded()?;
            self.run_job::<V, VERIFY_KEY_LEN>(&vdaf, &agg_param, shares, now)
        })
    }

    fn run_job<V: DapAggregator<L>, const L: usize>(
        &self,
        vdaf: &V,
        agg_param: &[u8],
        shares: &[LeaderReportShare],
        now: Time,
    ) -> Result<JobSummary, ProtocolError> {
        let init = leader_initialize::<V, L>(
            vdaf,
            &self.leader_task,
            agg_param,
            PartialBatchSelector::TimeInterval,
            shares,
        )?;
        let Some(request) = init.request else {
            return Ok(JobSummary {
                rejected: shares.len() as u64,
                ..JobSummary::default()
            });
        };
        let request_body = request.get_encoded()?;
        let request = decode(&request_body)?;
        let facts = KnownFacts::default();
        let ctx = HelperInitContext {
            task: &self.helper_task,
            keys: &self.helper_keys,
            facts: &facts,
            now,
            recognized_extensions: NO_EXTENSIONS,
            batch_capacity: None,
        };
        let helper_init = helper_initialize::<V, L, _, _>(
            vdaf,
            &ctx,
            &request,
            RequestHash::of_body(&request_body),
        )?;
        let mut helper_job = StoredJob {
            step: AggregationJobStep::INITIAL,
            last_request_hash: helper_init.request_hash,
        };
        let mut helper_reports = helper_init.reports;
        let mut leader_reports = leader_process_response::<V, L>(
            vdaf,
            agg_param,
            &init.reports,
            &wire(&helper_init.response)?,
        )?;

        let mut step = AggregationJobStep(1);
        let mut continuations = 0;
        while let Some(request) = build_continue_request(step, &leader_reports) {
            let request_body = request.get_encoded()?;
            let request = decode(&request_body)?;
            let HelperContinueResult::Advanced(outcome) = helper_continue::<V, L>(
                vdaf,
                agg_param,
                &helper_job,
                &helper_reports,
                &request,
                RequestHash::of_body(&request_body),
            )?
            else {
                return Err(ProtocolError::internal(
                    "the Helper took a fresh continuation for a replay",
                ));
            };
            helper_job = StoredJob {
                step: outcome.step,
                last_request_hash: outcome.request_hash,
            };
            helper_reports = outcome.reports;
            leader_reports = leader_process_response::<V, L>(
                vdaf,
                agg_param,
                &leader_reports,
                &wire(&outcome.response)?,
            )?;
            continuations += 1;
            step = step
                .next()
                .ok_or_else(|| ProtocolError::internal("aggregation job step overflows"))?;
        }

        let mut leader_batch = BatchAccumulator::<V, L>::new(vdaf, agg_param)?;
        let mut rejected = 0;
        for report in &leader_reports {
            match &report.state {
                LeaderReportState::Finished { output_share } => leader_batch.add_report(
                    &report.metadata.id,
                    report.metadata.time,
                    output_share,
                )?,
                _ => rejected += 1,
            }
        }
        let mut helper_batch = BatchAccumulator::<V, L>::new(vdaf, agg_param)?;
        for report in &helper_reports {
            if let HelperReportState::Finished { output_share } = &report.state {
                helper_batch.add_report(&report.metadata.id, report.metadata.time, output_share)?;
            }
        }
        let leader_batch = leader_batch.finish()?;
        let helper_batch = helper_batch.finish()?;
        if leader_batch.report_count != helper_batch.report_count
            || leader_batch.checksum != helper_batch.checksum
        {
            return Err(ProtocolError::internal(
                "the Leader and the Helper aggregated different reports",
            ));
        }
        Ok(JobSummary {
            aggregated: leader_batch.report_count,
            rejected: rejected + (shares.len() - leader_reports.len()) as u64,
            continuations,
        })
    }
}

/// `message` after a trip over the wire.
fn wire<M: Encode + Decode>(message: &M) -> Result<M, ProtocolError> {
    decode(&message.get_encoded()?)
}

/// A message of our own making, decoded: a failure is ours.
fn decode<M: Decode>(bytes: &[u8]) -> Result<M, ProtocolError> {
    M::get_decoded(bytes).map_err(|e| ProtocolError::internal(format!("message decoding: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dyad_core::vdaf::random_measurement;

    fn now() -> Time {
        Time::from_seconds_since_epoch(1_700_000_000)
    }

    fn run(instance: &str, n: usize) -> JobSummary {
        let deployment = Deployment::new(instance.parse().unwrap()).unwrap();
        let mut rng = rand::thread_rng();
        let shares: Vec<_> = (0..n)
            .map(|_| {
                let m = random_measurement(&deployment.instance(), &mut rng);
                let report = deployment.report(&m, now()).unwrap();
                deployment
                    .upload(&report.get_encoded().unwrap(), now())
                    .unwrap()
            })
            .collect();
        deployment.aggregate(&shares, now()).unwrap()
    }

    #[test]
    fn every_report_of_a_one_round_vdaf_is_aggregated_on_both_sides() {
        let summary = run(r#"{"type":"Prio3Count"}"#, 5);
        assert_eq!(
            summary,
            JobSummary {
                aggregated: 5,
                rejected: 0,
                continuations: 0
            }
        );
        let summary = run(
            r#"{"type":"Prio3Histogram","length":"100","chunk_length":"10"}"#,
            3,
        );
        assert_eq!(summary.aggregated, 3);
    }

    #[test]
    fn a_report_too_far_in_the_future_is_refused_at_upload() {
        let deployment = Deployment::new(VdafInstance::Prio3Count).unwrap();
        let later = Time::from_seconds_since_epoch(now().as_seconds_since_epoch() + 86_400);
        let report = deployment.report(&Measurement::Count(true), later).unwrap();
        let err = deployment
            .upload(&report.get_encoded().unwrap(), now())
            .unwrap_err();
        assert!(err.to_string().starts_with("reportTooEarly"), "{err}");
    }

    #[test]
    fn garbage_is_refused_at_upload() {
        let deployment = Deployment::new(VdafInstance::Prio3Count).unwrap();
        assert!(deployment.upload(b"not a report", now()).is_err());
    }

    #[test]
    fn a_poplar1_job_prepares_every_report_at_any_level_on_both_sides() {
        let deployment = Deployment::new(VdafInstance::Poplar1 { bits: 8 }).unwrap();
        let strings: [&[bool]; 3] = [
            &[true, false, true, true, false, false, true, false],
            &[true, false, true, true, false, false, true, true],
            &[false, false, true, true, false, false, true, false],
        ];
        let shares: Vec<_> = strings
            .iter()
            .map(|bits| {
                let report = deployment
                    .report(&Measurement::Poplar1(bits.to_vec()), now())
                    .unwrap();
                deployment
                    .upload(&report.get_encoded().unwrap(), now())
                    .unwrap()
            })
            .collect();
        for level in [0usize, 3, 7] {
            let prefixes = vec![vec![false; level + 1], strings[0][..=level].to_vec()];
            let mut prefixes = prefixes;
            prefixes.sort();
            prefixes.dedup();
            let summary = deployment
                .aggregate_with(&shares, now(), &AggregationParam::Poplar1 { prefixes })
                .unwrap();
            // Poplar1 prepares in two rounds: one continuation.
            assert_eq!(
                summary,
                JobSummary {
                    aggregated: 3,
                    rejected: 0,
                    continuations: 1
                },
                "level {level}"
            );
        }
    }

    #[test]
    fn a_poplar1_job_with_the_empty_parameter_is_refused() {
        let deployment = Deployment::new(VdafInstance::Poplar1 { bits: 8 }).unwrap();
        assert!(deployment.aggregate(&[], now()).is_err());
    }
}
