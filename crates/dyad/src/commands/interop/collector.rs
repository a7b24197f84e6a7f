//! `dyad interop-collector`: the Collector role of the interop test API
//! (draft-dcook-ppm-dap-interop-test-design-07 section 4.4):
//! `/internal/test/ready`, `add_task`, `collection_start` and
//! `collection_poll`.
//!
//! `add_task` (section 4.4.2) generates the task's HPKE keypair with the
//! mandatory-to-implement suite of DAP-09 section 6 and answers with its
//! encoded `HpkeConfig`. `collection_start` (4.4.3) creates a collection
//! job at the Leader with the `dyad-collector` library and answers with a
//! handle naming it; `collection_poll` (4.4.4) polls the job once:
//! `"in progress"` while the Leader answers 202, `"complete"` with the
//! unsharded result once it answers with the `Collection`, `"error"` if
//! the Leader refused or failed the job. Tasks and jobs live in memory.

use super::api::{answer, base_router, decode_base64, encode_base64, Reply, Request, PREFIX};
use super::values::{
    collected_batch_id, parse_aggregation_param, parse_query, parse_vdaf, query_type_of,
    result_json, QueryType,
};
use anyhow::{anyhow, bail, Context as _};
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::Router;
use clap::Args;
use dyad_collector::{AnyVdaf, CollectionJob, Collector, CollectorBuilder, PollResult};
use dyad_core::hpke::HpkeKeypair;
use dyad_core::retry::RetryPolicy;
use dyad_core::task::AuthenticationToken;
use dyad_core::vdaf::AggregationParam;
use dyad_messages::draft09::{HpkeConfigId, TaskId};
use dyad_messages::Encode as _;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, Args)]
pub struct InteropCollectorArgs {
    /// The port to serve the interop test API on (all interfaces).
    #[arg(long, default_value_t = super::DEFAULT_PORT)]
    port: u16,
}

pub async fn run(args: InteropCollectorArgs) -> anyhow::Result<()> {
    super::init_logging()?;
    super::serve("collector", router(), args.port).await
}

/// The Collector's routes.
pub fn router() -> Router {
    let state = Arc::new(CollectorState::default());
    base_router().merge(
        Router::new()
            .route(&format!("{PREFIX}/add_task"), post(add_task))
            .route(
                &format!("{PREFIX}/collection_start"),
                post(collection_start),
            )
            .route(&format!("{PREFIX}/collection_poll"), post(collection_poll))
            .with_state(state),
    )
}

/// A task the Collector was given.
struct CollectorTask {
    collector: Collector<AnyVdaf>,
    query_type: QueryType,
}

/// A collection job started by `collection_start`.
struct StartedJob {
    task_id: TaskId,
    job: CollectionJob<AggregationParam>,
}

#[derive(Default)]
struct CollectorState {
    tasks: Mutex<HashMap<TaskId, Arc<CollectorTask>>>,
    jobs: Mutex<HashMap<String, Arc<StartedJob>>>,
}

impl CollectorState {
    fn task(&self, task_id: &TaskId) -> anyhow::Result<Arc<CollectorTask>> {
        self.tasks
            .lock()
            .map_err(|_| anyhow!("task table poisoned"))?
            .get(task_id)
            .cloned()
            .with_context(|| format!("unknown task {task_id}: call add_task first"))
    }
}

