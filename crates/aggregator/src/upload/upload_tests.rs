//! Tests of `PUT /tasks/{task-id}/reports`: the happy path, and each
//! rejection with its problem type and no report stored.

use crate::state::ApiConfig;
use crate::test_util::fixtures::{TaskPair, PRECISION};
use crate::test_util::{TestEnv, TestRequest};
use axum::http::StatusCode;
use dyad_core::clock::Clock;
use dyad_core::vdaf::{Measurement, VdafInstance};
use dyad_datastore::models::BatchIdentifier;
use dyad_datastore::DatastoreExt;
use dyad_messages::draft09::{Duration, HpkeConfigId, Interval, Report, TaskId, Time};
use dyad_messages::media_type::DapMediaType;
use dyad_messages::problem::DapProblemType;
use dyad_messages::Encode;

fn upload(task_id: TaskId, report: &Report) -> TestRequest {
    TestRequest::put(format!("/tasks/{task_id}/reports")).message(DapMediaType::Report, report)
}

async fn setup() -> (TestEnv, TaskPair) {
    let pair = TaskPair::time_interval(VdafInstance::Prio3Count);
    let env = TestEnv::with_tasks(&[&pair.leader]).await;
    (env, pair)
}

fn now(env: &TestEnv) -> Time {
    env.clock.now()
}

