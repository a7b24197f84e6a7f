//! The management API's global HPKE key routes (`/hpke_configs`): adding,
//! listing, changing and deleting keys, the refusals of bad requests, and
//! the end of the 256 configuration IDs.

use super::*;

#[tokio::test]
async fn hpke_configs_are_added_pending_listed_changed_and_deleted() {
    for datastore in backends().await {
        let router = api(&datastore);
        assert_eq!(
            call(&router, Method::GET, "/hpke_configs", None)
                .await
                .json(),
            json!([])
        );

        let first = call(&router, Method::PUT, "/hpke_configs", Some(json!({}))).await;
        assert_eq!(first.status, StatusCode::CREATED);
        let first = first.json();
        assert_eq!(first["state"], "pending");
        assert_eq!(first["config"]["id"], 0, "the lowest free ID");
        assert_eq!(first["config"]["kem_id"], "X25519HkdfSha256");
        assert_eq!(first["config"]["kdf_id"], "HkdfSha256");
        assert_eq!(first["config"]["aead_id"], "Aes128Gcm");
        let public_key = first["config"]["public_key"].as_str().unwrap();
        assert_eq!(public_key.len(), 43, "32 bytes, unpadded base64url");
        assert!(!public_key.contains('='));

        let second = call(
            &router,
            Method::PUT,
            "/hpke_configs",
            Some(
                json!({"kem_id": "P256HkdfSha256", "kdf_id": null, "aead_id": "ChaCha20Poly1305"}),
            ),
        )
        .await;
        assert_eq!(second.status, StatusCode::CREATED);
        let second = second.json();
        assert_eq!(second["config"]["id"], 1);
        assert_eq!(second["config"]["kem_id"], "P256HkdfSha256");
        assert_eq!(second["config"]["aead_id"], "ChaCha20Poly1305");

        let listed = call(&router, Method::GET, "/hpke_configs", None)
            .await
            .json();
        assert_eq!(listed, json!([first, second]));
        assert_eq!(
            call(&router, Method::GET, "/hpke_configs/1", None)
                .await
                .json(),
            second
        );

        let patched = call(
            &router,
            Method::PATCH,
            "/hpke_configs/0",
            Some(json!({"state": "active"})),
        )
        .await;
        assert_eq!(patched.status, StatusCode::OK);
        assert!(patched.body.is_empty());
        let keys = datastore
            .datastore
            .run_read_tx("keys", |tx| {
                Box::pin(async move { Ok(tx.get_global_hpke_keys().await?) })
            })
            .await
            .unwrap();
        assert_eq!(keys[0].id(), HpkeConfigId(0));
        assert_eq!(keys[0].state, HpkeKeyState::Active);
        assert_eq!(
            call(&router, Method::GET, "/hpke_configs/0", None)
                .await
                .json()["state"],
            "active"
        );

        let deleted = call(&router, Method::DELETE, "/hpke_configs/0", None).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        assert_eq!(
            call(&router, Method::GET, "/hpke_configs/0", None)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            call(&router, Method::DELETE, "/hpke_configs/0", None)
                .await
                .status,
            StatusCode::NO_CONTENT,
            "also when unknown"
        );
        // The freed ID is the lowest again.
        let again = call(&router, Method::PUT, "/hpke_configs", None).await;
        assert_eq!(again.json()["config"]["id"], 0);
    }
}

#[tokio::test]
async fn bad_hpke_config_requests_are_refused_with_their_status() {
    let datastore = sqlite_harness().await;
    let router = api(&datastore);
    let cases = [
        (
            Method::GET,
            "/hpke_configs/256",
            None,
            StatusCode::BAD_REQUEST,
            "config_id",
        ),
        (
            Method::GET,
            "/hpke_configs/x",
            None,
            StatusCode::BAD_REQUEST,
            "config_id",
        ),
        (
            Method::GET,
            "/hpke_configs/7",
            None,
            StatusCode::NOT_FOUND,
            "no global HPKE key",
        ),
        (
            Method::PATCH,
            "/hpke_configs/7",
            Some(json!({"state": "active"})),
            StatusCode::NOT_FOUND,
            "no global HPKE key",
        ),
        (
            Method::PATCH,
            "/hpke_configs/7",
            Some(json!({"state": "retired"})),
            StatusCode::BAD_REQUEST,
            "invalid request body",
        ),
        (
            Method::PUT,
            "/hpke_configs",
            Some(json!({"kem_id": "Kyber"})),
            StatusCode::BAD_REQUEST,
            "unknown kem_id",
        ),
        (
            Method::PUT,
            "/hpke_configs",
            Some(json!({"surprise": 1})),
            StatusCode::BAD_REQUEST,
            "unknown field",
        ),
    ];
    for (method, path, body, status, detail) in cases {
        let answer = call(&router, method.clone(), path, body).await;
        assert_eq!(answer.status, status, "{method} {path}");
        let document = answer.json();
        assert_eq!(document["status"], status.as_u16());
        let text = document["detail"].as_str().unwrap();
        assert!(text.contains(detail), "{method} {path}: {text}");
    }
    // Nothing was written by any of them.
    assert_eq!(
        call(&router, Method::GET, "/hpke_configs", None)
            .await
            .json(),
        json!([])
    );
}

#[tokio::test]
async fn put_hpke_config_is_409_once_all_256_ids_are_taken() {
    let datastore = sqlite_harness().await;
    datastore
        .datastore
        .run_tx("fill", |tx| {
            Box::pin(async move {
                for id in 0..=u8::MAX {
                    let keypair = dyad_core::hpke::HpkeKeypair::generate_default(HpkeConfigId(id));
                    tx.put_global_hpke_key(&keypair, HpkeKeyState::Expired)
                        .await?;
                }
                Ok(())
            })
        })
        .await
        .unwrap();
    let answer = call(
        &api(&datastore),
        Method::PUT,
        "/hpke_configs",
        Some(json!({})),
    )
    .await;
    assert_eq!(answer.status, StatusCode::CONFLICT);
    assert!(answer.json()["detail"].as_str().unwrap().contains("256"));
}
