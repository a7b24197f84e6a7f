//! End-to-end tests of dyad: the Leader and the Helper run as two separate
//! `dyad serve` processes on loopback ports, each with its own SQLite
//! datastore in a temporary directory; a task is provisioned the three-party
//! way ([`provision_task`]: `dyad collector init`, `dyad task add
//! --generate` on the Leader, `dyad task add --file` on the Helper);
//! reports are uploaded with the `dyad-client` library and results collected
//! with the `dyad-collector` library.
//!
//! The helpers here:
//!
//! - [`dyad_binary`] finds (and, if missing, builds once) the `dyad` binary
//!   next to the test executable's profile directory;
//! - [`free_port`] picks a free loopback port;
//! - [`Dyad::start`] provisions a task and starts both aggregators;
//!   [`Server`] kills its process on drop and can be killed (SIGKILL) and
//!   restarted with the same config and datastore, or stopped with SIGTERM
//!   ([`Server::terminate`]);
//!   [`Dyad::start_with`] first replaces top-level config keys
//!   ([`Server::set_config`]), [`Dyad::start_prepared`] lets the test
//!   prepare both servers (e.g. HTTPS with [`Server::serve_tls`]) before
//!   the task is provisioned, and [`Dyad::add_task`] provisions further
//!   tasks on the running pair;
//! - [`Dyad::client_builder`], [`Dyad::client_at`] and [`Dyad::collector`]
//!   build the libraries' clients for the task (for any task,
//!   [`CollectorCredentials::client_builder`] and
//!   [`CollectorCredentials::collector`]); [`Dyad::collect`] collects with a
//!   bounded wait;
//! - [`fault_proxy`] puts a fault-injecting proxy between two parties
//!   ([`Dyad::add_task_via`] provisions a task whose Leader reaches its
//!   Helper through one).

pub mod fault_proxy;
pub mod interop;
mod process;
mod server;

pub use process::{datastore_key, dyad_binary, free_port, WAIT};
pub use server::Server;

use anyhow::{bail, Context as _};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use dyad_client::ClientBuilder;
use dyad_collector::{Collection, CollectorBuilder};
use dyad_core::hpke::{HpkeKeypair, HpkePrivateKey};
use dyad_core::retry::RetryPolicy;
use dyad_core::task::{AuthenticationToken, BatchMode};
use dyad_core::vdaf::{AggregateResult, AggregationParam, VdafInstance};
use dyad_messages::draft09::{Duration, HpkeConfig, Query, TaskId, Time};
use dyad_messages::Decode as _;
use serde::Deserialize;
use std::path::Path;
use std::process::Command;
use tempfile::TempDir;
use url::Url;

/// Runs `dyad ARGS`, failing with its output if it fails.
pub fn run_dyad<I, S>(args: I) -> anyhow::Result<()>
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    dyad_output(args).map(drop)
}

/// Runs `dyad ARGS`; its standard output, or an error with its output if
/// it fails.
pub fn dyad_output<I, S>(args: I) -> anyhow::Result<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let output = Command::new(dyad_binary())
        .args(args)
        .output()
        .context("running dyad")?;
    if !output.status.success() {
        bail!(
            "dyad failed ({}):\n{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// What the Collector holds for a task: `collector-task.yaml` (the task and
/// its bearer token, from the Leader's `dyad task add`) merged with its own
/// `collector-key.yaml` (from `dyad collector init`).
#[derive(Debug, Clone)]
pub struct CollectorCredentials {
    pub task_id: TaskId,
    pub leader: Url,
    pub helper: Url,
    pub vdaf: VdafInstance,
    pub batch_mode: BatchMode,
    pub time_precision: Duration,
    pub collector_bearer_token: String,
    pub hpke_config: String,
    pub hpke_private_key: String,
}

/// `collector-task.yaml`, as the Leader's `dyad task add` writes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectorTaskFile {
    pub task_id: TaskId,
    pub leader: Url,
    pub helper: Url,
    pub vdaf: VdafInstance,
    /// Written only for a task with differential-privacy noise.
    #[serde(default)]
    pub dp_strategy: dyad_core::vdaf::DpStrategy,
    pub batch_mode: BatchMode,
    pub time_precision: Duration,
    pub min_batch_size: u64,
    pub collector_bearer_token: String,
}

/// `collector-key.yaml`, as `dyad collector init` writes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectorKeyFile {
    pub hpke_config: String,
    pub hpke_private_key: String,
}

/// `client-task.yaml`, as the Leader's `dyad task add` writes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientTaskFile {
    pub task_id: TaskId,
    pub leader: Url,
    pub helper: Url,
    pub vdaf: VdafInstance,
    pub time_precision: Duration,
}

