//! `dyad task taskprov-config`: write a taskprov task config
//! (draft-wang-ppm-dap-taskprov-06 section 3) from flags, for a task's
//! author to give its clients and collector. Nothing is stored: the
//! aggregators provision the task when its first report arrives, if their
//! operators have opted in to taskprov tasks from each other. The answer
//! names the task ID the config hashes to.

use super::add::BatchModeArg;
use crate::output::{rfc3339, OutputFormat, Table};
use crate::report::hinted;
use crate::task_config_file::write_task_config;
use anyhow::{bail, Context as _};
use clap::Args;
use dyad_core::task_config::{check_supported, task_id_of};
use dyad_core::vdaf::VdafInstance;
use dyad_messages::draft09::{Duration, Time, Url as DapUrl};
use dyad_messages::taskprov::{
    DpConfig, DpMechanism, QueryConfig, QueryTypeConfig, TaskConfig, VdafConfig, VdafType,
};
use serde_json::json;
use std::path::PathBuf;
use url::Url;

#[derive(Debug, Args)]
pub struct TaskprovConfigArgs {
    /// Where to write the config (one line of base64url, the `dap-taskprov`
    /// header's value); `-` for stdout. An existing file is never
    /// overwritten.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// What the task is for, as its author describes it (1 to 255 bytes);
    /// it makes the task ID unique, so give each task its own.
    #[arg(long, value_name = "TEXT")]
    task_info: String,
    /// The Leader's DAP base URL, exactly as the Helper's operator
    /// configured its peer.
    #[arg(long)]
    leader: Url,
    /// The Helper's DAP base URL, exactly as the Leader's operator
    /// configured its peer.
    #[arg(long)]
    helper: Url,
    /// The VDAF, as JSON, e.g. '{"type":"Prio3Sum","bits":"8"}'. Taskprov
    /// names Prio3Count, Prio3Sum, Prio3SumVec, Prio3Histogram and Poplar1.
    #[arg(long)]
    vdaf: VdafInstance,
    #[arg(long, value_enum, default_value_t = BatchModeArg::TimeInterval)]
    batch_mode: BatchModeArg,
    /// fixed-size only: the most reports a batch may hold (none by default).
    #[arg(long)]
    max_batch_size: Option<u32>,
    #[arg(long)]
    min_batch_size: u32,
    /// Seconds.
    #[arg(long)]
    time_precision: u64,
    /// How many times a batch may be collected; default 1, or for a VDAF
    /// collected level by level (Poplar1) its number of levels, so that a
    /// whole heavy-hitters walk fits.
    #[arg(long)]
    max_batch_query_count: Option<u16>,
    /// Seconds since the epoch after which reports are rejected.
    #[arg(
        long,
        conflicts_with = "lifetime",
        required_unless_present = "lifetime"
    )]
    task_expiration: Option<u64>,
    /// Instead of --task-expiration: the task expires this many seconds
    /// from now.
    #[arg(long, value_name = "SECS")]
    lifetime: Option<u64>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

/// The taskprov VDAF type of a catalogue VDAF, if taskprov-06 names it.
fn vdaf_type(vdaf: &VdafInstance) -> anyhow::Result<VdafType> {
    Ok(match *vdaf {
        VdafInstance::Prio3Count => VdafType::Prio3Count,
        VdafInstance::Prio3Sum { bits } => VdafType::Prio3Sum { bits },
        VdafInstance::Prio3SumVec {
            bits,
            length,
            chunk_length,
        } => VdafType::Prio3SumVec {
            length,
            bits,
            chunk_length,
        },
        VdafInstance::Prio3Histogram {
            length,
            chunk_length,
        } => VdafType::Prio3Histogram {
            length,
            chunk_length,
        },
        VdafInstance::Poplar1 { bits } => VdafType::Poplar1 { bits },
        other => {
            return Err(hinted(
                format!("taskprov has no code point for {}", other.type_name()),
                "use Prio3Count, Prio3Sum, Prio3SumVec, Prio3Histogram or Poplar1, or provision the task with `dyad task add`",
            ))
        }
    })
}

