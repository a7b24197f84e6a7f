//! A test runner for the interop test API of
//! draft-dcook-ppm-dap-interop-test-design-07, written from its section
//! 4.7, "Test Runner Operation", with local processes in place of containers.
//!
//! [`Deployment::start`] starts the four roles as separate `dyad`
//! processes on free loopback ports (`dyad interop-client`, two `dyad
//! interop-aggregator`, the Leader and the Helper, and `dyad
//! interop-collector`), each logging to a file of a temporary folder, and
//! waits until each answers `/internal/test/ready` (steps 1-3).
//! [`Deployment::provision`] sets up a task (steps 4-10): a random task ID,
//! tokens and verify key; `endpoint_for_task` on the Leader and the Helper;
//! their absolute URLs; `add_task` on the Collector (which returns its HPKE
//! configuration), the Leader and the Helper. Uploads go through the
//! Client's `upload` (step 11), collections through the Collector's
//! `collection_start` and `collection_poll` (steps 12-13). Dropping the
//! deployment kills the processes (step 14).
//!
//! The runner speaks only the interop API's JSON, as the draft writes it:
//! blobs in base64url, VDAF parameters, measurements and results as base-10
//! strings. It converts measurements and expected results itself rather
//! than borrow the servers' code, so that a wrong format on either side
//! shows. Every request and every wait is bounded: a test fails, never
//! hangs (section 4.6: "All test cases should automatically fail after a
//! generous timeout").

use crate::process::{dyad_binary, free_port, WAIT};
use anyhow::{anyhow, bail, ensure, Context as _};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use dyad_core::vdaf::{AggregateResult, Measurement, VdafInstance};
use dyad_messages::draft09::TaskId;
use futures::stream::{self, StreamExt as _, TryStreamExt as _};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;
use url::Url;

/// The longest one interop command may take (an upload retries transient
/// failures for up to 20 s inside the Client).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(45);

/// How often a collection job is polled.
const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// One role's process. Killed (and reaped) on drop.
pub struct InteropProcess {
    name: &'static str,
    port: u16,
    log: PathBuf,
    child: Child,
}