/// Reads a YAML file, naming it in any error.
pub fn read_yaml<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_yaml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

impl CollectorCredentials {
    /// The Collector's view of a task: the Leader's `collector-task.yaml`
    /// and the Collector's own `collector-key.yaml`.
    pub fn from_files(task_file: &Path, key_file: &Path) -> anyhow::Result<Self> {
        let task: CollectorTaskFile = read_yaml(task_file)?;
        let key: CollectorKeyFile = read_yaml(key_file)?;
        Ok(Self {
            task_id: task.task_id,
            leader: task.leader,
            helper: task.helper,
            vdaf: task.vdaf,
            batch_mode: task.batch_mode,
            time_precision: task.time_precision,
            collector_bearer_token: task.collector_bearer_token,
            hpke_config: key.hpke_config,
            hpke_private_key: key.hpke_private_key,
        })
    }
}

impl CollectorCredentials {
    pub fn keypair(&self) -> anyhow::Result<HpkeKeypair> {
        let config = URL_SAFE_NO_PAD.decode(self.hpke_config.trim())?;
        let config = HpkeConfig::get_decoded(&config).context("hpke_config")?;
        let key = HpkePrivateKey::new(URL_SAFE_NO_PAD.decode(self.hpke_private_key.trim())?);
        Ok(HpkeKeypair::new(config, key)?)
    }

    pub fn token(&self) -> anyhow::Result<AuthenticationToken> {
        Ok(AuthenticationToken::new_bearer(
            self.collector_bearer_token.clone(),
        )?)
    }

    /// A client builder for the task (time precision and endpoints set).
    pub fn client_builder(&self) -> ClientBuilder {
        ClientBuilder::new(
            self.task_id,
            self.leader.clone(),
            self.helper.clone(),
            self.time_precision,
        )
    }

    /// A collector for the task, polling often and giving up after [`WAIT`].
    pub fn collector(&self) -> dyad_collector::Collector<dyad_collector::AnyVdaf> {
        self.collector_builder()
            .build(dyad_collector::AnyVdaf(self.vdaf))
            .expect("building the collector")
    }

    /// The builder of [`CollectorCredentials::collector`], for more settings.
    pub fn collector_builder(&self) -> CollectorBuilder {
        CollectorBuilder::new(
            self.task_id,
            self.leader.clone(),
            self.token().expect("collector token"),
            self.keypair().expect("collector keypair"),
        )
        .poll_policy(
            RetryPolicy::new(
                std::time::Duration::from_millis(200),
                std::time::Duration::from_secs(1),
            )
            .with_max_elapsed(WAIT),
        )
    }
}

/// The task to provision.
#[derive(Debug, Clone)]
pub struct TaskOptions {
    /// The VDAF as JSON, e.g. `{"type":"Prio3Sum","bits":"8"}`.
    pub vdaf: String,
    /// `None` for time-interval, `Some(max_batch_size)` for fixed-size.
    pub fixed_size: Option<u64>,
    pub min_batch_size: u64,
    /// Seconds.
    pub time_precision: u64,
    /// The task's report expiry age on both aggregators, in seconds (`None`:
    /// reports are kept).
    pub report_expiry_age: Option<u64>,
}

impl TaskOptions {
    pub fn time_interval(vdaf: &str, min_batch_size: u64) -> Self {
        Self {
            vdaf: vdaf.to_owned(),
            fixed_size: None,
            min_batch_size,
            time_precision: 3600,
            report_expiry_age: None,
        }
    }

    pub fn fixed_size(vdaf: &str, min_batch_size: u64, max_batch_size: u64) -> Self {
        Self {
            fixed_size: Some(max_batch_size),
            ..Self::time_interval(vdaf, min_batch_size)
        }
    }
}

/// A provisioned task with its Leader and Helper running.
pub struct Dyad {
    pub leader: Server,
    pub helper: Server,
    pub credentials: CollectorCredentials,
    // Dropped last: the servers must die before their directory goes.
    dir: TempDir,
}

impl Dyad {
    /// Provisions a task and starts both aggregators, waiting until both
    /// serve the task's HPKE configuration.
    pub async fn start(options: &TaskOptions) -> anyhow::Result<Self> {
        Self::start_with(options, &[], &[]).await
    }

    /// Like [`Dyad::start`], with top-level keys of the Leader's and the
    /// Helper's configs replaced first (see [`Server::set_config`]), e.g.
    /// `("aggregation_job_creator", "{max_job_size: 10}")`.
    pub async fn start_with(
        options: &TaskOptions,
        leader_config: &[(&str, &str)],
        helper_config: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        Self::start_prepared(options, |_, leader, helper| {
            for (key, value) in leader_config {
                leader.set_config(key, value)?;
            }
            for (key, value) in helper_config {
                helper.set_config(key, value)?;
            }
            Ok(())
        })
        .await
    }

