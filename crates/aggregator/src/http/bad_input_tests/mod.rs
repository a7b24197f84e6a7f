//! The bad-input matrix: every endpoint of the DAP API, Leader and Helper,
//! sent every mutation of an ordinary request, over real HTTP on loopback,
//! on SQLite and (when `DYAD_TEST_DATABASE_URL` is set) PostgreSQL.
//!
//! Body mutations come from the message's field layout
//! (`dyad_messages::testing::mutation`): truncations at and inside every
//! field, trailing bytes, flipped bytes, wrong length prefixes, extreme
//! times and counts, other and unknown code points; the same inside the
//! encryption (`sealed`). Around the body: the token (missing, wrong,
//! another party's, malformed), the media type (missing, wrong), the
//! body's size (one byte over the limit), the method, the task and job IDs
//! (unknown, malformed), the aggregator of the other role, and a
//! well-formed request of the other batch mode. Each case must get the
//! problem type DAP-09 names (never a 5xx), with the task's ID when the
//! path names one; every refused request must leave every table of the
//! datastore as it was ([`TableDumper`]).
//!
//! [`TableDumper`]: crate::test_util::table_dump::TableDumper

mod cases;
mod expect;
mod fixed_size;
mod runner;
mod sealed;

use crate::state::ApiConfig;
use crate::test_util::fixtures::{ClientReport, TaskPair, PRECISION};
use crate::test_util::served::{Backend, ServedApi};
use cases::{body_mutations, random_job_id, Ordinary, RouteKind};
use dyad_core::clock::{Clock, MockClock};
use dyad_core::task::BatchMode;
use dyad_core::vdaf::{Measurement, VdafInstance};
use dyad_messages::draft09::{
    AggregateShareReq, AggregationJobContinueReq, AggregationJobInitReq, AggregationJobResp,
    AggregationJobStep, BatchId, BatchSelector, CollectionReq, FixedSizeQuery, Interval,
    PartialBatchSelector, Query,
};
use dyad_messages::media_type::DapMediaType;
use dyad_messages::problem::DapProblemType;
use dyad_messages::{Decode, Encode};
use dyad_protocol::leader_prepare::build_continue_request;
use prio::codec::Encode as _;
use prio::idpf::IdpfInput;
use prio::vdaf::poplar1::Poplar1AggregationParam;
use reqwest::Method;
use runner::{Case, Expect, Runner};

const POPLAR: VdafInstance = VdafInstance::Poplar1 { bits: 4 };

/// The largest body the matrix's aggregators take (every ordinary request
/// is far smaller).
const BODY_LIMIT: usize = 16 << 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_request_gets_its_problem_type_and_changes_nothing_on_sqlite() {
    matrix(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_request_gets_its_problem_type_and_changes_nothing_on_postgres() {
    matrix(Backend::Postgres).await;
}

/// The two aggregators of two tasks: a Prio3Count task, and a Poplar1 task
/// (two rounds, so its jobs take a continuation).
struct World {
    leader: ServedApi,
    helper: ServedApi,
    count: TaskPair,
    poplar: TaskPair,
    /// A fixed_size Prio3Count task.
    fixed: TaskPair,
}

async fn matrix(backend: Backend) {
    let clock = MockClock::default();
    let count = TaskPair::time_interval(VdafInstance::Prio3Count);
    let poplar = TaskPair::time_interval(POPLAR);
    let fixed_size = BatchMode::FixedSize {
        max_batch_size: Some(100),
    };
    let fixed = TaskPair::new(VdafInstance::Prio3Count, fixed_size);
    // Small body limits, so that a body one byte over them is cheap to send.
    let config = ApiConfig {
        max_upload_body_bytes: BODY_LIMIT,
        max_request_body_bytes: BODY_LIMIT,
        ..ApiConfig::default()
    };
    let tasks = [&count.leader, &poplar.leader, &fixed.leader];
    let Some(leader) = ServedApi::start_with(backend, clock.clone(), &tasks, config).await else {
        return;
    };
    let tasks = [&count.helper, &poplar.helper, &fixed.helper];
    let helper = ServedApi::start_with(backend, clock, &tasks, config)
        .await
        .unwrap();
    let world = World {
        leader,
        helper,
        count,
        poplar,
        fixed,
    };
    let mut runner = Runner::new();
    hpke_config(&mut runner, &world).await;
    upload(&mut runner, &world).await;
    sealed::upload(&mut runner, &world).await;
    collection_jobs(&mut runner, &world).await;
    // Before any other job of the Prio3Count task aggregates reports into
    // the batch this asks for.
    aggregate_share_and_delete(&mut runner, &world).await;
    init(&mut runner, &world).await;
    sealed::init(&mut runner, &world).await;
    continue_job(&mut runner, &world).await;
    fixed_size::collection_jobs(&mut runner, &world).await;
    fixed_size::aggregate_share(&mut runner, &world).await;
    fixed_size::init(&mut runner, &world).await;
    let World { leader, helper, .. } = world;
    leader.stop().await;
    helper.stop().await;
    runner.finish(&format!("{backend:?}"));
}

/// Runs every case, each body mutation as a case of `ordinary` with that
/// body.
async fn run_all(runner: &mut Runner, cases: Vec<Case<'_>>) {
    for case in cases {
        runner.run(case).await;
    }
}

fn with_body<'a>(
    ordinary: &Ordinary<'a>,
    mutations: Vec<(String, Vec<u8>, Expect)>,
) -> Vec<Case<'a>> {
    mutations
        .into_iter()
        .map(|(what, body, expect)| {
            let mut case = ordinary.case(what, expect);
            case.body = body;
            case
        })
        .collect()
}

