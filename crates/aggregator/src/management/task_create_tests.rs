//! `POST /tasks` through the real router, on every backend: new Helper
//! and Leader tasks, the same task again, a conflicting one, and every
//! refusal.

use super::models::HpkeConfigJson;
use super::tests::{api, backends, call};
use super::*;
use axum::http::Method;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use dyad_core::hpke::HpkeKeypair;
use dyad_core::task::{AuthenticationToken, StoredAuthenticationToken, Task};
use dyad_core::vdaf::VdafInstance;
use dyad_datastore::testing::{sqlite_harness, TestDatastore};
use dyad_datastore::DatastoreExt;
use dyad_messages::draft09::{HpkeConfigId, Role, TaskId};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const VERIFY_KEY: [u8; 16] = [7; 16];
const LEADER_TOKEN: &str = "leader-to-helper_token";
const COLLECTOR_TOKEN: &str = "collector-token";

fn collector_config() -> Value {
    let keypair = HpkeKeypair::generate_default(HpkeConfigId(9));
    serde_json::to_value(HpkeConfigJson::from_config(keypair.config()).unwrap()).unwrap()
}

fn expected_task_id() -> TaskId {
    TaskId::from_bytes(Sha256::digest(VERIFY_KEY).into())
}

fn helper_body(collector: &Value) -> Value {
    json!({
        "peer_aggregator_endpoint": "https://leader.example.com/",
        "query_type": {"FixedSize": {"max_batch_size": 200, "batch_time_window_size": null}},
        "vdaf": {"Prio3Histogram": {"length": 4, "chunk_length": 2,
                                    "dp_strategy": {"dp_strategy": "NoDifferentialPrivacy"}}},
        "role": "Helper",
        "vdaf_verify_key": URL_SAFE_NO_PAD.encode(VERIFY_KEY),
        "max_batch_query_count": 1,
        "task_expiration": 2_000_000_000u64,
        "min_batch_size": 100,
        "time_precision": 300,
        "collector_hpke_config": collector,
    })
}

fn leader_body(collector: &Value) -> Value {
    let mut body = helper_body(collector);
    body["role"] = json!("Leader");
    body["peer_aggregator_endpoint"] = json!("https://helper.example.com/");
    body["aggregator_auth_token"] = json!({"type": "Bearer", "token": LEADER_TOKEN});
    body["collector_auth_token_hash"] = json!({
        "type": "Bearer",
        "hash": URL_SAFE_NO_PAD.encode(Sha256::digest(COLLECTOR_TOKEN)),
    });
    body
}

