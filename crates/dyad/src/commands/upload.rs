//! `dyad upload`: a DAP client on the command line. Shards each measurement
//! with the task's VDAF, seals the shares to both aggregators and uploads the
//! reports to the Leader (DAP-09 section 4.4).
//!
//! The task comes from the client task file (`--task-file`), a taskprov
//! task config (`--taskprov`: the aggregators provision the task in-band
//! when its first report arrives) or flags; the
//! measurements from the arguments or `--input FILE` (`-` for stdin), one
//! per line. A bulk upload shows a progress bar; every retry of an
//! unreachable or failing aggregator is said on stderr with its cause and
//! the next delay, and the upload stops with a clear error once
//! `--give-up-after` seconds have gone by without success. The answer is a
//! summary (accepted / failed), or every report ID with `--format json` or
//! `csv`.

use super::args::{CaCertArgs, TokenArgs};
use crate::hints::{client_cause, with_hint};
use crate::output::{OutputFormat, Table};
use crate::progress::Step;
use crate::task_config_file::read_task_config;
use crate::task_files::{read_yaml, ClientTaskFile};
use crate::values::parse_measurement;
use anyhow::Context as _;
use clap::Args;
use dyad_client::{AnyVdaf, ClientBuilder, ClientError, RetryNotice};
use dyad_core::retry::{RetryPolicy, Retryable as _};
use dyad_core::task_config::{check_supported, task_id_of};
use dyad_core::vdaf::{Measurement, VdafInstance};
use dyad_messages::draft09::{Duration, ReportId, TaskId};
use dyad_messages::taskprov::TaskConfig;
use futures::StreamExt as _;
use serde_json::json;
use std::path::{Path, PathBuf};
use url::Url;

/// More measurements than this get a progress bar.
const BAR_THRESHOLD: usize = 5;

#[derive(Debug, Args)]
pub struct UploadArgs {
    /// The client task file (`client-task.yaml`, from the Leader's
    /// operator): task ID, Leader, Helper, VDAF and time precision.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["task_id", "leader", "helper", "vdaf", "time_precision", "taskprov"]
    )]
    task_file: Option<PathBuf>,
    /// A taskprov task config (`dyad task taskprov-config` writes one):
    /// task ID, Leader, Helper, VDAF and time precision all come from it,
    /// and each upload advertises it to the Leader.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["task_id", "leader", "helper", "vdaf", "time_precision"]
    )]
    taskprov: Option<PathBuf>,
    /// The task ID, base64url (instead of --task-file).
    #[arg(
        long,
        required_unless_present_any = ["task_file", "taskprov"],
        allow_hyphen_values = true
    )]
    task_id: Option<TaskId>,
    /// The Leader's DAP base URL (instead of --task-file).
    #[arg(long, required_unless_present_any = ["task_file", "taskprov"])]
    leader: Option<Url>,
    /// The Helper's DAP base URL (instead of --task-file).
    #[arg(long, required_unless_present_any = ["task_file", "taskprov"])]
    helper: Option<Url>,
    /// The task's VDAF as JSON, e.g. '{"type":"Prio3Sum","bits":"8"}'
    /// (instead of --task-file).
    #[arg(long, required_unless_present_any = ["task_file", "taskprov"])]
    vdaf: Option<VdafInstance>,
    /// The task's time precision in seconds: report times are rounded down
    /// to it (instead of --task-file).
    #[arg(long, value_name = "SECS", required_unless_present_any = ["task_file", "taskprov"])]
    time_precision: Option<u64>,
    /// Optional client authentication to the Leader.
    #[command(flatten)]
    token: TokenArgs,
    #[command(flatten)]
    ca: CaCertArgs,
    /// Read the measurements from FILE (`-` for stdin), one per line; blank
    /// lines are skipped.
    #[arg(long, value_name = "FILE", conflicts_with = "measurements")]
    input: Option<PathBuf>,
    /// How many uploads are in flight at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Stop retrying an unreachable or failing aggregator after this many
    /// seconds.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    give_up_after: u64,
    /// How to print the answer: a summary table, or every report ID (json,
    /// csv).
    #[arg(long, value_enum, default_value_t)]
    format: OutputFormat,
    /// The measurements, one report each (e.g. `1`, `42`, `1,0,3`, a bucket
    /// index).
    #[arg(required_unless_present = "input")]
    measurements: Vec<String>,
}

/// The task as the client sees it.
struct ClientTask {
    task_id: TaskId,
    leader: Url,
    helper: Url,
    vdaf: VdafInstance,
    time_precision: Duration,
    /// The taskprov config the task comes from, if it does.
    task_config: Option<TaskConfig>,
}