/// Every case addressed to a job of its own (so that an accepted one does
/// not make the next conflict).
fn fresh_jobs<'a>(ordinary: &Ordinary<'a>, cases: Vec<Case<'a>>) -> Vec<Case<'a>> {
    cases
        .into_iter()
        .map(|mut case| {
            case.path = case.path.replace(&ordinary.job, &random_job_id());
            case
        })
        .collect()
}

async fn hpke_config(runner: &mut Runner, world: &World) {
    let task_id = world.count.task_id();
    let task = task_id.to_string();
    for server in [&world.leader, &world.helper] {
        let endpoint = if server.address == world.leader.address {
            "Leader GET /hpke_config"
        } else {
            "Helper GET /hpke_config"
        };
        let unknown = dyad_messages::draft09::TaskId::random();
        let cases = [
            (
                "task_id missing",
                "/hpke_config".to_owned(),
                Expect::Problem(DapProblemType::MissingTaskId),
                None,
            ),
            (
                "task_id empty",
                "/hpke_config?task_id=".to_owned(),
                Expect::Problem(DapProblemType::InvalidMessage),
                None,
            ),
            (
                "task_id one character short",
                format!("/hpke_config?task_id={}", &task[1..]),
                Expect::Problem(DapProblemType::InvalidMessage),
                None,
            ),
            (
                "task_id not base64url",
                "/hpke_config?task_id=not!base64url".to_owned(),
                Expect::Problem(DapProblemType::InvalidMessage),
                None,
            ),
            (
                "task unknown",
                format!("/hpke_config?task_id={unknown}"),
                Expect::Problem(DapProblemType::UnrecognizedTask),
                Some(unknown),
            ),
            (
                "method POST",
                format!("/hpke_config?task_id={task}"),
                Expect::Blank(405),
                None,
            ),
        ];
        for (what, path, expect, expected_task) in cases {
            let method = if what == "method POST" {
                Method::POST
            } else {
                Method::GET
            };
            runner
                .run(Case {
                    endpoint,
                    mutation: what.to_owned(),
                    server,
                    method,
                    path,
                    headers: vec![],
                    body: vec![],
                    expect,
                    task_id: expected_task,
                })
                .await;
        }
    }
}

async fn upload(runner: &mut Runner, world: &World) {
    let pair = &world.count;
    let now = world.leader.clock.now();
    let report = pair.report(&Measurement::Count(true), now);
    let ordinary = Ordinary {
        endpoint: "Leader PUT /tasks/{task-id}/reports",
        server: &world.leader,
        other_role: &world.helper,
        method: Method::PUT,
        route: RouteKind::Reports,
        task_id: pair.task_id(),
        job: String::new(),
        token: None,
        media_type: Some(DapMediaType::Report),
        body: report.report.get_encoded().unwrap(),
    };
    let skew = pair.leader.tolerable_clock_skew();
    let oracle = expect::upload(&report.report, now, skew);
    let mut cases = ordinary.surroundings(None);
    cases.extend(with_body(&ordinary, body_mutations(&report.report, oracle)));
    run_all(runner, cases).await;
}

fn current_interval(world: &World) -> Interval {
    let start = world.leader.clock.now().to_batch_interval_start(PRECISION);
    Interval::new(start, PRECISION).unwrap()
}

