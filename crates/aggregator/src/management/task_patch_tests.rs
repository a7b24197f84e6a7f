//! `PATCH /tasks/{id}` through the real router, on every backend.

use super::tests::{api, backends, call};
use axum::http::{Method, StatusCode};
use dyad_datastore::testing::fixtures;
use dyad_datastore::DatastoreExt;
use dyad_messages::draft09::TaskId;
use serde_json::json;

#[tokio::test]
async fn patch_task_sets_clears_or_keeps_the_expiration_and_answers_the_task() {
    for datastore in backends().await {
        let router = api(&datastore);
        let task = fixtures::leader_task();
        fixtures::put_tasks(datastore.datastore.as_ref(), &[&task]).await;
        let path = format!("/tasks/{}", task.task_id());
        let task_id = *task.task_id();
        let stored_expiration = || {
            let datastore = datastore.datastore.clone();
            async move {
                datastore
                    .run_read_tx("get", move |tx| {
                        Box::pin(async move { Ok(tx.get_task(&task_id).await?) })
                    })
                    .await
                    .unwrap()
                    .unwrap()
                    .task_expiration()
                    .map(|t| t.as_seconds_since_epoch())
            }
        };

        let set = call(
            &router,
            Method::PATCH,
            &path,
            Some(json!({"task_expiration": 2_000_000_000u64})),
        )
        .await;
        assert_eq!(set.status, StatusCode::OK);
        assert_eq!(set.json()["task_expiration"], 2_000_000_000u64);
        assert_eq!(set.json()["task_id"], task_id.to_string());
        assert_eq!(stored_expiration().await, Some(2_000_000_000));

        let kept = call(&router, Method::PATCH, &path, Some(json!({}))).await;
        assert_eq!(kept.status, StatusCode::OK);
        assert_eq!(kept.json()["task_expiration"], 2_000_000_000u64);
        assert_eq!(stored_expiration().await, Some(2_000_000_000));

        let cleared = call(
            &router,
            Method::PATCH,
            &path,
            Some(json!({"task_expiration": null})),
        )
        .await;
        assert_eq!(cleared.status, StatusCode::OK);
        assert_eq!(cleared.json()["task_expiration"], json!(null));
        assert_eq!(stored_expiration().await, None);

        let unknown = call(
            &router,
            Method::PATCH,
            &format!("/tasks/{}", TaskId::random()),
            Some(json!({"task_expiration": 5})),
        )
        .await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn bad_task_patches_are_400_and_change_nothing() {
    for datastore in backends().await {
        let router = api(&datastore);
        let task = fixtures::leader_task();
        fixtures::put_tasks(datastore.datastore.as_ref(), &[&task]).await;
        let path = format!("/tasks/{}", task.task_id());
        let cases = [
            (json!({"task_expiration": -1}), "non-negative integer"),
            (json!({"task_expiration": "soon"}), "non-negative integer"),
            (json!({"task_expiration": u64::MAX}), "latest time"),
            (json!({"min_batch_size": 3}), "only task_expiration"),
            (json!([1]), "invalid request body"),
        ];
        for (body, detail) in cases {
            let answer = call(&router, Method::PATCH, &path, Some(body.clone())).await;
            assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
            let text = answer.json()["detail"].as_str().unwrap().to_owned();
            assert!(text.contains(detail), "{body}: {text}");
        }
        let shown = call(&router, Method::GET, &path, None).await.json();
        assert_eq!(
            shown["task_expiration"],
            json!(task.task_expiration().map(|t| t.as_seconds_since_epoch()))
        );
    }
}
