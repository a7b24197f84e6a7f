//! End to end, in memory: Clients' reports → Leader upload validation →
//! aggregation job (initialization and every continuation) between the
//! Leader and the Helper → aggregate shares → `Collection` → the Collector
//! opens and unshards. Every message crosses between the parties encoded,
//! and every VDAF is a real one from the catalogue.

use crate::accumulate::{AccumulatedBatch, BatchAccumulator};
use crate::batch::{BatchFacts, QueriedBatch};
use crate::collection::{
    answer_aggregate_share_req, build_aggregate_share_req, build_collection,
    check_aggregate_share_req, collector_batch_selector, unshard,
};
use crate::error::ProtocolError;
use crate::helper_continue::{helper_continue, HelperContinueResult};
use crate::helper_init::{
    helper_initialize, HelperInitContext, HelperReportAggregation, HelperReportState, KnownFacts,
};
use crate::idempotency::StoredJob;
use crate::leader_prepare::{
    build_continue_request, job_is_finished, leader_initialize, leader_process_response,
    LeaderReportAggregation, LeaderReportShare, LeaderReportState,
};
use crate::seal::seal_leader_aggregate_share;
use crate::test_util::{hash_of, wire, Fixture, NOW, PRECISION};
use crate::upload::{validate_upload, NO_EXTENSIONS};
use crate::vdaf_codec::DapAggregator;
use dyad_core::hpke::{open_aggregate_share, open_input_share};
use dyad_core::vdaf::{
    plaintext_aggregate, random_measurement, AggregateResult, AggregationParam, CatalogueVdaf,
    Measurement, VdafInstance,
};
use dyad_messages::draft09::{
    AggregationJobStep, InputShareAad, Interval, PartialBatchSelector, PrepareError, Query, Report,
    Role, Time,
};
use prio::codec::Encode;
use prio::vdaf::Collector;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// The batch every test report falls in: the bucket before [`NOW`].
fn batch_interval() -> Interval {
    Interval::new(
        Time::from_seconds_since_epoch(NOW.as_seconds_since_epoch() - 3600),
        PRECISION,
    )
    .unwrap()
}

fn report_time(i: usize) -> Time {
    Time::from_seconds_since_epoch(NOW.as_seconds_since_epoch() - 3600 + 60 * (i as u64 % 50))
}

struct Run {
    leader_reports: Vec<LeaderReportAggregation>,
    helper_reports: Vec<HelperReportAggregation>,
    continuations: usize,
    result: AggregateResult,
    report_count: u64,
}

