//! `dyad task add`: store a task from a task file, or generate a new one
//! (DAP-09 section 4.2).

use super::DatastoreArgs;
use crate::provision::{provision, TaskParameters};
use anyhow::{bail, Context as _};
use clap::{Args, ValueEnum};
use dyad_core::task::{BatchMode, Task};
use dyad_core::vdaf::VdafInstance;
use dyad_datastore::DatastoreExt as _;
use dyad_messages::draft09::{Duration, Time};
use std::path::{Path, PathBuf};
use url::Url;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum BatchModeArg {
    TimeInterval,
    FixedSize,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RoleArg {
    Leader,
    Helper,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    #[command(flatten)]
    datastore: DatastoreArgs,
    /// A YAML task file, as `--generate` writes for the peer.
    #[arg(long, conflicts_with = "generate")]
    file: Option<PathBuf>,
    /// Generate a new task: its ID, verify key, tokens and HPKE keys. Stores
    /// this aggregator's view, and writes the peer's task file and the
    /// collector's credentials into --out-dir.
    #[arg(long, requires_all = ["role", "leader", "helper", "vdaf", "min_batch_size", "time_precision", "out_dir"])]
    generate: bool,
    /// This aggregator's role in the generated task.
    #[arg(long, value_enum)]
    role: Option<RoleArg>,
    /// The Leader's DAP base URL.
    #[arg(long)]
    leader: Option<Url>,
    /// The Helper's DAP base URL.
    #[arg(long)]
    helper: Option<Url>,
    /// The VDAF, as JSON, e.g. '{"type":"Prio3Histogram","length":"4","chunk_length":"2"}'.
    #[arg(long)]
    vdaf: Option<VdafInstance>,
    #[arg(long, value_enum, default_value_t = BatchModeArg::TimeInterval)]
    batch_mode: BatchModeArg,
    /// fixed-size only: the most reports a batch may hold.
    #[arg(long)]
    max_batch_size: Option<u64>,
    #[arg(long)]
    min_batch_size: Option<u64>,
    /// Seconds.
    #[arg(long)]
    time_precision: Option<u64>,
    #[arg(long, default_value_t = 1)]
    max_batch_query_count: u64,
    /// Seconds since the epoch after which reports are rejected.
    #[arg(long)]
    task_expiration: Option<u64>,
    /// Seconds after which reports are too old to aggregate.
    #[arg(long)]
    report_expiry_age: Option<u64>,
    /// Seconds of clock skew tolerated in report timestamps.
    #[arg(long)]
    tolerable_clock_skew: Option<u64>,
    /// Where --generate writes `peer-task.yaml` and `collector.yaml` (both secret).
    #[arg(long)]
    out_dir: Option<PathBuf>,
}

pub async fn run(args: AddArgs) -> anyhow::Result<()> {
    let datastore = args.datastore.open().await?;
    let task = if let Some(path) = &args.file {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        serde_yaml::from_str::<Task>(&text)
            .with_context(|| format!("{} is not a valid task", path.display()))?
    } else if args.generate {
        let out_dir = args.out_dir.clone().context("--out-dir")?;
        let params = TaskParameters {
            leader: args.leader.clone().context("--leader")?,
            helper: args.helper.clone().context("--helper")?,
            vdaf: args.vdaf.context("--vdaf")?,
            batch_mode: match args.batch_mode {
                BatchModeArg::TimeInterval => BatchMode::TimeInterval,
                BatchModeArg::FixedSize => BatchMode::FixedSize {
                    max_batch_size: args.max_batch_size,
                },
            },
            min_batch_size: args.min_batch_size.context("--min-batch-size")?,
            time_precision: Duration::from_seconds(
                args.time_precision.context("--time-precision")?,
            ),
            max_batch_query_count: args.max_batch_query_count,
            task_expiration: args.task_expiration.map(Time::from_seconds_since_epoch),
            report_expiry_age: args.report_expiry_age.map(Duration::from_seconds),
            tolerable_clock_skew: args.tolerable_clock_skew.map(Duration::from_seconds),
        };
        let provisioned = provision(&params)?;
        let (mine, peer) = match args.role.context("--role")? {
            RoleArg::Leader => (provisioned.leader_task, provisioned.helper_task),
            RoleArg::Helper => (provisioned.helper_task, provisioned.leader_task),
        };
        std::fs::create_dir_all(&out_dir)?;
        write_secret(
            &out_dir.join("peer-task.yaml"),
            &serde_yaml::to_string(&peer)?,
        )?;
        write_secret(
            &out_dir.join("collector.yaml"),
            &serde_yaml::to_string(&provisioned.collector)?,
        )?;
        println!(
            "peer task file: {}",
            out_dir.join("peer-task.yaml").display()
        );
        println!(
            "collector credentials: {}",
            out_dir.join("collector.yaml").display()
        );
        mine
    } else {
        bail!("give --file or --generate");
    };
    let task_id = *task.task_id();
    datastore
        .run_tx("add_task", move |tx| {
            let task = task.clone();
            Box::pin(async move { Ok(tx.put_task(&task).await?) })
        })
        .await
        .context("storing the task")?;
    println!("task_id: {task_id}");
    Ok(())
}

/// Writes a file only its owner can read.
fn write_secret(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    Ok(())
}
