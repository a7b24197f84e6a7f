//! `dyad quickstart`: a whole DAP deployment in one process. Starts a Leader
//! and a Helper on free loopback ports, each with its own SQLite file in a
//! fresh temporary folder (or, with `--datastore postgres://...`, its own
//! fresh database on that server, dropped at the end), provisions a task,
//! uploads N reports of random measurements, and only then starts the
//! Leader's job creator and drivers (so that upload and aggregation are
//! timed apart: the printed rates are each phase's own), collects, and
//! prints the result beside the total computed from the plaintext
//! measurements. Exits with success only when the two are equal.
//!
//! A Poplar1 task (`--vdaf '{"type":"Poplar1","bits":"16"}'`) runs a
//! heavy-hitters round instead: skewed measurements, the walk down the
//! prefix tree (one collection per level, `max_batch_query_count` the
//! string length), and its heavy hitters compared with those counted from
//! the plaintext (`quickstart_heavy_hitters`).
//!
//! Each phase (setup, upload, aggregation and collection) shows its
//! progress on stderr and ends with a summary line there; stdout keeps the
//! final summary. Ctrl-C stops the run and still drops its databases and
//! removes its temporary folder.

use super::local_deployment::{
    aggregator_yaml, batch_interval, collect_all, measurements, now, store_task, Databases,
    DemoTask, TIME_PRECISION,
};
use super::quickstart_heavy_hitters::{self as hh, format_hitters};
use crate::progress::Step;
use crate::values::format_result;
use anyhow::{bail, Context as _};
use clap::Args;
use dyad_aggregator::config::{AggregatorConfig, LogConfig};
use dyad_client::{AnyVdaf as ClientVdaf, ClientBuilder};
use dyad_collector::{tree_levels, Collection, HeavyHitter, HeavyHitters};
use dyad_core::task::Task;
use dyad_core::vdaf::{AggregateResult, VdafInstance};
use dyad_datastore::{Datastore, DatastoreKeys};
use dyad_messages::draft09::{Duration, Query};
use futures::StreamExt as _;
use std::sync::Arc;
use std::time::Instant;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The default VDAF: a histogram over ten buckets.
const DEFAULT_VDAF: &str = r#"{"type":"Prio3Histogram","length":"10","chunk_length":"3"}"#;

#[derive(Debug, Args)]
pub struct QuickstartArgs {
    /// How many reports to upload.
    #[arg(long, default_value_t = 1000)]
    reports: u64,
    /// The VDAF, as JSON (the interop test API's form). Poplar1
    /// (`{"type":"Poplar1","bits":"16"}`) runs a heavy-hitters round.
    #[arg(long, default_value = DEFAULT_VDAF)]
    vdaf: VdafInstance,
    /// Poplar1 only: the heavy-hitters threshold (default: 4% of the
    /// reports, at least 2).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    threshold: Option<u64>,
    /// How many uploads are in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Keep the temporary folder (its path is printed) instead of deleting it.
    #[arg(long)]
    keep: bool,
    /// A PostgreSQL server (`postgres://USER:PASSWORD@HOST/DB`, a database
    /// the user may connect to and create databases from): each aggregator
    /// gets a fresh database there, dropped at the end. Default: a SQLite
    /// file per aggregator in the temporary folder.
    #[arg(long, value_name = "URL")]
    datastore: Option<String>,
}

