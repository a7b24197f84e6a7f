//! Tests of Helper initialization: request-level aborts, and each
//! rejection of DAP-09 sections 4.5.1.3 and 4.5.1.4 with its PrepareError.

use super::*;
use crate::idempotency::{check_init_request, InitDisposition, StoredJob};
use crate::leader_prepare::{leader_initialize, LeaderReportShare};
use crate::test_util::{hash_of, helper_ctx, leader_share, Fixture, NOW};
use dyad_core::vdaf::{new_prio3_count, Measurement, Prio3Count, VdafInstance};
use dyad_messages::draft09::{
    AggregationJobStep, BatchId, Duration, Extension, HpkeConfigId, Interval, PlaintextInputShare,
    Report,
};
use dyad_messages::problem::DapProblemType;

type V = Prio3Count;

fn request_for(fx: &Fixture, shares: &[LeaderReportShare]) -> AggregationJobInitReq {
    leader_initialize::<V, 16>(
        &new_prio3_count().unwrap(),
        &fx.leader_task,
        &[],
        PartialBatchSelector::TimeInterval,
        shares,
    )
    .unwrap()
    .request
    .unwrap()
}

fn reports(fx: &Fixture, n: usize) -> Vec<Report> {
    (0..n)
        .map(|i| fx.report(&Measurement::Count(i % 2 == 0), NOW))
        .collect()
}

fn request(fx: &Fixture, reports: &[Report]) -> AggregationJobInitReq {
    let shares: Vec<_> = reports.iter().map(|r| leader_share(fx, r)).collect();
    request_for(fx, &shares)
}

fn run(
    ctx: &HelperInitContext<'_, Vec<dyad_core::hpke::HpkeKeypair>, KnownFacts>,
    request: &AggregationJobInitReq,
) -> Result<HelperInitOutcome, ProtocolError> {
    helper_initialize::<V, 16, _, _>(&new_prio3_count().unwrap(), ctx, request, hash_of(request))
}

/// The PrepareError of each report, or `None` for a prepared one.
fn errors(outcome: &HelperInitOutcome) -> Vec<Option<PrepareError>> {
    outcome
        .response
        .prepare_resps
        .iter()
        .zip(&outcome.reports)
        .map(|(resp, report)| match (&resp.result, &report.state) {
            (PrepareStepResult::Reject(e), HelperReportState::Failed(f)) => {
                assert_eq!(e, f);
                Some(*e)
            }
            (PrepareStepResult::Continue { .. }, HelperReportState::Finished { .. }) => None,
            other => panic!("response and state disagree: {other:?}"),
        })
        .collect()
}

#[test]
fn good_reports_finish_and_the_response_follows_the_request_order() {
    let fx = Fixture::new(VdafInstance::Prio3Count);
    let req = request(&fx, &reports(&fx, 3));
    let facts = KnownFacts::default();
    let outcome = run(&helper_ctx(&fx, &facts), &req).unwrap();
    assert_eq!(errors(&outcome), [None, None, None]);
    let ids: Vec<_> = outcome
        .response
        .prepare_resps
        .iter()
        .map(|r| r.report_id)
        .collect();
    let sent: Vec<_> = req
        .prepare_inits
        .iter()
        .map(|p| p.report_share.metadata.id)
        .collect();
    assert_eq!(ids, sent);
    assert_eq!(outcome.request_hash, hash_of(&req));
    // Preparation is deterministic: the same request gets the same answer.
    assert_eq!(run(&helper_ctx(&fx, &facts), &req).unwrap(), outcome);
}

#[test]
fn repeated_initialization_is_a_replay_only_if_identical() {
    let fx = Fixture::new(VdafInstance::Prio3Count);
    let req = request(&fx, &reports(&fx, 2));
    let facts = KnownFacts::default();
    let outcome = run(&helper_ctx(&fx, &facts), &req).unwrap();
    let job = StoredJob {
        step: AggregationJobStep::INITIAL,
        last_request_hash: outcome.request_hash,
    };
    let again = hash_of(&req.clone());
    assert_eq!(
        check_init_request(Some(&job), &again).unwrap(),
        InitDisposition::Replay
    );
    let mut changed = req;
    changed.prepare_inits.pop();
    let changed = hash_of(&changed);
    assert!(check_init_request(Some(&job), &changed).is_err());
}

