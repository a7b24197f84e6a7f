//! `dyad bench`: how close a deployment on this machine comes to what its
//! cryptography allows, measured in one run.
//!
//! 1. The crypto limit ([`crypto_limit`]): reports per second through both
//!    aggregators' protocol work in memory on one core, times the cores.
//! 2. A Leader and a Helper, each a `dyad serve` process of its own on its
//!    own datastore (SQLite files, or fresh databases on the PostgreSQL
//!    server `--datastore` names, dropped at the end), with a task
//!    provisioned as `dyad quickstart` does ([`aggregators`]).
//! 3. The loader prepares N reports with the DAP client (sharded, sealed
//!    and encoded, not timed), then uploads them over C bare HTTP/1.1
//!    connections ([`loader`]): upload ingest. The Leader's job creator and
//!    drivers run throughout, as in a deployment.
//! 4. A collection of the whole batch, started after the last upload:
//!    aggregation is the time from the last upload to the collection
//!    ready, end to end from the first upload to the collection ready.
//! 5. Each aggregator process's peak resident memory (and the peaks of
//!    its anonymous and file-backed parts, sampled during the run), then
//!    both stop.
//!
//! Wall time on a shared machine also counts other programs' turns on the
//! cores, so each phase also has the CPU time the Leader, the Helper and
//! the loader used ([`proc_stats`]), and the reports per CPU-second of both
//! aggregators as a share of the crypto limit per CPU-second of the thread
//! that measured it.
//!
//! With `--rounds N`, steps 2 to 5 run N times, each on fresh datastores
//! and processes ([`run_round`]), and the round with the median end-to-end
//! throughput is shown, headed by every round's end to end
//! ([`results::median_round`]): on a shared or virtual machine one run's
//! figures vary by a tenth or more.
//!
//! The collected result must equal the plaintext total, or the run fails.
//! Each phase shows its progress on stderr; the figures go to stdout as a
//! table (or `--format json`, to compare runs across commits) with each
//! throughput as a share of the crypto limit of all cores ([`results`]).

mod aggregators;
mod crypto_limit;
mod loader;
mod proc_stats;
mod results;

