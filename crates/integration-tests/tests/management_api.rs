//! The management API end to end, on SQLite and (with
//! `DYAD_TEST_DATABASE_URL`) on PostgreSQL: a Leader and a Helper run as
//! `dyad serve` processes, the Leader's API on a listener of its own (the
//! `management-api` role), the Helper's under `/api/` on its DAP listener
//! (`management_api.path_prefix`). The task is provisioned only through
//! the two APIs, the Helper first (its answer carries the token the Leader
//! is then given), with a Collector key and token made here. Reports are
//! uploaded with the client library and collected with the collector
//! library; the result must be exact, and both metrics routes must count
//! the round. Every other route is driven once over real HTTP too.

use dyad_client::{AnyVdaf, ClientBuilder};
use dyad_collector::CollectorBuilder;
use dyad_core::hpke::HpkeKeypair;
use dyad_core::retry::RetryPolicy;
use dyad_core::task::AuthenticationToken;
use dyad_core::vdaf::{AggregateResult, AggregationParam, Measurement, VdafInstance};
use dyad_integration_tests::{free_port, past_bucket_time, run_dyad, Server, WAIT};
use dyad_messages::draft09::{Duration, HpkeConfigId, Interval, Query, TaskId};
use dyad_test_support::postgres::TestDatabase;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Instant;
use url::Url;

const MEDIA_TYPE: &str = "application/vnd.janus.aggregator+json;version=0.1";
const LEADER_ADMIN: &str = "leader-admin-token";
const HELPER_ADMIN: &str = "helper-admin-token";
const PRECISION: u64 = 3600;

/// One aggregator's management API.
struct Api {
    base: Url,
    token: &'static str,
    http: reqwest::Client,
}

