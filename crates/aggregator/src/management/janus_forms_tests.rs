//! The management API's JSON forms cross-checked against the serde types of
//! the janus_* crates (0.7, the DAP-09 release line), wherever those types
//! are public: every sub-object dyad writes in `POST /tasks`,
//! `GET /tasks/{id}` and `GET /hpke_configs` deserializes into the janus
//! type and serializes back to the same JSON, and a `POST /tasks` body
//! built from janus types is accepted, its collector token hash read the
//! way janus computes it.
//!
//! Public and checked: `VdafInstance` (with every `dp_strategy`), `HpkeConfig`,
//! `AuthenticationToken`, `AuthenticationTokenHash`, `TaskId`, `Role`,
//! `Time`, `Duration`. Not public (the aggregator and aggregator-API crates
//! are not published), so not checked here: `QueryType`, the task request
//! and response structs, `HpkeKeyState`, `TaskUploadCounter`,
//! `TaskAggregationCounter`.
//!
//! Where dyad's API knowingly differs from that API:
//! - error bodies are RFC 9457 problem documents (it sends plain text or
//!   nothing), with its status codes; unknown JSON members are 400 (it
//!   ignores them);
//! - `GET /` adds `software_name` and `software_version`, and its features
//!   are `UploadMetrics` and `AggregationJobMetrics` only (no `TokenHash`
//!   flag: a Leader always takes `collector_auth_token_hash`; no
//!   time-bucketed fixed-size batches);
//! - `query_type`: `FixedSize.max_batch_size` is `null` for a dyad task with
//!   no maximum (that API always has one); `batch_time_window_size` is
//!   always `null` and any other value is refused;
//! - `vdaf`: `Prio3FixedPointBoundedL2VecSum` also takes `BitSize64`; each
//!   VDAF takes the `dp_strategy` values that API gives it (checked above);
//!   a Poplar1 task needs the `TimeInterval` query type;
//! - `POST /tasks` needs `management_api.dap_url` (this aggregator's own
//!   endpoint); the same task again answers the task as stored, so a
//!   Helper's token is `null` then (that API answers a new token it never
//!   stored); for a Leader the tokens are compared too (409 if they differ);
//! - a Helper's generated token is 32 random bytes (that API: 16);
//! - `metrics/uploads` adds `report_duplicate_extension` (always 0: dyad
//!   counts those reports in `report_decode_failure`);
//! - `metrics/aggregations`: the `helper_*` fields count a preparation
//!   failure whichever aggregator found it.

use super::models::HpkeConfigJson;
use super::tests::{api, call};
use super::*;
use axum::http::Method;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use dyad_core::task::AuthenticationToken;
use dyad_core::vdaf::{DpStrategy, FixedPointBitSize, VdafInstance};
use dyad_datastore::testing::sqlite_harness;
use dyad_datastore::DatastoreExt;
use janus_core::auth_tokens::{
    AuthenticationToken as JanusToken, AuthenticationTokenHash as JanusTokenHash,
};
use janus_core::vdaf::{vdaf_dp_strategies, VdafInstance as JanusVdaf};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

/// `value` read as a `T` and written back: the same JSON.
fn round_trips<T: DeserializeOwned + Serialize>(value: &Value, what: &str) {
    let read: T = serde_json::from_value(value.clone())
        .unwrap_or_else(|e| panic!("{what}: janus cannot read {value}: {e}"));
    assert_eq!(&serde_json::to_value(read).unwrap(), value, "{what}");
}

fn dyad_vdafs() -> Vec<VdafInstance> {
    vec![
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
            bitsize: FixedPointBitSize::BitSize16,
            length: 3,
        },
        VdafInstance::Poplar1 { bits: 16 },
    ]
}

