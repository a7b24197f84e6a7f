//! `/taskprov/peer_aggregators` through the real router on every backend:
//! a peer added, listed without its secrets, stored with them sealed and
//! its tokens as the role needs them, refused twice and when malformed,
//! and deleted.

use super::tests::{api, backends, call};
use axum::http::{Method, StatusCode};
use dyad_core::hpke::HpkeKeypair;
use dyad_core::taskprov::VerifyKeyInit;
use dyad_datastore::DatastoreExt;
use dyad_messages::draft09::{HpkeConfigId, Role};
use serde_json::{json, Value};

const PEERS: &str = "/taskprov/peer_aggregators";

/// A well-formed `POST` body for a peer in `role` ("Leader" or "Helper").
pub(super) fn new_peer(role: &str) -> Value {
    let hpke = HpkeKeypair::generate_default(HpkeConfigId(3));
    let hpke = super::models::HpkeConfigJson::from_config(hpke.config()).unwrap();
    let mut body = json!({
        "endpoint": format!("https://{}.example", role.to_ascii_lowercase()),
        "role": role,
        "collector_hpke_config": hpke,
        "verify_key_init": VerifyKeyInit::random().to_base64url().as_str(),
        "report_expiry_age": 86400,
        "tolerable_clock_skew": 60,
        "aggregator_auth_tokens": [{"type": "Bearer", "token": "aggregator-token"}],
    });
    if role == "Helper" {
        body["collector_auth_tokens"] = json!([{"type": "Bearer", "token": "collector-token"}]);
    }
    body
}

#[tokio::test]
async fn peers_are_added_listed_without_secrets_and_deleted() {
    for datastore in backends().await {
        let router = api(&datastore);
        let leader = new_peer("Leader");
        let created = call(&router, Method::POST, PEERS, Some(leader.clone())).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.json());
        let listed = created.json();
        assert_eq!(listed["endpoint"], "https://leader.example/");
        assert_eq!(listed["role"], "Leader");
        assert_eq!(listed["report_expiry_age"], 86400);
        assert!(listed.get("verify_key_init").is_none());
        assert!(!String::from_utf8_lossy(&created.body).contains("aggregator-token"));

        // `peer_role` names the role too.
        let mut helper = new_peer("Helper");
        helper["peer_role"] = helper["role"].take();
        helper.as_object_mut().unwrap().remove("role");
        let created = call(&router, Method::POST, PEERS, Some(helper)).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.json());

        let again = call(&router, Method::POST, PEERS, Some(leader.clone())).await;
        assert_eq!(again.status, StatusCode::CONFLICT);

        let all = call(&router, Method::GET, PEERS, None).await;
        assert_eq!(all.status, StatusCode::OK);
        let roles: Vec<String> = all
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["role"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(roles, ["Leader", "Helper"]);

        // Stored whole, the Leader's token as a hash, the Helper's as the
        // token this Leader sends.
        let stored = datastore
            .datastore
            .run_read_tx("peers", |tx| {
                Box::pin(async move { Ok(tx.get_taskprov_peer_aggregators().await?) })
            })
            .await
            .unwrap();
        assert_eq!(stored.len(), 2);
        assert_eq!(stored[0].role(), Role::Leader);
        assert!(stored[0].aggregator_auth_tokens()[0].token().is_none());
        assert_eq!(
            stored[0].verify_key_init().to_base64url().as_str(),
            leader["verify_key_init"].as_str().unwrap()
        );
        assert!(stored[1].aggregator_auth_tokens()[0].token().is_some());
        assert!(stored[1].collector_auth_tokens()[0].token().is_none());

        let named = json!({"endpoint": "https://leader.example", "role": "leader"});
        let deleted = call(&router, Method::DELETE, PEERS, Some(named.clone())).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        let deleted = call(&router, Method::DELETE, PEERS, Some(named)).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        let all = call(&router, Method::GET, PEERS, None).await;
        assert_eq!(all.json().as_array().unwrap().len(), 1);
    }
}

#[tokio::test]
async fn malformed_peers_are_400_with_the_reason() {
    for datastore in backends().await {
        let router = api(&datastore);
        let cases: Vec<(&str, Value, &str)> = vec![
            (
                "short secret",
                {
                    let mut p = new_peer("Leader");
                    p["verify_key_init"] = json!("AAAA");
                    p
                },
                "verify_key_init",
            ),
            (
                "collector token for a Leader",
                {
                    let mut p = new_peer("Leader");
                    p["collector_auth_tokens"] = json!([{"type": "Bearer", "token": "x"}]);
                    p
                },
                "collector_auth_tokens",
            ),
            (
                "no collector token for a Helper",
                {
                    let mut p = new_peer("Helper");
                    p.as_object_mut().unwrap().remove("collector_auth_tokens");
                    p
                },
                "collector_auth_tokens",
            ),
            (
                "role",
                {
                    let mut p = new_peer("Leader");
                    p["role"] = json!("Collector");
                    p
                },
                "role",
            ),
            (
                "endpoint",
                {
                    let mut p = new_peer("Leader");
                    p["endpoint"] = json!("ftp://leader.example/");
                    p
                },
                "endpoint",
            ),
        ];
        for (name, body, names) in cases {
            let answer = call(&router, Method::POST, PEERS, Some(body)).await;
            assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{name}");
            let detail = answer.json()["detail"].as_str().unwrap().to_owned();
            assert!(detail.contains(names), "{name}: {detail}");
        }
        let all = call(&router, Method::GET, PEERS, None).await;
        assert_eq!(all.json(), json!([]));
    }
}