/// `/internal/test/add_task` (section 4.4.2).
async fn add_task(State(state): State<Arc<CollectorState>>, body: Bytes) -> Reply {
    answer("add_task", async move {
        let request = Request::parse(&body)?;
        let task_id: TaskId = request.id("task_id")?;
        let leader = request.url("leader")?;
        let vdaf = parse_vdaf(request.value("vdaf")?)?;
        let query_type = QueryType::from_code(request.number("query_type")?)?;
        let token =
            AuthenticationToken::new_dap_auth(request.string("collector_authentication_token")?)
                .map_err(|e| anyhow!("invalid collector_authentication_token: {e}"))?;
        let keypair = HpkeKeypair::generate_default(HpkeConfigId(rand::random()));
        let hpke_config = encode_base64(
            &keypair
                .config()
                .get_encoded()
                .context("encoding the HPKE config")?,
        );
        let collector = CollectorBuilder::new(task_id, leader, token, keypair)
            // Each poll is one command of the test runner: retry a
            // transient failure briefly, then report it.
            .retry_policy(
                RetryPolicy::new(
                    std::time::Duration::from_millis(100),
                    std::time::Duration::from_secs(1),
                )
                .with_max_elapsed(std::time::Duration::from_secs(10)),
            )
            .build(AnyVdaf(vdaf))
            .context("building the collector")?;
        state
            .tasks
            .lock()
            .map_err(|_| anyhow!("task table poisoned"))?
            .insert(
                task_id,
                Arc::new(CollectorTask {
                    collector,
                    query_type,
                }),
            );
        tracing::info!(%task_id, %vdaf, "collector task added");
        Ok(Reply::success().with("collector_hpke_config", hpke_config))
    })
    .await
}

/// `/internal/test/collection_start` (section 4.4.3).
async fn collection_start(State(state): State<Arc<CollectorState>>, body: Bytes) -> Reply {
    answer("collection_start", async move {
        let request = Request::parse(&body)?;
        let task_id: TaskId = request.id("task_id")?;
        // Prio3's aggregation parameter is empty; a runner may omit it.
        let agg_param = match request.optional_string("agg_param")? {
            Some(text) => decode_base64("agg_param", text)?,
            None => Vec::new(),
        };
        let query = parse_query(request.value("query")?)?;
        let task = state.task(&task_id)?;
        let agg_param = parse_aggregation_param(&task.collector.vdaf().0, &agg_param)?;
        if query_type_of(&query) != task.query_type {
            bail!(
                "the query is {:?} but the task's query type is {:?}",
                query_type_of(&query),
                task.query_type
            );
        }
        let job = task
            .collector
            .start_collection(query, &agg_param)
            .await
            .context("creating the collection job")?;
        let handle = encode_base64(job.id().as_bytes());
        state
            .jobs
            .lock()
            .map_err(|_| anyhow!("job table poisoned"))?
            .insert(handle.clone(), Arc::new(StartedJob { task_id, job }));
        Ok(Reply::success().with("handle", handle))
    })
    .await
}

