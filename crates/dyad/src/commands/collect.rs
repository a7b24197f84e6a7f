//! `dyad collect`: a DAP collector on the command line. Creates a collection
//! job at the Leader, polls it until it is finished (showing progress, up to
//! `--timeout`), opens both aggregate shares and prints the aggregate result
//! as a table, JSON or CSV (DAP-09 section 4.6).
//!
//! The task's parameters and the collector's token come from the collector
//! task file (`--credentials`), the HPKE keypair from the collector's key
//! file (`--hpke-key`), so that no secret has to appear on a command line;
//! flags remain for each value, and clap lets each come from one place only.
//!
//! A task with a differential-privacy strategy (from the task file, or
//! `--dp-strategy`) is collected as a [`NoisedVdaf`]: the result is the
//! noisy total, read with negative entries allowed, and the output says
//! that it is noisy, with the strategy and its epsilon.
//!
//! For a taskprov task, `--taskprov FILE` (the task config the task's author
//! gave) replaces the task's parameters; the token and key stay the
//! collector's own, and every request advertises the config to the Leader.

use super::args::{CaCertArgs, CollectorKeySourceArgs, QueryArgs, TokenArgs};
use super::collect_output::{render, CollectedBatch, CollectionView, ResultView};
use crate::hints::{collector_error, with_hint};
use crate::output::{rfc3339, OutputFormat};
use crate::progress::Step;
use crate::task_config_file::read_task_config;
use crate::task_files::{read_yaml, CollectorTaskFile};
use anyhow::{bail, Context as _};
use clap::Args;
use dyad_collector::{
    AnyVdaf, Collection, Collector, CollectorBuilder, CollectorError, CollectorVdaf, NoisedVdaf,
};
use dyad_core::retry::RetryPolicy;
use dyad_core::task::{AuthenticationToken, BatchMode};
use dyad_core::task_config::{task_id_of, vdaf_instance_of};
use dyad_core::vdaf::{AggregationParam, DpStrategy, VdafInstance};
use dyad_messages::draft09::{Duration as DapDuration, PartialBatchSelector, Query, TaskId};
use dyad_messages::taskprov::{QueryTypeConfig, TaskConfig};
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

#[derive(Debug, Args)]
pub struct CollectArgs {
    /// The collector task file (`collector-task.yaml`, from the Leader's
    /// operator): task ID, Leader, VDAF, batch mode, time precision, minimum
    /// batch size and the collector's token.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["task_id", "leader", "vdaf", "dap_auth_token", "bearer_token", "min_batch_size", "dp_strategy", "taskprov"]
    )]
    credentials: Option<PathBuf>,
    /// A taskprov task config (`dyad task taskprov-config` writes one): task
    /// ID, Leader, VDAF, batch mode, time precision and minimum batch size
    /// come from it; give the collector's token with --bearer-token or
    /// --dap-auth-token.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["task_id", "leader", "vdaf", "min_batch_size", "dp_strategy"]
    )]
    taskprov: Option<PathBuf>,
    /// taskprov only: while the Leader answers that it does not know the
    /// task (it provisions it with the first report), retry creating the
    /// collection for up to this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 0, requires = "taskprov")]
    wait_for_task: u64,
    /// The task ID, base64url (instead of --credentials).
    #[arg(
        long,
        required_unless_present_any = ["credentials", "taskprov"],
        allow_hyphen_values = true
    )]
    task_id: Option<TaskId>,
    /// The Leader's DAP base URL (instead of --credentials).
    #[arg(long, required_unless_present_any = ["credentials", "taskprov"])]
    leader: Option<Url>,
    /// The task's VDAF as JSON, e.g. '{"type":"Prio3Sum","bits":"8"}'
    /// (instead of --credentials).
    #[arg(long, required_unless_present_any = ["credentials", "taskprov"])]
    vdaf: Option<VdafInstance>,
    /// The task's differential-privacy strategy, e.g.
    /// `PureDpDiscreteLaplace:1/2` (instead of --credentials): the result
    /// is then read as a noisy total, negative entries allowed.
    #[arg(long, value_name = "STRATEGY")]
    dp_strategy: Option<DpStrategy>,
    /// The collector's token for the Leader (instead of --credentials).
    #[command(flatten)]
    token: TokenArgs,
    /// The task's minimum batch size, for the hint when a collection stays
    /// pending (instead of --credentials).
    #[arg(long, value_name = "N")]
    min_batch_size: Option<u64>,
    #[command(flatten)]
    key: CollectorKeySourceArgs,
    #[command(flatten)]
    query: QueryArgs,
    #[command(flatten)]
    ca: CaCertArgs,
    /// Give up waiting for the collection after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    timeout: u64,
    /// How to print the result.
    #[arg(long, value_enum, default_value_t)]
    format: OutputFormat,
}