    /// Like [`Dyad::start`], with `prepare(dir, leader, helper)` run on
    /// both configured servers before the task is provisioned (so that,
    /// e.g., [`Server::serve_tls`] makes the task's URLs `https`). `dir` is
    /// the pair's temporary directory.
    pub async fn start_prepared(
        options: &TaskOptions,
        prepare: impl FnOnce(&Path, &mut Server, &mut Server) -> anyhow::Result<()>,
    ) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let mut leader = Server::configure(
            dir.path(),
            "leader",
            &[
                "aggregator",
                "aggregation-job-creator",
                "aggregation-job-driver",
                "collection-job-driver",
            ],
        )?;
        let mut helper = Server::configure(dir.path(), "helper", &["aggregator"])?;
        prepare(dir.path(), &mut leader, &mut helper)?;
        let credentials = provision_task(&leader, &helper, options, &dir.path().join("provision"))?;
        leader.start()?;
        helper.start()?;
        leader.wait_ready(&credentials.task_id).await?;
        helper.wait_ready(&credentials.task_id).await?;
        Ok(Self {
            leader,
            helper,
            credentials,
            dir,
        })
    }

    /// Provisions one more task on the running pair (`dyad task add` against
    /// their datastores) and waits until both serve its HPKE configuration.
    /// `self.credentials` stays the first task's.
    pub async fn add_task(
        &mut self,
        options: &TaskOptions,
    ) -> anyhow::Result<CollectorCredentials> {
        let helper = self.helper.url();
        self.add_task_via(options, &helper).await
    }

    /// [`Dyad::add_task`], with the Leader's task naming `helper_endpoint`
    /// (e.g. a [`fault_proxy::FaultProxy`] in front of the Helper) as the
    /// Helper's URL.
    pub async fn add_task_via(
        &mut self,
        options: &TaskOptions,
        helper_endpoint: &Url,
    ) -> anyhow::Result<CollectorCredentials> {
        let out_dir = self
            .dir
            .path()
            .join(format!("provision-{:016x}", rand::random::<u64>()));
        let credentials = provision_task_via(
            &self.leader,
            &self.helper,
            helper_endpoint,
            options,
            &out_dir,
        )?;
        self.leader.wait_ready(&credentials.task_id).await?;
        self.helper.wait_ready(&credentials.task_id).await?;
        Ok(credentials)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn vdaf(&self) -> &VdafInstance {
        &self.credentials.vdaf
    }

    /// A client builder for the task (time precision and endpoints set).
    pub fn client_builder(&self) -> ClientBuilder {
        self.credentials.client_builder()
    }

    /// A client for the task, timestamping reports with `time`.
    pub fn client_at(&self, time: Time) -> dyad_client::Client<dyad_client::AnyVdaf> {
        self.client_builder()
            .fixed_time(time)
            .build(dyad_client::AnyVdaf(*self.vdaf()))
            .expect("building the client")
    }

    /// A collector for the task, polling often and giving up after [`WAIT`].
    pub fn collector(&self) -> dyad_collector::Collector<dyad_collector::AnyVdaf> {
        self.credentials.collector()
    }

    /// Collects `query` with the empty aggregation parameter, failing after
    /// [`WAIT`] (plus a margin) rather than hanging.
    pub async fn collect(&self, query: Query) -> anyhow::Result<Collection<AggregateResult>> {
        self.collect_task(&self.credentials, query).await
    }

    /// [`Dyad::collect`] for any task of this pair (see [`Dyad::add_task`]).
    pub async fn collect_task(
        &self,
        credentials: &CollectorCredentials,
        query: Query,
    ) -> anyhow::Result<Collection<AggregateResult>> {
        let collector = credentials.collector();
        match tokio::time::timeout(
            WAIT + std::time::Duration::from_secs(5),
            collector.collect(query, &AggregationParam::Empty),
        )
        .await
        {
            Ok(result) => result.map_err(|error| anyhow::anyhow!("{error:?}\n{}", self.logs())),
            Err(_) => bail!("collection timed out\n{}", self.logs()),
        }
    }

    /// Both servers' logs, for failure messages.
    pub fn logs(&self) -> String {
        format!(
            "--- leader log ---\n{}\n--- helper log ---\n{}",
            self.leader.log_text(),
            self.helper.log_text()
        )
    }
}