impl ClientTask {
    fn from_args(args: &UploadArgs) -> anyhow::Result<Self> {
        if let Some(path) = &args.taskprov {
            let config = read_task_config(path)?;
            let vdaf = check_supported(&config, dyad_client::system_time())
                .with_context(|| format!("cannot upload for the task of {}", path.display()))?;
            let url = |url: &dyad_messages::draft09::Url| -> anyhow::Result<Url> {
                Url::parse(url.as_str()).with_context(|| format!("endpoint {}", url.as_str()))
            };
            return Ok(Self {
                task_id: task_id_of(&config)?,
                leader: url(&config.leader_aggregator_endpoint)?,
                helper: url(&config.helper_aggregator_endpoint)?,
                vdaf,
                time_precision: config.query_config.time_precision,
                task_config: Some(config),
            });
        }
        if let Some(path) = &args.task_file {
            let file: ClientTaskFile = read_yaml(path, "client task file")?;
            return Ok(Self {
                task_id: file.task_id,
                leader: file.leader,
                helper: file.helper,
                vdaf: file.vdaf,
                time_precision: file.time_precision,
                task_config: None,
            });
        }
        let missing = |what: &str| anyhow::anyhow!("give {what}, or --task-file FILE");
        Ok(Self {
            task_id: args.task_id.ok_or_else(|| missing("--task-id"))?,
            leader: args.leader.clone().ok_or_else(|| missing("--leader"))?,
            helper: args.helper.clone().ok_or_else(|| missing("--helper"))?,
            vdaf: args.vdaf.ok_or_else(|| missing("--vdaf"))?,
            time_precision: Duration::from_seconds(
                args.time_precision
                    .ok_or_else(|| missing("--time-precision"))?,
            ),
            task_config: None,
        })
    }
}