impl InteropProcess {
    /// Starts `dyad SUBCOMMAND --port P` with its output in `dir/NAME.log`
    /// and its temporary files (an aggregator's default datastore) under
    /// `dir`, so that they go with `dir` even if the process has to be
    /// killed.
    fn spawn(dir: &Path, name: &'static str, subcommand: &str) -> anyhow::Result<Self> {
        let port = free_port();
        let log = dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log)?;
        let child = Command::new(dyad_binary())
            .arg(subcommand)
            .arg("--port")
            .arg(port.to_string())
            .env("TMPDIR", dir)
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .with_context(|| format!("spawning the {name}"))?;
        Ok(Self {
            name,
            port,
            log,
            child,
        })
    }

    /// The base URL of the interop API (and, for an aggregator, of its DAP
    /// API): where the draft's runner assumes port 8080.
    pub fn base_url(&self) -> Url {
        format!("http://127.0.0.1:{}/", self.port)
            .parse()
            .expect("a valid URL")
    }

    /// The host name the runner tells an aggregator in `endpoint_for_task`.
    pub fn hostname(&self) -> &'static str {
        "127.0.0.1"
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The last `lines` lines of the process's log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl InteropProcess {
    /// Asks the process to stop (SIGTERM), so that it shuts down cleanly
    /// and removes its temporary datastore; see the `Drop` impl.
    fn terminate(&self) {
        #[cfg(unix)]
        {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(self.child.id().to_string())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// How long a process may take to stop after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

impl Drop for InteropProcess {
    /// Stops the process: SIGTERM (if not already sent), a few seconds'
    /// grace, then SIGKILL; always reaped.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.terminate();
            let deadline = Instant::now() + STOP_GRACE;
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The four roles, running.
pub struct Deployment {
    pub client: InteropProcess,
    pub leader: InteropProcess,
    pub helper: InteropProcess,
    pub collector: InteropProcess,
    /// `None` only while dropping: its idle connections are closed before
    /// the processes are asked to stop.
    http: Option<reqwest::Client>,
    // Dropped last: the processes die before their log folder goes.
    _dir: TempDir,
}

impl Drop for Deployment {
    /// Step 14: asks all four processes to stop at once; each field's own
    /// `Drop` then waits for its process.
    fn drop(&mut self) {
        self.http = None;
        for process in self.processes() {
            process.terminate();
        }
    }
}

/// How a task is to be provisioned.
#[derive(Clone, Debug)]
pub struct TaskSpec {
    /// The VDAF object, as the draft writes it (section 4.1.1), e.g.
    /// `{"type": "Prio3Sum", "bits": "8"}`.
    pub vdaf: Value,
    pub query: QueryConfig,
    pub min_batch_size: u64,
    /// Seconds.
    pub time_precision: u64,
    pub max_batch_query_count: u64,
    /// Seconds since the epoch.
    pub task_expiration: u64,
    /// Tokens deliberately given wrong to one party.
    pub mismatch: Option<Mismatch>,
}

/// The task's query type (section 4.1.2: 1 time-interval, 2 fixed-size).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryConfig {
    TimeInterval,
    FixedSize { max_batch_size: Option<u64> },
}

/// A deliberate token mismatch, for the authentication test cases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mismatch {
    /// The Helper is given another `leader_authentication_token` than the
    /// Leader, so it must refuse the Leader's requests.
    AggregatorToken,
    /// The Collector is given another `collector_authentication_token`
    /// than the Leader, so the Leader must refuse its requests.
    CollectorToken,
}

impl TaskSpec {
    /// A task of `vdaf` with the query type, a one-hour time precision, one
    /// query per batch, expiring in a day, tokens right.
    pub fn new(vdaf: Value, query: QueryConfig, min_batch_size: u64) -> Self {
        Self {
            vdaf,
            query,
            min_batch_size,
            time_precision: 3600,
            max_batch_query_count: 1,
            task_expiration: now() + 86_400,
            mismatch: None,
        }
    }

    /// The VDAF as the catalogue knows it (to draw measurements).
    pub fn vdaf_instance(&self) -> anyhow::Result<VdafInstance> {
        serde_json::from_value(self.vdaf.clone()).context("the task's VDAF object")
    }
}

/// A provisioned task.
#[derive(Clone, Debug)]
pub struct InteropTask {
    pub task_id: TaskId,
    pub leader: Url,
    pub helper: Url,
    pub spec: TaskSpec,
    pub vdaf: VdafInstance,
}

/// How a collection ended.
#[derive(Clone, Debug, PartialEq)]
pub enum CollectOutcome {
    /// `collection_poll` said `"complete"`; the whole reply.
    Complete(Value),
    /// `collection_start` said `"error"`; its message.
    StartRefused(String),
    /// `collection_poll` said `"error"`; its message.
    Failed(String),
    /// Still `"in progress"` when the wait ran out.
    TimedOut,
}

impl CollectOutcome {
    /// The complete reply, or an error saying what happened instead.
    pub fn complete(self) -> anyhow::Result<Value> {
        match self {
            CollectOutcome::Complete(reply) => Ok(reply),
            other => bail!("the collection did not complete: {other:?}"),
        }
    }
}

/// The current time, in seconds since the epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A fresh random secret, safe as an HTTP header value.
fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}