pub async fn run(args: QuickstartArgs) -> anyhow::Result<()> {
    if args.reports == 0 {
        bail!("--reports must be at least 1");
    }
    let heavy_hitters = tree_levels(&args.vdaf).is_ok();
    if !args.vdaf.is_prio3() && !heavy_hitters {
        bail!(
            "the quickstart runs Prio3 VDAFs and Poplar1; {} is neither",
            args.vdaf
        );
    }
    if args.threshold.is_some() && !heavy_hitters {
        return Err(crate::hints::with_hint(
            format!("--threshold is for heavy hitters; {} has none", args.vdaf),
            Some(r#"run it with --vdaf '{"type":"Poplar1","bits":"16"}'"#.to_owned()),
        ));
    }
    let started = Instant::now();
    // Warnings and errors from both aggregators go to stderr (RUST_LOG overrides).
    let _ = dyad_aggregator::logging::init_logging(&LogConfig {
        level: "warn".to_owned(),
        ..LogConfig::default()
    });
    let databases = Databases::from_arg(args.datastore.as_deref(), "dyad_quickstart")?;
    let dir = tempfile::Builder::new()
        .prefix("dyad-quickstart-")
        .tempdir()?;
    outln!("dyad quickstart: {} reports of {}", args.reports, args.vdaf)?;
    outln!("working folder: {}", dir.path().display())?;
    let dir_path = dir.path().to_owned();
    let work = async {
        let setup = Step::spinner("setup", "creating the datastores and the task");
        match databases.create(dir.path()).await {
            Ok(urls) => {
                if let Databases::Postgres { names, .. } = &databases {
                    outln!("databases: {} (dropped at the end)", names.join(", "))?;
                }
                run_on(&args, dir, urls, started, setup).await
            }
            Err(error) => {
                setup.abandon();
                Err(error)
            }
        }
    };
    // Ctrl-C stops the work where it is (dropping it closes the temporary
    // folder) and still drops the databases.
    let outcome = tokio::select! {
        outcome = work => outcome,
        _ = tokio::signal::ctrl_c() => Err(interrupted()),
    };
    let interrupted = outcome.as_ref().is_err_and(|e| e.is::<Interrupted>());
    if interrupted {
        // A second Ctrl-C during the cleanup ends the process at once.
        tokio::spawn(async {
            let _ = tokio::signal::ctrl_c().await;
            noteln!("interrupted again: exiting without cleaning up");
            std::process::exit(130);
        });
        noteln!("interrupted: cleaning up");
    }
    let dropped = databases.drop_all().await;
    if interrupted {
        let _ = std::fs::remove_dir_all(&dir_path);
        if let Err(error) = &dropped {
            noteln!("error: {error:#}");
        }
        if let Databases::Postgres { names, .. } = &databases {
            if dropped.is_ok() {
                noteln!("dropped databases {}", names.join(", "));
            }
        }
        noteln!("removed {}", dir_path.display());
    }
    outcome?;
    dropped
}

/// The quickstart was stopped with Ctrl-C.
#[derive(Debug)]
struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted")
    }
}

impl std::error::Error for Interrupted {}

fn interrupted() -> anyhow::Error {
    anyhow::Error::new(Interrupted)
}