/// What the collection needs to know about the task, from the credentials
/// file or the flags.
pub(crate) struct TaskView {
    task_id: TaskId,
    leader: Url,
    pub(crate) vdaf: VdafInstance,
    /// `None`: not known (flags without --dp-strategy).
    pub(crate) dp_strategy: Option<DpStrategy>,
    token: AuthenticationToken,
    pub(crate) min_batch_size: Option<u64>,
    batch_mode: Option<BatchMode>,
    time_precision: Option<DapDuration>,
    /// The taskprov config the task comes from, if it does.
    task_config: Option<TaskConfig>,
}

impl TaskView {
    pub(crate) fn from_args(args: &CollectArgs) -> anyhow::Result<Self> {
        if let Some(path) = &args.taskprov {
            let config = read_task_config(path)?;
            // An expired task can still be collected: only its config's
            // VDAF and query type must be ones dyad runs.
            let vdaf = vdaf_instance_of(&config.vdaf_config)
                .with_context(|| format!("cannot collect the task of {}", path.display()))?;
            let batch_mode = match config.query_config.query {
                QueryTypeConfig::TimeInterval => BatchMode::TimeInterval,
                QueryTypeConfig::FixedSize { .. } => BatchMode::FixedSize {
                    max_batch_size: config.query_config.query.max_batch_size().map(u64::from),
                },
                QueryTypeConfig::Other { code, .. } => {
                    bail!(
                        "{} names query type {code}, which dyad does not support",
                        path.display()
                    )
                }
            };
            let leader = config.leader_aggregator_endpoint.as_str();
            return Ok(Self {
                task_id: task_id_of(&config)?,
                leader: Url::parse(leader).with_context(|| format!("Leader endpoint {leader}"))?,
                vdaf,
                // taskprov-06 section 3 defines no DP mechanism but `none`:
                // a taskprov task is never noised.
                dp_strategy: Some(DpStrategy::NoDifferentialPrivacy),
                token: args.token.token()?.ok_or_else(|| {
                    anyhow::anyhow!(
                        "give the collector's token (--bearer-token or --dap-auth-token) with --taskprov"
                    )
                })?,
                min_batch_size: Some(u64::from(config.query_config.min_batch_size)),
                batch_mode: Some(batch_mode),
                time_precision: Some(config.query_config.time_precision),
                task_config: Some(config),
            });
        }
        if let Some(path) = &args.credentials {
            let file: CollectorTaskFile = read_yaml(path, "collector task file")?;
            let token = AuthenticationToken::new_bearer(file.collector_bearer_token.clone())
                .with_context(|| format!("collector_bearer_token in {}", path.display()))?;
            return Ok(Self {
                task_id: file.task_id,
                leader: file.leader,
                vdaf: file.vdaf,
                dp_strategy: Some(file.dp_strategy),
                token,
                min_batch_size: Some(file.min_batch_size),
                batch_mode: Some(file.batch_mode),
                time_precision: Some(file.time_precision),
                task_config: None,
            });
        }
        let missing = |what: &str| anyhow::anyhow!("give {what}, or --credentials FILE");
        Ok(Self {
            task_id: args.task_id.ok_or_else(|| missing("--task-id"))?,
            leader: args.leader.clone().ok_or_else(|| missing("--leader"))?,
            vdaf: args.vdaf.ok_or_else(|| missing("--vdaf"))?,
            dp_strategy: args.dp_strategy.clone(),
            token: args.token.token()?.ok_or_else(|| {
                missing("the collector's token (--bearer-token or --dap-auth-token)")
            })?,
            min_batch_size: args.min_batch_size,
            batch_mode: None,
            time_precision: None,
            task_config: None,
        })
    }

