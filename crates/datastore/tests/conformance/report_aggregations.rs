//! Conformance: report aggregations (DAP-09 sections 4.5.1 and 4.5.2).

use dyad_datastore::models::{AggregationJob, ReportAggregation, ReportAggregationState};
use dyad_datastore::testing::fixtures::{self, aggregation_job, helper_task, interval, t};
use dyad_datastore::testing::TestDatastore;
use dyad_datastore::{Datastore, DatastoreError, DatastoreExt, TxError};
use dyad_messages::draft09::{PrepareError, PrepareResp, PrepareStepResult, ReportId};

async fn setup(h: &TestDatastore) -> AggregationJob {
    let task = helper_task();
    fixtures::put_tasks(h.datastore.as_ref(), &[&task]).await;
    let job = aggregation_job(task.task_id(), b"", None, interval(3600, 3600));
    fixtures::put_aggregation_jobs(h.datastore.as_ref(), std::slice::from_ref(&job)).await;
    job
}

fn every_state(job: &AggregationJob) -> Vec<ReportAggregation> {
    let states = [
        ReportAggregationState::Start,
        ReportAggregationState::WaitingLeader {
            transition: vec![1, 2, 3],
        },
        ReportAggregationState::WaitingHelper { prep_state: vec![] },
        ReportAggregationState::Finished,
        ReportAggregationState::Failed(PrepareError::ReportReplayed),
        ReportAggregationState::Failed(PrepareError::Other(200)),
    ];
    states
        .into_iter()
        .enumerate()
        .map(|(ord, state)| {
            ReportAggregation::new(
                job.task_id,
                job.aggregation_job_id,
                ord as u64,
                ReportId::random(),
                t(3600 + ord as u64),
                state,
            )
        })
        .collect()
}

async fn put(datastore: &dyn Datastore, rows: Vec<ReportAggregation>) -> Result<(), TxError> {
    datastore
        .run_tx("put", move |tx| {
            let rows = rows.clone();
            Box::pin(async move { Ok(tx.put_report_aggregations(&rows, None).await?) })
        })
        .await
}

async fn get(datastore: &dyn Datastore, job: &AggregationJob) -> Vec<ReportAggregation> {
    let (task_id, job_id) = (job.task_id, job.aggregation_job_id);
    datastore
        .run_read_tx("get", move |tx| {
            Box::pin(async move { Ok(tx.get_report_aggregations(&task_id, &job_id).await?) })
        })
        .await
        .unwrap()
}

/// Every state, with and without a stored response, reads back as written
/// and in `ord` order whatever the order of writing.
pub async fn every_state_round_trips_in_order(h: TestDatastore) {
    let job = setup(&h).await;
    let mut rows = every_state(&job);
    rows[1].last_prep_resp = Some(PrepareResp::new(
        rows[1].report_id,
        PrepareStepResult::Continue {
            payload: vec![4; 10],
        },
    ));
    rows[4].last_prep_resp = Some(PrepareResp::new(
        rows[4].report_id,
        PrepareStepResult::Reject(PrepareError::ReportReplayed),
    ));
    let mut shuffled = rows.clone();
    shuffled.reverse();
    put(h.datastore.as_ref(), shuffled).await.unwrap();
    assert_eq!(get(h.datastore.as_ref(), &job).await, rows);
}

/// Updates change state and stored response in place.
pub async fn update_states_and_responses(h: TestDatastore) {
    let job = setup(&h).await;
    let mut rows = every_state(&job);
    put(h.datastore.as_ref(), rows.clone()).await.unwrap();
    rows[2].state = ReportAggregationState::Finished;
    rows[2].last_prep_resp = Some(PrepareResp::new(
        rows[2].report_id,
        PrepareStepResult::Finished,
    ));
    rows[1].state = ReportAggregationState::Failed(PrepareError::VdafPrepError);
    let update = vec![rows[2].clone(), rows[1].clone()];
    h.datastore
        .run_tx("update", move |tx| {
            let update = update.clone();
            Box::pin(async move { Ok(tx.update_report_aggregations(&update, None).await?) })
        })
        .await
        .unwrap();
    assert_eq!(get(h.datastore.as_ref(), &job).await, rows);
}

/// A second row at the same position of a job is refused.
pub async fn duplicate_ord_is_rejected(h: TestDatastore) {
    let job = setup(&h).await;
    let rows = every_state(&job);
    put(h.datastore.as_ref(), rows[..2].to_vec()).await.unwrap();
    let mut clash = rows[2].clone();
    clash.ord = 1;
    let result = put(h.datastore.as_ref(), vec![rows[3].clone(), clash]).await;
    assert!(
        matches!(
            result,
            Err(TxError::Datastore(DatastoreError::AlreadyExists { .. }))
        ),
        "{result:?}"
    );
    assert_eq!(get(h.datastore.as_ref(), &job).await, rows[..2].to_vec());
}

/// Updating a row that does not exist fails with `NotFound`.
pub async fn update_of_missing_row_fails(h: TestDatastore) {
    let job = setup(&h).await;
    let rows = every_state(&job);
    let result = h
        .datastore
        .run_tx("update", move |tx| {
            let rows = rows.clone();
            Box::pin(async move { Ok(tx.update_report_aggregations(&rows, None).await?) })
        })
        .await;
    crate::assert_not_found(&result);
}