/// The config the flags describe, checked as a Client would check it.
fn task_config(args: &TaskprovConfigArgs, now: Time) -> anyhow::Result<TaskConfig> {
    let task_info = args.task_info.as_bytes().to_vec();
    if task_info.is_empty() || task_info.len() > 255 {
        bail!("--task-info must be 1 to 255 bytes");
    }
    let endpoint = |url: &Url, flag: &str| {
        DapUrl::try_from(url.as_str()).map_err(|e| anyhow::anyhow!("{flag} {url}: {e}"))
    };
    let query = match args.batch_mode {
        BatchModeArg::TimeInterval => {
            if args.max_batch_size.is_some() {
                bail!("--max-batch-size applies only to --batch-mode fixed-size");
            }
            QueryTypeConfig::TimeInterval
        }
        BatchModeArg::FixedSize => {
            // dyad's aggregators refuse this task (`invalidTask`): they
            // aggregate a levelled VDAF's reports once a collection names
            // the parameter, after fixed-size batches would be formed.
            if args.vdaf.fixed_aggregation_parameter().is_none() {
                bail!(
                    "{} tasks need --batch-mode time-interval: their reports are aggregated \
                     once a collection names its aggregation parameter",
                    args.vdaf.type_name()
                );
            }
            QueryTypeConfig::FixedSize {
                max_batch_size: args.max_batch_size.unwrap_or(0),
            }
        }
    };
    let max_batch_query_count = match args.max_batch_query_count {
        Some(count) => count,
        None => u16::try_from(super::add::default_max_batch_query_count(&args.vdaf))
            .context("the VDAF has more levels than a task config can allow collections")?,
    };
    if args.time_precision == 0 {
        bail!("--time-precision must be at least one second");
    }
    let task_expiration = match (args.task_expiration, args.lifetime) {
        (Some(at), _) => Time::from_seconds_since_epoch(at),
        (None, Some(lifetime)) => {
            Time::from_seconds_since_epoch(now.as_seconds_since_epoch().saturating_add(lifetime))
        }
        (None, None) => bail!("give --task-expiration or --lifetime"),
    };
    let config = TaskConfig {
        task_info,
        leader_aggregator_endpoint: endpoint(&args.leader, "--leader")?,
        helper_aggregator_endpoint: endpoint(&args.helper, "--helper")?,
        query_config: QueryConfig {
            time_precision: Duration::from_seconds(args.time_precision),
            max_batch_query_count,
            min_batch_size: args.min_batch_size,
            query,
        },
        task_expiration,
        vdaf_config: VdafConfig::new(DpConfig::new(DpMechanism::None), vdaf_type(&args.vdaf)?),
    };
    check_supported(&config, now).context("the task config would be refused")?;
    Ok(config)
}

