//! `dyad quickstart`: a whole DAP deployment in one process. Starts a Leader
//! and a Helper on free loopback ports, each with its own SQLite file in a
//! fresh temporary folder, provisions a task, uploads N reports of random
//! measurements, lets the aggregators aggregate, collects, and prints the
//! result beside the total computed from the plaintext measurements. Exits
//! with success only when the two are equal.

use crate::provision::{provision, TaskParameters};
use crate::values::format_result;
use anyhow::{bail, Context as _};
use clap::Args;
use dyad_aggregator::config::{AggregatorConfig, LogConfig};
use dyad_client::{AnyVdaf as ClientVdaf, ClientBuilder};
use dyad_collector::{AnyVdaf as CollectorVdaf, CollectorBuilder};
use dyad_core::clock::RealClock;
use dyad_core::task::{BatchMode, Task};
use dyad_core::vdaf::{plaintext_aggregate, random_measurement, AggregationParam, VdafInstance};
use dyad_datastore::{Datastore, DatastoreExt, DatastoreKeys, DatastoreOptions};
use dyad_messages::draft09::{Duration, Interval, Query, Time};
use futures::StreamExt as _;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The default VDAF: a histogram over ten buckets.
const DEFAULT_VDAF: &str = r#"{"type":"Prio3Histogram","length":"10","chunk_length":"3"}"#;
/// Report timestamps are rounded down to this (seconds).
const TIME_PRECISION: u64 = 3600;

#[derive(Debug, Args)]
pub struct QuickstartArgs {
    /// How many reports to upload.
    #[arg(long, default_value_t = 1000)]
    reports: u64,
    /// The VDAF, as JSON (the interop test API's form).
    #[arg(long, default_value = DEFAULT_VDAF)]
    vdaf: VdafInstance,
    /// How many uploads are in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Keep the temporary folder (its path is printed) instead of deleting it.
    #[arg(long)]
    keep: bool,
}

pub async fn run(args: QuickstartArgs) -> anyhow::Result<()> {
    if args.reports == 0 {
        bail!("--reports must be at least 1");
    }
    if !args.vdaf.is_prio3() {
        bail!(
            "the quickstart runs Prio3 VDAFs; {} needs an aggregation parameter",
            args.vdaf
        );
    }
    let started = Instant::now();
    // Warnings and errors from both aggregators go to stderr (RUST_LOG overrides).
    let _ = dyad_aggregator::logging::init_logging(&LogConfig {
        level: "warn".to_owned(),
        ..LogConfig::default()
    });
    let dir = tempfile::Builder::new()
        .prefix("dyad-quickstart-")
        .tempdir()?;
    println!("dyad quickstart: {} reports of {}", args.reports, args.vdaf);
    println!("working folder: {}", dir.path().display());

    // Two aggregators on free loopback ports.
    let leader_listener = TcpListener::bind("127.0.0.1:0").await?;
    let helper_listener = TcpListener::bind("127.0.0.1:0").await?;
    let leader_url: url::Url = format!("http://{}/", leader_listener.local_addr()?).parse()?;
    let helper_url: url::Url = format!("http://{}/", helper_listener.local_addr()?).parse()?;

    let provisioned = provision(&TaskParameters {
        leader: leader_url.clone(),
        helper: helper_url.clone(),
        vdaf: args.vdaf,
        batch_mode: BatchMode::TimeInterval,
        // Every report must be in the batch, so that the result can be
        // compared with the plaintext total.
        min_batch_size: args.reports,
        time_precision: Duration::from_seconds(TIME_PRECISION),
        max_batch_query_count: 1,
        task_expiration: None,
        report_expiry_age: None,
        tolerable_clock_skew: None,
    })?;

    let shutdown = CancellationToken::new();
    let leader = start_aggregator(
        "leader",
        dir.path(),
        leader_listener,
        &provisioned.leader_task,
        &shutdown,
    )
    .await?;
    let helper = start_aggregator(
        "helper",
        dir.path(),
        helper_listener,
        &provisioned.helper_task,
        &shutdown,
    )
    .await?;
    println!("leader: {leader_url}  helper: {helper_url}");

    // Clients: random measurements, uploaded concurrently.
    let mut rng = rand::thread_rng();
    let measurements: Vec<_> = (0..args.reports)
        .map(|_| random_measurement(&args.vdaf, &mut rng))
        .collect();
    let expected = plaintext_aggregate(&args.vdaf, &AggregationParam::Empty, &measurements)?;
    let client = ClientBuilder::new(
        *provisioned.leader_task.task_id(),
        leader_url.clone(),
        helper_url.clone(),
        Duration::from_seconds(TIME_PRECISION),
    )
    .build(ClientVdaf(args.vdaf))?;
    let first_time = now();
    let bar = ProgressBar::new(args.reports).with_style(
        ProgressStyle::with_template(
            "upload    {bar:40} {pos}/{len} reports  {per_sec}  {elapsed}",
        )
        .expect("a valid progress template"),
    );
    let upload_started = Instant::now();
    let mut uploads = futures::stream::iter(&measurements)
        .map(|m| client.upload(m))
        .buffer_unordered(args.concurrency.max(1));
    while let Some(outcome) = uploads.next().await {
        outcome.context("uploading a report")?;
        bar.inc(1);
    }
    drop(uploads);
    bar.finish();
    let upload_secs = upload_started.elapsed().as_secs_f64();
    let last_time = now();

    // The collector: one batch interval holding every report's timestamp.
    let start = first_time.to_batch_interval_start(Duration::from_seconds(TIME_PRECISION));
    let end = last_time.to_batch_interval_start(Duration::from_seconds(TIME_PRECISION));
    let interval = Interval::new(
        start,
        Duration::from_seconds(
            end.as_seconds_since_epoch() - start.as_seconds_since_epoch() + TIME_PRECISION,
        ),
    )?;
    let collector = CollectorBuilder::new(
        *provisioned.leader_task.task_id(),
        leader_url.clone(),
        provisioned.collector.token()?,
        provisioned.collector.keypair()?,
    )
    .build(CollectorVdaf(args.vdaf))?;
    let spinner = ProgressBar::new_spinner().with_message("aggregating and collecting");
    spinner.enable_steady_tick(std::time::Duration::from_millis(100));
    let collect_started = Instant::now();
    let collected = collector
        .collect(Query::TimeInterval(interval), &AggregationParam::Empty)
        .await
        .context("collecting");
    spinner.finish_and_clear();
    let collect_secs = collect_started.elapsed().as_secs_f64();

    shutdown.cancel();
    let (leader_result, helper_result) = tokio::join!(leader, helper);
    leader_result.context("the Leader stopped")??;
    helper_result.context("the Helper stopped")??;
    let collection = collected?;

    let reports = args.reports as f64;
    println!();
    println!("reports uploaded:   {}", args.reports);
    println!("reports collected:  {}", collection.report_count);
    println!(
        "collected result:   {}",
        format_result(&collection.aggregate_result)
    );
    println!("plaintext total:    {}", format_result(&expected));
    println!(
        "upload:             {upload_secs:.2} s ({:.0} reports/s)",
        reports / upload_secs.max(f64::EPSILON)
    );
    println!(
        "aggregate+collect:  {collect_secs:.2} s ({:.0} reports/s)",
        reports / collect_secs.max(f64::EPSILON)
    );
    println!(
        "total:              {:.2} s",
        started.elapsed().as_secs_f64()
    );
    if args.keep {
        let kept = dir.keep();
        println!("kept {}", kept.display());
    }
    if collection.aggregate_result != expected || collection.report_count != args.reports {
        bail!("the collected result differs from the plaintext total");
    }
    println!("OK: the collected result equals the plaintext total");
    Ok(())
}