#[test]
fn request_level_faults_abort_with_invalid_message() {
    let fx = Fixture::new(VdafInstance::Prio3Count);
    let facts = KnownFacts::default();
    let ctx = helper_ctx(&fx, &facts);
    let good = request(&fx, &reports(&fx, 2));

    let mut repeated = good.clone();
    repeated.prepare_inits.push(good.prepare_inits[0].clone());
    let mut wrong_type = good.clone();
    wrong_type.partial_batch_selector = PartialBatchSelector::FixedSize(BatchId::from([1; 32]));
    let mut bad_param = good;
    bad_param.aggregation_parameter = vec![1];
    for request in [repeated, wrong_type, bad_param] {
        let err = run(&ctx, &request).unwrap_err();
        assert_eq!(err.problem_type(), Some(DapProblemType::InvalidMessage));
        assert_eq!(err.task_id(), Some(fx.helper_task.task_id()));
    }
}

#[test]
fn hpke_failures() {
    let fx = Fixture::new(VdafInstance::Prio3Count);
    let mut req = request(&fx, &reports(&fx, 3));
    req.prepare_inits[0]
        .report_share
        .encrypted_input_share
        .config_id = HpkeConfigId(77);
    req.prepare_inits[1]
        .report_share
        .encrypted_input_share
        .payload[3] ^= 1;
    // Metadata changed after sealing: the AAD differs.
    req.prepare_inits[2].report_share.metadata.time = Time::from_seconds_since_epoch(1);
    let facts = KnownFacts::default();
    let outcome = run(&helper_ctx(&fx, &facts), &req).unwrap();
    assert_eq!(
        errors(&outcome),
        [
            Some(PrepareError::HpkeUnknownConfigId),
            Some(PrepareError::HpkeDecryptError),
            Some(PrepareError::HpkeDecryptError)
        ]
    );
}

#[test]
fn a_helper_share_that_is_not_a_vdaf_share_is_invalid_message() {
    let fx = Fixture::new(VdafInstance::Prio3Count);
    let good = fx.report(&Measurement::Count(true), NOW);
    let leader = crate::test_util::leader_share(&fx, &good);
    let broken = fx.seal(
        good.metadata,
        good.public_share.clone(),
        PlaintextInputShare::new(vec![], leader.leader_input_share.clone()),
        PlaintextInputShare::new(vec![], vec![0; 3]),
    );
    let req = request(&fx, &[broken]);
    let facts = KnownFacts::default();
    let outcome = run(&helper_ctx(&fx, &facts), &req).unwrap();
    assert_eq!(errors(&outcome), [Some(PrepareError::InvalidMessage)]);
}

#[test]
fn a_helper_share_that_opens_to_a_malformed_plaintext_is_invalid_message() {
    let fx = Fixture::new(VdafInstance::Prio3Count);
    let mut report = fx.report(&Measurement::Count(true), NOW);
    let aad = InputShareAad::new(
        *fx.helper_task.task_id(),
        report.metadata,
        report.public_share.clone(),
    );
    // Decrypts with the right key and AAD (so not hpke_decrypt_error), but
    // the bytes are no PlaintextInputShare: trailing bytes.
    report.helper_encrypted_input_share = dyad_core::hpke::seal(
        fx.helper_keys[0].config(),
        &dyad_core::hpke::HpkeApplicationInfo::input_share(Role::Helper),
        &[0, 0, 0, 0, 0, 0, 7],
        &dyad_messages::Encode::get_encoded(&aad).unwrap(),
    )
    .unwrap();
    let req = request(&fx, &[report]);
    let facts = KnownFacts::default();
    let outcome = run(&helper_ctx(&fx, &facts), &req).unwrap();
    assert_eq!(errors(&outcome), [Some(PrepareError::InvalidMessage)]);
}

#[test]
fn time_rejections_in_the_specs_order() {
    let fx = Fixture::new(VdafInstance::Prio3Count);
    let req = request(&fx, &reports(&fx, 1));
    let facts = KnownFacts::default();
    let at = |now: Time, task: &Task| {
        let mut ctx = helper_ctx(&fx, &facts);
        ctx.now = now;
        ctx.task = task;
        errors(&run(&ctx, &req).unwrap())[0]
    };
    let now = NOW.as_seconds_since_epoch();
    let t = Time::from_seconds_since_epoch;
    assert_eq!(at(t(now - 300), &fx.helper_task), None, "within skew");
    assert_eq!(
        at(t(now - 301), &fx.helper_task),
        Some(PrepareError::ReportTooEarly)
    );
    let expired = fx
        .helper_task
        .to_builder()
        .task_expiration(Some(t(now - 1)))
        .build()
        .unwrap();
    assert_eq!(at(NOW, &expired), Some(PrepareError::TaskExpired));
    let age = 7 * 86_400;
    assert_eq!(at(t(now + age), &fx.helper_task), None);
    assert_eq!(
        at(t(now + age + 1), &fx.helper_task),
        Some(PrepareError::ReportDropped)
    );
}

