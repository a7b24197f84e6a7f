//! Every error of a request that names a task carries the task's ID in the
//! problem document (DAP-09 section 3.2), at every endpoint: unknown task,
//! wrong or missing token, wrong media type, malformed body, malformed job
//! ID, unknown job.

use crate::test_util::fixtures::TaskPair;
use crate::test_util::{TestEnv, TestRequest, TestResponse};
use axum::http::{Method, StatusCode};
use dyad_core::task::AuthenticationToken;
use dyad_core::vdaf::VdafInstance;
use dyad_messages::draft09::{AggregationJobId, CollectionJobId, TaskId};
use dyad_messages::media_type::DapMediaType;

/// One endpoint: method, path under `/tasks/{task-id}`, the media type of
/// its body (if it takes one), the token it wants (if any).
struct Endpoint {
    method: Method,
    path: String,
    media_type: Option<DapMediaType>,
    token: Option<AuthenticationToken>,
}

fn endpoints(pair: &TaskPair) -> Vec<Endpoint> {
    let collection = format!("collection_jobs/{}", CollectionJobId::random());
    let aggregation = format!("aggregation_jobs/{}", AggregationJobId::random());
    let collector = Some(pair.collector_token.clone());
    let leader = Some(pair.leader_token.clone());
    let endpoint = |method, path: &str, media_type, token: &Option<AuthenticationToken>| Endpoint {
        method,
        path: path.to_owned(),
        media_type,
        token: token.clone(),
    };
    vec![
        endpoint(Method::PUT, "reports", Some(DapMediaType::Report), &None),
        endpoint(
            Method::PUT,
            &collection,
            Some(DapMediaType::CollectionReq),
            &collector,
        ),
        endpoint(Method::POST, &collection, None, &collector),
        endpoint(Method::DELETE, &collection, None, &collector),
        endpoint(
            Method::PUT,
            &aggregation,
            Some(DapMediaType::AggregationJobInitReq),
            &leader,
        ),
        endpoint(
            Method::POST,
            &aggregation,
            Some(DapMediaType::AggregationJobContinueReq),
            &leader,
        ),
        endpoint(Method::DELETE, &aggregation, None, &leader),
        endpoint(
            Method::POST,
            "aggregate_shares",
            Some(DapMediaType::AggregateShareReq),
            &leader,
        ),
    ]
}

fn request(task_id: TaskId, endpoint: &Endpoint, path: &str) -> TestRequest {
    let mut request = TestRequest::new(endpoint.method.clone(), format!("/tasks/{task_id}/{path}"));
    if let Some(token) = &endpoint.token {
        request = request.token(token);
    }
    request
}

fn assert_names_task(response: &TestResponse, task_id: TaskId, what: &str) {
    assert!(
        response.status.is_client_error(),
        "{what}: {} {:?}",
        response.status,
        String::from_utf8_lossy(&response.body)
    );
    let document = response.problem();
    assert_eq!(document.taskid, Some(task_id), "{what}: {document}");
}

#[tokio::test]
async fn every_refusal_at_every_endpoint_carries_the_task_id() {
    let pair = TaskPair::time_interval(VdafInstance::Prio3Count);
    // Each aggregator holds the task in its own role; the other role's
    // endpoints answer `unrecognizedTask`.
    let leader_env = TestEnv::with_tasks(&[&pair.leader]).await;
    let helper_env = TestEnv::with_tasks(&[&pair.helper]).await;
    let task_id = pair.task_id();
    for env in [&leader_env, &helper_env] {
        for endpoint in endpoints(&pair) {
            let name = format!("{} {}", endpoint.method, endpoint.path);
            // Unknown task.
            let unknown = TaskId::random();
            let response = env.send(request(unknown, &endpoint, &endpoint.path)).await;
            assert_names_task(&response, unknown, &format!("{name}, unknown task"));
            // No token, then a wrong one (where one is wanted), then the
            // wrong media type and a malformed body (where a body is).
            let response = env
                .send(TestRequest::new(
                    endpoint.method.clone(),
                    format!("/tasks/{task_id}/{}", endpoint.path),
                ))
                .await;
            assert_names_task(&response, task_id, &format!("{name}, no token"));
            if endpoint.token.is_some() {
                let response = env
                    .send(
                        TestRequest::new(
                            endpoint.method.clone(),
                            format!("/tasks/{task_id}/{}", endpoint.path),
                        )
                        .header("DAP-Auth-Token", "d3Jvbmc"),
                    )
                    .await;
                assert_names_task(&response, task_id, &format!("{name}, wrong token"));
            }
            if let Some(media_type) = endpoint.media_type {
                let response = env
                    .send(request(task_id, &endpoint, &endpoint.path).raw_body(vec![1, 2, 3]))
                    .await;
                assert_names_task(&response, task_id, &format!("{name}, no media type"));
                let response = env
                    .send(
                        request(task_id, &endpoint, &endpoint.path)
                            .bytes(media_type, vec![0xff; 3]),
                    )
                    .await;
                assert_names_task(&response, task_id, &format!("{name}, malformed body"));
            }
            // A malformed job ID.
            if let Some((kind, _)) = endpoint.path.split_once('/') {
                let path = format!("{kind}/not-an-id");
                let response = env.send(request(task_id, &endpoint, &path)).await;
                assert_names_task(&response, task_id, &format!("{name}, malformed job ID"));
            }
        }
    }
    // Unknown jobs, at the aggregator that holds the task.
    let collection = format!(
        "/tasks/{task_id}/collection_jobs/{}",
        CollectionJobId::random()
    );
    for method in [Method::POST, Method::DELETE] {
        let response = leader_env
            .send(TestRequest::new(method.clone(), collection.clone()).token(&pair.collector_token))
            .await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{method}");
        assert_names_task(
            &response,
            task_id,
            &format!("{method} unknown collection job"),
        );
    }
    let aggregation = format!(
        "/tasks/{task_id}/aggregation_jobs/{}",
        AggregationJobId::random()
    );
    let response = helper_env
        .send(TestRequest::delete(aggregation).token(&pair.leader_token))
        .await;
    assert_names_task(&response, task_id, "DELETE unknown aggregation job");
    // The HPKE configuration of an unknown task.
    let unknown = TaskId::random();
    let response = leader_env
        .send(TestRequest::get(format!("/hpke_config?task_id={unknown}")))
        .await;
    assert_names_task(&response, unknown, "hpke_config, unknown task");
}