#[test]
fn every_vdaf_dyad_writes_is_a_janus_vdaf_instance_and_back() {
    for vdaf in dyad_vdafs() {
        let written = task_json::vdaf_json(&vdaf);
        round_trips::<JanusVdaf>(&written, &format!("{vdaf:?}"));
    }
    // What janus writes, dyad reads as the same VDAF.
    let janus = [
        (JanusVdaf::Prio3Count, VdafInstance::Prio3Count),
        (
            JanusVdaf::Prio3Sum { bits: 8 },
            VdafInstance::Prio3Sum { bits: 8 },
        ),
        (
            JanusVdaf::Prio3SumVec {
                bits: 2,
                length: 10,
                chunk_length: 3,
                dp_strategy: vdaf_dp_strategies::Prio3SumVec::NoDifferentialPrivacy,
            },
            VdafInstance::Prio3SumVec {
                bits: 2,
                length: 10,
                chunk_length: 3,
            },
        ),
        (
            JanusVdaf::Prio3Histogram {
                length: 4,
                chunk_length: 2,
                dp_strategy: vdaf_dp_strategies::Prio3Histogram::NoDifferentialPrivacy,
            },
            VdafInstance::Prio3Histogram {
                length: 4,
                chunk_length: 2,
            },
        ),
        (
            JanusVdaf::Prio3SumVecField64MultiproofHmacSha256Aes128 {
                proofs: 2,
                bits: 1,
                length: 5,
                chunk_length: 2,
                dp_strategy: vdaf_dp_strategies::Prio3SumVec::NoDifferentialPrivacy,
            },
            VdafInstance::Prio3SumVecField64MultiproofHmacSha256Aes128 {
                proofs: 2,
                bits: 1,
                length: 5,
                chunk_length: 2,
            },
        ),
        (
            JanusVdaf::Poplar1 { bits: 16 },
            VdafInstance::Poplar1 { bits: 16 },
        ),
    ];
    for (janus, dyad) in janus {
        let written = serde_json::to_value(&janus).unwrap();
        assert_eq!(
            task_request::vdaf_from_json(&written),
            Ok((dyad, DpStrategy::NoDifferentialPrivacy)),
            "{written}"
        );
    }
}

#[test]
fn a_noised_vdaf_is_written_and_read_as_janus_writes_it() {
    use prio::dp::distributions::{PureDpDiscreteLaplace, ZCdpDiscreteGaussian};
    use prio::dp::{DifferentialPrivacyStrategy, PureDpBudget, Rational, ZCdpBudget};
    let pure = || {
        PureDpDiscreteLaplace::from_budget(
            PureDpBudget::new(Rational::from_unsigned(1u32, 2u32).unwrap()).unwrap(),
        )
    };
    let ours_pure: DpStrategy = "PureDpDiscreteLaplace:1/2".parse().unwrap();
    let ours_zcdp: DpStrategy = "ZCdpDiscreteGaussian:3".parse().unwrap();
    let cases = [
        (
            JanusVdaf::Prio3Histogram {
                length: 4,
                chunk_length: 2,
                dp_strategy: vdaf_dp_strategies::Prio3Histogram::PureDpDiscreteLaplace(pure()),
            },
            VdafInstance::Prio3Histogram {
                length: 4,
                chunk_length: 2,
            },
            ours_pure.clone(),
        ),
        (
            JanusVdaf::Prio3SumVec {
                bits: 2,
                length: 10,
                chunk_length: 3,
                dp_strategy: vdaf_dp_strategies::Prio3SumVec::PureDpDiscreteLaplace(pure()),
            },
            VdafInstance::Prio3SumVec {
                bits: 2,
                length: 10,
                chunk_length: 3,
            },
            ours_pure.clone(),
        ),
        (
            JanusVdaf::Prio3SumVecField64MultiproofHmacSha256Aes128 {
                proofs: 2,
                bits: 1,
                length: 5,
                chunk_length: 2,
                dp_strategy: vdaf_dp_strategies::Prio3SumVec::PureDpDiscreteLaplace(pure()),
            },
            VdafInstance::Prio3SumVecField64MultiproofHmacSha256Aes128 {
                proofs: 2,
                bits: 1,
                length: 5,
                chunk_length: 2,
            },
            ours_pure,
        ),
        (
            JanusVdaf::Prio3FixedPointBoundedL2VecSum {
                bitsize: janus_core::vdaf::Prio3FixedPointBoundedL2VecSumBitSize::BitSize16,
                dp_strategy:
                    vdaf_dp_strategies::Prio3FixedPointBoundedL2VecSum::ZCdpDiscreteGaussian(
                        ZCdpDiscreteGaussian::from_budget(ZCdpBudget::new(
                            Rational::from_unsigned(3u32, 1u32).unwrap(),
                        )),
                    ),
                length: 3,
            },
            VdafInstance::Prio3FixedPointBoundedL2VecSum {
                bitsize: FixedPointBitSize::BitSize16,
                length: 3,
            },
            ours_zcdp,
        ),
    ];
    for (janus, vdaf, dp_strategy) in cases {
        let theirs = serde_json::to_value(&janus).unwrap();
        assert_eq!(
            task_json::vdaf_with_dp_json(&vdaf, &dp_strategy),
            theirs,
            "{vdaf:?}"
        );
        assert_eq!(
            task_request::vdaf_from_json(&theirs),
            Ok((vdaf, dp_strategy)),
            "{theirs}"
        );
    }
}