/// Reads one measurement per non-blank line; errors name the line.
fn read_measurements(
    instance: &VdafInstance,
    reader: impl std::io::BufRead,
    name: &str,
) -> anyhow::Result<Vec<Measurement>> {
    let mut measurements = Vec::new();
    for (number, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("cannot read {name}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let measurement = parse_measurement(instance, &line)
            .with_context(|| format!("line {} of {name}", number + 1))?;
        measurements.push(measurement);
    }
    Ok(measurements)
}

fn input_measurements(args: &UploadArgs, vdaf: &VdafInstance) -> anyhow::Result<Vec<Measurement>> {
    let measurements = match &args.input {
        Some(path) if path == Path::new("-") => {
            read_measurements(vdaf, std::io::stdin().lock(), "stdin")?
        }
        Some(path) => {
            let file = std::fs::File::open(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            read_measurements(
                vdaf,
                std::io::BufReader::new(file),
                &path.display().to_string(),
            )?
        }
        None => args
            .measurements
            .iter()
            .enumerate()
            .map(|(i, m)| {
                parse_measurement(vdaf, m).with_context(|| format!("measurement {}", i + 1))
            })
            .collect::<anyhow::Result<_>>()?,
    };
    anyhow::ensure!(!measurements.is_empty(), "no measurements to upload");
    Ok(measurements)
}

/// The line a retry is announced with.
fn retry_line(notice: &RetryNotice<'_>) -> String {
    format!(
        "{}: {} failed: {}; retrying in {:.1} s (attempt {})",
        notice.role,
        notice.operation,
        client_cause(notice.error),
        notice.delay.as_secs_f64(),
        notice.attempt + 1
    )
}

pub async fn run(args: UploadArgs) -> anyhow::Result<()> {
    let task = ClientTask::from_args(&args)?;
    let measurements = input_measurements(&args, &task.vdaf)?;
    let total = measurements.len();
    let step = (total > BAR_THRESHOLD).then(|| Step::counter("upload", total as u64, "reports"));
    let printer = match &step {
        Some(step) => step.printer(),
        None => crate::progress::plain_printer(),
    };
    let give_up_after = std::time::Duration::from_secs(args.give_up_after);
    let builder = match &task.task_config {
        Some(config) => ClientBuilder::from_task_config(config)?,
        None => ClientBuilder::new(
            task.task_id,
            task.leader.clone(),
            task.helper.clone(),
            task.time_precision,
        ),
    };
    let mut builder = builder
        .retry_policy(RetryPolicy::default().with_max_elapsed(give_up_after))
        .on_retry(move |notice| printer(&retry_line(notice)));
    if let Some(token) = args.token.token()? {
        builder = builder.auth_token(token);
    }
    for certificate in args.ca.certificates()? {
        builder = builder.extra_root_certificate(certificate);
    }
    let client = builder
        .build(AnyVdaf(task.vdaf))
        .context("building the client")?;

    let mut outcomes: Vec<Option<Result<ReportId, ClientError>>> =
        (0..total).map(|_| None).collect();
    let mut uploads = futures::stream::iter(measurements.iter().enumerate())
        .map(|(i, m)| {
            let client = &client;
            async move { (i, client.upload(m).await) }
        })
        .buffer_unordered(args.concurrency.max(1));
    let mut gave_up = None;
    while let Some((i, outcome)) = uploads.next().await {
        if let Some(step) = &step {
            step.inc(1);
        }
        match outcome {
            // Retries are exhausted: the aggregator is down or failing, and
            // every other upload would wait as long.
            Err(error) if error.retry_class().is_transient() => {
                gave_up = Some(error);
                break;
            }
            outcome => outcomes[i] = Some(outcome),
        }
    }
    drop(uploads);
    if let Some(error) = gave_up {
        if let Some(step) = step {
            step.abandon();
        }
        let accepted = outcomes.iter().flatten().filter(|o| o.is_ok()).count();
        return Err(with_hint(
            format!(
                "gave up after {} s: {} ({accepted} of {total} reports were accepted before)",
                args.give_up_after,
                describe_failure(&error)
            ),
            Some("check that the aggregators are running and reachable; --give-up-after sets how long to retry".to_owned()),
        ));
    }
    if let Some(step) = step {
        let secs = step.elapsed().as_secs_f64();
        step.finish(&format!(
            "{total} reports in {secs:.1} s ({:.0} reports/s)",
            total as f64 / secs.max(f64::EPSILON)
        ));
    }
    let outcomes: Vec<Result<ReportId, ClientError>> = outcomes.into_iter().flatten().collect();
    out!("{}", render_outcomes(&outcomes, args.format))?;
    let failed = outcomes.iter().filter(|o| o.is_err()).count();
    if failed > 0 {
        for (i, outcome) in outcomes.iter().enumerate() {
            if let Err(error) = outcome {
                noteln!("measurement {}: {}", i + 1, describe_failure(error));
            }
        }
        anyhow::bail!("{failed} of {total} reports were not accepted");
    }
    Ok(())
}

/// What went wrong with an upload, in a few words.
fn describe_failure(error: &ClientError) -> String {
    match error {
        ClientError::Http(_) => format!("cannot reach an aggregator: {}", client_cause(error)),
        other => other.to_string(),
    }
}

/// The answer: a summary table, or one row/object per report.
fn render_outcomes(outcomes: &[Result<ReportId, ClientError>], format: OutputFormat) -> String {
    let accepted = outcomes.iter().filter(|o| o.is_ok()).count();
    let failed = outcomes.len() - accepted;
    match format {
        OutputFormat::Table => {
            let mut table = Table::new(["ACCEPTED", "FAILED"]);
            table.row([accepted.to_string(), failed.to_string()]);
            table.render()
        }
        OutputFormat::Json => {
            let reports: Vec<_> = outcomes
                .iter()
                .map(|o| match o {
                    Ok(id) => json!({ "report_id": id.to_string() }),
                    Err(error) => json!({ "error": describe_failure(error) }),
                })
                .collect();
            let mut text = serde_json::to_string_pretty(&json!({
                "accepted": accepted,
                "failed": failed,
                "reports": reports,
            }))
            .expect("JSON values always print");
            text.push('\n');
            text
        }
        OutputFormat::Csv => {
            let mut table = Table::new(["measurement", "report_id", "error"]);
            for (i, o) in outcomes.iter().enumerate() {
                let (id, error) = match o {
                    Ok(id) => (id.to_string(), String::new()),
                    Err(error) => (String::new(), describe_failure(error)),
                };
                table.row([(i + 1).to_string(), id, error]);
            }
            table.render_csv()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measurements_are_read_one_per_line_and_errors_name_the_line() {
        let input = "1\n\n0\ntrue\n";
        let read = read_measurements(&VdafInstance::Prio3Count, input.as_bytes(), "stdin").unwrap();
        assert_eq!(
            read,
            [
                Measurement::Count(true),
                Measurement::Count(false),
                Measurement::Count(true)
            ]
        );
        let error = read_measurements(&VdafInstance::Prio3Count, "1\n7\n".as_bytes(), "in.txt")
            .unwrap_err();
        assert!(
            format!("{error:#}").starts_with("line 2 of in.txt: "),
            "{error:#}"
        );
    }

    #[test]
    fn the_answer_is_a_summary_or_every_report_id() {
        let id = ReportId::from_bytes([1; 16]);
        let outcomes = vec![
            Ok(id),
            Err(ClientError::InvalidConfiguration("bad".to_owned())),
        ];
        assert_eq!(
            render_outcomes(&outcomes, OutputFormat::Table),
            "ACCEPTED  FAILED\n1         1\n"
        );
        assert_eq!(
            render_outcomes(&outcomes, OutputFormat::Csv),
            format!("measurement,report_id,error\n1,{id},\n2,,invalid client configuration: bad\n")
        );
        let json: serde_json::Value =
            serde_json::from_str(&render_outcomes(&outcomes, OutputFormat::Json)).unwrap();
        assert_eq!(json["accepted"], 1);
        assert_eq!(json["reports"][0]["report_id"], id.to_string());
    }
}
