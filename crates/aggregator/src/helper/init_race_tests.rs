//! The Helper's initialization when another request changes what it read
//! between reading the facts and storing the job: the storing transaction
//! is the authority on replays and collected batches (DAP-09 section
//! 4.5.1.4), and answers in the order that section checks them.

use super::{prepare, refuse_unstorable_times, store};
use crate::helper::facts;
use crate::test_util::fixtures::{ClientReport, TaskPair, PRECISION};
use crate::test_util::helper_requests::init;
use crate::test_util::TestEnv;
use axum::http::StatusCode;
use dyad_core::clock::Clock;
use dyad_core::vdaf::{Measurement, VdafInstance};
use dyad_datastore::models::BatchIdentifier;
use dyad_datastore::DatastoreExt;
use dyad_messages::draft09::{
    AggregationJobId, AggregationJobInitReq, AggregationJobResp, Interval, PartialBatchSelector,
    PrepareError, PrepareStepResult, ReportMetadata,
};
use dyad_protocol::helper_init::HelperInitOutcome;
use dyad_protocol::idempotency::RequestHash;
use std::sync::Arc;

/// A job of `reports` prepared against the facts as they are now, not
/// yet stored.
async fn prepared_now(
    env: &TestEnv,
    pair: &TaskPair,
    reports: &[ClientReport],
) -> (Arc<AggregationJobInitReq>, HelperInitOutcome) {
    let (request, _) = pair.leader_init(&[], PartialBatchSelector::TimeInterval, reports);
    let metadata: Vec<ReportMetadata> = request
        .prepare_inits
        .iter()
        .map(|init| init.report_share.metadata)
        .collect();
    let task = pair.helper.clone();
    let read = task.clone();
    let facts = env
        .datastore
        .run_read_tx("facts", move |tx| {
            let (task, metadata) = (read.clone(), metadata.clone());
            Box::pin(async move {
                facts::gather(
                    tx,
                    &task,
                    &[],
                    &PartialBatchSelector::TimeInterval,
                    &metadata,
                )
                .await
            })
        })
        .await
        .unwrap();
    let outcome = prepare(
        &task,
        &task,
        &facts,
        &request,
        RequestHash([7; 32]),
        env.clock.now(),
    )
    .unwrap();
    (Arc::new(request), refuse_unstorable_times(&task, outcome))
}

/// Another job aggregates `report` (it is recorded as seen).
async fn aggregate_elsewhere(env: &TestEnv, pair: &TaskPair, report: &ClientReport) {
    let (request, _) = pair.leader_init(
        &[],
        PartialBatchSelector::TimeInterval,
        std::slice::from_ref(report),
    );
    let response = env
        .send(init(pair, AggregationJobId::random(), &request))
        .await;
    assert_eq!(response.status, StatusCode::CREATED);
}

async fn collect_the_bucket(env: &TestEnv, pair: &TaskPair) {
    let task_id = pair.task_id();
    let bucket = BatchIdentifier::TimeInterval(
        Interval::new(
            env.clock.now().to_batch_interval_start(PRECISION),
            PRECISION,
        )
        .unwrap(),
    );
    env.datastore
        .run_tx("collect", move |tx| {
            Box::pin(async move { Ok(tx.put_collected_batch(&task_id, &bucket, &[]).await?) })
        })
        .await
        .unwrap();
}

async fn store_now(
    env: &TestEnv,
    pair: &TaskPair,
    request: Arc<AggregationJobInitReq>,
    outcome: HelperInitOutcome,
) -> Vec<PrepareStepResult> {
    let response: AggregationJobResp = store(
        env.datastore.as_ref(),
        &pair.helper,
        AggregationJobId::random(),
        request,
        outcome,
        None,
    )
    .await
    .unwrap();
    response
        .prepare_resps
        .into_iter()
        .map(|resp| resp.result)
        .collect()
}

fn reports(env: &TestEnv, pair: &TaskPair, n: u128) -> Vec<ClientReport> {
    (0..n)
        .map(|v| pair.report(&Measurement::Sum(v), env.clock.now()))
        .collect()
}

#[tokio::test]
async fn a_report_aggregated_meanwhile_is_replayed() {
    let pair = TaskPair::time_interval(VdafInstance::Prio3Sum { bits: 8 });
    let env = TestEnv::with_tasks(&[&pair.helper]).await;
    let reports = reports(&env, &pair, 2);
    let (request, outcome) = prepared_now(&env, &pair, &reports).await;
    aggregate_elsewhere(&env, &pair, &reports[0]).await;

    let results = store_now(&env, &pair, request, outcome).await;
    assert_eq!(
        results[0],
        PrepareStepResult::Reject(PrepareError::ReportReplayed)
    );
    assert!(matches!(results[1], PrepareStepResult::Continue { .. }));
}

/// Section 4.5.1.4 checks replay before collected batches: a report both
/// aggregated elsewhere and in a batch collected meanwhile is replayed;
/// the other report of that batch is refused as collected.
#[tokio::test]
async fn a_report_aggregated_and_collected_meanwhile_is_replayed_first() {
    let pair = TaskPair::time_interval(VdafInstance::Prio3Sum { bits: 8 });
    let env = TestEnv::with_tasks(&[&pair.helper]).await;
    let reports = reports(&env, &pair, 2);
    let (request, outcome) = prepared_now(&env, &pair, &reports).await;
    aggregate_elsewhere(&env, &pair, &reports[0]).await;
    collect_the_bucket(&env, &pair).await;

    let results = store_now(&env, &pair, request, outcome).await;
    assert_eq!(
        results,
        vec![
            PrepareStepResult::Reject(PrepareError::ReportReplayed),
            PrepareStepResult::Reject(PrepareError::BatchCollected),
        ]
    );
}