/// Provisions a task the three-party way, each party in its own folder
/// under `out_dir`: `dyad collector init` (`collector/`), `dyad task add
/// --generate --role leader --collector-hpke-config` into the Leader's
/// datastore (writing `helper-task.yaml`, `collector-task.yaml` and
/// `client-task.yaml` into `leader/`), then `dyad task add --file
/// helper-task.yaml` into the Helper's. Returns what the Collector then
/// holds.
pub fn provision_task(
    leader: &Server,
    helper: &Server,
    options: &TaskOptions,
    out_dir: &Path,
) -> anyhow::Result<CollectorCredentials> {
    provision_task_via(leader, helper, &helper.url(), options, out_dir)
}

/// [`provision_task`], with `helper_endpoint` as the Helper's URL in the
/// task (what the Leader sends its requests to).
pub fn provision_task_via(
    leader: &Server,
    helper: &Server,
    helper_endpoint: &Url,
    options: &TaskOptions,
    out_dir: &Path,
) -> anyhow::Result<CollectorCredentials> {
    provision_task_with(leader, helper, helper_endpoint, options, out_dir, &[])
}

/// [`provision_task_via`], with `leader_args` added to the Leader's `dyad
/// task add`, e.g. `["--hpke-keys", "global"]`.
pub fn provision_task_with(
    leader: &Server,
    helper: &Server,
    helper_endpoint: &Url,
    options: &TaskOptions,
    out_dir: &Path,
    leader_args: &[&str],
) -> anyhow::Result<CollectorCredentials> {
    let collector_dir = out_dir.join("collector");
    let leader_dir = out_dir.join("leader");
    run_dyad([
        "collector".as_ref(),
        "init".as_ref(),
        "--out-dir".as_ref(),
        collector_dir.as_os_str(),
    ])
    .context("making the Collector's keypair")?;
    let mut args: Vec<String> = vec![
        "task".into(),
        "add".into(),
        "--config".into(),
        leader.config_path().display().to_string(),
        "--generate".into(),
        "--role".into(),
        "leader".into(),
        "--leader".into(),
        leader.url().to_string(),
        "--helper".into(),
        helper_endpoint.to_string(),
        "--vdaf".into(),
        options.vdaf.clone(),
        "--min-batch-size".into(),
        options.min_batch_size.to_string(),
        "--time-precision".into(),
        options.time_precision.to_string(),
        "--collector-hpke-config".into(),
        collector_dir
            .join("collector-hpke-config.txt")
            .display()
            .to_string(),
        "--out-dir".into(),
        leader_dir.display().to_string(),
    ];
    args.extend(leader_args.iter().map(|arg| arg.to_string()));
    let expiry_age = options
        .report_expiry_age
        .map(|age| vec!["--report-expiry-age".to_owned(), age.to_string()])
        .unwrap_or_default();
    args.extend(expiry_age.iter().cloned());
    if let Some(max) = options.fixed_size {
        args.extend([
            "--batch-mode".into(),
            "fixed-size".into(),
            "--max-batch-size".into(),
            max.to_string(),
        ]);
    }
    run_dyad(&args).context("provisioning the Leader's task")?;
    let mut helper_args = vec![
        "task".to_owned(),
        "add".to_owned(),
        "--config".to_owned(),
        helper.config_path().display().to_string(),
        "--file".to_owned(),
        leader_dir.join("helper-task.yaml").display().to_string(),
    ];
    helper_args.extend(expiry_age);
    run_dyad(&helper_args).context("provisioning the Helper's task")?;
    CollectorCredentials::from_files(
        &leader_dir.join("collector-task.yaml"),
        &collector_dir.join("collector-key.yaml"),
    )
}

/// The start of the time-precision bucket `buckets_ago` buckets before the
/// current one, plus a small offset (a timestamp inside that bucket).
pub fn past_bucket_time(time_precision: u64, buckets_ago: u64) -> Time {
    let now = dyad_client::system_time().as_seconds_since_epoch();
    let start = (now / time_precision - buckets_ago) * time_precision;
    Time::from_seconds_since_epoch(start + time_precision / 2)
}

/// Asserts that two aggregates are equal (fixed-point vectors up to a small
/// tolerance, since they are decoded from field elements).
pub fn assert_aggregate_eq(got: &AggregateResult, want: &AggregateResult) {
    match (got, want) {
        (AggregateResult::FixedPointVec(got), AggregateResult::FixedPointVec(want)) => {
            assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
            for (g, w) in got.iter().zip(want) {
                assert!((g - w).abs() < 1e-3, "{got:?} vs {want:?}");
            }
        }
        _ => assert_eq!(got, want),
    }
}
