//! [`run`]: one aggregator process. It opens the datastore (bringing its
//! schema up to date), serves the HTTP API if the `aggregator` role is
//! configured, runs each configured Leader job, and returns once `shutdown`
//! is cancelled and everything has stopped, or as soon as a role fails (the
//! others are then stopped first).
//!
//! It first raises the soft open-file limit to the hard limit (logged).
//! Before anything listens, it checks that the datastore keys open every
//! stored task and logs one line saying what runs (see [`crate::startup`]).
//!
//! [`open_datastore`] and [`crate::http::serve_on`] are the pieces, for
//! callers (the quickstart, tests) that bind their own listener, e.g. on
//! port 0 to learn the address.
//!
//! ## Where is
//!
//! - which roles run, and stopping the others when one fails → [`run_with`]
//! - the soft open-file limit raised to the hard limit →
//!   [`raise_open_file_limit`]
//! - the datastore opened and its schema brought up to date →
//!   [`open_datastore`]
//! - the keys checked before anything listens → [`crate::startup::check_keys`]
//! - the health and metrics listeners, the metrics recorder and the queue
//!   sampler, beside whatever roles run → [`start_telemetry`]
//! - the management API on its own listener (the `management-api` role) →
//!   [`start_management_api`]; under `management_api.path_prefix` on the
//!   DAP listener → [`run_with`], [`crate::management::mount`]

use crate::config::{AggregatorConfig, ProcessRole};
use crate::http::HttpApi;
use crate::leader;
use crate::startup::{self, OpenDatastoreError};
use anyhow::Context as _;
use dyad_core::clock::{Clock, RealClock};
use dyad_datastore::{Datastore, DatastoreOptions};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Opens the datastore at `url` (SQLite or PostgreSQL) with `clock` and
/// `options`.
pub async fn open_datastore(
    url: &str,
    clock: Arc<dyn Clock>,
    options: &DatastoreOptions,
) -> anyhow::Result<Arc<dyn Datastore>> {
    dyad_datastore::open(url, clock, options)
        .await
        .map_err(|error| OpenDatastoreError::new("opening", url, error).into())
}

/// Runs the configured roles until `shutdown` is cancelled (see the module
/// documentation).
pub async fn run(config: AggregatorConfig, shutdown: CancellationToken) -> anyhow::Result<()> {
    config.validate()?;
    raise_open_file_limit();
    let keys = config.datastore_keys()?;
    startup::log_keys(&keys);
    let options = config.datastore_options()?;
    let datastore = open_datastore(&config.datastore, Arc::new(RealClock), &options).await?;
    // Before listening: keys that cannot open the stored tasks stop the
    // process here, not each request later.
    let tasks = match startup::check_keys(datastore.as_ref(), &keys).await {
        Ok(tasks) => tasks,
        Err(error) => {
            datastore.close().await;
            return Err(error);
        }
    };
    let listener = match (
        config.has_role(ProcessRole::Aggregator),
        config.listen_address,
    ) {
        (true, Some(address)) => Some(
            TcpListener::bind(address)
                .await
                .with_context(|| format!("binding {address}"))?,
        ),
        _ => None,
    };
    let listening: Vec<_> = listener
        .iter()
        .filter_map(|listener| listener.local_addr().ok())
        .collect();
    startup::log_started(&config.roles, &listening, &config.datastore, tasks);
    let result = run_with(config, datastore.clone(), listener, shutdown).await;
    datastore.close().await;
    result
}

/// Raises the soft open-file limit to the hard limit (every connection is
/// a file descriptor) and logs both; the default connection maximum is
/// sized from the result ([`crate::server::open_files`]).
fn raise_open_file_limit() {
    match crate::server::open_files::raise_to_hard_limit() {
        Ok(limit) => tracing::info!(
            soft_limit_before = limit.soft_before,
            soft_limit = limit.soft,
            hard_limit = limit.hard,
            "open-file limit"
        ),
        Err(error) => tracing::warn!(
            %error,
            "could not raise the open-file limit; serving with the current one"
        ),
    }
}

