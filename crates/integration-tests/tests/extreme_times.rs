//! Extreme times and wrong methods against real `dyad serve` processes:
//! each gets the problem document DAP-09 names, with the task's ID, never a
//! 5xx; afterwards an ordinary upload and collection is exact.

use dyad_core::vdaf::{AggregateResult, Measurement};
use dyad_integration_tests::{past_bucket_time, Dyad, TaskOptions};
use dyad_messages::draft09::{
    CollectionJobId, CollectionReq, Duration, Interval, Query, TaskId, Time,
};
use dyad_messages::problem::{DapProblemType, ProblemDocument};
use dyad_messages::Encode;

const PRECISION: u64 = 3600;
const MAX_I64: u64 = i64::MAX as u64;

/// A `CollectionReq` for `[start, start + duration)`, encoded by hand (an
/// interval whose end overflows cannot be built).
fn collection_req(start: u64, duration: u64) -> Vec<u8> {
    let mut body = vec![1u8]; // query type: time_interval
    body.extend_from_slice(&start.to_be_bytes());
    body.extend_from_slice(&duration.to_be_bytes());
    body.extend_from_slice(&0u32.to_be_bytes()); // empty aggregation parameter
    body
}

/// The status and problem document of a response, checking that it is one.
async fn problem(response: reqwest::Response) -> (u16, ProblemDocument) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.bytes().await.unwrap();
    assert_eq!(
        content_type.as_deref(),
        Some("application/problem+json"),
        "status {status}: {:?}",
        String::from_utf8_lossy(&body)
    );
    (status, ProblemDocument::from_json(&body).unwrap())
}

#[tokio::test]
async fn extreme_times_and_wrong_methods_get_problem_documents_from_the_real_binary() {
    let dyad = Dyad::start(&TaskOptions::time_interval(r#"{"type":"Prio3Count"}"#, 2))
        .await
        .unwrap();
    let credentials = &dyad.credentials;
    let task_id: TaskId = credentials.task_id;
    let token = credentials.token().unwrap();
    let http = reqwest::Client::new();
    let leader = dyad.leader.url();

    // Collection job intervals at and past 2^63.
    let aligned_past = MAX_I64 / PRECISION * PRECISION;
    for (start, duration, expected) in [
        (1u64 << 63, PRECISION, DapProblemType::BatchInvalid),
        (aligned_past, PRECISION, DapProblemType::BatchInvalid),
        (0, aligned_past + PRECISION, DapProblemType::BatchInvalid),
        (u64::MAX, 1, DapProblemType::InvalidMessage),
        (MAX_I64, u64::MAX, DapProblemType::InvalidMessage),
    ] {
        let url = leader
            .join(&format!(
                "tasks/{task_id}/collection_jobs/{}",
                CollectionJobId::random()
            ))
            .unwrap();
        let response = http
            .put(url)
            .header(token.header_name(), token.header_value().as_str())
            .header("content-type", "application/dap-collect-req")
            .body(collection_req(start, duration))
            .send()
            .await
            .unwrap();
        let (status, document) = problem(response).await;
        assert_eq!(status, 400, "[{start}, +{duration}): {document}");
        assert_eq!(document.dap_type(), Some(expected), "{document}");
        assert_eq!(document.taskid, Some(task_id), "{document}");
    }

    // A wrong method: 405 with a problem document and `Allow`.
    let response = http
        .get(leader.join(&format!("tasks/{task_id}/reports")).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    assert!(response.headers().get("allow").is_some());
    let (_, document) = problem(response).await;
    assert_eq!(document.taskid, Some(task_id));

    // Reports at the extremes are too early.
    for time in [MAX_I64, 1 << 63, u64::MAX] {
        let client = dyad.client_at(Time::from_seconds_since_epoch(time));
        let error = client.upload(&Measurement::Count(true)).await.unwrap_err();
        let answer = error.error_response().expect("an error answer");
        assert_eq!(
            answer.problem_type(),
            Some(DapProblemType::ReportTooEarly),
            "{answer}"
        );
        assert_eq!(answer.problem.as_ref().unwrap().taskid, Some(task_id));
    }

    // Ordinary work is untouched: two reports, collected exactly.
    let time = past_bucket_time(PRECISION, 1);
    let client = dyad.client_at(time);
    for value in [true, true] {
        client.upload(&Measurement::Count(value)).await.unwrap();
    }
    let interval = Interval::new(
        time.to_batch_interval_start(Duration::from_seconds(PRECISION)),
        Duration::from_seconds(PRECISION),
    )
    .unwrap();
    let collection = dyad.collect(Query::TimeInterval(interval)).await.unwrap();
    assert_eq!(collection.report_count, 2);
    assert_eq!(collection.aggregate_result, AggregateResult::Count(2));
    // The encodings agree with the library's (the hand-made body above).
    let ordinary = CollectionReq {
        query: Query::TimeInterval(interval),
        aggregation_parameter: vec![],
    };
    assert_eq!(
        ordinary.get_encoded().unwrap(),
        collection_req(
            interval.start().as_seconds_since_epoch(),
            interval.duration().as_seconds()
        )
    );
    let logs = dyad.logs();
    assert!(!logs.contains("status=500"), "{logs}");
}
