//! `dyad interop-aggregator`: the Aggregator role (Leader or Helper) of the
//! interop test API (draft-dcook-ppm-dap-interop-test-design-07 section
//! 4.3): `/internal/test/ready`, `endpoint_for_task` and `add_task`, served
//! on the same port as the DAP API itself (section 3 allows one port for
//! both; the DAP resources live at the root, `/hpke_config`,
//! `/tasks/...`).
//!
//! Tasks are kept in a datastore: by default an SQLite file in a fresh
//! temporary folder that lives as long as the process (`--datastore` names
//! another). Secrets in it are encrypted under the keys of
//! `DYAD_DATASTORE_KEYS` if set, else under a fresh random key (the default
//! datastore is new on every run, so nothing needs to outlive the process).
//! The process runs the Leader's background jobs itself (job creator, job
//! driver, collection job driver) with short intervals, so that a small
//! collection completes within seconds; for tasks in which it is the Helper
//! they find nothing to do.

use super::api::{answer, base_router, Reply, Request, PREFIX};
use super::values::{batch_mode, parse_vdaf, QueryType};
use anyhow::{anyhow, bail, Context as _};
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::Router;
use clap::Args;
use dyad_aggregator::config::{AggregatorConfig, ConfiguredKeys, KeysSource};
use dyad_core::clock::RealClock;
use dyad_core::hpke::HpkeKeypair;
use dyad_core::task::{AuthenticationToken, Task, VerifyKey};
use dyad_datastore::{Datastore, DatastoreExt, DatastoreKeys, DatastoreOptions};
use dyad_messages::draft09::{Duration, HpkeConfig, HpkeConfigId, Role, TaskId, Time};
use dyad_messages::Decode as _;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use url::Url;

#[derive(Debug, Args)]
pub struct InteropAggregatorArgs {
    /// The port to serve the interop test API and the DAP API on (all
    /// interfaces).
    #[arg(long, default_value_t = super::DEFAULT_PORT)]
    port: u16,
    /// The datastore URL (default: a fresh SQLite file in a temporary
    /// folder, deleted when the process exits).
    #[arg(long)]
    datastore: Option<String>,
}

/// How often the Leader's jobs look for work: short, so that a test's
/// collection completes quickly.
const JOBS_CONFIG: &str = "\
roles: [aggregation-job-creator, aggregation-job-driver, collection-job-driver]
collection_retry_after_secs: 1
aggregation_job_creator: { interval_ms: 100, min_job_size: 1, max_job_size: 500, max_report_wait_ms: 200 }
aggregation_job_driver: { interval_ms: 100, lease_duration_secs: 10, http_timeout_secs: 5, retry_initial_delay_secs: 1, retry_max_delay_secs: 2 }
collection_job_driver: { interval_ms: 100, lease_duration_secs: 10, http_timeout_secs: 5, retry_initial_delay_secs: 1, retry_max_delay_secs: 2, not_ready_retry_secs: 1 }
";

pub async fn run(args: InteropAggregatorArgs) -> anyhow::Result<()> {
    super::init_logging()?;
    // `_folder` is kept until the process ends: the default datastore
    // lives in it.
    let (url, _folder) = match args.datastore {
        Some(url) => (url, None),
        None => {
            let dir = tempfile::Builder::new()
                .prefix("dyad-interop-aggregator-")
                .tempdir()
                .context("creating the datastore folder")?;
            let url = format!("sqlite://{}", dir.path().join("interop.sqlite").display());
            (url, Some(dir))
        }
    };
    let config = jobs_config(&url)?;
    let datastore = open_datastore(&url).await?;
    let listener = super::bind(args.port).await?;
    let port = listener.local_addr()?.port();
    let app = router(datastore.clone(), &config, port);

    let shutdown = CancellationToken::new();
    tokio::spawn(crate::commands::serve::stop_on_signal(shutdown.clone()));
    tracing::info!(port, "serving the interop test API and the DAP API");
    let jobs = {
        let shutdown = shutdown.clone();
        let datastore = datastore.clone();
        async move {
            let result =
                dyad_aggregator::runtime::run_with(config, datastore, None, shutdown.clone()).await;
            shutdown.cancel();
            result
        }
    };
    let server = {
        let shutdown = shutdown.clone();
        async move {
            let result = super::serve_until(listener, app, shutdown.clone()).await;
            shutdown.cancel();
            result
        }
    };
    let (jobs, server) = tokio::join!(jobs, server);
    datastore.close().await;
    jobs.and(server)
}

