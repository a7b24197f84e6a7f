use super::*;
use axum::body::Body;
use axum::http::Request;
use dyad_core::clock::RealClock;
use dyad_datastore::DatastoreOptions;
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

async fn sqlite_datastore(dir: &tempfile::TempDir) -> (Arc<dyn Datastore>, String) {
    let url = format!("sqlite://{}", dir.path().join("dyad.sqlite").display());
    let options = DatastoreOptions::new(dyad_datastore::DatastoreKeys::generate());
    let datastore = dyad_datastore::open(&url, Arc::new(RealClock), &options)
        .await
        .unwrap();
    (datastore, url)
}

async fn get(router: Router, path: &str) -> (StatusCode, String) {
    let response = router
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn healthz_and_readyz_answer_200_on_a_current_datastore() {
    let dir = tempfile::tempdir().unwrap();
    let (datastore, _) = sqlite_datastore(&dir).await;
    let router = health_router(datastore);
    assert_eq!(get(router.clone(), "/healthz").await.0, StatusCode::OK);
    let (status, body) = get(router, "/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn readyz_is_503_once_the_datastore_is_closed_while_healthz_stays_200() {
    let dir = tempfile::tempdir().unwrap();
    let (datastore, _) = sqlite_datastore(&dir).await;
    datastore.close().await;
    let router = health_router(datastore);
    let (status, body) = get(router.clone(), "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.starts_with("not ready: datastore:"), "{body}");
    assert_eq!(get(router, "/healthz").await.0, StatusCode::OK);
}

#[tokio::test]
async fn readyz_is_503_naming_the_version_when_the_schema_is_not_this_binarys() {
    let dir = tempfile::tempdir().unwrap();
    let (datastore, url) = sqlite_datastore(&dir).await;
    // A migration this binary does not know, as a newer dyad would leave.
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (9999, 'from the future', TRUE, X'00', 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let (status, body) = get(health_router(datastore), "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("9999"), "{body}");
}

#[tokio::test]
async fn readiness_gives_up_after_its_timeout() {
    // A datastore that never answers.
    struct Stuck;
    #[async_trait::async_trait]
    impl Datastore for Stuck {
        async fn run_tx_erased(
            &self,
            _: &'static str,
            _: dyad_datastore::TxMode,
            _: Arc<dyad_datastore::ErasedTxFn>,
        ) -> Result<Box<dyn std::any::Any + Send>, dyad_datastore::TxError> {
            std::future::pending().await
        }
        fn clock(&self) -> &dyn dyad_core::clock::Clock {
            &RealClock
        }
        fn writers_run_in_parallel(&self) -> bool {
            false
        }
        async fn close(&self) {}
        async fn check_ready(&self) -> Result<(), dyad_datastore::DatastoreError> {
            std::future::pending().await
        }
    }
    let reason = readiness(&Stuck, Duration::from_millis(50))
        .await
        .unwrap_err();
    assert!(reason.contains("did not answer"), "{reason}");
}

#[tokio::test]
async fn metrics_renders_the_prometheus_text_format() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        metrics::counter!("dyad_test_total", "outcome" => "accepted").increment(3)
    });
    let response = metrics_router(handle)
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(
        text.contains("dyad_test_total{outcome=\"accepted\"} 3"),
        "{text}"
    );
}

#[tokio::test]
async fn readyz_on_postgres_is_503_when_the_schema_is_behind_and_when_the_database_is_gone() {
    let Some(database) = dyad_test_support::postgres::TestDatabase::create().await else {
        return; // no DYAD_TEST_DATABASE_URL: nothing to check
    };
    let options = DatastoreOptions::new(dyad_datastore::DatastoreKeys::generate());
    let datastore = dyad_datastore::open(database.url(), Arc::new(RealClock), &options)
        .await
        .unwrap();
    let router = health_router(datastore.clone());
    let (status, body) = get(router.clone(), "/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The latest migration undone, as a database not yet migrated by this
    // binary's `dyad migrate`.
    let pool = sqlx::PgPool::connect(database.url()).await.unwrap();
    sqlx::query(
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let (status, body) = get(router.clone(), "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("dyad migrate"), "{body}");

    // The database dropped under the process (its connections closed).
    drop(database);
    let (status, body) = get(router.clone(), "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.starts_with("not ready:"), "{body}");
    assert_eq!(get(router, "/healthz").await.0, StatusCode::OK);
    datastore.close().await;
}
