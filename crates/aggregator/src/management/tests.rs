//! The management API through its real router (guard included) on real
//! datastores: SQLite always, PostgreSQL too when `DYAD_TEST_DATABASE_URL`
//! is set.

use super::*;
use axum::body::Body;
use axum::http::{header, Method, Request};
use dyad_datastore::models::{HpkeKeyState, TaskCounters};
use dyad_datastore::testing::{fixtures, postgres_harness, sqlite_harness, TestDatastore};
use dyad_datastore::DatastoreExt;
use dyad_messages::draft09::{HpkeConfigId, TaskId};
use http_body_util::BodyExt as _;
use serde_json::{json, Value};
use tower::ServiceExt as _;

pub(super) const TOKEN: &str = "test-token_1";
const OTHER_TOKEN: &str = "rotated-token";

/// Every backend available to this run.
pub(super) async fn backends() -> Vec<TestDatastore> {
    let mut backends = vec![sqlite_harness().await];
    backends.extend(postgres_harness().await);
    backends
}

pub(super) fn api(datastore: &TestDatastore) -> Router {
    router(ManagementState {
        datastore: datastore.datastore.clone(),
        tokens: vec![TOKEN.to_owned(), OTHER_TOKEN.to_owned()].into(),
        dap_url: Some("https://dap.example.com".parse().unwrap()),
    })
}

pub(super) struct Answer {
    pub(super) status: StatusCode,
    pub(super) content_type: Option<String>,
    pub(super) body: Vec<u8>,
    /// The documented operation and status the exchange was validated
    /// against (`None`: an unknown route's 404).
    pub(super) validated: Option<openapi_contract::Validated>,
}

impl Answer {
    pub(super) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
}

/// A request as a well-behaved client sends it: token, `Accept`, and the
/// content type with a body.
pub(super) fn request(method: Method, path: &str, body: Option<Value>) -> Request<Body> {
    let builder = Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(header::ACCEPT, MEDIA_TYPE);
    match body {
        Some(body) => builder
            .header(header::CONTENT_TYPE, MEDIA_TYPE)
            .body(Body::from(body.to_string()))
            .unwrap(),
        None => builder.body(Body::empty()).unwrap(),
    }
}

/// Sends `request` through the router and holds the exchange to the
/// OpenAPI document ([`openapi_contract::check`]): every test that sends a
/// request validates what it is answered.
pub(super) async fn send(router: &Router, request: Request<Body>) -> Answer {
    let (parts, body) = request.into_parts();
    let request_body = body.collect().await.unwrap().to_bytes();
    let method = parts.method.clone();
    let path = parts.uri.path().to_owned();
    let request = Request::from_parts(parts, Body::from(request_body.clone()));
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|value| value.to_str().unwrap().to_owned());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let validated = openapi_contract::check(&method, &path, status.as_u16(), &request_body, &body)
        .unwrap_or_else(|error| panic!("the answer is not as the OpenAPI document says: {error}"));
    Answer {
        status,
        content_type,
        body: body.to_vec(),
        validated,
    }
}