impl Api {
    /// `METHOD base/path` with the token and media types; the status and
    /// the JSON body (`null` if empty).
    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method.clone(), self.base.join(path).unwrap())
            .bearer_auth(self.token)
            .header("accept", MEDIA_TYPE);
        if let Some(body) = body {
            request = request
                .header("content-type", MEDIA_TYPE)
                .body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        assert_eq!(
            response.headers()["content-type"],
            MEDIA_TYPE,
            "{method} {path}"
        );
        let bytes = response.bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        (status, body)
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.send(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    /// Waits until `GET /` answers 200.
    async fn wait_ready(&self, server: &Server) {
        let start = Instant::now();
        loop {
            let answered = self
                .http
                .get(self.base.clone())
                .bearer_auth(self.token)
                .header("accept", MEDIA_TYPE)
                .send()
                .await;
            if matches!(answered, Ok(ref response) if response.status() == StatusCode::OK) {
                return;
            }
            assert!(
                start.elapsed() < WAIT,
                "the management API at {} did not answer: {}",
                self.base,
                server.log_text()
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

/// Points `server` at a fresh PostgreSQL database, migrated.
fn use_database(server: &Server, database: &TestDatabase) {
    run_dyad(["migrate", "--database", database.url()]).unwrap();
    server
        .set_config("datastore", &format!("{:?}", database.url()))
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_provisioned_only_through_both_management_apis_runs_and_is_counted_on_sqlite() {
    round_through_the_management_apis(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_provisioned_only_through_both_management_apis_runs_and_is_counted_on_postgres() {
    let (Some(leader_db), Some(helper_db)) =
        (TestDatabase::create().await, TestDatabase::create().await)
    else {
        eprintln!("DYAD_TEST_DATABASE_URL is not set: the PostgreSQL run is skipped");
        return;
    };
    round_through_the_management_apis(Some((leader_db, helper_db))).await;
}

async fn round_through_the_management_apis(postgres: Option<(TestDatabase, TestDatabase)>) {
    let dir = tempfile::tempdir().unwrap();
    let management_port = free_port();
    let mut leader = Server::configure(
        dir.path(),
        "leader",
        &[
            "aggregator",
            "aggregation-job-creator",
            "aggregation-job-driver",
            "collection-job-driver",
            "management-api",
        ],
    )
    .unwrap();
    let mut helper = Server::configure(dir.path(), "helper", &["aggregator"]).unwrap();
    if let Some((leader_db, helper_db)) = &postgres {
        use_database(&leader, leader_db);
        use_database(&helper, helper_db);
    }
    leader
        .set_config(
            "management_listen_address",
            &format!("\"127.0.0.1:{management_port}\""),
        )
        .unwrap();
    leader
        .set_config(
            "management_api",
            &format!(
                "{{auth_tokens: [{LEADER_ADMIN}], dap_url: \"{}\"}}",
                leader.url()
            ),
        )
        .unwrap();
    helper
        .set_config(
            "management_api",
            &format!(
                "{{auth_tokens: [{HELPER_ADMIN}], dap_url: \"{}\", path_prefix: /api/}}",
                helper.url()
            ),
        )
        .unwrap();
    leader.start().unwrap();
    helper.start().unwrap();
    let http = reqwest::Client::new();
    let leader_api = Api {
        base: format!("http://127.0.0.1:{management_port}/")
            .parse()
            .unwrap(),
        token: LEADER_ADMIN,
        http: http.clone(),
    };
    let helper_api = Api {
        base: helper.url().join("api/").unwrap(),
        token: HELPER_ADMIN,
        http: http.clone(),
    };
    leader_api.wait_ready(&leader).await;
    helper_api.wait_ready(&helper).await;

    // GET / on both.
    for (api, server) in [(&leader_api, &leader), (&helper_api, &helper)] {
        let described = api.get("").await;
        assert_eq!(described["protocol"], "DAP-09");
        assert_eq!(described["dap_url"], server.url().as_str());
        assert_eq!(described["role"], "Either");
    }
    // No token: 401, over the real stack, on both listeners.
    for api in [&leader_api, &helper_api] {
        let refused = http
            .get(api.base.join("task_ids").unwrap())
            .header("accept", MEDIA_TYPE)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    }

    // The Collector's own key and token, made here; the aggregators get
    // only the public config and the token's hash.
    let collector_keypair = HpkeKeypair::generate_default(HpkeConfigId(1));
    let collector_token =
        AuthenticationToken::new_bearer(format!("collector-{:032x}", rand::random::<u128>()))
            .unwrap();
    use base64::Engine as _;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let verify_key: [u8; 16] = rand::random();
    let task_body = |role: &str, peer: &Url| {
        json!({
            "peer_aggregator_endpoint": peer.as_str(),
            "query_type": "TimeInterval",
            "vdaf": "Prio3Count",
            "role": role,
            "vdaf_verify_key": b64(&verify_key),
            "max_batch_query_count": 1,
            "task_expiration": null,
            "min_batch_size": 5,
            "time_precision": PRECISION,
            "collector_hpke_config": {
                "id": 1, "kem_id": "X25519HkdfSha256", "kdf_id": "HkdfSha256",
                "aead_id": "Aes128Gcm",
                "public_key": b64(&collector_keypair.config().public_key.0),
            },
        })
    };

    // The Helper first: it makes the Leader's token and answers it once.
    let (status, helper_task) = helper_api
        .send(
            Method::POST,
            "tasks",
            Some(task_body("Helper", &leader.url())),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{helper_task}");
    let task_id: TaskId = serde_json::from_value(helper_task["task_id"].clone()).unwrap();
    assert_eq!(helper_task["aggregator_auth_token"]["type"], "Bearer");
    let aggregator_token = helper_task["aggregator_auth_token"].clone();
    let aggregator_token_text = aggregator_token["token"].as_str().unwrap().to_owned();

    // Then the Leader, with that token and the Collector token's hash.
    let mut leader_body = task_body("Leader", &helper.url());
    leader_body["aggregator_auth_token"] = aggregator_token;
    leader_body["collector_auth_token_hash"] = json!({
        "type": "Bearer",
        "hash": b64(collector_token.hash().digest()),
    });
    let (status, leader_task) = leader_api
        .send(Method::POST, "tasks", Some(leader_body.clone()))
        .await;
    assert_eq!(status, StatusCode::OK, "{leader_task}");
    assert_eq!(leader_task["task_id"], task_id.to_string(), "the same ID");
    assert_eq!(leader_task["aggregator_auth_token"], Value::Null);
    // Again: 200, nothing changed.
    let (status, again) = leader_api
        .send(Method::POST, "tasks", Some(leader_body))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, leader_task);
    leader.wait_ready(&task_id).await.unwrap();
    helper.wait_ready(&task_id).await.unwrap();

    // An upload/collect round: 7 reports, 5 of them true.
    let time = past_bucket_time(PRECISION, 1);
    let client = ClientBuilder::new(
        task_id,
        leader.url(),
        helper.url(),
        Duration::from_seconds(PRECISION),
    )
    .fixed_time(time)
    .build(AnyVdaf(VdafInstance::Prio3Count))
    .unwrap();
    for value in [true, true, false, true, true, false, true] {
        client.upload(&Measurement::Count(value)).await.unwrap();
    }
    let collector =
        CollectorBuilder::new(task_id, leader.url(), collector_token, collector_keypair)
            .poll_policy(
                RetryPolicy::new(
                    std::time::Duration::from_millis(200),
                    std::time::Duration::from_secs(1),
                )
                .with_max_elapsed(WAIT),
            )
            .build(dyad_collector::AnyVdaf(VdafInstance::Prio3Count))
            .unwrap();
    let query = Query::TimeInterval(
        Interval::new(
            time.to_batch_interval_start(Duration::from_seconds(PRECISION)),
            Duration::from_seconds(PRECISION),
        )
        .unwrap(),
    );
    let collection = tokio::time::timeout(
        WAIT + std::time::Duration::from_secs(5),
        collector.collect(query, &AggregationParam::Empty),
    )
    .await
    .unwrap_or_else(|_| {
        panic!(
            "collection timed out\n{}\n{}",
            leader.log_text(),
            helper.log_text()
        )
    })
    .unwrap_or_else(|error| panic!("{error:?}\n{}\n{}", leader.log_text(), helper.log_text()));
    assert_eq!(collection.report_count, 7);
    assert_eq!(collection.aggregate_result, AggregateResult::Count(5));

    // The metrics routes count the round.
    let uploads_path = format!("tasks/{task_id}/metrics/uploads");
    let aggregations_path = format!("tasks/{task_id}/metrics/aggregations");
    let uploads = leader_api.get(&uploads_path).await;
    assert_eq!(uploads["report_success"], 7, "{uploads}");
    for (name, value) in uploads.as_object().unwrap() {
        if name != "report_success" {
            assert_eq!(value, 0, "{name} in {uploads}");
        }
    }
    assert_eq!(
        helper_api.get(&uploads_path).await["report_success"],
        0,
        "the Helper takes no uploads"
    );
    for api in [&leader_api, &helper_api] {
        let aggregations = api.get(&aggregations_path).await;
        assert_eq!(aggregations["success"], 7, "{aggregations}");
        for (name, value) in aggregations.as_object().unwrap() {
            if name != "success" {
                assert_eq!(value, 0, "{name} in {aggregations}");
            }
        }
    }

    // The other task routes.
    let page = leader_api.get("task_ids").await;
    assert_eq!(
        page,
        json!({"task_ids": [task_id.to_string()], "pagination_token": task_id.to_string()})
    );
    assert_eq!(
        leader_api
            .get(&format!("task_ids?pagination_token={task_id}"))
            .await,
        json!({"task_ids": []})
    );
    let shown = helper_api.get(&format!("tasks/{task_id}")).await;
    assert_eq!(shown["role"], "Helper");
    assert_eq!(
        shown["aggregator_auth_token"],
        Value::Null,
        "answered only once"
    );
    let task_path = format!("tasks/{task_id}");
    let (status, patched) = leader_api
        .send(
            Method::PATCH,
            &task_path,
            Some(json!({"task_expiration": 4_000_000_000u64})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(patched["task_expiration"], 4_000_000_000u64);
    assert_eq!(
        leader_api.get(&task_path).await["task_expiration"],
        4_000_000_000u64
    );

    // A global key's life on the Helper: added, activated, listed, deleted.
    let (status, added) = helper_api
        .send(Method::PUT, "hpke_configs", Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    assert_eq!(added["state"], "pending");
    let config_path = format!("hpke_configs/{}", added["config"]["id"]);
    let (status, body) = helper_api
        .send(
            Method::PATCH,
            &config_path,
            Some(json!({"state": "active"})),
        )
        .await;
    assert_eq!((status, body), (StatusCode::OK, Value::Null));
    assert_eq!(helper_api.get(&config_path).await["state"], "active");
    let listed = helper_api.get("hpke_configs").await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["config"], added["config"]);
    let (status, _) = helper_api.send(Method::DELETE, &config_path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = helper_api.send(Method::GET, &config_path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Neither process logged the Leader's token to the Helper.
    for server in [&leader, &helper] {
        assert!(!server.log_text().contains(&aggregator_token_text));
    }

    // Deleting the task on both: 204, then gone.
    for api in [&leader_api, &helper_api] {
        let (status, _) = api.send(Method::DELETE, &task_path, None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, problem) = api.send(Method::GET, &task_path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(problem["status"], 404);
        assert_eq!(api.get("task_ids").await, json!({"task_ids": []}));
    }
}