/// Runs one aggregation job over `reports` and collects the batch.
fn run<V, const L: usize>(
    vdaf: &V,
    fx: &Fixture,
    agg_param: &[u8],
    reports: &[Report],
) -> Result<Run, ProtocolError>
where
    V: DapAggregator<L> + Collector + CatalogueVdaf,
{
    // Upload: the Leader validates and keeps its opened share.
    let shares: Vec<LeaderReportShare> = reports
        .iter()
        .map(|report| {
            let validated =
                validate_upload(&fx.leader_task, &fx.leader_keys, report, NOW, NO_EXTENSIONS)
                    .unwrap();
            LeaderReportShare {
                metadata: validated.metadata,
                public_share: validated.public_share,
                leader_input_share: validated.leader_input_share.payload,
                helper_encrypted_input_share: validated.helper_encrypted_input_share,
            }
        })
        .collect();

    // Initialization.
    let init = leader_initialize::<V, L>(
        vdaf,
        &fx.leader_task,
        agg_param,
        PartialBatchSelector::TimeInterval,
        &shares,
    )?;
    let request = wire(init.request.as_ref().expect("some report initialized"));
    let facts = KnownFacts::default();
    let ctx = HelperInitContext {
        task: &fx.helper_task,
        keys: &fx.helper_keys,
        facts: &facts,
        now: NOW,
        recognized_extensions: NO_EXTENSIONS,
        batch_capacity: None,
    };
    let helper_init = helper_initialize::<V, L, _, _>(vdaf, &ctx, &request, hash_of(&request))?;
    let mut helper_job = StoredJob {
        step: AggregationJobStep::INITIAL,
        last_request_hash: helper_init.request_hash,
    };
    let mut helper_reports = helper_init.reports;
    let mut leader_reports = leader_process_response::<V, L>(
        vdaf,
        agg_param,
        &init.reports,
        &wire(&helper_init.response),
    )?;

    // Continuation, until no report is in flight.
    let mut step = AggregationJobStep(1);
    let mut continuations = 0;
    while let Some(request) = build_continue_request(step, &leader_reports) {
        let request = wire(&request);
        let HelperContinueResult::Advanced(outcome) = helper_continue::<V, L>(
            vdaf,
            agg_param,
            &helper_job,
            &helper_reports,
            &request,
            hash_of(&request),
        )?
        else {
            panic!("a fresh step is not a replay");
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
            &wire(&outcome.response),
        )?;
        continuations += 1;
        step = step.next().unwrap();
        assert!(continuations < 8, "preparation does not end");
    }
    assert!(job_is_finished(&leader_reports));
    assert!(helper_reports
        .iter()
        .all(|r| !matches!(r.state, HelperReportState::Continued { .. })));

    // Aggregation into the batch, on both sides.
    let leader_batch = accumulate_leader(vdaf, agg_param, &leader_reports)?;
    let mut helper_acc = BatchAccumulator::<V, L>::new(vdaf, agg_param)?;
    for report in &helper_reports {
        if let HelperReportState::Finished { output_share } = &report.state {
            helper_acc.add_report(&report.metadata.id, report.metadata.time, output_share)?;
        }
    }
    let helper_batch = helper_acc.finish()?;

    // Collection.
    let batch = QueriedBatch::TimeInterval(batch_interval());
    let share_req = wire(&build_aggregate_share_req(
        &batch,
        agg_param,
        leader_batch.report_count,
        leader_batch.checksum,
    ));
    let no_params: [Vec<u8>; 0] = [];
    check_aggregate_share_req(
        &fx.helper_task,
        &share_req,
        &BatchFacts {
            report_count: helper_batch.report_count,
            previous_agg_params: &no_params,
            previously_collected_intervals: &[],
            batch_id_known: false,
        },
    )?;
    let helper_share = wire(&answer_aggregate_share_req(
        &fx.helper_task,
        &share_req,
        helper_batch.report_count,
        &helper_batch.checksum,
        &helper_batch.aggregate_share,
    )?);
    let leader_ct = seal_leader_aggregate_share(
        &fx.leader_task,
        &batch,
        agg_param,
        &leader_batch.aggregate_share,
    )?;
    let collection = wire(&build_collection(
        &batch,
        leader_batch.report_count,
        leader_batch.span.aligned_interval(PRECISION)?,
        leader_ct,
        helper_share.encrypted_aggregate_share,
    ));
    assert!(collection.interval.duration() <= PRECISION || collection.report_count == 0);

    // The Collector.
    let query = Query::TimeInterval(batch_interval());
    let aad = crate::seal::aggregate_share_aad(
        &fx.leader_task,
        collector_batch_selector(&query, &collection)?,
        agg_param,
    );
    let open = |role, ct| open_aggregate_share(&fx.collector, role, &aad, ct).unwrap();
    let leader_plain = open(Role::Leader, &collection.leader_encrypted_agg_share);
    let helper_plain = open(Role::Helper, &collection.helper_encrypted_agg_share);
    let result = unshard(
        vdaf,
        agg_param,
        &leader_plain,
        &helper_plain,
        collection.report_count,
    )?;
    Ok(Run {
        leader_reports,
        helper_reports,
        continuations,
        result: vdaf.to_aggregate_result(result),
        report_count: collection.report_count,
    })
}

fn accumulate_leader<V: DapAggregator<L>, const L: usize>(
    vdaf: &V,
    agg_param: &[u8],
    reports: &[LeaderReportAggregation],
) -> Result<AccumulatedBatch, ProtocolError> {
    let mut acc = BatchAccumulator::<V, L>::new(vdaf, agg_param)?;
    for report in reports {
        if let LeaderReportState::Finished { output_share } = &report.state {
            acc.add_report(&report.metadata.id, report.metadata.time, output_share)?;
        }
    }
    acc.finish()
}

/// Runs `measurements` through `instance` under `param`.
fn run_instance(
    fx: &Fixture,
    param: &AggregationParam,
    reports: &[Report],
) -> Result<Run, ProtocolError> {
    dyad_core::vdaf_dispatch!(fx.instance, |vdaf, V, VERIFY_KEY_LEN| {
        let agg_param = vdaf
            .to_vdaf_aggregation_param(param)
            .map_err(|e| ProtocolError::internal(e.to_string()))?
            .get_encoded()?;
        run::<V, VERIFY_KEY_LEN>(&vdaf, fx, &agg_param, reports)
    })
}