impl Deployment {
    /// Starts the four processes and waits until each is ready.
    pub async fn start() -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new().prefix("dyad-interop-").tempdir()?;
        let deployment = Self {
            client: InteropProcess::spawn(dir.path(), "client", "interop-client")?,
            leader: InteropProcess::spawn(dir.path(), "leader", "interop-aggregator")?,
            helper: InteropProcess::spawn(dir.path(), "helper", "interop-aggregator")?,
            collector: InteropProcess::spawn(dir.path(), "collector", "interop-collector")?,
            http: Some(
                reqwest::Client::builder()
                    .timeout(COMMAND_TIMEOUT)
                    .build()?,
            ),
            _dir: dir,
        };
        for process in deployment.processes() {
            deployment.wait_ready(process).await?;
        }
        Ok(deployment)
    }

    fn http(&self) -> &reqwest::Client {
        self.http
            .as_ref()
            .expect("the HTTP client lives until drop")
    }

    fn processes(&self) -> [&InteropProcess; 4] {
        [&self.client, &self.leader, &self.helper, &self.collector]
    }

    /// Step 3: `/internal/test/ready` until it answers 200 OK.
    async fn wait_ready(&self, process: &InteropProcess) -> anyhow::Result<()> {
        let url = process.base_url().join("internal/test/ready")?;
        let start = Instant::now();
        loop {
            let answer = self
                .http()
                .post(url.clone())
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await;
            if matches!(&answer, Ok(response) if response.status() == reqwest::StatusCode::OK) {
                return Ok(());
            }
            if start.elapsed() > WAIT {
                bail!(
                    "the {} was not ready within {WAIT:?}\n{}",
                    process.name(),
                    process.log_tail(50)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The last lines of every process's log, for failure messages.
    pub fn logs(&self) -> String {
        self.processes()
            .iter()
            .map(|p| format!("--- {} log ---\n{}", p.name(), p.log_tail(40)))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// POSTs `/internal/test/COMMAND` to `process` with `body` and returns
    /// the HTTP status and the JSON reply (`null` if it is not JSON).
    pub async fn raw_command(
        &self,
        process: &InteropProcess,
        command: &str,
        body: &Value,
    ) -> anyhow::Result<(u16, Value)> {
        let url = process
            .base_url()
            .join(&format!("internal/test/{command}"))?;
        let response = self
            .http()
            .post(url)
            .header("content-type", "application/json")
            .body(serde_json::to_vec(body)?)
            .send()
            .await
            .with_context(|| format!("{} {command}", process.name()))?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await?;
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }

    /// A recognised command: 200 OK and a JSON object with a `status`
    /// (section 4); returns the reply.
    pub async fn command(
        &self,
        process: &InteropProcess,
        command: &str,
        body: &Value,
    ) -> anyhow::Result<Value> {
        let (status, reply) = self.raw_command(process, command, body).await?;
        ensure!(
            status == 200,
            "{} {command}: HTTP {status}, {reply}",
            process.name()
        );
        ensure!(
            reply.get("status").and_then(Value::as_str).is_some(),
            "{} {command}: the reply has no status: {reply}",
            process.name()
        );
        Ok(reply)
    }

    /// A command that must succeed; returns the reply.
    async fn command_ok(
        &self,
        process: &InteropProcess,
        command: &str,
        body: &Value,
    ) -> anyhow::Result<Value> {
        let reply = self.command(process, command, body).await?;
        ensure!(
            reply["status"] == "success",
            "{} {command} failed: {reply}",
            process.name()
        );
        Ok(reply)
    }

    /// Steps 4-10: provisions a task on the three servers.
    pub async fn provision(&self, spec: &TaskSpec) -> anyhow::Result<InteropTask> {
        let vdaf = spec.vdaf_instance()?;
        // Step 4: the task's identity and secrets.
        let task_id = TaskId::random();
        let aggregator_token = random_token();
        let collector_token = random_token();
        let verify_key = URL_SAFE_NO_PAD.encode(
            (0..vdaf.verify_key_length())
                .map(|_| rand::random::<u8>())
                .collect::<Vec<u8>>(),
        );
        // Steps 5-7: each aggregator's DAP endpoint for the task.
        let leader = self
            .endpoint_for_task(&self.leader, task_id, "leader")
            .await?;
        let helper = self
            .endpoint_for_task(&self.helper, task_id, "helper")
            .await?;
        let query_type = match spec.query {
            QueryConfig::TimeInterval => 1,
            QueryConfig::FixedSize { .. } => 2,
        };
        // Step 8: the Collector, which makes its HPKE keypair.
        let collector_reply = self
            .command_ok(
                &self.collector,
                "add_task",
                &json!({
                    "task_id": task_id.to_string(),
                    "leader": leader.as_str(),
                    "vdaf": spec.vdaf,
                    "collector_authentication_token": match spec.mismatch {
                        Some(Mismatch::CollectorToken) => random_token(),
                        _ => collector_token.clone(),
                    },
                    "query_type": query_type,
                }),
            )
            .await?;
        let collector_hpke_config = collector_reply["collector_hpke_config"]
            .as_str()
            .context("the Collector's add_task returned no collector_hpke_config")?
            .to_owned();
        URL_SAFE_NO_PAD
            .decode(&collector_hpke_config)
            .context("collector_hpke_config is not unpadded base64url")?;
        // Steps 9-10: the Leader, then the Helper.
        let mut request = json!({
            "task_id": task_id.to_string(),
            "leader": leader.as_str(),
            "helper": helper.as_str(),
            "vdaf": spec.vdaf,
            "leader_authentication_token": aggregator_token,
            "collector_authentication_token": collector_token,
            "role": "leader",
            "vdaf_verify_key": verify_key,
            "max_batch_query_count": spec.max_batch_query_count,
            "query_type": query_type,
            "min_batch_size": spec.min_batch_size,
            "time_precision": spec.time_precision,
            "collector_hpke_config": collector_hpke_config,
            "task_expiration": spec.task_expiration,
        });
        if let QueryConfig::FixedSize { max_batch_size } = spec.query {
            request["max_batch_size"] = json!(max_batch_size);
        }
        self.command_ok(&self.leader, "add_task", &request).await?;
        request["role"] = json!("helper");
        // Only present for the Leader (section 4.3.3).
        request
            .as_object_mut()
            .expect("an object")
            .remove("collector_authentication_token");
        if spec.mismatch == Some(Mismatch::AggregatorToken) {
            request["leader_authentication_token"] = json!(random_token());
        }
        self.command_ok(&self.helper, "add_task", &request).await?;
        Ok(InteropTask {
            task_id,
            leader,
            helper,
            spec: spec.clone(),
            vdaf,
        })
    }

    /// Steps 5-7 for one aggregator: its endpoint, made absolute (a
    /// relative one is resolved against the aggregator's own address,
    /// where the draft assumes port 8080).
    async fn endpoint_for_task(
        &self,
        process: &InteropProcess,
        task_id: TaskId,
        role: &str,
    ) -> anyhow::Result<Url> {
        let reply = self
            .command_ok(
                process,
                "endpoint_for_task",
                &json!({
                    "task_id": task_id.to_string(),
                    "role": role,
                    "hostname": process.hostname(),
                }),
            )
            .await?;
        let endpoint = reply["endpoint"]
            .as_str()
            .with_context(|| format!("the {role}'s endpoint_for_task returned no endpoint"))?;
        let url = process
            .base_url()
            .join(endpoint)
            .with_context(|| format!("the {role}'s endpoint {endpoint:?}"))?;
        ensure!(
            matches!(url.scheme(), "http" | "https"),
            "the {role}'s endpoint {url} is not http(s)"
        );
        Ok(url)
    }

    /// Step 11: one `/internal/test/upload`; returns the reply (success or
    /// error).
    pub async fn upload(
        &self,
        task: &InteropTask,
        measurement: &Measurement,
        time: Option<u64>,
    ) -> anyhow::Result<Value> {
        let mut request = json!({
            "task_id": task.task_id.to_string(),
            "leader": task.leader.as_str(),
            "helper": task.helper.as_str(),
            "vdaf": task.spec.vdaf,
            "measurement": measurement_json(measurement)?,
            "time_precision": task.spec.time_precision,
        });
        if let Some(time) = time {
            request["time"] = json!(time);
        }
        self.command(&self.client, "upload", &request).await
    }

    /// Uploads every `(task, measurement)`, at most `concurrency` at once;
    /// each must succeed.
    pub async fn upload_all(
        &self,
        uploads: &[(&InteropTask, Measurement)],
        time: impl Fn(&InteropTask) -> Option<u64>,
        concurrency: usize,
    ) -> anyhow::Result<()> {
        stream::iter(uploads)
            .map(|(task, measurement)| {
                let time = time(task);
                async move {
                    let reply = self.upload(task, measurement, time).await?;
                    ensure!(
                        reply["status"] == "success",
                        "upload to task {} failed: {reply}",
                        task.task_id
                    );
                    Ok(())
                }
            })
            .buffer_unordered(concurrency.max(1))
            .try_collect::<Vec<()>>()
            .await
            .map(drop)
    }

    /// Step 12: `/internal/test/collection_start` with the empty
    /// aggregation parameter (Prio3's); the reply.
    pub async fn collection_start(
        &self,
        task: &InteropTask,
        query: &Value,
    ) -> anyhow::Result<Value> {
        self.collection_start_with(task, query, &[]).await
    }

    /// Step 12 with the encoded aggregation parameter `agg_param` (sent
    /// base64url, section 4.4.1; Poplar1's candidate prefixes); the reply.
    pub async fn collection_start_with(
        &self,
        task: &InteropTask,
        query: &Value,
        agg_param: &[u8],
    ) -> anyhow::Result<Value> {
        self.command(
            &self.collector,
            "collection_start",
            &json!({
                "task_id": task.task_id.to_string(),
                "agg_param": URL_SAFE_NO_PAD.encode(agg_param),
                "query": query,
            }),
        )
        .await
    }

    /// Step 13: one `/internal/test/collection_poll`; the reply.
    pub async fn collection_poll(&self, handle: &str) -> anyhow::Result<Value> {
        self.command(
            &self.collector,
            "collection_poll",
            &json!({ "handle": handle }),
        )
        .await
    }

    /// Steps 12-13: starts a collection of `query` and polls it until it
    /// completes, fails, or `wait` runs out. A fixed-size `current_batch`
    /// query may be refused until the Leader has a batch ready (DAP-09
    /// lets the Leader validate the request eagerly), so its start is
    /// retried within `wait`; any other start is tried once.
    pub async fn collect(
        &self,
        task: &InteropTask,
        query: &Value,
        wait: Duration,
    ) -> anyhow::Result<CollectOutcome> {
        self.collect_with(task, query, &[], wait).await
    }

    /// [`Self::collect`] with the encoded aggregation parameter
    /// `agg_param`.
    pub async fn collect_with(
        &self,
        task: &InteropTask,
        query: &Value,
        agg_param: &[u8],
        wait: Duration,
    ) -> anyhow::Result<CollectOutcome> {
        let deadline = Instant::now() + wait;
        let retry_start = query["type"] == 2 && query["subtype"] == 1;
        let handle = loop {
            let reply = self.collection_start_with(task, query, agg_param).await?;
            match reply["status"].as_str() {
                Some("success") => {
                    break reply["handle"]
                        .as_str()
                        .with_context(|| format!("collection_start gave no handle: {reply}"))?
                        .to_owned()
                }
                Some("error") if retry_start && Instant::now() < deadline => {
                    tokio::time::sleep(POLL_INTERVAL).await;
                }
                Some("error") => {
                    return Ok(CollectOutcome::StartRefused(
                        reply["error"].as_str().unwrap_or_default().to_owned(),
                    ))
                }
                _ => bail!("collection_start: unexpected reply {reply}"),
            }
        };
        loop {
            let reply = self.collection_poll(&handle).await?;
            match reply["status"].as_str() {
                Some("complete") => return Ok(CollectOutcome::Complete(reply)),
                Some("in progress") => {}
                Some("error") => {
                    return Ok(CollectOutcome::Failed(
                        reply["error"].as_str().unwrap_or_default().to_owned(),
                    ))
                }
                _ => bail!("collection_poll: unexpected reply {reply}"),
            }
            if Instant::now() >= deadline {
                return Ok(CollectOutcome::TimedOut);
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}

/// A time-interval query object for `[start, start + duration)`.
pub fn time_interval_query(start: u64, duration: u64) -> Value {
    json!({"type": 1, "batch_interval_start": start, "batch_interval_duration": duration})
}

/// The fixed-size `current_batch` query object.
pub fn current_batch_query() -> Value {
    json!({"type": 2, "subtype": 1})
}

/// The fixed-size `by_batch_id` query object.
pub fn batch_id_query(batch_id: &str) -> Value {
    json!({"type": 2, "subtype": 0, "batch_id": batch_id})
}

/// A measurement as `/internal/test/upload` takes it (section 4.2.2).
pub fn measurement_json(measurement: &Measurement) -> anyhow::Result<Value> {
    let decimal = |n: &dyn ToString| Value::from(n.to_string());
    Ok(match measurement {
        Measurement::Count(bit) => Value::from(if *bit { "1" } else { "0" }),
        Measurement::Sum(value) => decimal(value),
        Measurement::SumVec(values) => Value::Array(values.iter().map(|v| decimal(v)).collect()),
        Measurement::Histogram(index) => decimal(index),
        // An array of booleans, most significant bit first (section 4.2.2).
        Measurement::Poplar1(bits) => Value::from(bits.clone()),
        other => bail!("the runner does not send {} measurements", other.kind()),
    })
}

/// An aggregate result as `collection_poll` gives it (section 4.4.4).
pub fn result_json(result: &AggregateResult) -> anyhow::Result<Value> {
    let decimal = |n: &dyn ToString| Value::from(n.to_string());
    Ok(match result {
        AggregateResult::Count(count) => decimal(count),
        AggregateResult::Sum(sum) => decimal(sum),
        AggregateResult::SumVec(values) | AggregateResult::Histogram(values) => {
            Value::Array(values.iter().map(|v| decimal(v)).collect())
        }
        // One count per candidate prefix (section 4.4.4).
        AggregateResult::Poplar1(counts) => {
            Value::Array(counts.iter().map(|v| decimal(v)).collect())
        }
        other => return Err(anyhow!("the runner does not check {other:?}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measurements_and_results_are_base10_strings() {
        assert_eq!(
            measurement_json(&Measurement::Count(true)).unwrap(),
            json!("1")
        );
        assert_eq!(
            measurement_json(&Measurement::Sum(u128::from(u64::MAX))).unwrap(),
            json!("18446744073709551615")
        );
        assert_eq!(
            measurement_json(&Measurement::SumVec(vec![1, 2])).unwrap(),
            json!(["1", "2"])
        );
        assert_eq!(
            measurement_json(&Measurement::Histogram(3)).unwrap(),
            json!("3")
        );
        assert_eq!(result_json(&AggregateResult::Count(5)).unwrap(), json!("5"));
        assert_eq!(
            result_json(&AggregateResult::Histogram(vec![0, 4])).unwrap(),
            json!(["0", "4"])
        );
    }

    #[test]
    fn query_objects() {
        assert_eq!(
            time_interval_query(3600, 7200),
            json!({"type": 1, "batch_interval_start": 3600, "batch_interval_duration": 7200})
        );
        assert_eq!(current_batch_query()["subtype"], 1);
        assert_eq!(batch_id_query("abc")["batch_id"], "abc");
    }
}