    /// Refuses a query the task cannot answer, before asking the Leader.
    pub(crate) fn check_query(&self, query: &Query) -> anyhow::Result<()> {
        match (self.batch_mode, query) {
            (Some(BatchMode::TimeInterval), Query::FixedSize(_)) => bail!(
                "the task's batch mode is time_interval: give --batch-interval-start and --batch-interval-duration, not a batch ID"
            ),
            (Some(BatchMode::FixedSize { .. }), Query::TimeInterval(_)) => bail!(
                "the task's batch mode is fixed_size: give --batch-id or --current-batch, not an interval"
            ),
            _ => {}
        }
        if let (Some(precision), Query::TimeInterval(interval)) = (self.time_precision, query) {
            let p = precision.as_seconds().max(1);
            let start = interval.start().as_seconds_since_epoch();
            let duration = interval.duration().as_seconds();
            if start % p != 0 || duration % p != 0 || duration == 0 {
                let aligned = interval.start().to_batch_interval_start(precision);
                return Err(with_hint(
                    format!(
                        "the batch interval must start and last a multiple of the task's time precision ({p} s)"
                    ),
                    Some(format!(
                        "e.g. --batch-interval-start {} --batch-interval-duration {p}",
                        rfc3339(aligned)
                    )),
                ));
            }
        }
        Ok(())
    }
}

/// The task, the query (checked against the task, with a warning for an
/// interval still open) and the collector, as `collect` and
/// `heavy-hitters` start.
pub(crate) fn prepare(args: &CollectArgs) -> anyhow::Result<(TaskView, Query, Collector<AnyVdaf>)> {
    let (task, query, builder) = prepare_builder(args)?;
    let collector = builder
        .build(AnyVdaf(task.vdaf))
        .context("building the collector")?;
    Ok((task, query, collector))
}

/// [`prepare`] up to the collector's VDAF.
fn prepare_builder(args: &CollectArgs) -> anyhow::Result<(TaskView, Query, CollectorBuilder)> {
    let task = TaskView::from_args(args)?;
    let keypair = args.key.keypair()?;
    let query = args.query.query()?;
    task.check_query(&query)?;
    if let Query::TimeInterval(interval) = &query {
        let now = dyad_client::system_time();
        if interval.end() > now {
            noteln!(
                "warning: the batch interval ends at {}, in the future: reports may still arrive after this collection, and the batch cannot be collected again",
                rfc3339(interval.end())
            );
        }
    }

    let timeout = Duration::from_secs(args.timeout);
    let mut builder = match &task.task_config {
        Some(config) => CollectorBuilder::from_task_config(config, task.token.clone(), keypair)?
            .wait_for_unrecognized_task(Duration::from_secs(args.wait_for_task)),
        None => CollectorBuilder::new(
            task.task_id,
            task.leader.clone(),
            task.token.clone(),
            keypair,
        ),
    };
    for certificate in args.ca.certificates()? {
        builder = builder.extra_root_certificate(certificate);
    }
    let builder = builder.poll_policy(
        RetryPolicy::new(
            CollectorBuilder::DEFAULT_POLL_INITIAL_DELAY,
            CollectorBuilder::DEFAULT_POLL_MAX_DELAY,
        )
        .with_jitter(0.25)
        .with_max_elapsed(timeout),
    );
    Ok((task, query, builder))
}