/// `/internal/test/collection_poll` (section 4.4.4).
async fn collection_poll(State(state): State<Arc<CollectorState>>, body: Bytes) -> Reply {
    answer("collection_poll", async move {
        let request = Request::parse(&body)?;
        let handle = request.string("handle")?;
        let started = state
            .jobs
            .lock()
            .map_err(|_| anyhow!("job table poisoned"))?
            .get(handle)
            .cloned()
            .with_context(|| format!("unknown handle {handle:?}"))?;
        let task = state.task(&started.task_id)?;
        let collection = match task
            .collector
            .poll_once(&started.job)
            .await
            .context("polling the collection job")?
        {
            PollResult::Pending { .. } => return Ok(Reply::status("in progress")),
            PollResult::Ready(collection) => collection,
        };
        let mut reply = Reply::status("complete");
        if let Some(batch_id) = collected_batch_id(&collection.partial_batch_selector) {
            reply = reply.with("batch_id", batch_id.to_string());
        }
        Ok(reply
            .with("report_count", collection.report_count)
            .with(
                "interval_start",
                collection.interval.start().as_seconds_since_epoch(),
            )
            .with(
                "interval_duration",
                collection.interval.duration().as_seconds(),
            )
            .with("result", result_json(&collection.aggregate_result)))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::interop::test_util::post_json;
    use dyad_messages::draft09::HpkeConfig;
    use dyad_messages::Decode as _;
    use serde_json::{json, Value};

    fn add_task_request(task_id: TaskId) -> Value {
        json!({
            "task_id": task_id.to_string(),
            "leader": "http://127.0.0.1:1/",
            "vdaf": {"type": "Prio3Count"},
            "collector_authentication_token": "collector-token",
            "query_type": 1,
        })
    }

    #[tokio::test]
    async fn add_task_returns_a_usable_hpke_config() {
        let app = router();
        let (status, reply) = post_json(
            &app,
            "/internal/test/add_task",
            &add_task_request(TaskId::random()),
        )
        .await;
        assert_eq!(
            (status, reply["status"].as_str()),
            (200, Some("success")),
            "{reply}"
        );
        let encoded = reply["collector_hpke_config"].as_str().unwrap();
        assert!(!encoded.contains('='), "unpadded base64url");
        let config = HpkeConfig::get_decoded(&decode_base64("x", encoded).unwrap()).unwrap();
        // DAP-09 section 6: X25519, HKDF-SHA256, AES-128-GCM.
        assert_eq!(
            (
                u16::from(config.kem_id),
                u16::from(config.kdf_id),
                u16::from(config.aead_id)
            ),
            (0x0020, 0x0001, 0x0001)
        );
    }

    #[tokio::test]
    async fn malformed_commands_are_answered_with_status_error() {
        let app = router();
        let task_id = TaskId::random();
        let mut bad_token = add_task_request(task_id);
        bad_token["collector_authentication_token"] = json!("no\nnewlines");
        let mut bad_query_type = add_task_request(task_id);
        bad_query_type["query_type"] = json!(3);
        for body in [bad_token, bad_query_type] {
            let (status, reply) = post_json(&app, "/internal/test/add_task", &body).await;
            assert_eq!(
                (status, reply["status"].as_str()),
                (200, Some("error")),
                "{reply}"
            );
        }
        let (_, reply) =
            post_json(&app, "/internal/test/add_task", &add_task_request(task_id)).await;
        assert_eq!(reply["status"], "success");

        for (body, needle) in [
            (
                json!({"task_id": task_id.to_string(), "agg_param": "", "query": {"type": 2, "subtype": 1}}),
                "query type",
            ),
            (
                json!({"task_id": task_id.to_string(), "agg_param": "AAE", "query": {"type": 1, "batch_interval_start": 0, "batch_interval_duration": 3600}}),
                "empty aggregation parameter",
            ),
            (
                json!({"task_id": task_id.to_string(), "agg_param": "***", "query": {"type": 1, "batch_interval_start": 0, "batch_interval_duration": 3600}}),
                "agg_param",
            ),
            (
                json!({"task_id": TaskId::random().to_string(), "agg_param": "", "query": {"type": 1, "batch_interval_start": 0, "batch_interval_duration": 3600}}),
                "unknown task",
            ),
        ] {
            let (status, reply) = post_json(&app, "/internal/test/collection_start", &body).await;
            assert_eq!(
                (status, reply["status"].as_str()),
                (200, Some("error")),
                "{reply}"
            );
            let message = reply["error"].as_str().unwrap();
            assert!(message.contains(needle), "{needle}: {message}");
        }
        let (status, reply) = post_json(
            &app,
            "/internal/test/collection_poll",
            &json!({"handle": "nope"}),
        )
        .await;
        assert_eq!((status, reply["status"].as_str()), (200, Some("error")));
        let (status, reply) = post_json(
            &app,
            "/internal/test/collection_poll",
            &json!({"handle": 7}),
        )
        .await;
        assert_eq!((status, reply["status"].as_str()), (200, Some("error")));
    }

    #[tokio::test]
    async fn the_token_is_never_echoed() {
        let app = router();
        let mut body = add_task_request(TaskId::random());
        body["collector_authentication_token"] = json!("s3cr3t\u{7f}");
        let (_, reply) = post_json(&app, "/internal/test/add_task", &body).await;
        assert_eq!(reply["status"], "error");
        assert!(!reply.to_string().contains("s3cr3t"), "{reply}");
    }
}