async fn collection_jobs(runner: &mut Runner, world: &World) {
    let pair = &world.count;
    let request = CollectionReq::new(Query::TimeInterval(current_interval(world)), vec![]);
    let mut create = Ordinary {
        endpoint: "Leader PUT /tasks/{task-id}/collection_jobs/{job-id}",
        server: &world.leader,
        other_role: &world.helper,
        method: Method::PUT,
        route: RouteKind::CollectionJob,
        task_id: pair.task_id(),
        job: random_job_id(),
        token: Some((&pair.collector_token, &pair.leader_token)),
        media_type: Some(DapMediaType::CollectionReq),
        body: request.get_encoded().unwrap(),
    };
    // The job that polls and deletes address.
    runner
        .run(create.case("none (setup)", Expect::Accepted(201)))
        .await;
    let existing = create.job.clone();
    create.job = random_job_id();
    let mut cases = create.surroundings(None);
    cases.extend(with_body(
        &create,
        body_mutations(&request, expect::collection_job(PRECISION)),
    ));
    let other_mode = CollectionReq::new(Query::FixedSize(FixedSizeQuery::CurrentBatch), vec![]);
    let mut case = create.case(
        "a well-formed fixed_size query to a time_interval task",
        Expect::Problem(DapProblemType::InvalidMessage),
    );
    case.body = other_mode.get_encoded().unwrap();
    cases.push(case);
    let cases = fresh_jobs(&create, cases);
    run_all(runner, cases).await;

    for (method, endpoint) in [
        (
            Method::POST,
            "Leader POST /tasks/{task-id}/collection_jobs/{job-id}",
        ),
        (
            Method::DELETE,
            "Leader DELETE /tasks/{task-id}/collection_jobs/{job-id}",
        ),
    ] {
        let ordinary = Ordinary {
            endpoint,
            method,
            job: existing.clone(),
            media_type: None,
            body: vec![],
            ..create.clone()
        };
        run_all(runner, ordinary.surroundings(Some(Expect::Blank(404)))).await;
    }
}

/// Initializes a job of `pair` at the Helper over fresh reports, through
/// the runner; returns the job's ID, the request and the Helper's answer.
async fn initialized_job(
    runner: &mut Runner,
    world: &World,
    pair: &TaskPair,
    agg_param: &[u8],
    selector: PartialBatchSelector,
    reports: &[ClientReport],
) -> (
    String,
    AggregationJobInitReq,
    Vec<dyad_protocol::leader_prepare::LeaderReportAggregation>,
    AggregationJobResp,
) {
    let (request, states) = pair.leader_init(agg_param, selector, reports);
    let job = random_job_id();
    let ordinary = helper_job_request(world, pair, &job, Method::PUT, &request);
    let answer = runner
        .run(ordinary.case("none (setup)", Expect::Accepted(201)))
        .await
        .expect("the Helper answers an ordinary init");
    let response = AggregationJobResp::get_decoded(&answer.body).expect("an AggregationJobResp");
    (job, request, states, response)
}

fn helper_job_request<'a, M: Encode>(
    world: &'a World,
    pair: &'a TaskPair,
    job: &str,
    method: Method,
    message: &M,
) -> Ordinary<'a> {
    let media_type = if method == Method::PUT {
        DapMediaType::AggregationJobInitReq
    } else {
        DapMediaType::AggregationJobContinueReq
    };
    Ordinary {
        endpoint: if method == Method::PUT {
            "Helper PUT /tasks/{task-id}/aggregation_jobs/{job-id}"
        } else {
            "Helper POST /tasks/{task-id}/aggregation_jobs/{job-id}"
        },
        server: &world.helper,
        other_role: &world.leader,
        method,
        route: RouteKind::AggregationJob,
        task_id: pair.task_id(),
        job: job.to_owned(),
        token: Some((&pair.leader_token, &pair.collector_token)),
        media_type: Some(media_type),
        body: message.get_encoded().unwrap(),
    }
}

fn count_reports(world: &World, pair: &TaskPair, n: usize) -> Vec<ClientReport> {
    let now = world.helper.clock.now();
    (0..n)
        .map(|i| pair.report(&Measurement::Count(i % 2 == 0), now))
        .collect()
}

async fn aggregate_share_and_delete(runner: &mut Runner, world: &World) {
    let pair = &world.count;
    let reports = count_reports(world, pair, 2);
    let (job, _, states, response) = initialized_job(
        runner,
        world,
        pair,
        &[],
        PartialBatchSelector::TimeInterval,
        &reports,
    )
    .await;
    let states = pair.leader_process(&[], &states, &response);
    let (_, report_count, checksum) = pair.leader_aggregate(&[], &states);
    assert_eq!(report_count, 2);
    let request = AggregateShareReq {
        batch_selector: BatchSelector::TimeInterval(current_interval(world)),
        aggregation_parameter: vec![],
        report_count,
        checksum,
    };
    let ordinary = Ordinary {
        endpoint: "Helper POST /tasks/{task-id}/aggregate_shares",
        server: &world.helper,
        other_role: &world.leader,
        method: Method::POST,
        route: RouteKind::AggregateShares,
        task_id: pair.task_id(),
        job: String::new(),
        token: Some((&pair.leader_token, &pair.collector_token)),
        media_type: Some(DapMediaType::AggregateShareReq),
        body: request.get_encoded().unwrap(),
    };
    let mut cases = ordinary.surroundings(None);
    cases.extend(with_body(
        &ordinary,
        body_mutations(&request, expect::aggregate_share(&request, PRECISION)),
    ));
    let other_mode = AggregateShareReq {
        batch_selector: BatchSelector::FixedSize(BatchId::random()),
        ..request.clone()
    };
    let mut case = ordinary.case(
        "a well-formed fixed_size batch selector to a time_interval task",
        Expect::Problem(DapProblemType::InvalidMessage),
    );
    case.body = other_mode.get_encoded().unwrap();
    cases.push(case);
    run_all(runner, cases).await;

    let delete = Ordinary {
        endpoint: "Helper DELETE /tasks/{task-id}/aggregation_jobs/{job-id}",
        method: Method::DELETE,
        route: RouteKind::AggregationJob,
        job,
        media_type: None,
        body: vec![],
        ..ordinary
    };
    let unknown = Expect::Problem(DapProblemType::UnrecognizedAggregationJob);
    run_all(runner, delete.surroundings(Some(unknown))).await;
}