async fn stored(datastore: &TestDatastore, task_id: TaskId) -> Option<Task> {
    datastore
        .datastore
        .run_read_tx("get", move |tx| {
            Box::pin(async move { Ok(tx.get_task(&task_id).await?) })
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn a_helper_task_is_made_from_the_body_and_its_new_token_answered_once() {
    for datastore in backends().await {
        let router = api(&datastore);
        let collector = collector_config();
        let answer = call(
            &router,
            Method::POST,
            "/tasks",
            Some(helper_body(&collector)),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.json());
        let body = answer.json();
        assert_eq!(
            body["task_id"],
            expected_task_id().to_string(),
            "SHA-256 of the key"
        );
        assert_eq!(body["role"], "Helper");
        assert_eq!(
            body["peer_aggregator_endpoint"],
            "https://leader.example.com/"
        );
        assert_eq!(body["report_expiry_age"], 1_209_600);
        assert_eq!(body["tolerable_clock_skew"], 60);
        assert_eq!(body["collector_hpke_config"], collector);
        assert_eq!(body["aggregator_hpke_configs"].as_array().unwrap().len(), 1);
        assert_eq!(body["aggregator_auth_token"]["type"], "Bearer");
        let token = body["aggregator_auth_token"]["token"].as_str().unwrap();

        let task = stored(&datastore, expected_task_id())
            .await
            .expect("stored");
        assert_eq!(task.role(), Role::Helper);
        assert_eq!(
            task.helper_aggregator_endpoint().as_str(),
            "https://dap.example.com/",
            "this aggregator's own endpoint is its configured DAP URL"
        );
        match task.aggregator_auth_token() {
            StoredAuthenticationToken::Hash(hash) => {
                assert!(hash.validate(&AuthenticationToken::new_bearer(token).unwrap()));
                assert!(!hash.validate(&AuthenticationToken::new_bearer("other").unwrap()));
            }
            StoredAuthenticationToken::Token(_) => panic!("the Helper keeps only the hash"),
        }
        assert!(task.collector_auth_token().is_none());
        assert_eq!(
            body["aggregator_hpke_configs"][0]["id"],
            task.hpke_keys()[0].id().0
        );

        let path = format!("/tasks/{}", expected_task_id());
        let shown = call(&router, Method::GET, &path, None).await.json();
        assert_eq!(shown["aggregator_auth_token"], Value::Null, "answered once");
        let mut without_token = body.clone();
        without_token["aggregator_auth_token"] = Value::Null;
        assert_eq!(shown, without_token);
    }
}

#[tokio::test]
async fn a_leader_task_keeps_the_helpers_token_and_only_the_collectors_hash() {
    for datastore in backends().await {
        let router = api(&datastore);
        let answer = call(
            &router,
            Method::POST,
            "/tasks",
            Some(leader_body(&collector_config())),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.json());
        assert_eq!(answer.json()["aggregator_auth_token"], Value::Null);
        let task = stored(&datastore, expected_task_id())
            .await
            .expect("stored");
        assert_eq!(task.role(), Role::Leader);
        assert_eq!(
            task.leader_aggregator_endpoint().as_str(),
            "https://dap.example.com/"
        );
        assert_eq!(
            task.aggregator_auth_token().token().map(|t| t.as_str()),
            Some(LEADER_TOKEN),
            "the Leader holds the token it sends"
        );
        let collector = task.collector_auth_token().expect("collector token");
        assert!(collector.token().is_none(), "only the hash is kept");
        assert!(collector.validate(&AuthenticationToken::new_bearer(COLLECTOR_TOKEN).unwrap()));
    }
}

/// A Poplar1 task (heavy hitters, collected per time interval) is made
/// like any other, and shown with the VDAF it was given.
#[tokio::test]
async fn a_poplar1_time_interval_task_is_made() {
    for datastore in backends().await {
        let router = api(&datastore);
        let mut body = leader_body(&collector_config());
        body["vdaf"] = json!({"Poplar1": {"bits": 16}});
        body["query_type"] = json!("TimeInterval");
        body["max_batch_query_count"] = json!(16);
        let answer = call(&router, Method::POST, "/tasks", Some(body)).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.json());
        assert_eq!(answer.json()["vdaf"], json!({"Poplar1": {"bits": 16}}));
        let task = stored(&datastore, expected_task_id())
            .await
            .expect("stored");
        assert_eq!(*task.vdaf(), VdafInstance::Poplar1 { bits: 16 });
        assert_eq!(task.max_batch_query_count(), 16);
        let path = format!("/tasks/{}", expected_task_id());
        let shown = call(&router, Method::GET, &path, None).await.json();
        assert_eq!(shown["vdaf"], json!({"Poplar1": {"bits": 16}}));
    }
}

#[tokio::test]
async fn the_same_task_again_is_200_and_a_different_one_with_its_id_is_409() {
    for datastore in backends().await {
        let router = api(&datastore);
        let collector = collector_config();
        let first = call(
            &router,
            Method::POST,
            "/tasks",
            Some(leader_body(&collector)),
        )
        .await;
        assert_eq!(first.status, StatusCode::OK);
        let before = stored(&datastore, expected_task_id()).await.unwrap();

        let again = call(
            &router,
            Method::POST,
            "/tasks",
            Some(leader_body(&collector)),
        )
        .await;
        assert_eq!(again.status, StatusCode::OK);
        assert_eq!(again.json(), first.json(), "the task as stored");
        let after = stored(&datastore, expected_task_id()).await.unwrap();
        assert_eq!(after, before, "nothing rewritten (same keypair)");

        let mut changes: Vec<Value> = Vec::new();
        let mut body = leader_body(&collector);
        body["min_batch_size"] = json!(101);
        changes.push(body);
        let mut body = leader_body(&collector);
        body["aggregator_auth_token"]["token"] = json!("another-token");
        changes.push(body);
        let mut body = leader_body(&collector);
        body["collector_hpke_config"] = collector_config();
        changes.push(body);
        let mut body = leader_body(&collector);
        body["task_expiration"] = Value::Null;
        changes.push(body);
        for body in changes {
            let answer = call(&router, Method::POST, "/tasks", Some(body.clone())).await;
            assert_eq!(answer.status, StatusCode::CONFLICT, "{body}");
            assert!(answer.json()["detail"]
                .as_str()
                .unwrap()
                .contains("different parameters"));
        }
        assert_eq!(
            stored(&datastore, expected_task_id()).await.unwrap(),
            before
        );
    }
}

#[tokio::test]
async fn invalid_task_bodies_are_400_with_the_reason_and_write_nothing() {
    let datastore = sqlite_harness().await;
    let router = api(&datastore);
    let collector = collector_config();
    let with = |base: Value, edit: &dyn Fn(&mut Value)| {
        let mut body = base;
        edit(&mut body);
        body
    };
    let helper = || helper_body(&collector);
    let leader = || leader_body(&collector);
    let cases: Vec<(Value, &str)> = vec![
        (
            with(helper(), &|b| b["role"] = json!("Collector")),
            "invalid role",
        ),
        (
            with(helper(), &|b| b["vdaf_verify_key"] = json!("!!")),
            "base64url",
        ),
        (
            with(helper(), &|b| {
                b["vdaf_verify_key"] = json!(URL_SAFE_NO_PAD.encode([1u8; 32]))
            }),
            "needs 16",
        ),
        (
            with(helper(), &|b| {
                b["aggregator_auth_token"] = json!({"type": "Bearer", "token": "x"})
            }),
            "takes no aggregator_auth_token",
        ),
        (
            with(leader(), &|b| {
                b.as_object_mut().unwrap().remove("aggregator_auth_token");
            }),
            "needs aggregator_auth_token",
        ),
        (
            with(leader(), &|b| b["collector_auth_token_hash"] = Value::Null),
            "needs collector_auth_token_hash",
        ),
        (
            with(leader(), &|b| {
                b["collector_auth_token_hash"] = json!({"type": "Bearer", "hash": "AAAA"})
            }),
            "32 bytes",
        ),
        (
            with(leader(), &|b| {
                b["aggregator_auth_token"] = json!({"type": "Bearer", "token": "bad token"})
            }),
            "aggregator_auth_token",
        ),
        (
            with(helper(), &|b| b["vdaf"] = json!("Prio4")),
            "unknown vdaf",
        ),
        (
            with(helper(), &|b| b["vdaf"] = json!({"Prio3Sum": {"bits": 0}})),
            "bits",
        ),
        (
            with(helper(), &|b| {
                b["vdaf"] = json!({"Prio3Histogram": {"length": 4, "chunk_length": 2,
                    "dp_strategy": {"dp_strategy": "ZCdpDiscreteGaussian",
                                    "budget": {"epsilon": [[1], [1]]}}}})
            }),
            "does not support dp_strategy ZCdpDiscreteGaussian",
        ),
        (
            with(helper(), &|b| {
                b["vdaf"] = json!({"Prio3Histogram": {"length": 4, "chunk_length": 2,
                    "dp_strategy": {"dp_strategy": "PureDpDiscreteLaplace",
                                    "budget": {"epsilon": [[0], [1]]}}}})
            }),
            "epsilon must be positive",
        ),
        (
            // The helper body's query type is FixedSize.
            with(helper(), &|b| b["vdaf"] = json!({"Poplar1": {"bits": 8}})),
            "Poplar1 tasks need the \"TimeInterval\" query_type",
        ),
        (
            with(
                helper(),
                &|b| {
                    b["query_type"] = json!({"FixedSize": {"max_batch_size": 200, "batch_time_window_size": 3600}})
                },
            ),
            "batch_time_window_size",
        ),
        (
            with(helper(), &|b| {
                b["query_type"] = json!({"FixedSize": {"max_batch_size": 10}})
            }),
            "max_batch_size",
        ),
        (
            with(helper(), &|b| b["time_precision"] = json!(0)),
            "time_precision",
        ),
        (
            with(helper(), &|b| b["max_batch_query_count"] = json!(0)),
            "max_batch_query_count",
        ),
        (
            with(helper(), &|b| b["task_expiration"] = json!(u64::MAX)),
            "latest time",
        ),
        (
            with(helper(), &|b| {
                b["peer_aggregator_endpoint"] = json!("https://dap.example.com/")
            }),
            "same as the leader's",
        ),
        (
            with(helper(), &|b| {
                b["collector_hpke_config"]["kem_id"] = json!("Kyber")
            }),
            "kem_id",
        ),
        (
            with(helper(), &|b| b["surprise"] = json!(1)),
            "unknown field",
        ),
        (
            with(helper(), &|b| {
                b.as_object_mut().unwrap().remove("min_batch_size");
            }),
            "min_batch_size",
        ),
    ];
    for (body, detail) in cases {
        let answer = call(&router, Method::POST, "/tasks", Some(body.clone())).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
        let text = answer.json()["detail"].as_str().unwrap().to_owned();
        assert!(text.contains(detail), "{detail:?} not in {text:?}");
        assert!(!text.contains(LEADER_TOKEN), "no token echoed: {text}");
    }
    assert_eq!(
        call(&router, Method::GET, "/task_ids", None).await.json(),
        json!({"task_ids": []}),
        "nothing written"
    );
}

#[tokio::test]
async fn without_a_configured_dap_url_no_task_can_be_made_and_the_answer_says_why() {
    let datastore = sqlite_harness().await;
    let router = router(ManagementState {
        datastore: datastore.datastore.clone(),
        tokens: vec!["test-token_1".to_owned()].into(),
        dap_url: None,
    });
    let answer = call(
        &router,
        Method::POST,
        "/tasks",
        Some(helper_body(&collector_config())),
    )
    .await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(answer.json()["detail"]
        .as_str()
        .unwrap()
        .contains("management_api.dap_url"));
}

#[test]
fn debug_of_a_task_request_hides_the_verify_key_and_token() {
    let body: task_request::PostTaskRequest =
        serde_json::from_value(leader_body(&collector_config())).unwrap();
    let rendered = format!("{body:?}");
    assert!(!rendered.contains(LEADER_TOKEN), "{rendered}");
    assert!(
        !rendered.contains(&URL_SAFE_NO_PAD.encode(VERIFY_KEY)),
        "{rendered}"
    );
}

#[test]
fn every_vdaf_and_query_type_the_api_writes_reads_back_the_same() {
    use dyad_core::task::BatchMode;
    use dyad_core::vdaf::FixedPointBitSize;
    let vdafs = [
        VdafInstance::Prio3Count,
        VdafInstance::Prio3Sum { bits: 8 },
        VdafInstance::Prio3SumVec {
            bits: 2,
            length: 10,
            chunk_length: 3,
        },
        VdafInstance::Prio3Histogram {
            length: 4,
            chunk_length: 2,
        },
        VdafInstance::Prio3SumVecField64MultiproofHmacSha256Aes128 {
            proofs: 2,
            bits: 1,
            length: 5,
            chunk_length: 2,
        },
        VdafInstance::Prio3FixedPointBoundedL2VecSum {
            bitsize: FixedPointBitSize::BitSize32,
            length: 3,
        },
        VdafInstance::Poplar1 { bits: 16 },
    ];
    for vdaf in vdafs {
        let written = task_json::vdaf_json(&vdaf);
        assert_eq!(
            task_request::vdaf_from_json(&written),
            Ok((vdaf, dyad_core::vdaf::DpStrategy::NoDifferentialPrivacy)),
            "{written}"
        );
    }
    // dp_strategy may be left out on input.
    assert_eq!(
        task_request::vdaf_from_json(&json!({"Prio3Histogram": {"length": 4, "chunk_length": 2}})),
        Ok((
            VdafInstance::Prio3Histogram {
                length: 4,
                chunk_length: 2
            },
            dyad_core::vdaf::DpStrategy::NoDifferentialPrivacy
        ))
    );
    for mode in [
        BatchMode::TimeInterval,
        BatchMode::FixedSize {
            max_batch_size: Some(50),
        },
        BatchMode::FixedSize {
            max_batch_size: None,
        },
    ] {
        let written = task_json::query_type_json(&mode);
        assert_eq!(
            task_request::batch_mode_from_json(&written),
            Ok(mode),
            "{written}"
        );
    }
    assert_eq!(
        task_request::batch_mode_from_json(&json!({"FixedSize": {"max_batch_size": 9}})),
        Ok(BatchMode::FixedSize {
            max_batch_size: Some(9)
        }),
        "batch_time_window_size may be left out"
    );
}
