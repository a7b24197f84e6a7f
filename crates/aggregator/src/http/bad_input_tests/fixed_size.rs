//! The matrix's requests of a fixed_size task: collection jobs of both
//! `FixedSizeQuery` kinds, an aggregate share of a batch the Helper holds,
//! aggregation jobs naming a batch ID; each with a well-formed request of
//! the time_interval mode, which is `invalidMessage` (DAP-09 sections
//! 4.5.1.1, 4.6.1 and 4.6.2).

use super::cases::{body_mutations, random_job_id, Ordinary, RouteKind};
use super::runner::{Expect, Runner};
use super::{count_reports, fresh_jobs, helper_job_request, initialized_job, run_all, with_body};
use super::{current_interval, World};
use crate::test_util::served::ServedApi;
use dyad_messages::draft09::{
    AggregateShareReq, AggregationJobInitReq, BatchId, BatchSelector, CollectionReq,
    FixedSizeQuery, PartialBatchSelector, Query,
};
use dyad_messages::media_type::DapMediaType;
use dyad_messages::problem::DapProblemType;
use dyad_messages::Encode;
use reqwest::Method;

/// A well-formed request of the other batch mode, refused as
/// `invalidMessage`.
fn other_mode<'a>(ordinary: &Ordinary<'a>, what: &str, body: Vec<u8>) -> super::Case<'a> {
    let mut case = ordinary.case(what, Expect::Problem(DapProblemType::InvalidMessage));
    case.body = body;
    case
}

fn leader_request<'a>(
    world: &'a World,
    server: &'a ServedApi,
    request: &CollectionReq,
) -> Ordinary<'a> {
    let pair = &world.fixed;
    Ordinary {
        endpoint: "Leader PUT /tasks/{task-id}/collection_jobs/{job-id} (fixed_size)",
        server,
        other_role: &world.helper,
        method: Method::PUT,
        route: RouteKind::CollectionJob,
        task_id: pair.task_id(),
        job: random_job_id(),
        token: Some((&pair.collector_token, &pair.leader_token)),
        media_type: Some(DapMediaType::CollectionReq),
        body: request.get_encoded().unwrap(),
    }
}

pub(super) async fn collection_jobs(runner: &mut Runner, world: &World) {
    for query in [
        FixedSizeQuery::CurrentBatch,
        FixedSizeQuery::ByBatchId(BatchId::random()),
    ] {
        let request = CollectionReq::new(Query::FixedSize(query), vec![]);
        let ordinary = leader_request(world, &world.leader, &request);
        let mut cases = with_body(
            &ordinary,
            body_mutations(&request, super::expect::fixed_size_collection_job),
        );
        let time_interval =
            CollectionReq::new(Query::TimeInterval(current_interval(world)), vec![]);
        cases.push(other_mode(
            &ordinary,
            "a well-formed time_interval query to a fixed_size task",
            time_interval.get_encoded().unwrap(),
        ));
        run_all(runner, fresh_jobs(&ordinary, cases)).await;
    }
}

pub(super) async fn aggregate_share(runner: &mut Runner, world: &World) {
    let pair = &world.fixed;
    let batch_id = BatchId::random();
    let reports = count_reports(world, pair, 2);
    let selector = PartialBatchSelector::FixedSize(batch_id);
    let (_, _, states, response) =
        initialized_job(runner, world, pair, &[], selector, &reports).await;
    let states = pair.leader_process(&[], &states, &response);
    let (_, report_count, checksum) = pair.leader_aggregate(&[], &states);
    assert_eq!(report_count, 2);
    let request = AggregateShareReq {
        batch_selector: BatchSelector::FixedSize(batch_id),
        aggregation_parameter: vec![],
        report_count,
        checksum,
    };
    let ordinary = Ordinary {
        endpoint: "Helper POST /tasks/{task-id}/aggregate_shares (fixed_size)",
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
    let oracle = super::expect::fixed_size_aggregate_share(&request);
    let mut cases = with_body(&ordinary, body_mutations(&request, oracle));
    let time_interval = AggregateShareReq {
        batch_selector: BatchSelector::TimeInterval(current_interval(world)),
        ..request.clone()
    };
    cases.push(other_mode(
        &ordinary,
        "a well-formed time_interval batch selector to a fixed_size task",
        time_interval.get_encoded().unwrap(),
    ));
    run_all(runner, cases).await;
}

pub(super) async fn init(runner: &mut Runner, world: &World) {
    let pair = &world.fixed;
    let ordinary_request = || {
        let reports = count_reports(world, pair, 2);
        let selector = PartialBatchSelector::FixedSize(BatchId::random());
        pair.leader_init(&[], selector, &reports).0
    };
    let request = ordinary_request();
    let count = body_mutations(&request, super::expect::init(&request)).len();
    for index in 0..count {
        let request = ordinary_request();
        let mut ordinary = helper_job_request(world, pair, &random_job_id(), Method::PUT, &request);
        ordinary.endpoint = "Helper PUT /tasks/{task-id}/aggregation_jobs/{job-id} (fixed_size)";
        let oracle = super::expect::init(&request);
        let mut cases = with_body(&ordinary, body_mutations(&request, oracle));
        assert_eq!(cases.len(), count, "mutations of same-shaped requests");
        runner.run(cases.swap_remove(index)).await;
    }
    let mut ordinary = helper_job_request(world, pair, &random_job_id(), Method::PUT, &request);
    ordinary.endpoint = "Helper PUT /tasks/{task-id}/aggregation_jobs/{job-id} (fixed_size)";
    let time_interval = AggregationJobInitReq {
        partial_batch_selector: PartialBatchSelector::TimeInterval,
        ..request.clone()
    };
    let case = other_mode(
        &ordinary,
        "a well-formed time_interval job of a fixed_size task",
        time_interval.get_encoded().unwrap(),
    );
    runner.run(case).await;
}
