//! Mutations inside the encryption: an input share's `PlaintextInputShare`
//! mutated from its layout and sealed again to the aggregator with the
//! report's true AAD, so that it opens and the aggregator meets the bad
//! bytes themselves. The Leader's share in an upload; the Helper's share in
//! an aggregation job (where only that report may fail).

use super::cases::{random_job_id, Ordinary, RouteKind};
use super::runner::{Expect, Runner};
use super::{count_reports, helper_job_request, World};
use crate::test_util::fixtures::ClientReport;
use dyad_core::clock::Clock;
use dyad_core::hpke::{open_input_share, seal, HpkeApplicationInfo};
use dyad_core::task::Task;
use dyad_core::vdaf::Measurement;
use dyad_messages::draft09::{
    HpkeCiphertext, InputShareAad, PartialBatchSelector, PlaintextInputShare, PrepareError, Role,
};
use dyad_messages::media_type::DapMediaType;
use dyad_messages::problem::DapProblemType;
use dyad_messages::testing::layout::layout;
use dyad_messages::testing::mutation::{mutations, Mutation};
use dyad_messages::{Decode, Encode};
use prio::codec::ParameterizedDecode;
use prio::vdaf::prio3::{Prio3, Prio3Count};
use prio::vdaf::Vdaf;
use reqwest::Method;

/// What became of a mutated plaintext.
enum Plaintext {
    /// Not a `PlaintextInputShare`.
    Undecodable,
    /// With extensions, none of which these tasks recognize.
    WithExtensions,
    /// Its payload is not a Prio3Count input share of the aggregator.
    NotAShare,
    /// A well-formed share (of a different measurement, or with a broken
    /// proof).
    Share,
}

fn classify(bytes: &[u8], role: Role) -> Plaintext {
    let Ok(plaintext) = PlaintextInputShare::get_decoded(bytes) else {
        return Plaintext::Undecodable;
    };
    if !plaintext.extensions.is_empty() {
        return Plaintext::WithExtensions;
    }
    let vdaf = Prio3::new_count(2).unwrap();
    let index = usize::from(role == Role::Helper);
    match <Prio3Count as Vdaf>::InputShare::get_decoded_with_param(
        &(&vdaf, index),
        &plaintext.payload,
    ) {
        Ok(_) => Plaintext::Share,
        Err(_) => Plaintext::NotAShare,
    }
}

/// The mutations of `plaintext`, each sealed to `task`'s first key for
/// `role` with `aad`.
fn sealed_mutations(
    task: &Task,
    role: Role,
    aad: &InputShareAad,
    plaintext: &PlaintextInputShare,
) -> Vec<(Mutation, HpkeCiphertext)> {
    let layout = layout(plaintext).unwrap_or_else(|e| panic!("{e}"));
    let info = HpkeApplicationInfo::input_share(role);
    let aad = aad.get_encoded().unwrap();
    mutations(&layout)
        .into_iter()
        .map(|mutation| {
            let config = task.hpke_keys()[0].config();
            let ciphertext = seal(config, &info, &mutation.bytes, &aad).unwrap();
            (mutation, ciphertext)
        })
        .collect()
}

fn aad_of(task: &Task, report: &ClientReport) -> InputShareAad {
    let report = &report.report;
    InputShareAad::new(
        *task.task_id(),
        report.metadata,
        report.public_share.clone(),
    )
}

/// The Leader's share of an upload: a plaintext that is not a
/// `PlaintextInputShare`, carries an extension the task does not take, or
/// whose payload is not a share is `invalidMessage` (DAP-09 section 4.4.2);
/// a well-formed share is taken (its proof is checked in aggregation).
pub(super) async fn upload(runner: &mut Runner, world: &World) {
    let pair = &world.count;
    let now = world.leader.clock.now();
    let report = pair.report(&Measurement::Count(true), now);
    let plaintext =
        PlaintextInputShare::new(vec![], report.leader_share.leader_input_share.clone());
    let aad = aad_of(&pair.leader, &report);
    let ordinary = Ordinary {
        endpoint: "Leader PUT /tasks/{task-id}/reports (sealed share)",
        server: &world.leader,
        other_role: &world.helper,
        method: Method::PUT,
        route: RouteKind::Reports,
        task_id: pair.task_id(),
        job: String::new(),
        token: None,
        media_type: Some(DapMediaType::Report),
        body: vec![],
    };
    for (mutation, ciphertext) in sealed_mutations(&pair.leader, Role::Leader, &aad, &plaintext) {
        let expect = match classify(&mutation.bytes, Role::Leader) {
            Plaintext::Share => Expect::Accepted(201),
            _ => Expect::Problem(DapProblemType::InvalidMessage),
        };
        let mut bad = report.report.clone();
        bad.leader_encrypted_input_share = ciphertext;
        let mut case = ordinary.case(mutation.to_string(), expect);
        case.body = bad.get_encoded().unwrap();
        runner.run(case).await;
    }
}

/// The Helper's share of the first report of a job over two fresh reports:
/// that report fails with `invalid_message` if its plaintext or share does
/// not decode or carries an unknown extension (DAP-09 section 4.5.1.4), with
/// `vdaf_prep_error` if the share decodes but does not verify; the other
/// report goes on.
pub(super) async fn init(runner: &mut Runner, world: &World) {
    let pair = &world.count;
    let count = {
        let reports = count_reports(world, pair, 1);
        let plaintext = helper_plaintext(world, &reports[0]);
        mutations(&layout(&plaintext).unwrap()).len()
    };
    for index in 0..count {
        let reports = count_reports(world, pair, 2);
        let (mut request, _) = pair.leader_init(&[], PartialBatchSelector::TimeInterval, &reports);
        let plaintext = helper_plaintext(world, &reports[0]);
        let aad = aad_of(&pair.helper, &reports[0]);
        let mut sealed = sealed_mutations(&pair.helper, Role::Helper, &aad, &plaintext);
        assert_eq!(sealed.len(), count, "mutations of same-shaped shares");
        let (mutation, ciphertext) = sealed.swap_remove(index);
        let error = match classify(&mutation.bytes, Role::Helper) {
            Plaintext::Share => PrepareError::VdafPrepError,
            _ => PrepareError::InvalidMessage,
        };
        request.prepare_inits[0].report_share.encrypted_input_share = ciphertext;
        let mut ordinary = helper_job_request(world, pair, &random_job_id(), Method::PUT, &request);
        ordinary.endpoint = "Helper PUT /tasks/{task-id}/aggregation_jobs/{job-id} (sealed share)";
        let expect = Expect::Prepared {
            status: 201,
            results: vec![Some(error), None],
        };
        runner
            .run(ordinary.case(mutation.to_string(), expect))
            .await;
    }
}

/// The Helper's plaintext of `report`, as the Client sealed it.
fn helper_plaintext(world: &World, report: &ClientReport) -> PlaintextInputShare {
    let task = &world.count.helper;
    open_input_share(
        &task.hpke_keys()[0],
        Role::Helper,
        &aad_of(task, report),
        &report.report.helper_encrypted_input_share,
    )
    .unwrap()
}