pub fn run(args: TaskprovConfigArgs) -> anyhow::Result<()> {
    if args.format == OutputFormat::Csv {
        bail!("`task taskprov-config` answers as a table or JSON, not CSV");
    }
    let config = task_config(&args, dyad_client::system_time())?;
    let task_id = task_id_of(&config)?;
    write_task_config(&args.out, &config)?;
    if args.out.as_os_str() == "-" {
        noteln!("task {task_id}");
        return Ok(());
    }
    let query = match config.query_config.query {
        QueryTypeConfig::FixedSize { max_batch_size: 0 } => "fixed_size".to_owned(),
        QueryTypeConfig::FixedSize { max_batch_size } => {
            format!("fixed_size (max {max_batch_size})")
        }
        _ => "time_interval".to_owned(),
    };
    match args.format {
        OutputFormat::Json => outln!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "task_id": task_id.to_string(),
                "file": args.out.display().to_string(),
                "vdaf": args.vdaf.type_name(),
                "batch_mode": query,
                "task_expiration": config.task_expiration.as_seconds_since_epoch(),
            }))?
        )?,
        _ => {
            let mut table = Table::new(["TASK ID", "FILE", "VDAF", "BATCH MODE", "EXPIRES"]);
            table.row([
                task_id.to_string(),
                args.out.display().to_string(),
                args.vdaf.type_name().to_owned(),
                query,
                rfc3339(config.task_expiration),
            ]);
            out!("{}", table.render())?;
            noteln!(
                "give {} to the clients (`dyad upload --taskprov`) and the collector (`dyad collect --taskprov`)",
                args.out.display()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: TaskprovConfigArgs,
    }

    fn args(extra: &[&str]) -> TaskprovConfigArgs {
        let mut argv = vec![
            "x",
            "--out",
            "-",
            "--task-info",
            "test",
            "--leader",
            "https://leader.example/",
            "--helper",
            "https://helper.example/",
            "--vdaf",
            r#"{"type":"Prio3Sum","bits":"8"}"#,
            "--min-batch-size",
            "10",
            "--time-precision",
            "300",
        ];
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv).unwrap().args
    }

    #[test]
    fn flags_make_the_config_and_the_lifetime_counts_from_now() {
        let now = Time::from_seconds_since_epoch(1_000_000);
        let config = task_config(
            &args(&["--batch-mode", "fixed-size", "--lifetime", "3600"]),
            now,
        )
        .unwrap();
        assert_eq!(
            config.query_config.query,
            QueryTypeConfig::FixedSize { max_batch_size: 0 }
        );
        assert_eq!(config.query_config.min_batch_size, 10);
        assert_eq!(
            config.task_expiration,
            Time::from_seconds_since_epoch(1_003_600)
        );
        assert_eq!(config.vdaf_config.vdaf_type, VdafType::Prio3Sum { bits: 8 });
        assert_eq!(
            config.leader_aggregator_endpoint.as_str(),
            "https://leader.example/"
        );
    }

    #[test]
    fn an_expired_task_or_a_vdaf_taskprov_cannot_name_is_refused() {
        let now = Time::from_seconds_since_epoch(1_000_000);
        let error = task_config(&args(&["--task-expiration", "999999"]), now).unwrap_err();
        assert!(format!("{error:#}").contains("expired"), "{error:#}");
        let mut fixed_point = args(&["--lifetime", "60"]);
        fixed_point.vdaf =
            r#"{"type":"Prio3FixedPointBoundedL2VecSum","bitsize":"16","length":"2"}"#
                .parse()
                .unwrap();
        let error = task_config(&fixed_point, now).unwrap_err();
        assert!(format!("{error:#}").contains("no code point"), "{error:#}");
        let error =
            task_config(&args(&["--lifetime", "60", "--max-batch-size", "5"]), now).unwrap_err();
        assert!(format!("{error:#}").contains("fixed-size"), "{error:#}");
    }

    #[test]
    fn a_poplar1_config_allows_one_collection_per_level_and_must_be_time_interval() {
        let now = Time::from_seconds_since_epoch(1_000_000);
        let mut poplar1 = args(&["--lifetime", "60"]);
        poplar1.vdaf = r#"{"type":"Poplar1","bits":"16"}"#.parse().unwrap();
        let config = task_config(&poplar1, now).unwrap();
        assert_eq!(config.query_config.max_batch_query_count, 16);
        poplar1.max_batch_query_count = Some(3);
        let config = task_config(&poplar1, now).unwrap();
        assert_eq!(config.query_config.max_batch_query_count, 3);
        poplar1.batch_mode = BatchModeArg::FixedSize;
        let error = task_config(&poplar1, now).unwrap_err();
        assert!(
            format!("{error:#}").contains("Poplar1 tasks need --batch-mode time-interval"),
            "{error:#}"
        );
        // A Prio3 task is collected once unless told otherwise.
        let config = task_config(&args(&["--lifetime", "60"]), now).unwrap();
        assert_eq!(config.query_config.max_batch_query_count, 1);
    }
}