/// How `--format` is asked for, for the commands that share these flags.
pub(crate) fn format(args: &CollectArgs) -> OutputFormat {
    args.format
}

pub async fn run(args: CollectArgs) -> anyhow::Result<()> {
    let (task, query, builder) = prepare_builder(&args)?;
    // A VDAF whose parameter the Collector chooses per level (Poplar1) has
    // no one collection: its batch is walked level by level.
    if task.vdaf.fixed_aggregation_parameter().is_none() {
        return Err(with_hint(
            format!(
                "{} tasks are collected one prefix-tree level at a time, each with its own \
                 aggregation parameter",
                task.vdaf.type_name()
            ),
            Some("run `dyad heavy-hitters --threshold N` with the same flags".to_owned()),
        ));
    }
    let noise = task
        .dp_strategy
        .clone()
        .filter(|strategy| !strategy.is_none());
    let Some(dp_strategy) = noise else {
        let collector = builder
            .build(AnyVdaf(task.vdaf))
            .context("building the collector")?;
        let (batch, collection) = collect(&collector, &task, query).await?;
        return print(
            &batch,
            &collection,
            ResultView::Exact(&collection.aggregate_result),
            &args,
        );
    };
    let vdaf = NoisedVdaf::new(task.vdaf, dp_strategy.clone())
        .map_err(|error| anyhow::anyhow!("the task's dp_strategy: {error}"))?;
    let collector = builder.build(vdaf).context("building the collector")?;
    let (batch, collection) = collect(&collector, &task, query).await?;
    let result = ResultView::Noisy {
        result: &collection.aggregate_result,
        dp_strategy: &dp_strategy,
        vdaf: &task.vdaf,
    };
    print(&batch, &collection, result, &args)
}

/// Prints a finished collection.
fn print<T>(
    batch: &CollectedBatch,
    collection: &Collection<T>,
    result: ResultView<'_>,
    args: &CollectArgs,
) -> anyhow::Result<()> {
    out!(
        "{}",
        render(
            &CollectionView {
                batch: *batch,
                report_count: collection.report_count,
                report_times: collection.interval,
                result,
            },
            args.format,
        )
    )?;
    Ok(())
}

/// Creates the collection job and polls it to the end, with progress.
async fn collect<V>(
    collector: &Collector<V>,
    task: &TaskView,
    query: Query,
) -> anyhow::Result<(CollectedBatch, Collection<V::AggregateResult>)>
where
    V: CollectorVdaf<AggregationParam = AggregationParam>,
{
    let job = collector
        .start_collection(query, &AggregationParam::Empty)
        .await
        .map_err(collector_error)?;
    let step = Step::spinner("collect", "waiting for the Leader");
    let polled = collector
        .poll_until_complete_with(&job, |progress| {
            step.set_message(format!(
                "waiting for the Leader ({} poll{}, next in {:.1} s)",
                progress.polls,
                if progress.polls == 1 { "" } else { "s" },
                progress.next_delay.as_secs_f64()
            ))
        })
        .await;
    let collection = match polled {
        Ok(collection) => {
            if step.is_live() {
                step.abandon();
            } else {
                let secs = step.elapsed().as_secs_f64();
                step.finish(&format!("done in {secs:.1} s"));
            }
            collection
        }
        Err(CollectorError::Timeout { job_id, waited }) => {
            step.abandon();
            // The job would otherwise stay at the Leader, and collecting it
            // later, unread, would use up one of the batch's queries.
            let deleted = collector.delete_collection_job(&job).await.is_ok();
            return Err(timeout_error(
                job_id.to_string(),
                deleted,
                waited,
                task.min_batch_size,
            ));
        }
        Err(error) => {
            step.abandon();
            return Err(collector_error(error));
        }
    };

    let batch = match (&collection.partial_batch_selector, job.query()) {
        (PartialBatchSelector::FixedSize(id), _) => CollectedBatch::Id(*id),
        (PartialBatchSelector::TimeInterval, Query::TimeInterval(interval)) => {
            CollectedBatch::Interval(*interval)
        }
        (PartialBatchSelector::TimeInterval, _) => CollectedBatch::Interval(collection.interval),
    };
    Ok((batch, collection))
}