use super::local_deployment::{
    batch_interval, collect_all, measurements, now, store_task, Databases, DemoTask, TIME_PRECISION,
};
use crate::output::OutputFormat;
use crate::progress::Step;
use aggregators::{Aggregator, Part};
use anyhow::{bail, Context as _};
use clap::Args;
use dyad_client::{AnyVdaf as ClientVdaf, ClientBuilder};
use dyad_core::vdaf::VdafInstance;
use dyad_datastore::DatastoreKeys;
use dyad_messages::draft09::Duration;
use dyad_messages::Encode as _;
use proc_stats::{cpu_secs_of, machine_cpu_secs, MemoryWatch};
use results::{
    BenchResults, CpuReading, CpuSecs, CryptoLimitFigures, Latency, PeakRss, PeakRssSplit, Phase,
    Rounds, RssSplit,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// How often the bench's Collector asks whether the collection is ready.
const POLL_EVERY: std::time::Duration = std::time::Duration::from_millis(10);

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// How many reports to upload and aggregate.
    #[arg(long, default_value_t = 10_000)]
    reports: u64,
    /// The VDAF, as JSON (the interop test API's form); a Prio3 VDAF.
    #[arg(long, default_value = r#"{"type":"Prio3Count"}"#)]
    vdaf: VdafInstance,
    /// How many uploads are in flight at once (each on its own connection).
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// How many reports the in-memory crypto limit is measured on.
    #[arg(long, default_value_t = 2_000)]
    crypto_reports: u64,
    /// A PostgreSQL server (`postgres://USER:PASSWORD@HOST/DB`, a user that
    /// may create databases): each aggregator gets a fresh database there,
    /// dropped at the end. Default: a SQLite file per aggregator.
    #[arg(long, value_name = "URL")]
    datastore: Option<String>,
    /// How many times to start the aggregators, upload and collect (fresh
    /// aggregators and datastores each time, one crypto-limit measurement
    /// for all); the figures shown are those of the round with the median
    /// end-to-end throughput, beside every round's end to end. On a shared
    /// or virtual machine one run's figures vary.
    #[arg(long, default_value_t = 1)]
    rounds: u32,
    /// Keep the temporary folders (configs and the aggregators' logs).
    #[arg(long)]
    keep: bool,
    /// How to print the figures.
    #[arg(long, value_enum, default_value_t)]
    format: OutputFormat,
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.reports == 0 || args.crypto_reports == 0 {
        bail!("--reports and --crypto-reports must be at least 1");
    }
    if args.connections == 0 {
        bail!("--connections must be at least 1");
    }
    if args.rounds == 0 {
        bail!("--rounds must be at least 1");
    }
    if !args.vdaf.is_prio3() {
        bail!(
            "the bench runs Prio3 VDAFs; {} needs an aggregation parameter",
            args.vdaf
        );
    }
    // No log subscriber here: the aggregators' logs go to their files, and
    // stdout carries only the figures (`--format json` must parse). The
    // `--datastore` value is checked before anything is measured.
    Databases::from_arg(args.datastore.as_deref(), "dyad_bench")?;

    // 1. The crypto limit, before any process competes for the cores.
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let step = Step::counter("crypto", args.crypto_reports, "reports");
    let limit = {
        let (vdaf, n) = (args.vdaf, args.crypto_reports);
        let counter = Arc::new(AtomicU64::new(0));
        let seen = counter.clone();
        let measuring = tokio::task::spawn_blocking(move || {
            crypto_limit::measure(vdaf, n, |done| {
                seen.fetch_add(done, Ordering::Relaxed);
            })
        });
        follow(&step, &counter, measuring)
            .await
            .context("the crypto limit's thread")??
    };
    let cpu_shown = limit.per_cpu_sec().map_or_else(String::new, |per_cpu_sec| {
        format!(", {per_cpu_sec:.0} per CPU-second")
    });
    step.finish(&format!(
        "{:.0} reports/s on one core{cpu_shown} ({} reports in memory)",
        limit.per_core, limit.reports
    ));

    let mut rounds = Vec::new();
    for round in 1..=args.rounds {
        if args.rounds > 1 {
            noteln!("round {round} of {}", args.rounds);
        }
        let results = run_round(&args, &limit, cores).await?;
        if !results.result_matches {
            out!("{}", results.render(args.format)?)?;
            bail!("the collected result differs from the plaintext total");
        }
        rounds.push(results);
    }
    let results = results::median_round(rounds);
    out!("{}", results.render(args.format)?)?;
    Ok(())
}

/// Steps 2 to 5 once, on fresh datastores (and a temporary folder of
/// their own), dropped at the end.
async fn run_round(
    args: &BenchArgs,
    limit: &crypto_limit::CryptoLimit,
    cores: usize,
) -> anyhow::Result<BenchResults> {
    let databases = Databases::from_arg(args.datastore.as_deref(), "dyad_bench")?;
    let dir = tempfile::Builder::new().prefix("dyad-bench-").tempdir()?;
    let work = async {
        let urls = databases.create(dir.path()).await?;
        run_deployment(args, dir.path(), urls, *limit, cores, databases.name()).await
    };
    let outcome = tokio::select! {
        outcome = work => outcome,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    let dropped = databases.drop_all().await;
    if args.keep {
        let kept = dir.keep();
        noteln!("kept {}", kept.display());
    }
    let results = outcome?;
    dropped?;
    Ok(results)
}

/// Waits for `task`, showing on `step` the count in `done` as it grows.
async fn follow<T>(
    step: &Step,
    done: &AtomicU64,
    task: tokio::task::JoinHandle<T>,
) -> Result<T, tokio::task::JoinError> {
    tokio::pin!(task);
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(100));
    loop {
        tokio::select! {
            finished = &mut task => return finished,
            _ = tick.tick() => step.set_position(done.load(Ordering::Relaxed)),
        }
    }
}