#[test]
fn extensions_must_be_recognized_and_distinct() {
    let fx = Fixture::new(VdafInstance::Prio3Count);
    let ext = |t| Extension::new(t, vec![]);
    let with = |exts| fx.report_with_extensions(&Measurement::Count(true), NOW, vec![], exts);
    let req = request(
        &fx,
        &[
            with(vec![ext(ExtensionType::Other(5))]),
            with(vec![
                ext(ExtensionType::Taskprov),
                ext(ExtensionType::Taskprov),
            ]),
            with(vec![ext(ExtensionType::Taskprov)]),
        ],
    );
    let facts = KnownFacts::default();
    let mut ctx = helper_ctx(&fx, &facts);
    ctx.recognized_extensions = &[ExtensionType::Taskprov];
    assert_eq!(
        errors(&run(&ctx, &req).unwrap()),
        [
            Some(PrepareError::InvalidMessage),
            Some(PrepareError::InvalidMessage),
            None
        ]
    );
}

#[test]
fn stored_facts_become_replayed_and_batch_collected() {
    let fx = Fixture::new(VdafInstance::Prio3Count);
    let rs = reports(&fx, 3);
    let req = request(&fx, &rs);
    let mut facts = KnownFacts::default();
    // Aggregated before with the same (Prio3: empty) parameter.
    facts
        .seen_agg_params
        .insert(rs[1].metadata.id, vec![vec![]]);
    assert_eq!(
        errors(&run(&helper_ctx(&fx, &facts), &req).unwrap()),
        [None, Some(PrepareError::ReportReplayed), None]
    );
    facts.collected_intervals = vec![Interval::new(NOW, Duration::from_seconds(3600)).unwrap()];
    assert_eq!(
        errors(&run(&helper_ctx(&fx, &facts), &req).unwrap()),
        [
            Some(PrepareError::BatchCollected),
            Some(PrepareError::ReportReplayed),
            Some(PrepareError::BatchCollected)
        ]
    );
}

#[test]
fn fixed_size_batches_collected_or_saturated() {
    let fx = Fixture::with_mode(
        VdafInstance::Prio3Count,
        dyad_core::task::BatchMode::FixedSize {
            max_batch_size: Some(10),
        },
        |b| b,
    );
    let batch_id = BatchId::from([3; 32]);
    let rs = reports(&fx, 3);
    let shares: Vec<_> = rs.iter().map(|r| leader_share(&fx, r)).collect();
    let mut req = leader_initialize::<V, 16>(
        &new_prio3_count().unwrap(),
        &fx.leader_task,
        &[],
        PartialBatchSelector::FixedSize(batch_id),
        &shares,
    )
    .unwrap()
    .request
    .unwrap();
    // A report that fails does not use up capacity.
    req.prepare_inits[0]
        .report_share
        .encrypted_input_share
        .config_id = HpkeConfigId(9);
    let mut facts = KnownFacts::default();
    let mut ctx = helper_ctx(&fx, &facts);
    ctx.batch_capacity = Some(1);
    assert_eq!(
        errors(&run(&ctx, &req).unwrap()),
        [
            Some(PrepareError::HpkeUnknownConfigId),
            None,
            Some(PrepareError::BatchSaturated)
        ]
    );
    facts.collected_batch_ids.insert(batch_id);
    let ctx = helper_ctx(&fx, &facts);
    assert_eq!(
        errors(&run(&ctx, &req).unwrap())[1..],
        [
            Some(PrepareError::BatchCollected),
            Some(PrepareError::BatchCollected)
        ]
    );
}

#[test]
fn leader_messages_that_do_not_verify_or_parse() {
    let fx = Fixture::new(VdafInstance::Prio3Count);
    let mut req = request(&fx, &reports(&fx, 3));
    // Each report's Leader prep share swapped with another's: the proofs
    // no longer verify. The third one does not decode, which the VDAF's
    // ping-pong topology also counts as a rejection (vdaf_prep_error, not
    // invalid_message: that is for an input share that does not decode).
    let first = req.prepare_inits[0].payload.clone();
    req.prepare_inits[0].payload = req.prepare_inits[1].payload.clone();
    req.prepare_inits[1].payload = first;
    req.prepare_inits[2].payload = vec![0xff, 0, 1];
    let facts = KnownFacts::default();
    assert_eq!(
        errors(&run(&helper_ctx(&fx, &facts), &req).unwrap()),
        [
            Some(PrepareError::VdafPrepError),
            Some(PrepareError::VdafPrepError),
            Some(PrepareError::VdafPrepError)
        ]
    );
}