fn now() -> Time {
    dyad_core::clock::Clock::now(&RealClock)
}

/// Opens `NAME.sqlite` in `dir`, stores `task`, and runs every role of one
/// aggregator on `listener` until `shutdown`.
async fn start_aggregator(
    name: &str,
    dir: &Path,
    listener: TcpListener,
    task: &Task,
    shutdown: &CancellationToken,
) -> anyhow::Result<tokio::task::JoinHandle<anyhow::Result<()>>> {
    let database = format!("sqlite://{}", dir.join(format!("{name}.sqlite")).display());
    let address = listener.local_addr()?;
    let config = AggregatorConfig::from_yaml_str(&format!(
        "listen_address: \"{address}\"\n\
         datastore: \"{database}\"\n\
         roles: [aggregator, aggregation-job-creator, aggregation-job-driver, collection-job-driver]\n\
         log: {{ level: warn }}\n\
         collection_retry_after_secs: 1\n\
         aggregation_job_creator: {{ interval_ms: 200 }}\n\
         aggregation_job_driver: {{ interval_ms: 200 }}\n\
         collection_job_driver: {{ interval_ms: 200 }}\n"
    ))?;
    // A throwaway datastore: its secrets are sealed under a throwaway key.
    let options = DatastoreOptions::new(DatastoreKeys::generate());
    let datastore: Arc<dyn Datastore> =
        dyad_aggregator::runtime::open_datastore(&database, Arc::new(RealClock), &options).await?;
    let task = task.clone();
    datastore
        .run_tx("quickstart_put_task", move |tx| {
            let task = task.clone();
            Box::pin(async move { Ok(tx.put_task(&task).await?) })
        })
        .await
        .with_context(|| format!("storing the {name}'s task"))?;
    let shutdown = shutdown.clone();
    Ok(tokio::spawn(async move {
        let result =
            dyad_aggregator::runtime::run_with(config, datastore.clone(), Some(listener), shutdown)
                .await;
        datastore.close().await;
        result
    }))
}