/// Steps 2 to 5, on the two aggregators' datastores.
async fn run_deployment(
    args: &BenchArgs,
    dir: &std::path::Path,
    [leader_database, helper_database]: [String; 2],
    limit: crypto_limit::CryptoLimit,
    cores: usize,
    datastore_name: &'static str,
) -> anyhow::Result<BenchResults> {
    let setup = Step::spinner("setup", "provisioning the task, starting the aggregators");
    let leader_port = aggregators::free_port()?;
    let helper_port = aggregators::free_port()?;
    let leader_url: url::Url = format!("http://127.0.0.1:{leader_port}/").parse()?;
    let helper_url: url::Url = format!("http://127.0.0.1:{helper_port}/").parse()?;
    // As in `dyad quickstart`: each party's keys made by its owner's code
    // path, all held by this one process for the run.
    let task = DemoTask::provision(&leader_url, &helper_url, args.vdaf, args.reports)?;
    let task_id = task.task_id();
    let keys_encoded = DatastoreKeys::generate_encoded();
    let keys = DatastoreKeys::from_encoded(&[&keys_encoded])?;
    let leader_ds = store_task(&leader_database, &keys, &task.leader_task)
        .await
        .context("the Leader's datastore")?;
    let helper_ds = store_task(&helper_database, &keys, &task.helper_task)
        .await
        .context("the Helper's datastore")?;
    helper_ds.close().await;
    let started = async {
        let helper = Aggregator::start(
            Part::Helper,
            dir,
            helper_port,
            &helper_database,
            &keys_encoded,
        )
        .await?;
        let leader = Aggregator::start(
            Part::Leader,
            dir,
            leader_port,
            &leader_database,
            &keys_encoded,
        )
        .await?;
        anyhow::Ok((leader, helper))
    }
    .await;
    let (mut leader, mut helper) = match started {
        Ok(both) => both,
        Err(error) => {
            setup.abandon();
            return Err(error);
        }
    };
    setup.finish(&format!("leader {leader_url}, helper {helper_url}"));
    let memory = MemoryWatch::start(vec![leader.pid(), helper.pid()]);
    let pids = (leader.pid(), helper.pid());
    let cpu_now = move || CpuReading {
        processes: CpuSecs {
            leader: cpu_secs_of(pids.0),
            helper: cpu_secs_of(pids.1),
            loader: cpu_secs_of(std::process::id()),
            ..CpuSecs::default()
        },
        machine: machine_cpu_secs(),
    };
    let limit_per_cpu_sec = limit.per_cpu_sec();

    // 3. The loader: reports prepared (and encoded) first, then uploaded.
    let client = ClientBuilder::new(
        task_id,
        leader_url.clone(),
        helper_url.clone(),
        Duration::from_seconds(TIME_PRECISION),
    )
    .build(ClientVdaf(args.vdaf))?;
    let (measurements, expected) = measurements(&args.vdaf, args.reports)?;
    let first_time = now();
    let prepare = Step::counter("prepare", args.reports, "reports");
    let mut reports = Vec::with_capacity(measurements.len());
    for measurement in &measurements {
        let report = client.prepare_report(measurement, now()).await?;
        reports.push(hyper::body::Bytes::from(report.get_encoded()?));
        prepare.inc(1);
    }
    prepare.finish(&format!("{} reports sharded and sealed", args.reports));

    let upload = Step::counter("upload", args.reports, "reports");
    let upload_started = Instant::now();
    let cpu_at_start = cpu_now();
    // The uploads run as a task of the runtime: polled from this thread,
    // which is not one of the runtime's workers, every answer woke it from
    // another thread and every request it sent woke a worker back.
    let answered = Arc::new(AtomicU64::new(0));
    let uploading = tokio::spawn(loader::upload_all(
        loader::Target::new(&leader_url, &task_id)?,
        Arc::new(reports),
        args.connections,
        answered.clone(),
    ));
    let latencies = follow(&upload, &answered, uploading)
        .await
        .context("the loader's task")??;
    upload.set_position(args.reports);
    let upload_latency_ms = Latency::of(latencies);
    let upload_secs = upload_started.elapsed().as_secs_f64();
    let cpu_at_last_upload = cpu_now();
    let all_cores = limit.per_core * cores as f64;
    let upload_phase = Phase::of(
        args.reports,
        upload_secs,
        all_cores,
        cpu_at_start.until(cpu_at_last_upload),
        limit_per_cpu_sec,
    );
    upload.finish(&format!(
        "{} reports in {upload_secs:.2} s ({:.0} reports/s, {:.1} % of the crypto limit x cores)",
        args.reports,
        upload_phase.reports_per_sec,
        upload_phase.ratio_of_limit * 100.0
    ));
    leader.check_running()?;
    helper.check_running()?;

    // 4. The collection of every report.
    let interval = batch_interval(first_time, now())?;
    // Polled every 10 ms: the figure is when the collection is ready, not
    // when a backing-off collector would next have asked.
    let collector = task.collector_polling_every(&leader_url, POLL_EVERY)?;
    let aggregate = Step::counter("aggregate", args.reports, "reports");
    let aggregate_started = Instant::now();
    let collected = collect_all(
        &collector,
        interval,
        &leader_ds,
        task_id,
        args.reports,
        &aggregate,
    )
    .await
    .context("collecting");
    let aggregation_secs = aggregate_started.elapsed().as_secs_f64();
    let cpu_at_collection = cpu_now();
    let collection = match collected {
        Ok(collection) => {
            aggregate.finish(&format!(
                "collection ready {aggregation_secs:.2} s after the last upload"
            ));
            collection
        }
        Err(error) => {
            aggregate.abandon();
            return Err(error);
        }
    };

    // 5. Memory, then stop.
    let peaks = memory.peaks();
    drop(memory);
    let peak_rss_bytes = PeakRss {
        leader: peaks[0].map(|m| m.peak_rss),
        helper: peaks[1].map(|m| m.peak_rss),
    };
    let split = |peak: Option<proc_stats::Memory>| {
        peak.map(|m| RssSplit {
            anon: m.rss_anon,
            file: m.rss_file,
        })
    };
    let peak_rss_split_bytes = PeakRssSplit {
        leader: split(peaks[0]),
        helper: split(peaks[1]),
    };
    leader_ds.close().await;
    tokio::join!(leader.stop(), helper.stop());
    let end_to_end = Phase::of(
        args.reports,
        upload_secs + aggregation_secs,
        all_cores,
        cpu_at_start.until(cpu_at_collection),
        limit_per_cpu_sec,
    );

    Ok(BenchResults {
        vdaf: args.vdaf.to_string(),
        datastore: datastore_name,
        reports: args.reports,
        connections: args.connections,
        cores,
        crypto_limit: CryptoLimitFigures {
            reports: limit.reports,
            secs: limit.secs,
            per_core_reports_per_sec: limit.per_core,
            all_cores_reports_per_sec: all_cores,
            cpu_secs: limit.cpu_secs,
            reports_per_cpu_sec: limit_per_cpu_sec,
        },
        upload: upload_phase,
        upload_latency_ms,
        aggregation: Phase::of(
            args.reports,
            aggregation_secs,
            all_cores,
            cpu_at_last_upload.until(cpu_at_collection),
            limit_per_cpu_sec,
        ),
        rounds: Rounds::only(end_to_end.ratio_of_limit),
        end_to_end,
        peak_rss_bytes,
        peak_rss_split_bytes,
        result_matches: collection.aggregate_result == expected
            && collection.report_count == args.reports,
    })
}