/// [`run`] with an opened datastore and, for the `aggregator` role, a bound
/// listener.
pub async fn run_with(
    config: AggregatorConfig,
    datastore: Arc<dyn Datastore>,
    listener: Option<TcpListener>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    if config.has_role(ProcessRole::Aggregator) && listener.is_none() {
        anyhow::bail!("the aggregator role needs a listener");
    }
    // Read before any role starts, so that a bad certificate stops the
    // process at once.
    let tls = match (&config.tls, config.has_role(ProcessRole::Aggregator)) {
        (Some(tls), true) => Some(crate::tls::ReloadableCertificate::load(tls.clone())?),
        _ => None,
    };
    // Seeded now, not in the first aggregate share's seal (a Collector
    // would wait for it).
    tokio::task::spawn_blocking(dyad_core::hpke::seed_randomness).await?;
    // Stopped when the caller asks, or when any role fails.
    let stop = shutdown.child_token();
    // One grace period for the whole process: the HTTP server's requests
    // in flight and the drivers' steps in flight (see `leader::driver_loop`).
    let grace = std::time::Duration::from_secs(config.server.shutdown_grace_secs);
    let (telemetry, mut operator_tasks) = start_telemetry(&config, &datastore, &stop).await?;
    let mut roles: JoinSet<(ProcessRole, anyhow::Result<()>)> = JoinSet::new();
    let needs_client = config.roles.iter().any(|role| {
        matches!(
            role,
            ProcessRole::AggregationJobDriver | ProcessRole::CollectionJobDriver
        )
    });
    let http_client = if needs_client {
        Some(
            config
                .http_client
                .build_client()
                .context("building the HTTP client")?,
        )
    } else {
        None
    };

    // The management API under a path prefix of the DAP listener; its
    // tokens resolved now, so a missing one stops the process first.
    let management_on_dap = match &config.management_api.path_prefix {
        Some(prefix) if config.has_role(ProcessRole::Aggregator) => Some((
            prefix.clone(),
            management_router(&config, datastore.clone())?,
        )),
        _ => None,
    };

    for role in config.roles.iter().copied() {
        let datastore = datastore.clone();
        let stop = stop.clone();
        match role {
            // Served below, once every job runs.
            ProcessRole::Aggregator => {}
            ProcessRole::ManagementApi => {
                let served = start_management_api(&config, datastore, stop).await?;
                roles.spawn(async move { (role, served.await) });
            }
            ProcessRole::AggregationJobCreator => {
                let cfg = config.aggregation_job_creator.clone();
                roles.spawn(async move {
                    (
                        role,
                        leader::run_aggregation_job_creator(datastore, cfg, stop).await,
                    )
                });
            }
            ProcessRole::AggregationJobDriver => {
                let cfg = config.aggregation_job_driver.clone();
                let client = http_client.clone().unwrap_or_default();
                roles.spawn(async move {
                    (
                        role,
                        leader::run_aggregation_job_driver(datastore, client, cfg, stop, grace)
                            .await,
                    )
                });
            }
            ProcessRole::KeyRotator => {
                let cfg = config.key_rotator.clone();
                warn_about_key_lifetimes(&config);
                roles.spawn(async move {
                    (
                        role,
                        crate::key_rotator::run_key_rotator(datastore, cfg, stop).await,
                    )
                });
            }
            ProcessRole::GarbageCollector => {
                let cfg = config.garbage_collector;
                roles.spawn(async move {
                    (
                        role,
                        crate::garbage_collector::run_garbage_collector(datastore, cfg, stop).await,
                    )
                });
            }
            ProcessRole::CollectionJobDriver => {
                let cfg = config.collection_job_driver.clone();
                let client = http_client.clone().unwrap_or_default();
                roles.spawn(async move {
                    (
                        role,
                        leader::run_collection_job_driver(datastore, client, cfg, stop, grace)
                            .await,
                    )
                });
            }
        }
        tracing::info!(%role, "started role");
    }
    if config.has_role(ProcessRole::Aggregator) {
        if let Some(listener) = listener {
            let mut api = HttpApi::new(datastore.clone(), config.api_config());
            if let Some((prefix, management)) = management_on_dap {
                tracing::info!(
                    path_prefix = prefix,
                    "serving the management API on the DAP listener"
                );
                api = api.map_router(|dap| {
                    crate::management::mount::under_prefix(dap, &prefix, management)
                });
            }
            let stop = stop.clone();
            roles.spawn(async move {
                let served = match tls {
                    Some(certificate) => api.serve_tls(listener, certificate, stop).await,
                    None => api.serve(listener, stop).await,
                };
                (ProcessRole::Aggregator, served)
            });
        }
    }

    let mut first_error = None;
    while let Some(joined) = roles.join_next().await {
        let (role, result) = match joined {
            Ok(done) => done,
            Err(error) => {
                stop.cancel();
                first_error.get_or_insert(anyhow::anyhow!("a role task failed: {error}"));
                continue;
            }
        };
        match result {
            Ok(()) => tracing::info!(%role, "role stopped"),
            Err(error) => {
                tracing::error!(%role, error = format!("{error:#}"), "role failed; stopping the others");
                stop.cancel();
                first_error.get_or_insert(error.context(format!("role {role} failed")));
            }
        }
    }
    // Every role stopped: the operator's endpoints and sampler stop too.
    stop.cancel();
    while let Some(joined) = operator_tasks.join_next().await {
        match joined {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::error!(error = format!("{error:#}"), "operator endpoint failed")
            }
            Err(error) => tracing::error!(%error, "operator endpoint task failed"),
        }
    }
    if let Some(telemetry) = telemetry {
        telemetry.flush(std::time::Duration::from_secs(5)).await;
    }
    match first_error {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// Warns when the key rotator's durations undercut the HTTP API's (in the
/// same file, which should be the same on every replica): a key advertised
/// before every replica read it, or deleted while Clients may still seal to
/// a cached copy. Both only cost uploads an `outdatedConfig` and a refetch,
/// so they do not stop the process.
fn warn_about_key_lifetimes(config: &AggregatorConfig) {
    let rotator = &config.key_rotator;
    let keys = &config.hpke_keys;
    if rotator.pending_secs < keys.refresh_interval_secs {
        tracing::warn!(
            pending_secs = rotator.pending_secs,
            refresh_interval_secs = keys.refresh_interval_secs,
            "key_rotator.pending_secs is shorter than hpke_keys.refresh_interval_secs: \
             a new key may be advertised before every replica holds it"
        );
    }
    if rotator.expired_secs < keys.config_max_age_secs + keys.refresh_interval_secs {
        tracing::warn!(
            expired_secs = rotator.expired_secs,
            config_max_age_secs = keys.config_max_age_secs,
            refresh_interval_secs = keys.refresh_interval_secs,
            "key_rotator.expired_secs is shorter than hpke_keys.config_max_age_secs plus \
             refresh_interval_secs: Clients may seal to a deleted key and must refetch"
        );
    }
}

/// Binds `management_listen_address` (so a taken address stops the process
/// before it serves, naming the key) and gives the future that serves the
/// management API there until `stop`; its tokens are resolved first, so a
/// missing token stops the process too.
async fn start_management_api(
    config: &AggregatorConfig,
    datastore: Arc<dyn Datastore>,
    stop: CancellationToken,
) -> anyhow::Result<impl std::future::Future<Output = anyhow::Result<()>>> {
    let router = management_router(config, datastore)?;
    let address = config
        .management_listen_address
        .context("the management-api role needs management_listen_address")?;
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("binding management_listen_address {address}"))?;
    Ok(crate::telemetry::endpoints::serve(
        "management",
        listener,
        router,
        stop,
    ))
}