/// The configuration of the Leader's jobs, on the datastore at `url`.
fn jobs_config(url: &str) -> anyhow::Result<AggregatorConfig> {
    // A JSON string is a valid YAML scalar, whatever the path holds.
    let yaml = format!("datastore: {}\n{JOBS_CONFIG}", serde_json::to_string(url)?);
    AggregatorConfig::from_yaml_str(&yaml).context("the interop aggregator's configuration")
}

/// Opens the datastore, its secrets under `DYAD_DATASTORE_KEYS` or a fresh
/// random key, and checks that the keys open every task it holds already
/// (a `--datastore` given again after a restart).
async fn open_datastore(url: &str) -> anyhow::Result<Arc<dyn Datastore>> {
    // The error of a bad variable names it.
    let keys = match DatastoreKeys::from_env()? {
        Some(keys) => ConfiguredKeys {
            keys,
            source: KeysSource::Environment,
            overridden_file_keys: 0,
        },
        None => ConfiguredKeys {
            keys: DatastoreKeys::generate(),
            source: KeysSource::Generated,
            overridden_file_keys: 0,
        },
    };
    let options = DatastoreOptions::new(keys.keys.clone());
    let datastore =
        dyad_aggregator::runtime::open_datastore(url, Arc::new(RealClock), &options).await?;
    if let Err(error) = dyad_aggregator::startup::check_keys(datastore.as_ref(), &keys).await {
        datastore.close().await;
        return Err(error);
    }
    Ok(datastore)
}

/// The DAP API and the Aggregator's interop commands on one router.
pub fn router(datastore: Arc<dyn Datastore>, config: &AggregatorConfig, port: u16) -> Router {
    let state = Arc::new(AggregatorState {
        datastore: datastore.clone(),
        port,
    });
    let interop = base_router().merge(
        Router::new()
            .route(
                &format!("{PREFIX}/endpoint_for_task"),
                post(endpoint_for_task),
            )
            .route(&format!("{PREFIX}/add_task"), post(add_task))
            .with_state(state),
    );
    dyad_aggregator::http::router(datastore, config.api_config()).merge(interop)
}

struct AggregatorState {
    datastore: Arc<dyn Datastore>,
    /// The port this process serves on, for the absolute endpoint URL.
    port: u16,
}

/// A `role` member: `"leader"` or `"helper"`.
fn parse_role(text: &str) -> anyhow::Result<Role> {
    match text {
        "leader" => Ok(Role::Leader),
        "helper" => Ok(Role::Helper),
        other => bail!("role must be \"leader\" or \"helper\", not {other:?}"),
    }
}

/// Section 4.3.2: every task uses the DAP API at the root of this server.
/// The answer is absolute, built from the runner's `hostname` and the port
/// this process really listens on: a relative URL would make the runner
/// assume port 8080, wrong when `--port` says otherwise.
async fn endpoint_for_task(State(state): State<Arc<AggregatorState>>, body: Bytes) -> Reply {
    answer("endpoint_for_task", async move {
        let request = Request::parse(&body)?;
        request.id::<TaskId>("task_id")?;
        parse_role(request.string("role")?)?;
        let endpoint = endpoint_url(request.string("hostname")?, state.port)?;
        Ok(Reply::success().with("endpoint", endpoint.to_string()))
    })
    .await
}