pub(super) async fn call(
    router: &Router,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Answer {
    let answer = send(router, request(method, path, body)).await;
    assert_eq!(answer.content_type.as_deref(), Some(MEDIA_TYPE), "{path}");
    answer
}

#[tokio::test]
async fn requests_without_a_valid_bearer_token_are_401_before_any_other_check() {
    let datastore = sqlite_harness().await;
    let router = api(&datastore);
    let cases: [Option<&str>; 6] = [
        None,
        Some("Bearer wrong-token"),
        Some("Basic dGVzdA=="),
        Some("Bearer"),
        Some("Bearer test-token_1 extra"),
        Some("test-token_1"),
    ];
    for authorization in cases {
        // No Accept either: the token is checked first.
        let mut builder = Request::get("/");
        if let Some(value) = authorization {
            builder = builder.header(header::AUTHORIZATION, value);
        }
        let answer = send(&router, builder.body(Body::empty()).unwrap()).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{authorization:?}");
        assert_eq!(answer.content_type.as_deref(), Some(MEDIA_TYPE));
        assert!(
            !String::from_utf8_lossy(&answer.body).contains(TOKEN),
            "the answer never echoes a token"
        );
    }
    // Two Authorization headers are refused even if one is right.
    let answer = send(
        &router,
        Request::get("/")
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .header(header::AUTHORIZATION, "Bearer nope")
            .header(header::ACCEPT, MEDIA_TYPE)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn any_configured_token_opens_the_api_whatever_the_scheme_case() {
    let datastore = sqlite_harness().await;
    let router = api(&datastore);
    for authorization in [
        format!("Bearer {OTHER_TOKEN}"),
        format!("bearer {TOKEN}"),
        format!("BEARER   {TOKEN}"),
    ] {
        let answer = send(
            &router,
            Request::get("/")
                .header(header::AUTHORIZATION, authorization.as_str())
                .header(header::ACCEPT, MEDIA_TYPE)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{authorization}");
    }
}

#[tokio::test]
async fn accept_must_be_the_versioned_type_and_content_type_too_when_sent() {
    let datastore = sqlite_harness().await;
    let router = api(&datastore);
    for accept in [
        None,
        Some("application/json"),
        Some("*/*"),
        Some("application/vnd.janus.aggregator+json; version=0.1"),
    ] {
        let mut builder =
            Request::get("/").header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
        if let Some(accept) = accept {
            builder = builder.header(header::ACCEPT, accept);
        }
        let answer = send(&router, builder.body(Body::empty()).unwrap()).await;
        assert_eq!(answer.status, StatusCode::NOT_ACCEPTABLE, "{accept:?}");
        assert_eq!(answer.content_type.as_deref(), Some(MEDIA_TYPE));
        assert_eq!(answer.json()["status"], 406);
    }
    let answer = send(
        &router,
        Request::put("/hpke_configs")
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .header(header::ACCEPT, MEDIA_TYPE)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{}"))
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(answer.content_type.as_deref(), Some(MEDIA_TYPE));
    // Nothing was written by the refused request.
    let answer = call(&router, Method::GET, "/hpke_configs", None).await;
    assert_eq!(answer.json(), json!([]));
}

#[tokio::test]
async fn get_root_describes_the_aggregator() {
    let datastore = sqlite_harness().await;
    let answer = call(&api(&datastore), Method::GET, "/", None).await;
    assert_eq!(answer.status, StatusCode::OK);
    let body = answer.json();
    assert_eq!(body["protocol"], "DAP-09");
    assert_eq!(body["dap_url"], "https://dap.example.com/");
    assert_eq!(body["role"], "Either");
    assert_eq!(body["query_types"], json!(["TimeInterval", "FixedSize"]));
    assert_eq!(
        body["features"],
        json!(["UploadMetrics", "AggregationJobMetrics"])
    );
    assert_eq!(body["software_name"], "dyad");
    let vdafs = body["vdafs"].as_array().unwrap();
    for vdaf in [
        "Prio3Count",
        "Prio3Sum",
        "Prio3SumVec",
        "Prio3Histogram",
        "Poplar1",
    ] {
        assert!(vdafs.contains(&json!(vdaf)), "{vdaf} in {vdafs:?}");
    }
}

#[tokio::test]
async fn unknown_routes_are_404_problem_documents() {
    let datastore = sqlite_harness().await;
    let answer = call(&api(&datastore), Method::GET, "/nope", None).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.json()["status"], 404);
}

#[tokio::test]
async fn a_method_a_route_does_not_take_is_405_with_a_problem_document() {
    let datastore = sqlite_harness().await;
    let router = api(&datastore);
    for (method, path) in [
        (Method::POST, "/task_ids"),
        (Method::PUT, "/tasks/AAAA"),
        (Method::DELETE, "/hpke_configs"),
    ] {
        let answer = call(&router, method.clone(), path, None).await;
        assert_eq!(
            answer.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert_eq!(answer.json()["status"], 405);
        assert!(answer.validated.is_none());
    }
}

#[tokio::test]
async fn task_ids_are_paged_in_byte_order_after_the_token_until_an_empty_page() {
    for datastore in backends().await {
        let router = api(&datastore);
        let answer = call(&router, Method::GET, "/task_ids", None).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(
            answer.json(),
            json!({"task_ids": []}),
            "no token on an empty page"
        );

        let tasks = [
            fixtures::leader_task(),
            fixtures::helper_task(),
            fixtures::fixed_size_leader_task(),
        ];
        fixtures::put_tasks(
            datastore.datastore.as_ref(),
            &tasks.iter().collect::<Vec<_>>(),
        )
        .await;
        let mut ids: Vec<TaskId> = tasks.iter().map(|task| *task.task_id()).collect();
        ids.sort_by_key(|id| *id.as_bytes());
        let encoded: Vec<String> = ids.iter().map(ToString::to_string).collect();

        let page = call(&router, Method::GET, "/task_ids", None).await.json();
        assert_eq!(page["task_ids"], json!(encoded));
        assert_eq!(page["pagination_token"], json!(encoded[2]));

        let page = call(
            &router,
            Method::GET,
            &format!("/task_ids?pagination_token={}", encoded[0]),
            None,
        )
        .await
        .json();
        assert_eq!(
            page["task_ids"],
            json!(encoded[1..]),
            "strictly after the token"
        );

        let page = call(
            &router,
            Method::GET,
            &format!("/task_ids?pagination_token={}", encoded[2]),
            None,
        )
        .await
        .json();
        assert_eq!(page, json!({"task_ids": []}));

        let bad = call(&router, Method::GET, "/task_ids?pagination_token=xyz", None).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(bad.json()["detail"]
            .as_str()
            .unwrap()
            .contains("pagination_token"));

        // The page size is the datastore's limit.
        let first_two = datastore
            .datastore
            .run_read_tx("page", |tx| {
                Box::pin(async move { Ok(tx.get_task_ids(None, 2).await?) })
            })
            .await
            .unwrap();
        assert_eq!(first_two, ids[..2]);
    }
}

#[tokio::test]
async fn delete_task_is_204_and_removes_it_also_when_unknown() {
    for datastore in backends().await {
        let router = api(&datastore);
        let task = fixtures::leader_task();
        fixtures::put_tasks(datastore.datastore.as_ref(), &[&task]).await;
        let path = format!("/tasks/{}", task.task_id());
        let answer = call(&router, Method::DELETE, &path, None).await;
        assert_eq!(answer.status, StatusCode::NO_CONTENT);
        assert!(answer.body.is_empty());
        let task_id = *task.task_id();
        let stored = datastore
            .datastore
            .run_read_tx("get", move |tx| {
                Box::pin(async move { Ok(tx.get_task(&task_id).await?) })
            })
            .await
            .unwrap();
        assert!(stored.is_none(), "the task is gone");
        // Again: nothing to delete, same answer.
        assert_eq!(
            call(&router, Method::DELETE, &path, None).await.status,
            StatusCode::NO_CONTENT
        );
        let bad = call(&router, Method::DELETE, "/tasks/not-an-id", None).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn upload_metrics_map_the_tasks_counters_and_404_for_an_unknown_task() {
    for datastore in backends().await {
        let router = api(&datastore);
        let task = fixtures::leader_task();
        fixtures::put_tasks(datastore.datastore.as_ref(), &[&task]).await;
        let path = format!("/tasks/{}/metrics/uploads", task.task_id());

        let zeros = call(&router, Method::GET, &path, None).await;
        assert_eq!(zeros.status, StatusCode::OK);
        assert_eq!(
            zeros.json(),
            json!({
                "interval_collected": 0, "report_decode_failure": 0,
                "report_decrypt_failure": 0, "report_expired": 0,
                "report_outdated_key": 0, "report_success": 0,
                "report_too_early": 0, "task_expired": 0,
                "report_duplicate_extension": 0,
            })
        );

        let counters = TaskCounters {
            uploads_accepted: 7,
            uploads_duplicate: 1,
            uploads_too_early: 2,
            uploads_task_expired: 3,
            uploads_report_expired: 4,
            uploads_decrypt_failed: 5,
            uploads_outdated_config: 6,
            uploads_invalid_message: 8,
            uploads_batch_collected: 9,
            uploads_server_error: 100,
            ..TaskCounters::default()
        };
        let task_id = *task.task_id();
        datastore
            .datastore
            .run_tx("count", move |tx| {
                Box::pin(async move { Ok(tx.add_task_counters(&task_id, &counters).await?) })
            })
            .await
            .unwrap();
        let metrics = call(&router, Method::GET, &path, None).await.json();
        assert_eq!(
            metrics,
            json!({
                "interval_collected": 9, "report_decode_failure": 8,
                "report_decrypt_failure": 5, "report_expired": 4,
                "report_outdated_key": 6, "report_success": 8,
                "report_too_early": 2, "task_expired": 3,
                "report_duplicate_extension": 0,
            })
        );

        let unknown = format!("/tasks/{}/metrics/uploads", TaskId::random());
        let answer = call(&router, Method::GET, &unknown, None).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND);
        assert!(answer.json()["detail"]
            .as_str()
            .unwrap()
            .contains("no task"));
    }
}

#[tokio::test]
async fn aggregation_metrics_map_the_tasks_preparation_counters_and_404_for_an_unknown_task() {
    for datastore in backends().await {
        let router = api(&datastore);
        let task = fixtures::helper_task();
        fixtures::put_tasks(datastore.datastore.as_ref(), &[&task]).await;
        let path = format!("/tasks/{}/metrics/aggregations", task.task_id());
        let zeros = call(&router, Method::GET, &path, None).await;
        assert_eq!(zeros.status, StatusCode::OK);
        assert_eq!(
            zeros.json(),
            serde_json::to_value(models::AggregationMetrics::default()).unwrap()
        );
        assert_eq!(zeros.json().as_object().unwrap().len(), 10);

        let counters = TaskCounters {
            reports_aggregated: 11,
            prepare_failed_batch_collected: 1,
            prepare_failed_report_replayed: 2,
            prepare_failed_report_dropped: 3,
            prepare_failed_hpke_unknown_config_id: 4,
            prepare_failed_hpke_decrypt_error: 5,
            prepare_failed_vdaf_prep_error: 6,
            prepare_failed_task_expired: 7,
            prepare_failed_invalid_message: 8,
            prepare_failed_report_too_early: 9,
            prepare_failed_batch_saturated: 100,
            prepare_failed_other: 200,
            uploads_accepted: 300,
            ..TaskCounters::default()
        };
        let task_id = *task.task_id();
        datastore
            .datastore
            .run_tx("count", move |tx| {
                Box::pin(async move { Ok(tx.add_task_counters(&task_id, &counters).await?) })
            })
            .await
            .unwrap();
        assert_eq!(
            call(&router, Method::GET, &path, None).await.json(),
            json!({
                "success": 11, "helper_batch_collected": 1, "helper_report_replayed": 2,
                "helper_report_dropped": 3, "helper_hpke_unknown_config_id": 4,
                "helper_hpke_decrypt_failure": 5, "helper_vdaf_prep_error": 6,
                "helper_task_expired": 7, "helper_invalid_message": 8,
                "helper_report_too_early": 9,
            })
        );

        let unknown = format!("/tasks/{}/metrics/aggregations", TaskId::random());
        let answer = call(&router, Method::GET, &unknown, None).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND);
        let bad = call(
            &router,
            Method::GET,
            "/tasks/xyz/metrics/aggregations",
            None,
        )
        .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn debug_of_the_state_never_shows_tokens() {
    let datastore = sqlite_harness().await;
    let rendered = format!(
        "{:?}",
        ManagementState {
            datastore: datastore.datastore.clone(),
            tokens: vec!["very-secret".to_owned()].into(),
            dap_url: None,
        }
    );
    assert!(!rendered.contains("very-secret"), "{rendered}");
}

#[tokio::test]
async fn get_task_shows_it_in_the_apis_form_without_its_tokens() {
    use base64::Engine as _;
    for datastore in backends().await {
        let router = api(&datastore);
        let leader = fixtures::leader_task();
        let fixed_size = fixtures::fixed_size_leader_task();
        fixtures::put_tasks(datastore.datastore.as_ref(), &[&leader, &fixed_size]).await;

        let answer = call(
            &router,
            Method::GET,
            &format!("/tasks/{}", leader.task_id()),
            None,
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK);
        let body = answer.json();
        let key = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(leader.vdaf_verify_key().as_bytes());
        assert_eq!(
            body,
            json!({
                "task_id": leader.task_id().to_string(),
                "peer_aggregator_endpoint": "https://helper.example/",
                "query_type": "TimeInterval",
                "vdaf": "Prio3Count",
                "role": "Leader",
                "vdaf_verify_key": key,
                "max_batch_query_count": 1,
                "task_expiration": leader.task_expiration().map(|t| t.as_seconds_since_epoch()),
                "report_expiry_age": leader.report_expiry_age().map(|d| d.as_seconds()),
                "min_batch_size": 10,
                "time_precision": leader.time_precision().as_seconds(),
                "tolerable_clock_skew": leader.tolerable_clock_skew().as_seconds(),
                "aggregator_auth_token": null,
                "collector_hpke_config":
                    models::HpkeConfigJson::from_config(leader.collector_hpke_config()).unwrap(),
                "aggregator_hpke_configs": [
                    models::HpkeConfigJson::from_config(leader.hpke_keys()[0].config()).unwrap()
                ],
            })
        );
        let fixed = call(
            &router,
            Method::GET,
            &format!("/tasks/{}", fixed_size.task_id()),
            None,
        )
        .await
        .json();
        assert_eq!(
            fixed["query_type"],
            json!({"FixedSize": {"max_batch_size": 20, "batch_time_window_size": null}})
        );

        let unknown = call(
            &router,
            Method::GET,
            &format!("/tasks/{}", TaskId::random()),
            None,
        )
        .await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
        let bad = call(&router, Method::GET, "/tasks/AAAA", None).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(bad.json()["detail"].as_str().unwrap().contains("task ID"));
    }
}

#[test]
fn vdafs_are_spelled_as_the_api_spells_them() {
    use dyad_core::vdaf::{FixedPointBitSize, VdafInstance};
    let no_dp = json!({"dp_strategy": "NoDifferentialPrivacy"});
    let cases = [
        (
            VdafInstance::Prio3Sum { bits: 8 },
            json!({"Prio3Sum": {"bits": 8}}),
        ),
        (
            VdafInstance::Prio3SumVec {
                bits: 1,
                length: 10,
                chunk_length: 3,
            },
            json!({"Prio3SumVec": {"bits": 1, "length": 10, "chunk_length": 3, "dp_strategy": no_dp}}),
        ),
        (
            VdafInstance::Prio3Histogram {
                length: 4,
                chunk_length: 2,
            },
            json!({"Prio3Histogram": {"length": 4, "chunk_length": 2, "dp_strategy": no_dp}}),
        ),
        (
            VdafInstance::Prio3SumVecField64MultiproofHmacSha256Aes128 {
                proofs: 2,
                bits: 1,
                length: 5,
                chunk_length: 2,
            },
            json!({"Prio3SumVecField64MultiproofHmacSha256Aes128": {
                "proofs": 2, "bits": 1, "length": 5, "chunk_length": 2, "dp_strategy": no_dp}}),
        ),
        (
            VdafInstance::Prio3FixedPointBoundedL2VecSum {
                bitsize: FixedPointBitSize::BitSize16,
                length: 3,
            },
            json!({"Prio3FixedPointBoundedL2VecSum": {
                "bitsize": "BitSize16", "dp_strategy": no_dp, "length": 3}}),
        ),
        (
            VdafInstance::Poplar1 { bits: 16 },
            json!({"Poplar1": {"bits": 16}}),
        ),
    ];
    for (vdaf, expected) in cases {
        assert_eq!(task_json::vdaf_json(&vdaf), expected, "{vdaf:?}");
    }
}

#[path = "hpke_config_tests.rs"]
mod hpke_configs;