async fn init(runner: &mut Runner, world: &World) {
    let pair = &world.count;
    let ordinary_request = || {
        let reports = count_reports(world, pair, 2);
        pair.leader_init(&[], PartialBatchSelector::TimeInterval, &reports)
            .0
    };
    let request = ordinary_request();
    let ordinary = helper_job_request(world, pair, &random_job_id(), Method::PUT, &request);
    let mut cases = ordinary.surroundings(None);
    let other_mode = AggregationJobInitReq {
        partial_batch_selector: PartialBatchSelector::FixedSize(BatchId::random()),
        ..request.clone()
    };
    let mut case = ordinary.case(
        "a well-formed fixed_size job of a time_interval task",
        Expect::Problem(DapProblemType::InvalidMessage),
    );
    case.body = other_mode.get_encoded().unwrap();
    cases.push(case);
    run_all(runner, fresh_jobs(&ordinary, cases)).await;

    // Each body mutation in a job of its own over reports of its own, so
    // that no report is a replay of an earlier accepted case.
    let count = body_mutations(&request, expect::init(&request)).len();
    for index in 0..count {
        let request = ordinary_request();
        let ordinary = helper_job_request(world, pair, &random_job_id(), Method::PUT, &request);
        let oracle = expect::init(&request);
        let mut cases = with_body(&ordinary, body_mutations(&request, oracle));
        assert_eq!(cases.len(), count, "mutations of same-shaped requests");
        runner.run(cases.swap_remove(index)).await;
    }
}

fn poplar_level0() -> Vec<u8> {
    Poplar1AggregationParam::try_from_prefixes(vec![
        IdpfInput::from_bools(&[false]),
        IdpfInput::from_bools(&[true]),
    ])
    .unwrap()
    .get_encoded()
    .unwrap()
}

/// A Poplar1 job initialized at the Helper, waiting for step 1: its ID and
/// the ordinary continuation.
async fn waiting_job(runner: &mut Runner, world: &World) -> (String, AggregationJobContinueReq) {
    let pair = &world.poplar;
    let param = poplar_level0();
    let now = world.helper.clock.now();
    let reports: Vec<ClientReport> = [[false, true, true, false], [true, false, false, true]]
        .iter()
        .map(|bits| pair.report(&Measurement::Poplar1(bits.to_vec()), now))
        .collect();
    let (job, _, states, response) = initialized_job(
        runner,
        world,
        pair,
        &param,
        PartialBatchSelector::TimeInterval,
        &reports,
    )
    .await;
    let states = pair.leader_process(&param, &states, &response);
    let next = build_continue_request(AggregationJobStep(1), &states).unwrap();
    (job, next)
}

async fn continue_job(runner: &mut Runner, world: &World) {
    let pair = &world.poplar;
    let mut index = 0;
    let mut expected_len = None;
    loop {
        // A fresh job whenever a case was accepted (it moved the job on).
        let (job, request) = waiting_job(runner, world).await;
        let ordinary = helper_job_request(world, pair, &job, Method::POST, &request);
        let unknown = Expect::Problem(DapProblemType::UnrecognizedAggregationJob);
        let mut cases = ordinary.surroundings(Some(unknown));
        cases.extend(with_body(
            &ordinary,
            body_mutations(&request, expect::continue_job(&request)),
        ));
        assert_eq!(*expected_len.get_or_insert(cases.len()), cases.len());
        let mut cases = cases.into_iter().skip(index);
        let mut moved_on = false;
        for case in cases.by_ref() {
            index += 1;
            let answer = runner.run(case).await;
            if answer.is_some_and(|a| (200..300).contains(&a.status)) {
                moved_on = true;
                break;
            }
        }
        if !moved_on {
            return;
        }
    }
}