/// The management API's router, its tokens resolved (an error naming
/// `DYAD_API_TOKENS` if there is none).
fn management_router(
    config: &AggregatorConfig,
    datastore: Arc<dyn Datastore>,
) -> anyhow::Result<axum::Router> {
    let tokens = config.management_tokens()?;
    Ok(crate::management::router(
        crate::management::ManagementState {
            datastore,
            tokens: tokens.into(),
            dap_url: config.management_api.dap_url.clone(),
        },
    ))
}

/// Starts what serves the operator whatever the roles: the metrics
/// recorder (when `metrics_listen_address` or `metrics.otlp` is set), the
/// health and metrics listeners (bound here, so a taken address stops the
/// process before any role starts, naming its key) and, beside the
/// `aggregation-job-creator` role, the queue-depth sampler. All stop with
/// `stop`.
async fn start_telemetry(
    config: &AggregatorConfig,
    datastore: &Arc<dyn Datastore>,
    stop: &CancellationToken,
) -> anyhow::Result<(
    Option<crate::telemetry::Telemetry>,
    JoinSet<anyhow::Result<()>>,
)> {
    use crate::telemetry::{endpoints, sampler};
    let mut tasks = JoinSet::new();
    let telemetry = if config.exports_metrics() {
        Some(crate::telemetry::install(&config.metrics)?)
    } else {
        None
    };
    if let Some(address) = config.health_listen_address {
        let listener = TcpListener::bind(address)
            .await
            .with_context(|| format!("binding health_listen_address {address}"))?;
        let router = endpoints::health_router(datastore.clone());
        tasks.spawn(endpoints::serve("health", listener, router, stop.clone()));
    }
    if let (Some(address), Some(telemetry)) = (config.metrics_listen_address, &telemetry) {
        let listener = TcpListener::bind(address)
            .await
            .with_context(|| format!("binding metrics_listen_address {address}"))?;
        let router = endpoints::metrics_router(telemetry.prometheus.clone());
        tasks.spawn(endpoints::serve("metrics", listener, router, stop.clone()));
    }
    if telemetry.is_some() && config.has_role(ProcessRole::AggregationJobCreator) {
        let (datastore, stop) = (datastore.clone(), stop.clone());
        let interval = config.metrics.queue_depth_interval();
        tasks.spawn(async move {
            sampler::run_queue_sampler(datastore, interval, stop).await;
            Ok(())
        });
    }
    Ok((telemetry, tasks))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_options() -> DatastoreOptions {
        DatastoreOptions::new(dyad_datastore::DatastoreKeys::generate())
    }

    #[tokio::test]
    async fn runs_until_shutdown_and_serves_meanwhile() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("dyad.sqlite").display());
        let config = AggregatorConfig::from_yaml_str(&format!(
            "listen_address: \"127.0.0.1:0\"\ndatastore: \"{url}\"\nroles: [aggregator, aggregation-job-creator]\n"
        ))
        .unwrap();
        let datastore = open_datastore(&url, Arc::new(RealClock), &test_options())
            .await
            .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let running = tokio::spawn(run_with(
            config,
            datastore,
            Some(listener),
            shutdown.clone(),
        ));

        let response = reqwest::Client::new()
            .get(format!("http://{address}/hpke_config"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        let body: serde_json::Value =
            serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        assert_eq!(body["type"], "urn:ietf:params:ppm:dap:error:missingTaskID");

        shutdown.cancel();
        tokio::time::timeout(std::time::Duration::from_secs(10), running)
            .await
            .expect("stops after shutdown")
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn the_management_api_role_serves_on_its_own_listener() {
        if std::env::var_os(crate::config::API_TOKENS_ENV).is_some() {
            return; // the environment's tokens would replace the file's
        }
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("dyad.sqlite").display());
        // A free port: bound, read, released (the role binds it itself).
        let address = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap();
        let config = AggregatorConfig::from_yaml_str(&format!(
            "datastore: \"{url}\"\nroles: [management-api]\n\
             management_listen_address: \"{address}\"\n\
             management_api: {{auth_tokens: [role-test-token]}}\n"
        ))
        .unwrap();
        let datastore = open_datastore(&url, Arc::new(RealClock), &test_options())
            .await
            .unwrap();
        let shutdown = CancellationToken::new();
        let running = tokio::spawn(run_with(config, datastore, None, shutdown.clone()));

        let client = reqwest::Client::new();
        let media_type = crate::management::MEDIA_TYPE;
        let mut answer = None;
        for _ in 0..50 {
            match client
                .get(format!("http://{address}/"))
                .bearer_auth("role-test-token")
                .header("accept", media_type)
                .send()
                .await
            {
                Ok(response) => {
                    answer = Some(response);
                    break;
                }
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
            }
        }
        let response = answer.expect("the management listener answers");
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], media_type);
        let body: serde_json::Value =
            serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        assert_eq!(body["protocol"], "DAP-09");
        let refused = client
            .get(format!("http://{address}/"))
            .header("accept", media_type)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 401);

        shutdown.cancel();
        tokio::time::timeout(std::time::Duration::from_secs(10), running)
            .await
            .expect("stops after shutdown")
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn a_management_path_prefix_serves_the_api_on_the_dap_listener_beside_the_dap_routes() {
        if std::env::var_os(crate::config::API_TOKENS_ENV).is_some() {
            return; // the environment's tokens would replace the file's
        }
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("dyad.sqlite").display());
        let config = AggregatorConfig::from_yaml_str(&format!(
            "listen_address: \"127.0.0.1:0\"\ndatastore: \"{url}\"\nroles: [aggregator]\n\
             management_api: {{auth_tokens: [prefix-token], path_prefix: \"/api/\"}}\n"
        ))
        .unwrap();
        let datastore = open_datastore(&url, Arc::new(RealClock), &test_options())
            .await
            .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let running = tokio::spawn(run_with(
            config,
            datastore,
            Some(listener),
            shutdown.clone(),
        ));
        let client = reqwest::Client::new();
        let media_type = crate::management::MEDIA_TYPE;
        for path in ["/api/", "/api"] {
            let response = client
                .get(format!("http://{address}{path}"))
                .bearer_auth("prefix-token")
                .header("accept", media_type)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{path}");
            assert_eq!(response.headers()["content-type"], media_type);
            let body: serde_json::Value =
                serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
            assert_eq!(body["protocol"], "DAP-09");
        }
        let page = client
            .get(format!("http://{address}/api/task_ids"))
            .bearer_auth("prefix-token")
            .header("accept", media_type)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        let refused = client
            .get(format!("http://{address}/api/task_ids"))
            .header("accept", media_type)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 401, "the guard runs under the prefix");
        // The DAP routes are still the DAP API's.
        let dap = client
            .get(format!("http://{address}/hpke_config"))
            .send()
            .await
            .unwrap();
        assert_eq!(dap.status(), 400);
        let body: serde_json::Value = serde_json::from_slice(&dap.bytes().await.unwrap()).unwrap();
        assert_eq!(body["type"], "urn:ietf:params:ppm:dap:error:missingTaskID");
        let unknown = client
            .get(format!("http://{address}/apix"))
            .send()
            .await
            .unwrap();
        assert_eq!(unknown.status(), 404);
        assert_eq!(
            unknown.headers()["content-type"],
            "application/problem+json"
        );

        shutdown.cancel();
        tokio::time::timeout(std::time::Duration::from_secs(10), running)
            .await
            .expect("stops after shutdown")
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn the_management_api_role_without_a_token_does_not_start() {
        if std::env::var_os(crate::config::API_TOKENS_ENV).is_some() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("dyad.sqlite").display());
        let config = AggregatorConfig::from_yaml_str(&format!(
            "datastore: \"{url}\"\nroles: [management-api]\n\
             management_listen_address: \"127.0.0.1:0\"\n"
        ))
        .unwrap();
        let datastore = open_datastore(&url, Arc::new(RealClock), &test_options())
            .await
            .unwrap();
        let error = run_with(config, datastore, None, CancellationToken::new())
            .await
            .unwrap_err();
        assert!(
            format!("{error:#}").contains("DYAD_API_TOKENS"),
            "{error:#}"
        );
    }

    #[tokio::test]
    async fn run_opens_the_datastore_and_stops_on_shutdown() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dyad.sqlite");
        let config = AggregatorConfig::from_yaml_str(&format!(
            "datastore: \"sqlite://{}\"\nroles: [aggregation-job-creator]\ndatastore_keys: [{}]\n",
            path.display(),
            dyad_datastore::DatastoreKeys::generate_encoded()
        ))
        .unwrap();
        let shutdown = CancellationToken::new();
        shutdown.cancel();
        run(config, shutdown).await.unwrap();
        assert!(path.exists(), "the datastore file was created");
    }

    #[tokio::test]
    async fn run_without_datastore_keys_says_how_to_get_them() {
        if std::env::var_os(dyad_datastore::KEYS_ENV).is_some() {
            return; // the environment supplies keys; nothing to check
        }
        let dir = tempfile::tempdir().unwrap();
        let config = AggregatorConfig::from_yaml_str(&format!(
            "datastore: \"sqlite://{}\"\nroles: [aggregation-job-creator]\n",
            dir.path().join("dyad.sqlite").display()
        ))
        .unwrap();
        let error = run(config, CancellationToken::new()).await.unwrap_err();
        let message = format!("{error:#}");
        assert!(
            message.contains("DYAD_DATASTORE_KEYS") && message.contains("datastore-key generate"),
            "{message}"
        );
    }
}