fn check_total(instance: VdafInstance, param: AggregationParam, n: usize, seed: u64) -> Run {
    let fx = Fixture::new(instance);
    let mut rng = StdRng::seed_from_u64(seed);
    let measurements: Vec<Measurement> = (0..n)
        .map(|_| random_measurement(&instance, &mut rng))
        .collect();
    let reports: Vec<Report> = measurements
        .iter()
        .enumerate()
        .map(|(i, m)| fx.report(m, report_time(i)))
        .collect();
    let run = run_instance(&fx, &param, &reports).unwrap_or_else(|e| panic!("{instance}: {e}"));
    let want = plaintext_aggregate(&instance, &param, &measurements).unwrap();
    assert_eq!(run.result, want, "{instance}");
    assert_eq!(run.report_count, n as u64);
    run
}

#[test]
fn prio3_jobs_finish_at_initialization_and_unshard_to_the_plaintext_total() {
    for instance in [
        VdafInstance::Prio3Count,
        VdafInstance::Prio3Sum { bits: 16 },
        VdafInstance::Prio3Histogram {
            length: 5,
            chunk_length: 2,
        },
        VdafInstance::Prio3SumVec {
            bits: 4,
            length: 3,
            chunk_length: 2,
        },
    ] {
        let run = check_total(instance, AggregationParam::Empty, 7, 11);
        assert_eq!(run.continuations, 0, "{instance}: Prio3 is one round");
    }
}

#[test]
fn poplar1_needs_one_continuation_and_counts_prefixes() {
    let instance = VdafInstance::Poplar1 { bits: 4 };
    for prefixes in [
        vec![vec![false], vec![true]],
        vec![
            vec![false, false, false, false],
            vec![true, false, true, true],
        ],
    ] {
        let run = check_total(instance, AggregationParam::Poplar1 { prefixes }, 6, 12);
        assert_eq!(run.continuations, 1);
        assert!(run
            .helper_reports
            .iter()
            .all(|r| matches!(r.state, HelperReportState::Finished { .. })));
    }
}

#[test]
fn a_report_the_helper_rejects_is_left_out_of_both_aggregates() {
    let instance = VdafInstance::Prio3Sum { bits: 8 };
    let fx = Fixture::new(instance);
    let good = fx.report(&Measurement::Sum(40), report_time(0));
    let mut bad = fx.report(&Measurement::Sum(100), report_time(1));
    // Corrupt the Helper's ciphertext: the Leader still accepts the upload.
    let last = bad.helper_encrypted_input_share.payload.len() - 1;
    bad.helper_encrypted_input_share.payload[last] ^= 1;
    let also_good = fx.report(&Measurement::Sum(2), report_time(2));
    let run = run_instance(&fx, &AggregationParam::Empty, &[good, bad, also_good]).unwrap();
    assert_eq!(run.result, AggregateResult::Sum(42));
    assert_eq!(run.report_count, 2);
    assert_eq!(
        run.leader_reports[1].state,
        LeaderReportState::Failed {
            error: PrepareError::HpkeDecryptError
        }
    );
    assert_eq!(
        run.helper_reports[1].state,
        HelperReportState::Failed(PrepareError::HpkeDecryptError)
    );
}

#[test]
fn a_report_whose_leader_share_is_not_a_vdaf_share_never_reaches_the_helper() {
    let fx = Fixture::new(VdafInstance::Prio3Count);
    let good = fx.report(&Measurement::Count(true), report_time(0));
    let other = fx.report(&Measurement::Count(true), report_time(1));
    // Re-seal `other` with one byte too many in the Leader's VDAF share.
    let aad = InputShareAad::new(
        *fx.leader_task.task_id(),
        other.metadata,
        other.public_share.clone(),
    );
    let mut leader = open_input_share(
        &fx.leader_keys[0],
        Role::Leader,
        &aad,
        &other.leader_encrypted_input_share,
    )
    .unwrap();
    leader.payload.push(0);
    let helper = open_input_share(
        &fx.helper_keys[0],
        Role::Helper,
        &aad,
        &other.helper_encrypted_input_share,
    )
    .unwrap();
    let broken = fx.seal(other.metadata, other.public_share.clone(), leader, helper);

    let run = run_instance(&fx, &AggregationParam::Empty, &[good, broken]).unwrap();
    assert_eq!(run.result, AggregateResult::Count(1));
    assert_eq!(
        run.leader_reports[1].state,
        LeaderReportState::Failed {
            error: PrepareError::InvalidMessage
        }
    );
    // The Helper never heard of it.
    assert_eq!(run.helper_reports.len(), 1);
}