#[tokio::test]
async fn report_is_stored_and_answered_201() {
    let (env, pair) = setup().await;
    let report = pair.report(&Measurement::Count(true), now(&env));
    let response = env.send(upload(pair.task_id(), &report.report)).await;
    assert_eq!(response.status, StatusCode::CREATED);
    assert!(response.body.is_empty());
    assert_eq!(env.report_count(pair.task_id()).await, 1);
    let task_id = pair.task_id();
    let report_id = report.id();
    let stored = env
        .datastore
        .run_read_tx("t", move |tx| {
            Box::pin(async move { Ok(tx.get_client_report(&task_id, &report_id).await?) })
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.leader_input_share,
        report.leader_share.leader_input_share
    );
    assert_eq!(
        stored.helper_encrypted_input_share,
        report.report.helper_encrypted_input_share
    );
}

#[tokio::test]
async fn duplicate_report_is_accepted_and_counted_once() {
    let (env, pair) = setup().await;
    let report = pair.report(&Measurement::Count(true), now(&env));
    for _ in 0..3 {
        let response = env.send(upload(pair.task_id(), &report.report)).await;
        assert_eq!(response.status, StatusCode::CREATED);
    }
    assert_eq!(env.report_count(pair.task_id()).await, 1);
}

#[tokio::test]
async fn concurrent_uploads_are_all_stored() {
    let (env, pair) = setup().await;
    let reports: Vec<_> = (0..24)
        .map(|i| pair.report(&Measurement::Count(i % 2 == 0), now(&env)))
        .collect();
    let sends = reports
        .iter()
        .map(|r| env.send(upload(pair.task_id(), &r.report)));
    for response in futures::future::join_all(sends).await {
        assert_eq!(response.status, StatusCode::CREATED);
    }
    assert_eq!(env.report_count(pair.task_id()).await, 24);
}

#[tokio::test]
async fn unknown_task_is_unrecognized() {
    let (env, pair) = setup().await;
    let other = TaskId::random();
    let report = pair.report(&Measurement::Count(true), now(&env));
    let response = env.send(upload(other, &report.report)).await;
    response.assert_problem(DapProblemType::UnrecognizedTask, Some(other));
    assert_eq!(env.report_count(pair.task_id()).await, 0);
}

#[tokio::test]
async fn helper_task_takes_no_uploads() {
    let pair = TaskPair::time_interval(VdafInstance::Prio3Count);
    let env = TestEnv::with_tasks(&[&pair.helper]).await;
    let report = pair.report(&Measurement::Count(true), now(&env));
    let response = env.send(upload(pair.task_id(), &report.report)).await;
    response.assert_problem(DapProblemType::UnrecognizedTask, Some(pair.task_id()));
}

#[tokio::test]
async fn malformed_task_id_is_invalid_message() {
    let (env, _) = setup().await;
    let response = env
        .send(TestRequest::put("/tasks/not-a-task/reports").bytes(DapMediaType::Report, vec![0]))
        .await;
    response.assert_problem(DapProblemType::InvalidMessage, None);
}

#[tokio::test]
async fn malformed_body_is_invalid_message() {
    let (env, pair) = setup().await;
    let report = pair.report(&Measurement::Count(true), now(&env));
    let mut bytes = report.report.get_encoded().unwrap();
    bytes.push(0); // trailing garbage
    for body in [bytes, vec![1, 2, 3], Vec::new()] {
        let response = env
            .send(
                TestRequest::put(format!("/tasks/{}/reports", pair.task_id()))
                    .bytes(DapMediaType::Report, body),
            )
            .await;
        response.assert_problem(DapProblemType::InvalidMessage, Some(pair.task_id()));
    }
    assert_eq!(env.report_count(pair.task_id()).await, 0);
}

#[tokio::test]
async fn wrong_or_missing_media_type_is_415() {
    let (env, pair) = setup().await;
    let report = pair.report(&Measurement::Count(true), now(&env));
    let body = report.report.get_encoded().unwrap();
    let uri = format!("/tasks/{}/reports", pair.task_id());
    for request in [
        TestRequest::put(&uri).bytes(DapMediaType::AggregateShare, body.clone()),
        TestRequest::put(&uri)
            .header("content-type", "application/octet-stream")
            .raw_body(body.clone()),
        TestRequest::put(&uri).raw_body(body.clone()),
    ] {
        let response = env.send(request).await;
        assert_eq!(response.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let problem = response.problem();
        assert_eq!(problem.dap_type(), Some(DapProblemType::InvalidMessage));
        assert_eq!(problem.taskid, Some(pair.task_id()));
    }
    assert_eq!(env.report_count(pair.task_id()).await, 0);
}

#[tokio::test]
async fn oversized_body_is_413() {
    let pair = TaskPair::time_interval(VdafInstance::Prio3Count);
    let env = TestEnv::with_config(ApiConfig {
        max_upload_body_bytes: 64,
        ..ApiConfig::default()
    })
    .await;
    env.put_task(&pair.leader).await;
    let report = pair.report(&Measurement::Count(true), now(&env));
    let response = env.send(upload(pair.task_id(), &report.report)).await;
    assert_eq!(response.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        response.problem_type(),
        Some(DapProblemType::InvalidMessage)
    );
    assert_eq!(env.report_count(pair.task_id()).await, 0);
}

#[tokio::test]
async fn report_from_the_future_is_too_early() {
    let (env, pair) = setup().await;
    let skew = pair.leader.tolerable_clock_skew();
    let late = now(&env)
        .checked_add(skew)
        .unwrap()
        .checked_add(Duration::from_seconds(1))
        .unwrap();
    let report = pair.report(&Measurement::Count(true), late);
    let response = env.send(upload(pair.task_id(), &report.report)).await;
    response.assert_problem(DapProblemType::ReportTooEarly, Some(pair.task_id()));
    assert_eq!(env.report_count(pair.task_id()).await, 0);
    // Within the skew is fine.
    let ok = pair.report(
        &Measurement::Count(true),
        now(&env).checked_add(skew).unwrap(),
    );
    assert_eq!(
        env.send(upload(pair.task_id(), &ok.report)).await.status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn report_after_task_expiration_is_rejected() {
    let mut pair = TaskPair::time_interval(VdafInstance::Prio3Count);
    let env = TestEnv::new().await;
    let expiration = now(&env).checked_sub(Duration::from_seconds(10)).unwrap();
    pair.leader = pair
        .leader
        .to_builder()
        .task_expiration(Some(expiration))
        .build()
        .unwrap();
    env.put_task(&pair.leader).await;
    let report = pair.report(&Measurement::Count(true), now(&env));
    let response = env.send(upload(pair.task_id(), &report.report)).await;
    response.assert_problem(DapProblemType::ReportRejected, Some(pair.task_id()));
    assert_eq!(env.report_count(pair.task_id()).await, 0);
}

#[tokio::test]
async fn share_for_an_unknown_config_is_outdated() {
    let (env, pair) = setup().await;
    let mut report = pair.report(&Measurement::Count(true), now(&env)).report;
    report.leader_encrypted_input_share.config_id = HpkeConfigId(99);
    let response = env.send(upload(pair.task_id(), &report)).await;
    response.assert_problem(DapProblemType::OutdatedConfig, Some(pair.task_id()));
    assert_eq!(env.report_count(pair.task_id()).await, 0);
}

#[tokio::test]
async fn report_in_a_collected_batch_is_rejected() {
    let (env, pair) = setup().await;
    let time = now(&env);
    let task_id = pair.task_id();
    let collected = Interval::new(time.to_batch_interval_start(PRECISION), PRECISION).unwrap();
    env.datastore
        .run_tx("t", move |tx| {
            Box::pin(async move {
                tx.put_collected_batch(&task_id, &BatchIdentifier::TimeInterval(collected), &[])
                    .await?;
                Ok(())
            })
        })
        .await
        .unwrap();
    let report = pair.report(&Measurement::Count(true), time);
    let response = env.send(upload(task_id, &report.report)).await;
    response.assert_problem(DapProblemType::ReportRejected, Some(task_id));
    assert_eq!(env.report_count(task_id).await, 0);
    // The next bucket is open.
    let next = pair.report(&Measurement::Count(true), collected.end());
    env.clock.set(collected.end());
    assert_eq!(
        env.send(upload(task_id, &next.report)).await.status,
        StatusCode::CREATED
    );
}

/// The same task as `pair`, as a Client configured with `vdaf` instead of
/// the task's VDAF would see it (same ID, keys and verify key length).
fn misconfigured_client(pair: &TaskPair, vdaf: VdafInstance) -> TaskPair {
    let rebuild = |task: &dyad_core::task::Task| task.to_builder().vdaf(vdaf).build().unwrap();
    TaskPair {
        leader: rebuild(&pair.leader),
        helper: rebuild(&pair.helper),
        leader_token: pair.leader_token.clone(),
        collector_token: pair.collector_token.clone(),
        collector_keypair: pair.collector_keypair.clone(),
    }
}

#[tokio::test]
async fn report_of_another_vdaf_is_refused_at_upload_naming_the_vdaf() {
    let (env, pair) = setup().await;
    let histogram = VdafInstance::Prio3Histogram {
        length: 10,
        chunk_length: 3,
    };
    let client = misconfigured_client(&pair, histogram);
    let report = client.report(&Measurement::Histogram(4), now(&env));
    let response = env.send(upload(pair.task_id(), &report.report)).await;
    response.assert_problem(DapProblemType::InvalidMessage, Some(pair.task_id()));
    let detail = response.problem().detail.unwrap_or_default();
    assert!(
        detail.contains("Prio3Count") && detail.contains("does not decode"),
        "{detail}"
    );
    assert_eq!(env.report_count(pair.task_id()).await, 0);
}

#[tokio::test]
async fn report_with_other_vdaf_parameters_is_refused_at_upload() {
    let vdaf = VdafInstance::Prio3Histogram {
        length: 10,
        chunk_length: 3,
    };
    let pair = TaskPair::time_interval(vdaf);
    let env = TestEnv::with_tasks(&[&pair.leader]).await;
    let client = misconfigured_client(
        &pair,
        VdafInstance::Prio3Histogram {
            length: 12,
            chunk_length: 3,
        },
    );
    let report = client.report(&Measurement::Histogram(11), now(&env));
    let response = env.send(upload(pair.task_id(), &report.report)).await;
    response.assert_problem(DapProblemType::InvalidMessage, Some(pair.task_id()));
    assert_eq!(env.report_count(pair.task_id()).await, 0);
    // The same client with the task's own parameters is accepted.
    let good = pair.report(&Measurement::Histogram(9), now(&env));
    assert_eq!(
        env.send(upload(pair.task_id(), &good.report)).await.status,
        StatusCode::CREATED
    );
    assert_eq!(env.report_count(pair.task_id()).await, 1);
}

/// The task's counters as stored.
async fn counters(env: &TestEnv, task_id: TaskId) -> dyad_datastore::models::TaskCounters {
    env.datastore
        .run_read_tx("t", move |tx| {
            Box::pin(async move { Ok(tx.get_task_counters(&task_id).await?) })
        })
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn every_upload_outcome_is_counted_in_the_task_statistics() {
    let (env, pair) = setup().await;
    let task_id = pair.task_id();
    let report = pair.report(&Measurement::Count(true), now(&env));
    for _ in 0..3 {
        let response = env.send(upload(task_id, &report.report)).await;
        assert_eq!(response.status, StatusCode::CREATED);
    }
    // Stored and duplicate reports count in the writer's transaction.
    let stored = counters(&env, task_id).await;
    assert_eq!((stored.uploads_accepted, stored.uploads_duplicate), (1, 2));

    let late = now(&env)
        .checked_add(pair.leader.tolerable_clock_skew())
        .unwrap()
        .checked_add(Duration::from_seconds(1))
        .unwrap();
    let early = pair.report(&Measurement::Count(true), late);
    for _ in 0..2 {
        let response = env.send(upload(task_id, &early.report)).await;
        response.assert_problem(DapProblemType::ReportTooEarly, Some(task_id));
    }
    let body = report.report.get_encoded().unwrap();
    let uri = format!("/tasks/{task_id}/reports");
    let response = env.send(TestRequest::put(&uri).raw_body(body)).await;
    assert_eq!(response.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let garbage = TestRequest::put(&uri).bytes(DapMediaType::Report, vec![1, 2, 3]);
    assert_eq!(env.send(garbage).await.status, StatusCode::BAD_REQUEST);

    // Refusals are written by the writer within about a second.
    let started = std::time::Instant::now();
    let counted = loop {
        let counted = counters(&env, task_id).await;
        if counted.uploads_too_early > 0 || started.elapsed() > std::time::Duration::from_secs(10) {
            break counted;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(counted.uploads_accepted, 1);
    assert_eq!(counted.uploads_duplicate, 2);
    assert_eq!(counted.uploads_too_early, 2);
    assert_eq!(counted.uploads_refused_request, 1);
    assert_eq!(counted.uploads_invalid_message, 1);
    assert_eq!(counted.reports_aggregated, 0);
}

/// A task without keys of its own takes reports sealed to any stored
/// global key, expired ones included (a Client may still hold its config);
/// a config ID that is neither the task's nor a global key's is
/// `outdatedConfig`.
#[tokio::test]
async fn global_keys_open_uploads_of_a_task_without_keys() {
    use dyad_datastore::models::HpkeKeyState;
    let pair = TaskPair::time_interval(VdafInstance::Prio3Count);
    let env = TestEnv::new().await;
    env.put_task(&TaskPair::without_keys(&pair.leader)).await;
    // The report is sealed to the pair's Leader key: store it as a global,
    // expired key.
    env.put_global_key(&pair.leader.hpke_keys()[0], HpkeKeyState::Expired)
        .await;
    let report = pair.report(&Measurement::Count(true), now(&env));
    let response = env.send(upload(pair.task_id(), &report.report)).await;
    assert_eq!(response.status, StatusCode::CREATED);
    assert_eq!(env.report_count(pair.task_id()).await, 1);

    let mut unknown = pair.report(&Measurement::Count(true), now(&env)).report;
    unknown.leader_encrypted_input_share.config_id = HpkeConfigId(99);
    let response = env.send(upload(pair.task_id(), &unknown)).await;
    response.assert_problem(DapProblemType::OutdatedConfig, Some(pair.task_id()));
    assert_eq!(env.report_count(pair.task_id()).await, 1);
}