/// `http://HOSTNAME:PORT/` (an IPv6 literal gets its brackets).
fn endpoint_url(hostname: &str, port: u16) -> anyhow::Result<Url> {
    let host = if hostname.contains(':') && !hostname.starts_with('[') {
        format!("[{hostname}]")
    } else {
        hostname.to_owned()
    };
    let url: Url = format!("http://{host}:{port}/")
        .parse()
        .map_err(|e| anyhow!("hostname {hostname:?} does not make a URL: {e}"))?;
    if url.path() != "/" || url.host_str().is_none_or(str::is_empty) {
        bail!("hostname {hostname:?} is not a host name");
    }
    Ok(url)
}

/// `/internal/test/add_task` (section 4.3.3).
async fn add_task(State(state): State<Arc<AggregatorState>>, body: Bytes) -> Reply {
    answer("add_task", async move {
        let task = build_task(&Request::parse(&body)?)?;
        let task_id = *task.task_id();
        let role = task.role();
        let stored = task.clone();
        state
            .datastore
            .run_tx("interop_add_task", move |tx| {
                let task = stored.clone();
                Box::pin(async move { Ok(tx.put_task(&task).await?) })
            })
            .await
            .context("storing the task")?;
        tracing::info!(%task_id, %role, vdaf = %task.vdaf(), "interop task added");
        Ok(Reply::success())
    })
    .await
}

