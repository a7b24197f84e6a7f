//! `dyad interop-client`: the Client role of the interop test API
//! (draft-dcook-ppm-dap-interop-test-design-07 section 4.2):
//! `/internal/test/ready` and `/internal/test/upload`.
//!
//! An upload is done with the `dyad-client` library: it fetches both
//! aggregators' HPKE configurations (cached per task and endpoints), shards
//! the measurement with the request's VDAF, seals the shares and `PUT`s the
//! report to the Leader, timestamped with the request's `time` if it has
//! one, else the current time. The answer comes once the Leader accepted
//! the report or the upload failed for good (section 4.2.2).

use super::api::{answer, base_router, Reply, Request, PREFIX};
use super::values::{parse_measurement, parse_vdaf};
use anyhow::{anyhow, Context as _};
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::Router;
use clap::Args;
use dyad_client::{AnyVdaf, Client, ClientBuilder};
use dyad_core::retry::RetryPolicy;
use dyad_core::vdaf::VdafInstance;
use dyad_messages::draft09::{Duration, TaskId, Time};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use url::Url;

#[derive(Debug, Args)]
pub struct InteropClientArgs {
    /// The port to serve the interop test API on (all interfaces).
    #[arg(long, default_value_t = super::DEFAULT_PORT)]
    port: u16,
}

pub async fn run(args: InteropClientArgs) -> anyhow::Result<()> {
    super::init_logging()?;
    super::serve("client", router(), args.port).await
}

/// The Client's routes.
pub fn router() -> Router {
    let state = Arc::new(ClientState::default());
    base_router().merge(
        Router::new()
            .route(&format!("{PREFIX}/upload"), post(upload))
            .with_state(state),
    )
}

/// What identifies one `dyad-client` client: uploads with the same values
/// share one, and so its cache of HPKE configurations.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct ClientKey {
    task_id: TaskId,
    leader: Url,
    helper: Url,
    vdaf: VdafInstance,
    time_precision: u64,
}

#[derive(Default)]
struct ClientState {
    clients: Mutex<HashMap<ClientKey, Client<AnyVdaf>>>,
}

impl ClientState {
    fn client(&self, key: ClientKey) -> anyhow::Result<Client<AnyVdaf>> {
        let mut clients = self
            .clients
            .lock()
            .map_err(|_| anyhow!("client cache poisoned"))?;
        if let Some(client) = clients.get(&key) {
            return Ok(client.clone());
        }
        let client = ClientBuilder::new(
            key.task_id,
            key.leader.clone(),
            key.helper.clone(),
            Duration::from_seconds(key.time_precision),
        )
        // A test runner waits for the answer: retry transient failures for
        // a little while, not the library's default two minutes.
        .retry_policy(
            RetryPolicy::new(
                std::time::Duration::from_millis(100),
                std::time::Duration::from_secs(2),
            )
            .with_max_elapsed(std::time::Duration::from_secs(20)),
        )
        .build(AnyVdaf(key.vdaf))
        .context("building the client")?;
        clients.insert(key, client.clone());
        Ok(client)
    }
}

/// `/internal/test/upload` (section 4.2.2).
async fn upload(State(state): State<Arc<ClientState>>, body: Bytes) -> Reply {
    answer("upload", async move {
        let request = Request::parse(&body)?;
        let task_id: TaskId = request.id("task_id")?;
        let vdaf = parse_vdaf(request.value("vdaf")?)?;
        let measurement = parse_measurement(&vdaf, request.value("measurement")?)?;
        let client = state.client(ClientKey {
            task_id,
            leader: request.url("leader")?,
            helper: request.url("helper")?,
            vdaf,
            time_precision: request.number("time_precision")?,
        })?;
        let time = request
            .optional_number("time")?
            .map_or_else(dyad_client::system_time, Time::from_seconds_since_epoch);
        let report_id = client
            .upload_at(&measurement, time)
            .await
            .context("uploading the report")?;
        tracing::debug!(%task_id, %report_id, "report uploaded");
        Ok(Reply::success())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::interop::test_util::post_json;
    use serde_json::{json, Value};

    fn request(measurement: Value) -> Value {
        json!({
            "task_id": TaskId::random().to_string(),
            // Nothing listens on port 1: a request that gets this far fails
            // with a connection error, not a parse error.
            "leader": "http://127.0.0.1:1/",
            "helper": "http://127.0.0.1:2/",
            "vdaf": {"type": "Prio3Sum", "bits": "8"},
            "measurement": measurement,
            "time_precision": 3600,
        })
    }

    #[tokio::test]
    async fn malformed_uploads_are_answered_with_status_error() {
        let app = router();
        for (body, needle) in [
            (request(json!(42)), "base-10 string"),
            (request(json!("300")), "does not fit"),
            (
                {
                    let mut r = request(json!("3"));
                    r["task_id"] = json!("!!!");
                    r
                },
                "task_id",
            ),
            (
                {
                    let mut r = request(json!("3"));
                    r["time_precision"] = json!("3600");
                    r
                },
                "time_precision",
            ),
            (
                {
                    let mut r = request(json!("3"));
                    r["vdaf"] = json!({"type": "Prio3Sum", "bits": "65"});
                    r
                },
                "vdaf",
            ),
        ] {
            let (status, reply) = post_json(&app, "/internal/test/upload", &body).await;
            assert_eq!(status, 200);
            assert_eq!(reply["status"], "error", "{reply}");
            let message = reply["error"].as_str().unwrap();
            assert!(message.contains(needle), "{needle}: {message}");
        }
        let (status, reply) =
            post_json(&app, "/internal/test/upload", &json!("not an object")).await;
        assert_eq!((status, reply["status"].as_str()), (200, Some("error")));
    }

    #[tokio::test]
    async fn ready_and_unknown_commands() {
        let app = router();
        let (status, reply) = post_json(&app, "/internal/test/ready", &json!({})).await;
        assert_eq!((status, reply["status"].as_str()), (200, Some("success")));
        let (status, _) = post_json(&app, "/internal/test/add_task", &json!({})).await;
        assert_eq!(status, 404, "the Client has no add_task");
        let (status, _) = post_json(&app, "/internal/test/no_such_thing", &json!({})).await;
        assert_eq!(status, 404);
    }
}