#[tokio::test]
async fn a_task_body_built_from_janus_types_is_accepted_and_the_answer_reads_back_through_them() {
    let datastore = sqlite_harness().await;
    let router = api(&datastore);
    let collector =
        dyad_core::hpke::HpkeKeypair::generate_default(dyad_messages::draft09::HpkeConfigId(3));
    let collector_json = serde_json::to_value(
        serde_json::from_value::<janus_messages::HpkeConfig>(
            serde_json::to_value(HpkeConfigJson::from_config(collector.config()).unwrap()).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    let helper_token = JanusToken::new_bearer_token_from_string("helper-made_token").unwrap();
    let collector_token = JanusToken::new_bearer_token_from_string("collector-token").unwrap();
    let verify_key = [5u8; 16];
    let body = json!({
        "peer_aggregator_endpoint": "https://helper.example.com/",
        "query_type": {"FixedSize": {"max_batch_size": 100, "batch_time_window_size": null}},
        "vdaf": serde_json::to_value(JanusVdaf::Prio3SumVec {
            bits: 1, length: 8, chunk_length: 3,
            dp_strategy: vdaf_dp_strategies::Prio3SumVec::PureDpDiscreteLaplace(
                prio::dp::DifferentialPrivacyStrategy::from_budget(
                    prio::dp::PureDpBudget::new(
                        prio::dp::Rational::from_unsigned(2u32, 1u32).unwrap(),
                    )
                    .unwrap(),
                ),
            ),
        }).unwrap(),
        "role": serde_json::to_value(janus_messages::Role::Leader).unwrap(),
        "vdaf_verify_key": URL_SAFE_NO_PAD.encode(verify_key),
        "max_batch_query_count": 1,
        "task_expiration": serde_json::to_value(
            janus_messages::Time::from_seconds_since_epoch(2_000_000_000)).unwrap(),
        "min_batch_size": 10,
        "time_precision": serde_json::to_value(
            janus_messages::Duration::from_seconds(3600)).unwrap(),
        "collector_hpke_config": collector_json,
        "aggregator_auth_token": serde_json::to_value(&helper_token).unwrap(),
        "collector_auth_token_hash":
            serde_json::to_value(JanusTokenHash::from(&collector_token)).unwrap(),
    });
    let answer = call(&router, Method::POST, "/tasks", Some(body)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json());
    let task = answer.json();

    round_trips::<janus_messages::TaskId>(&task["task_id"], "task_id");
    round_trips::<JanusVdaf>(&task["vdaf"], "vdaf");
    round_trips::<janus_messages::Role>(&task["role"], "role");
    round_trips::<janus_messages::Time>(&task["task_expiration"], "task_expiration");
    for duration in [
        "report_expiry_age",
        "time_precision",
        "tolerable_clock_skew",
    ] {
        round_trips::<janus_messages::Duration>(&task[duration], duration);
    }
    round_trips::<janus_messages::HpkeConfig>(
        &task["collector_hpke_config"],
        "collector_hpke_config",
    );
    for config in task["aggregator_hpke_configs"].as_array().unwrap() {
        round_trips::<janus_messages::HpkeConfig>(config, "aggregator_hpke_configs");
    }
    url::Url::parse(task["peer_aggregator_endpoint"].as_str().unwrap()).unwrap();

    // The collector token hash janus computes is the one dyad checks.
    let task_id: dyad_messages::draft09::TaskId =
        serde_json::from_value(task["task_id"].clone()).unwrap();
    let stored = datastore
        .datastore
        .run_read_tx("get", move |tx| {
            Box::pin(async move { Ok(tx.get_task(&task_id).await?) })
        })
        .await
        .unwrap()
        .unwrap();
    assert!(stored
        .collector_auth_token()
        .unwrap()
        .validate(&AuthenticationToken::new_bearer("collector-token").unwrap()));
    // The DP strategy janus wrote is the stored task's, and answered back.
    assert_eq!(
        stored.dp_strategy(),
        &"PureDpDiscreteLaplace:2".parse::<DpStrategy>().unwrap()
    );
    assert_eq!(
        task["vdaf"]["Prio3SumVec"]["dp_strategy"],
        json!({"dp_strategy": "PureDpDiscreteLaplace", "budget": {"epsilon": [[2], [1]]}})
    );
    assert_eq!(
        stored.aggregator_auth_token().token().unwrap().as_str(),
        helper_token.as_str()
    );
}

#[tokio::test]
async fn a_helpers_answered_token_is_a_janus_authentication_token() {
    let datastore = sqlite_harness().await;
    let router = api(&datastore);
    let collector =
        dyad_core::hpke::HpkeKeypair::generate_default(dyad_messages::draft09::HpkeConfigId(4));
    let body = json!({
        "peer_aggregator_endpoint": "https://leader.example.com/",
        "query_type": "TimeInterval",
        "vdaf": "Prio3Count",
        "role": "Helper",
        "vdaf_verify_key": URL_SAFE_NO_PAD.encode([6u8; 16]),
        "max_batch_query_count": 1,
        "task_expiration": null,
        "min_batch_size": 10,
        "time_precision": 3600,
        "collector_hpke_config": HpkeConfigJson::from_config(collector.config()).unwrap(),
    });
    let answer = call(&router, Method::POST, "/tasks", Some(body)).await;
    assert_eq!(answer.status, StatusCode::OK);
    let token = &answer.json()["aggregator_auth_token"];
    round_trips::<JanusToken>(token, "aggregator_auth_token");
    let janus: JanusToken = serde_json::from_value(token.clone()).unwrap();
    assert!(matches!(janus, JanusToken::Bearer(_)));
    // Its hash, in janus's form, is what dyad's hash form writes.
    assert_eq!(
        serde_json::to_value(JanusTokenHash::from(&janus)).unwrap(),
        serde_json::to_value(models::AuthTokenHashJson::from_hash(
            &AuthenticationToken::new_bearer(janus.as_str())
                .unwrap()
                .hash()
        ))
        .unwrap()
    );
}

#[tokio::test]
async fn every_global_hpke_config_listed_is_a_janus_hpke_config() {
    let datastore = sqlite_harness().await;
    let router = api(&datastore);
    for suite in [
        json!({}),
        json!({"kem_id": "P256HkdfSha256", "kdf_id": "HkdfSha384", "aead_id": "Aes256Gcm"}),
        json!({"aead_id": "ChaCha20Poly1305", "kdf_id": "HkdfSha512"}),
    ] {
        let answer = call(&router, Method::PUT, "/hpke_configs", Some(suite)).await;
        assert_eq!(answer.status, StatusCode::CREATED);
    }
    let listed = call(&router, Method::GET, "/hpke_configs", None)
        .await
        .json();
    let items = listed.as_array().unwrap();
    assert_eq!(items.len(), 3);
    for item in items {
        round_trips::<janus_messages::HpkeConfig>(&item["config"], "config");
        assert_eq!(item["state"], "pending");
        assert_eq!(item.as_object().unwrap().len(), 2, "config and state only");
    }
}