/// The task an `add_task` request describes, with a fresh HPKE keypair of
/// the mandatory-to-implement suite (section 4.3.3; DAP-09 section 6).
fn build_task(request: &Request) -> anyhow::Result<Task> {
    let task_id: TaskId = request.id("task_id")?;
    let role = parse_role(request.string("role")?)?;
    let vdaf = parse_vdaf(request.value("vdaf")?)?;
    let verify_key = VerifyKey::new(request.base64("vdaf_verify_key")?);
    let collector_hpke_config = HpkeConfig::get_decoded(&request.base64("collector_hpke_config")?)
        .map_err(|e| anyhow!("collector_hpke_config is not an HpkeConfig: {e}"))?;
    let query_type = QueryType::from_code(request.number("query_type")?)?;
    // The Leader presents this token to the Helper in `DAP-Auth-Token`;
    // the Helper keeps only its hash, to check it.
    let aggregator_token =
        AuthenticationToken::new_dap_auth(request.string("leader_authentication_token")?)
            .map_err(|e| anyhow!("invalid leader_authentication_token: {e}"))?;
    let mut builder = Task::builder()
        .task_id(task_id)
        .role(role)
        .leader_aggregator_endpoint(request.url("leader")?)
        .helper_aggregator_endpoint(request.url("helper")?)
        .vdaf(vdaf)
        .vdaf_verify_key(verify_key)
        .batch_mode(batch_mode(
            query_type,
            request.optional_number("max_batch_size")?,
        ))
        .min_batch_size(request.number("min_batch_size")?)
        .time_precision(Duration::from_seconds(request.number("time_precision")?))
        .max_batch_query_count(request.number("max_batch_query_count")?)
        .task_expiration(Some(Time::from_seconds_since_epoch(
            request.number("task_expiration")?,
        )))
        .collector_hpke_config(collector_hpke_config)
        .hpke_keys(vec![HpkeKeypair::generate_default(HpkeConfigId(
            rand::random(),
        ))]);
    builder = match role {
        Role::Leader => {
            let collector_token = AuthenticationToken::new_dap_auth(
                request
                    .optional_string("collector_authentication_token")?
                    .context("a Leader's task needs collector_authentication_token")?,
            )
            .map_err(|e| anyhow!("invalid collector_authentication_token: {e}"))?;
            // The Leader only checks the Collector's token: it keeps the
            // hash.
            builder
                .aggregator_auth_token(aggregator_token)
                .collector_auth_token(collector_token.hash())
        }
        // A Helper takes no requests from the Collector: a collector token
        // sent to it anyway is not kept.
        _ => builder.aggregator_auth_token(aggregator_token.hash()),
    };
    builder.build().map_err(|e| anyhow!("invalid task: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::interop::test_util::{post_json, send};
    use dyad_messages::draft09::{HpkeConfigList, Role};
    use serde_json::{json, Value};

    async fn app() -> (Router, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("a.sqlite").display());
        let config = jobs_config(&url).unwrap();
        let datastore = open_datastore(&url).await.unwrap();
        (router(datastore, &config, 8123), dir)
    }

    #[tokio::test]
    async fn reopening_with_another_throwaway_key_is_refused_naming_the_task() {
        if std::env::var_os(dyad_datastore::KEYS_ENV).is_some() {
            return; // the environment gives the same keys to both opens
        }
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("a.sqlite").display());
        let datastore = open_datastore(&url).await.unwrap();
        let task = dyad_datastore::testing::fixtures::leader_task();
        let stored = task.clone();
        datastore
            .run_tx("put", move |tx| {
                let task = stored.clone();
                Box::pin(async move { Ok(tx.put_task(&task).await?) })
            })
            .await
            .unwrap();
        datastore.close().await;
        let error = match open_datastore(&url).await {
            Ok(_) => panic!("a second throwaway key cannot open the first one's task"),
            Err(error) => error,
        };
        let shown = error.to_string();
        assert!(
            shown.contains(&format!("task {}", task.task_id())) && shown.contains("throwaway"),
            "{shown}"
        );
    }

    fn add_task_request(task_id: TaskId, role: &str) -> Value {
        let collector = HpkeKeypair::generate_default(HpkeConfigId(7));
        let mut body = json!({
            "task_id": task_id.to_string(),
            "leader": "http://leader.example:8080/",
            "helper": "http://helper.example:8080/",
            "vdaf": {"type": "Prio3Histogram", "length": "5", "chunk_length": "2"},
            "leader_authentication_token": "leader-token",
            "role": role,
            "vdaf_verify_key": super::super::api::encode_base64(&[7; 16]),
            "max_batch_query_count": 1,
            "query_type": 2,
            "min_batch_size": 10,
            "max_batch_size": null,
            "time_precision": 3600,
            "collector_hpke_config": super::super::api::encode_base64(
                &dyad_messages::Encode::get_encoded(collector.config()).unwrap()
            ),
            "task_expiration": 4_000_000_000u64,
        });
        if role == "leader" {
            body["collector_authentication_token"] = json!("collector-token");
        }
        body
    }

    #[tokio::test]
    async fn endpoint_for_task_is_absolute_with_the_real_port() {
        let (app, _dir) = app().await;
        let request = |hostname: &str| json!({"task_id": TaskId::random().to_string(), "role": "leader", "hostname": hostname});
        let (status, reply) =
            post_json(&app, "/internal/test/endpoint_for_task", &request("leader")).await;
        assert_eq!(status, 200);
        assert_eq!(
            reply,
            json!({"status": "success", "endpoint": "http://leader:8123/"})
        );
        let (_, reply) = post_json(&app, "/internal/test/endpoint_for_task", &request("::1")).await;
        assert_eq!(reply["endpoint"], "http://[::1]:8123/");
        for bad in ["", "a/b", "a b"] {
            let (status, reply) =
                post_json(&app, "/internal/test/endpoint_for_task", &request(bad)).await;
            assert_eq!(
                (status, reply["status"].as_str()),
                (200, Some("error")),
                "{bad:?}: {reply}"
            );
        }
        let mut bad_role = request("leader");
        bad_role["role"] = json!("collector");
        let (_, reply) = post_json(&app, "/internal/test/endpoint_for_task", &bad_role).await;
        assert_eq!(reply["status"], "error");
    }

    #[tokio::test]
    async fn add_task_serves_the_tasks_hpke_config_on_the_dap_api() {
        let (app, _dir) = app().await;
        for role in ["leader", "helper"] {
            let task_id = TaskId::random();
            let (status, reply) = post_json(
                &app,
                "/internal/test/add_task",
                &add_task_request(task_id, role),
            )
            .await;
            assert_eq!(
                (status, reply["status"].as_str()),
                (200, Some("success")),
                "{reply}"
            );
            let (status, body) = send(
                &app,
                axum::http::Method::GET,
                &format!("/hpke_config?task_id={task_id}"),
                Vec::new(),
            )
            .await;
            assert_eq!(status, 200, "{role}");
            let list = HpkeConfigList::get_decoded(&body).unwrap();
            assert_eq!(list.0.len(), 1);
            // add_task again for the same task ID is refused: it comes with
            // a fresh HPKE keypair, so it would be another task.
            let (_, reply) = post_json(
                &app,
                "/internal/test/add_task",
                &add_task_request(task_id, role),
            )
            .await;
            assert_eq!(reply["status"], "error", "{reply}");
        }
    }

    #[test]
    fn tasks_are_built_per_role() {
        let task_id = TaskId::random();
        let parse = |v: Value| Request::from_value("request", &v).unwrap();
        let leader = build_task(&parse(add_task_request(task_id, "leader"))).unwrap();
        assert_eq!(leader.role(), Role::Leader);
        assert_eq!(leader.max_batch_size(), None);
        assert!(leader.aggregator_auth_token().token().is_some());
        // The Collector's token arrives in clear; the Leader keeps its hash.
        let collector_token = leader.collector_auth_token().unwrap();
        assert!(collector_token.token().is_none(), "only the hash");
        assert!(collector_token
            .validate(&AuthenticationToken::new_dap_auth("collector-token").unwrap()));
        let helper = build_task(&parse(add_task_request(task_id, "helper"))).unwrap();
        assert_eq!(helper.role(), Role::Helper);
        assert!(
            helper.aggregator_auth_token().token().is_none(),
            "only the hash"
        );
        let sent = leader.aggregator_auth_token().token().unwrap();
        assert!(helper.aggregator_auth_token().validate(sent));
        assert_eq!(
            helper.task_expiration(),
            Some(Time::from_seconds_since_epoch(4_000_000_000))
        );
    }

    #[tokio::test]
    async fn bad_add_task_requests_are_answered_with_status_error() {
        let (app, _dir) = app().await;
        let base = add_task_request(TaskId::random(), "leader");
        let cases: Vec<(&str, Value, &str)> = vec![
            ("vdaf_verify_key", json!("not base64!"), "vdaf_verify_key"),
            ("vdaf_verify_key", json!("AAAA"), "vdaf_verify_key"),
            (
                "collector_hpke_config",
                json!("AAAA"),
                "collector_hpke_config",
            ),
            ("query_type", json!(7), "query_type"),
            ("min_batch_size", json!("10"), "min_batch_size"),
            ("role", json!("collector"), "role"),
            (
                "collector_authentication_token",
                Value::Null,
                "collector_authentication_token",
            ),
            (
                "vdaf",
                json!({"type": "Prio3Sum", "bits": 8, "length": "2"}),
                "vdaf",
            ),
            ("max_batch_size", json!(5), "max_batch_size"),
            ("leader", json!("/relative"), "leader"),
        ];
        for (key, value, needle) in cases {
            let mut body = base.clone();
            body[key] = value;
            let (status, reply) = post_json(&app, "/internal/test/add_task", &body).await;
            assert_eq!(
                (status, reply["status"].as_str()),
                (200, Some("error")),
                "{key}: {reply}"
            );
            let message = reply["error"].as_str().unwrap();
            assert!(message.contains(needle), "{key}: {message}");
            assert!(!message.contains("leader-token"), "{message}");
        }
    }

    #[tokio::test]
    async fn dap_and_interop_routes_share_the_port_and_unknown_commands_are_404() {
        let (app, _dir) = app().await;
        let (status, _) = post_json(&app, "/internal/test/ready", &json!({})).await;
        assert_eq!(status, 200);
        let (status, _) = post_json(&app, "/internal/test/upload", &json!({})).await;
        assert_eq!(status, 404);
        let (status, _) = post_json(&app, "/internal/test/collection_poll", &json!({})).await;
        assert_eq!(status, 404);
        let (status, _) = send(&app, axum::http::Method::GET, "/hpke_config", Vec::new()).await;
        assert_eq!(status, 400, "the DAP API answers: missing task ID");
    }
}