/// The quickstart proper, on the two aggregators' datastores.
async fn run_on(
    args: &QuickstartArgs,
    dir: tempfile::TempDir,
    [leader_database, helper_database]: [String; 2],
    started: Instant,
    setup: Step,
) -> anyhow::Result<()> {
    // Two aggregators on free loopback ports.
    let leader_listener = TcpListener::bind("127.0.0.1:0").await?;
    let helper_listener = TcpListener::bind("127.0.0.1:0").await?;
    let leader_url: url::Url = format!("http://{}/", leader_listener.local_addr()?).parse()?;
    let helper_url: url::Url = format!("http://{}/", helper_listener.local_addr()?).parse()?;

    // A demo: this one process plays every party, so it holds every party's
    // keys. Each is still made by its owner's code path: the Collector's
    // keypair as `dyad collector init` makes it, the Leader's task as `task
    // add --generate` does, the Helper's keypair by its own import of the
    // Leader's task file.
    outln!(
        "demo: this process holds the Leader's, the Helper's and the Collector's keys; \
         in a deployment each party makes and keeps its own (docs/CONFIGURING.md)"
    )?;
    let task = DemoTask::provision(&leader_url, &helper_url, args.vdaf, args.reports)?;
    let (leader_task, helper_task) = (&task.leader_task, &task.helper_task);

    // Both aggregators serve HTTP from the start; the Leader's background
    // roles start once every report is in, so that the upload and the
    // aggregation are timed apart.
    let shutdown = CancellationToken::new();
    let leader_ds = open_aggregator("leader", &leader_database, leader_task).await?;
    let helper_ds = open_aggregator("helper", &helper_database, helper_task).await?;
    let leader = spawn_roles(
        aggregator_config(Some(&leader_listener), &leader_database, "aggregator")?,
        leader_ds.clone(),
        Some(leader_listener),
        &shutdown,
    );
    let helper = spawn_roles(
        aggregator_config(Some(&helper_listener), &helper_database, "aggregator")?,
        helper_ds.clone(),
        Some(helper_listener),
        &shutdown,
    );
    let setup_secs = setup.elapsed().as_secs_f64();
    setup.finish(&format!("datastores and task ready in {setup_secs:.1} s"));
    outln!("leader: {leader_url}  helper: {helper_url}")?;

    // Clients: random measurements, uploaded concurrently.
    let (measurements, expected) = match args.vdaf {
        VdafInstance::Poplar1 { bits } => {
            let measurements = hh::skewed_measurements(bits, args.reports, &mut rand::thread_rng());
            let threshold = args
                .threshold
                .unwrap_or_else(|| hh::default_threshold(args.reports));
            let hitters = hh::plaintext_heavy_hitters(&measurements, threshold);
            (measurements, Plaintext::HeavyHitters { threshold, hitters })
        }
        _ => {
            let (measurements, total) = measurements(&args.vdaf, args.reports)?;
            (measurements, Plaintext::Aggregate(total))
        }
    };
    let client = ClientBuilder::new(
        *leader_task.task_id(),
        leader_url.clone(),
        helper_url.clone(),
        Duration::from_seconds(TIME_PRECISION),
    )
    .build(ClientVdaf(args.vdaf))?;
    let first_time = now();
    let upload = Step::counter("upload", args.reports, "reports");
    let upload_started = Instant::now();
    let mut uploads = futures::stream::iter(&measurements)
        .map(|m| client.upload(m))
        .buffer_unordered(args.concurrency.max(1));
    while let Some(outcome) = uploads.next().await {
        outcome.context("uploading a report")?;
        upload.inc(1);
    }
    drop(uploads);
    let upload_secs = upload_started.elapsed().as_secs_f64();
    upload.finish(&format!(
        "{} reports in {upload_secs:.1} s ({:.0} reports/s)",
        args.reports,
        args.reports as f64 / upload_secs.max(f64::EPSILON)
    ));
    let last_time = now();

    // The collector: one batch interval holding every report's timestamp.
    let interval = batch_interval(first_time, last_time)?;
    let collector = task.collector(&leader_url)?;
    let collect_started = Instant::now();
    let leader_jobs = spawn_roles(
        aggregator_config(
            None,
            &leader_database,
            "aggregation-job-creator, aggregation-job-driver, collection-job-driver",
        )?,
        leader_ds.clone(),
        None,
        &shutdown,
    );
    let collected = match &expected {
        Plaintext::Aggregate(_) => {
            let aggregate = Step::counter("aggregate", args.reports, "reports");
            let collected = collect_all(
                &collector,
                interval,
                &leader_ds,
                task.task_id(),
                args.reports,
                &aggregate,
            )
            .await;
            match &collected {
                Ok(_) => aggregate.finish(&format!(
                    "{} reports aggregated and collected in {:.1} s",
                    args.reports,
                    collect_started.elapsed().as_secs_f64()
                )),
                Err(_) => aggregate.abandon(),
            }
            collected.map(Collected::Aggregate)
        }
        Plaintext::HeavyHitters { threshold, .. } => {
            let levels = tree_levels(&args.vdaf)?;
            hh::walk(
                &collector,
                Query::TimeInterval(interval),
                *threshold,
                levels,
            )
            .await
            .map(Collected::HeavyHitters)
            .map_err(anyhow::Error::from)
        }
    }
    .context("collecting");
    let collect_secs = collect_started.elapsed().as_secs_f64();

    shutdown.cancel();
    let (leader_result, jobs_result, helper_result) = tokio::join!(leader, leader_jobs, helper);
    leader_ds.close().await;
    helper_ds.close().await;
    leader_result.context("the Leader stopped")??;
    jobs_result.context("the Leader's jobs stopped")??;
    helper_result.context("the Helper stopped")??;
    let collected = collected?;

    let reports = args.reports as f64;
    outln!()?;
    outln!("reports uploaded:   {}", args.reports)?;
    let (report_count, matches) = match (&collected, &expected) {
        (Collected::Aggregate(collection), Plaintext::Aggregate(total)) => {
            outln!("reports collected:  {}", collection.report_count)?;
            outln!(
                "collected result:   {}",
                format_result(&collection.aggregate_result)
            )?;
            outln!("plaintext total:    {}", format_result(total))?;
            (
                collection.report_count,
                collection.aggregate_result == *total,
            )
        }
        (Collected::HeavyHitters(found), Plaintext::HeavyHitters { threshold, hitters }) => {
            outln!("reports collected:  {}", found.report_count)?;
            outln!("threshold:          {threshold}")?;
            outln!("heavy hitters:      {}", format_hitters(&found.hitters))?;
            outln!("plaintext:          {}", format_hitters(hitters))?;
            (found.report_count, found.hitters == *hitters)
        }
        _ => bail!("the quickstart collected a different kind of result than it computed"),
    };
    outln!(
        "upload:             {upload_secs:.2} s ({:.0} reports/s)",
        reports / upload_secs.max(f64::EPSILON)
    )?;
    outln!(
        "aggregate+collect:  {collect_secs:.2} s ({:.0} reports/s)",
        reports / collect_secs.max(f64::EPSILON)
    )?;
    outln!(
        "total:              {:.2} s",
        started.elapsed().as_secs_f64()
    )?;
    if args.keep {
        let kept = dir.keep();
        outln!("kept {}", kept.display())?;
    }
    let (differs, equal) = match expected {
        Plaintext::Aggregate(_) => (
            "the collected result differs from the plaintext total",
            "the collected result equals the plaintext total",
        ),
        Plaintext::HeavyHitters { .. } => (
            "the heavy hitters found differ from those counted in the plaintext",
            "the heavy hitters found equal those counted in the plaintext",
        ),
    };
    if !matches || report_count != args.reports {
        bail!(differs);
    }
    outln!("OK: {equal}")?;
    Ok(())
}