#[test]
fn global_keys_are_found_after_the_tasks_own() {
    let fx = Fixture::new(VdafInstance::Prio3Count);
    let req = request(&fx, &reports(&fx, 1));
    let facts = KnownFacts::default();
    let no_task_keys = fx
        .helper_task
        .to_builder()
        .hpke_keys(vec![])
        .build()
        .unwrap();
    let keys = (&no_task_keys, &fx.helper_keys);
    let ctx = HelperInitContext {
        task: &no_task_keys,
        keys: &keys,
        facts: &facts,
        now: NOW,
        recognized_extensions: crate::upload::NO_EXTENSIONS,
        batch_capacity: None,
    };
    let outcome =
        helper_initialize::<V, 16, _, _>(&new_prio3_count().unwrap(), &ctx, &req, hash_of(&req))
            .unwrap();
    assert!(matches!(
        outcome.reports[0].state,
        HelperReportState::Finished { .. }
    ));
    assert!(format!("{:?}", outcome.reports[0].state).contains("output_share_len"));
}

#[test]
fn closures_can_answer_the_facts() {
    let fx = Fixture::new(VdafInstance::Prio3Count);
    let rs = reports(&fx, 2);
    let req = request(&fx, &rs);
    let replayed_id = rs[0].metadata.id;
    let facts = FactsFn {
        previous: |m: &ReportMetadata| {
            if m.id == replayed_id {
                vec![vec![]]
            } else {
                Vec::new()
            }
        },
        collected: |_: &ReportMetadata, b: &PartialBatchSelector| {
            *b != PartialBatchSelector::TimeInterval
        },
    };
    let ctx = HelperInitContext {
        task: &fx.helper_task,
        keys: &fx.helper_keys,
        facts: &facts,
        now: NOW,
        recognized_extensions: crate::upload::NO_EXTENSIONS,
        batch_capacity: None,
    };
    let outcome =
        helper_initialize::<V, 16, _, _>(&new_prio3_count().unwrap(), &ctx, &req, hash_of(&req))
            .unwrap();
    assert_eq!(
        outcome.reports[0].state,
        HelperReportState::Failed(PrepareError::ReportReplayed)
    );
    assert!(matches!(
        outcome.reports[1].state,
        HelperReportState::Finished { .. }
    ));
}

#[test]
fn a_poplar1_report_seen_at_one_level_is_replayed_at_that_level_only() {
    use dyad_core::vdaf::{new_poplar1, Poplar1TurboShake128};
    use prio::codec::Encode as _;
    use prio::idpf::IdpfInput;
    use prio::vdaf::poplar1::Poplar1AggregationParam;

    type P = Poplar1TurboShake128;
    let fx = Fixture::new(VdafInstance::Poplar1 { bits: 4 });
    let vdaf = new_poplar1(4).unwrap();
    let report = fx.report(&Measurement::Poplar1(vec![true; 4]), NOW);
    let share = leader_share(&fx, &report);
    let param = |prefix: &[bool]| {
        Poplar1AggregationParam::try_from_prefixes(vec![IdpfInput::from_bools(prefix)])
            .unwrap()
            .get_encoded()
            .unwrap()
    };
    let (level0, level1) = (param(&[true]), param(&[true, false]));
    let request_at = |agg_param: &[u8]| {
        leader_initialize::<P, 16>(
            &vdaf,
            &fx.leader_task,
            agg_param,
            PartialBatchSelector::TimeInterval,
            std::slice::from_ref(&share),
        )
        .unwrap()
        .request
        .unwrap()
    };
    let mut facts = KnownFacts::default();
    facts
        .seen_agg_params
        .insert(report.metadata.id, vec![level0.clone()]);
    let state = |request: &AggregationJobInitReq| {
        helper_initialize::<P, 16, _, _>(&vdaf, &helper_ctx(&fx, &facts), request, hash_of(request))
            .unwrap()
            .reports[0]
            .state
            .clone()
    };
    assert_eq!(
        state(&request_at(&level0)),
        HelperReportState::Failed(PrepareError::ReportReplayed)
    );
    assert!(matches!(
        state(&request_at(&level1)),
        HelperReportState::Continued { .. }
    ));
}

#[test]
fn a_job_spread_over_threads_gives_the_outcome_of_one_core_and_fills_capacity_in_order() {
    let fx = Fixture::new(VdafInstance::Prio3Count);
    let req = request(&fx, &reports(&fx, 60));
    let facts = KnownFacts::default();
    let mut ctx = helper_ctx(&fx, &facts);
    ctx.batch_capacity = Some(45);
    let one_core = crate::parallel::on_one_core(|| run(&ctx, &req).unwrap()).unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(4)
        .build()
        .unwrap();
    let spread = pool.install(|| run(&ctx, &req).unwrap());
    assert_eq!(spread, one_core);
    // The first 45 reports in the request's order took the batch's room.
    let saturated: Vec<_> = errors(&spread)
        .iter()
        .map(|e| *e == Some(PrepareError::BatchSaturated))
        .collect();
    assert!(saturated[..45].iter().all(|s| !s));
    assert!(saturated[45..].iter().all(|s| *s));
}