/// The error of a collection still pending at `--timeout`.
pub(crate) fn timeout_error(
    job_id: String,
    deleted: bool,
    waited: Duration,
    min_batch_size: Option<u64>,
) -> anyhow::Error {
    let hint = match min_batch_size {
        Some(n) => format!(
            "the Leader collects a batch only once it holds at least min_batch_size = {n} reports; \
             if fewer were uploaded to it, upload more or collect a longer interval; otherwise try a longer --timeout"
        ),
        None => "a batch stays pending until it holds the task's min_batch_size reports \
                 (give --credentials or --min-batch-size to see it); otherwise try a longer --timeout"
            .to_owned(),
    };
    with_hint(
        format!(
            "the collection was still pending after {} s (collection job {job_id}{})",
            waited.as_secs(),
            if deleted { ", now deleted" } else { "" }
        ),
        Some(hint),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_hints_at_the_minimum_batch_size_when_it_is_known() {
        let text = crate::report::render(&timeout_error(
            "job1".into(),
            true,
            Duration::from_secs(300),
            Some(100),
        ));
        assert!(
            text.starts_with("error: the collection was still pending after 300 s (collection job job1, now deleted)\nhint: "),
            "{text}"
        );
        assert!(text.contains("min_batch_size = 100 reports"), "{text}");
        let text = crate::report::render(&timeout_error(
            "job1".into(),
            false,
            Duration::from_secs(5),
            None,
        ));
        assert!(text.contains("(collection job job1)"), "{text}");
        assert!(text.contains("--min-batch-size"), "{text}");
    }

    fn task(mode: BatchMode) -> TaskView {
        TaskView {
            task_id: TaskId::random(),
            leader: "http://leader.example/".parse().unwrap(),
            vdaf: VdafInstance::Prio3Count,
            dp_strategy: None,
            token: AuthenticationToken::new_bearer("t").unwrap(),
            min_batch_size: Some(10),
            batch_mode: Some(mode),
            time_precision: Some(DapDuration::from_seconds(3600)),
            task_config: None,
        }
    }

    #[test]
    fn queries_the_task_cannot_answer_are_refused_before_asking_the_leader() {
        use dyad_messages::draft09::{FixedSizeQuery, Interval, Time};
        let interval = |start, duration| {
            Query::TimeInterval(
                Interval::new(
                    Time::from_seconds_since_epoch(start),
                    DapDuration::from_seconds(duration),
                )
                .unwrap(),
            )
        };
        let time_task = task(BatchMode::TimeInterval);
        assert!(time_task.check_query(&interval(7200, 3600)).is_ok());
        let text =
            crate::report::render(&time_task.check_query(&interval(7300, 3600)).unwrap_err());
        assert!(
            text.contains("multiple of the task's time precision (3600 s)"),
            "{text}"
        );
        assert!(
            text.contains("--batch-interval-start 1970-01-01T02:00:00Z"),
            "{text}"
        );
        assert!(time_task
            .check_query(&Query::FixedSize(FixedSizeQuery::CurrentBatch))
            .is_err());
        let fixed_task = task(BatchMode::FixedSize {
            max_batch_size: None,
        });
        assert!(fixed_task
            .check_query(&Query::FixedSize(FixedSizeQuery::CurrentBatch))
            .is_ok());
        assert!(fixed_task.check_query(&interval(7200, 3600)).is_err());
    }
}