/// What the quickstart computes from the plaintext measurements.
enum Plaintext {
    /// The aggregate (Prio3).
    Aggregate(AggregateResult),
    /// The strings measured at least `threshold` times (Poplar1).
    HeavyHitters {
        threshold: u64,
        hitters: Vec<HeavyHitter>,
    },
}

/// What the quickstart collected, to compare with its [`Plaintext`].
enum Collected {
    Aggregate(Collection<AggregateResult>),
    HeavyHitters(HeavyHitters),
}

/// Opens `database` (applying migrations) and stores `task` in it.
async fn open_aggregator(
    name: &str,
    database: &str,
    task: &Task,
) -> anyhow::Result<Arc<dyn Datastore>> {
    // A throwaway datastore: its secrets are sealed under a throwaway key.
    store_task(database, &DatastoreKeys::generate(), task)
        .await
        .with_context(|| format!("storing the {name}'s task"))
}

/// The configuration of one process running `roles` (a YAML list's
/// items) on `database`, serving HTTP on `listener`'s address if given.
fn aggregator_config(
    listener: Option<&TcpListener>,
    database: &str,
    roles: &str,
) -> anyhow::Result<AggregatorConfig> {
    let listen = listener.map(TcpListener::local_addr).transpose()?;
    Ok(AggregatorConfig::from_yaml_str(&aggregator_yaml(
        listen, database, roles,
    ))?)
}

/// Runs `config`'s roles on `datastore` until `shutdown`.
fn spawn_roles(
    config: AggregatorConfig,
    datastore: Arc<dyn Datastore>,
    listener: Option<TcpListener>,
    shutdown: &CancellationToken,
) -> tokio::task::JoinHandle<anyhow::Result<()>> {
    let shutdown = shutdown.clone();
    tokio::spawn(dyad_aggregator::runtime::run_with(
        config, datastore, listener, shutdown,
    ))
}
