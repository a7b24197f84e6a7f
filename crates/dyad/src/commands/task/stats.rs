//! `dyad task stats TASK_ID`: a task's statistics as the datastore holds
//! them (how uploads ended, how reports came out of preparation), as a
//! table of counters with what each means, JSON or CSV. The counts are
//! summed over the task's shard rows; see `docs/CONFIGURING.md`
//! ("Task statistics") for when each is counted. With `--api`, the
//! counters a management API serves (`GET /tasks/{id}/metrics/uploads` and
//! `/metrics/aggregations`), under its names, in the same table.

use super::DatastoreArgs;
use crate::management_client::ManagementClient;
use crate::output::{OutputFormat, Table};
use anyhow::Context as _;
use clap::Args;
use dyad_aggregator::management::models::{AggregationMetrics, UploadMetrics};
use dyad_datastore::models::Counter;
use dyad_datastore::DatastoreExt;
use dyad_messages::draft09::{Role, TaskId};

#[derive(Debug, Args)]
pub struct StatsArgs {
    #[command(flatten)]
    datastore: DatastoreArgs,
    /// The task ID (base64url). One in 64 starts with `-`, so a leading
    /// hyphen is part of the ID here, never a flag.
    #[arg(allow_hyphen_values = true)]
    task_id: TaskId,
    /// How to print the counters.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

pub async fn run(args: StatsArgs) -> anyhow::Result<()> {
    if let Some(api) = args.datastore.api()? {
        let (role, counters) = over_api(&api, &args.task_id).await?;
        out!("{}", render(&args.task_id, role, &counters, args.format)?)?;
        return Ok(());
    }
    let datastore = args.datastore.open_existing().await?;
    let task_id = args.task_id;
    let found = datastore
        .run_read_tx("task_stats", move |tx| {
            Box::pin(async move {
                let Some(task) = tx.get_task(&task_id).await? else {
                    return Ok(None);
                };
                Ok(tx
                    .get_task_counters(&task_id)
                    .await?
                    .map(|counters| (task.role(), counters)))
            })
        })
        .await?;
    datastore.close().await;
    let (role, counters) = found.with_context(|| super::datastore_args::no_such_task(&task_id))?;
    out!(
        "{}",
        render(&task_id, role, &counters.counters(), args.format)?
    )?;
    Ok(())
}

/// The management API's upload counters: name, label and meaning, in the
/// order of the datastore's (see `models::UploadMetrics::from_counters` in
/// the aggregator for which of dyad's counters each sums).
const UPLOAD_METRICS: &[(&str, &str, &str)] = &[
    (
        "report_success",
        "uploads accepted",
        "reports stored for aggregation (201), repeated IDs included",
    ),
    (
        "report_too_early",
        "uploads too early",
        "reportTooEarly: time after now plus the tolerable clock skew",
    ),
    (
        "task_expired",
        "uploads task expired",
        "reportRejected: time after the task expiration",
    ),
    (
        "report_expired",
        "uploads report expired",
        "reportRejected: older than the report expiry age",
    ),
    (
        "report_decrypt_failure",
        "uploads undecryptable",
        "reportRejected: the Leader's input share did not decrypt",
    ),
    (
        "report_outdated_key",
        "uploads outdated config",
        "outdatedConfig: sealed to an unknown HPKE config",
    ),
    (
        "report_decode_failure",
        "uploads invalid message",
        "invalidMessage: body, extension or share refused",
    ),
    (
        "interval_collected",
        "uploads batch collected",
        "reportRejected: its batch was already collected",
    ),
    (
        "report_duplicate_extension",
        "uploads duplicate extension",
        "always 0: dyad counts these as invalid messages",
    ),
];

/// The management API's aggregation counters, as [`UPLOAD_METRICS`] (see
/// `models::AggregationMetrics::from_counters` in the aggregator).
const AGGREGATION_METRICS: &[(&str, &str, &str)] = &[
    (
        "success",
        "reports aggregated",
        "preparation finished; output share aggregated",
    ),
    (
        "helper_batch_collected",
        "prepare failed: batch_collected",
        "the report's batch was already collected",
    ),
    (
        "helper_report_replayed",
        "prepare failed: report_replayed",
        "the report was aggregated before (anti-replay)",
    ),
    (
        "helper_report_dropped",
        "prepare failed: report_dropped",
        "dropped, e.g. in an abandoned aggregation job",
    ),
    (
        "helper_hpke_unknown_config_id",
        "prepare failed: hpke_unknown_config_id",
        "the Helper's share was sealed to an unknown config",
    ),
    (
        "helper_hpke_decrypt_failure",
        "prepare failed: hpke_decrypt_error",
        "the Helper's share did not decrypt",
    ),
    (
        "helper_vdaf_prep_error",
        "prepare failed: vdaf_prep_error",
        "the VDAF refused the report (invalid measurement)",
    ),
    (
        "helper_task_expired",
        "prepare failed: task_expired",
        "the task had expired",
    ),
    (
        "helper_invalid_message",
        "prepare failed: invalid_message",
        "a share or extension was refused",
    ),
    (
        "helper_report_too_early",
        "prepare failed: report_too_early",
        "the Helper found the report too early (retried later)",
    ),
];

/// The task's role and counters over the management API (the task is read
/// first: for its role, and to name it if there is none).
async fn over_api(
    api: &ManagementClient,
    task_id: &TaskId,
) -> anyhow::Result<(Role, Vec<Counter>)> {
    let task = super::remote::task(api, task_id).await?;
    let role = if task.role == "Leader" {
        Role::Leader
    } else {
        Role::Helper
    };
    let uploads: UploadMetrics = api
        .get_if_found(&format!("tasks/{task_id}/metrics/uploads"))
        .await?
        .with_context(|| super::remote::no_such_task(api, task_id))?;
    let aggregations: AggregationMetrics = api
        .get_if_found(&format!("tasks/{task_id}/metrics/aggregations"))
        .await?
        .with_context(|| super::remote::no_such_task(api, task_id))?;
    let mut counters = named(UPLOAD_METRICS, &serde_json::to_value(&uploads)?);
    counters.extend(named(
        AGGREGATION_METRICS,
        &serde_json::to_value(&aggregations)?,
    ));
    Ok((role, counters))
}

/// The counters `table` names, with their values in `values` (a metrics
/// answer as JSON).
fn named(
    table: &[(&'static str, &'static str, &'static str)],
    values: &serde_json::Value,
) -> Vec<Counter> {
    table
        .iter()
        .map(|&(name, label, meaning)| Counter {
            name,
            label,
            meaning,
            value: values[name].as_u64().unwrap_or_default(),
        })
        .collect()
}

/// Whether a counter counts uploads, which only a Leader takes.
fn is_upload(counter: &Counter) -> bool {
    counter.name.starts_with("uploads_") || counter.label.starts_with("uploads ")
}

/// The counters as `format` prints them. A Helper takes no uploads, so its
/// table leaves their rows out (JSON and CSV always list every counter).
fn render(
    task_id: &TaskId,
    role: Role,
    all: &[Counter],
    format: OutputFormat,
) -> anyhow::Result<String> {
    Ok(match format {
        OutputFormat::Json => {
            let values: serde_json::Map<String, serde_json::Value> = all
                .iter()
                .map(|counter| (counter.name.to_owned(), counter.value.into()))
                .collect();
            let document = serde_json::json!({
                "task_id": task_id.to_string(),
                "role": role.to_string(),
                "counters": values,
            });
            serde_json::to_string_pretty(&document)? + "\n"
        }
        OutputFormat::Table => {
            let mut table = Table::new(["COUNTER", "COUNT", "MEANING"]);
            for counter in all.iter().filter(|c| role == Role::Leader || !is_upload(c)) {
                table.row([
                    counter.label.to_owned(),
                    counter.value.to_string(),
                    counter.meaning.to_owned(),
                ]);
            }
            table.render()
        }
        OutputFormat::Csv => {
            let mut table = Table::new(["counter", "count"]);
            for counter in all {
                table.row([counter.name.to_owned(), counter.value.to_string()]);
            }
            table.render_csv()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dyad_datastore::models::TaskCounters;

    fn counters() -> TaskCounters {
        TaskCounters {
            uploads_accepted: 10,
            uploads_too_early: 2,
            reports_aggregated: 9,
            prepare_failed_vdaf_prep_error: 1,
            ..TaskCounters::default()
        }
    }

    #[test]
    fn table_lists_every_counter_with_its_meaning() {
        let task_id = TaskId::from([7; 32]);
        let table = render(
            &task_id,
            Role::Leader,
            &counters().counters(),
            OutputFormat::Table,
        )
        .unwrap();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 1 + TaskCounters::COLUMNS.len());
        assert!(lines[0].starts_with("COUNTER"), "{table}");
        assert!(
            lines[1].starts_with("uploads accepted") && lines[1].contains(" 10 "),
            "{table}"
        );
        assert!(table.contains("reports aggregated"), "{table}");
    }

    #[test]
    fn a_helper_table_leaves_out_uploads_but_json_keeps_every_counter() {
        let task_id = TaskId::from([7; 32]);
        let table = render(
            &task_id,
            Role::Helper,
            &counters().counters(),
            OutputFormat::Table,
        )
        .unwrap();
        assert!(!table.contains("uploads"), "{table}");
        assert!(table.contains("reports aggregated"), "{table}");
        let json = render(
            &task_id,
            Role::Helper,
            &counters().counters(),
            OutputFormat::Json,
        )
        .unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed["role"], "helper");
        assert_eq!(parsed["counters"]["uploads_accepted"], 10);
        assert_eq!(parsed["counters"]["reports_aggregated"], 9);
        assert_eq!(
            parsed["counters"].as_object().unwrap().len(),
            TaskCounters::COLUMNS.len()
        );
    }

    #[test]
    fn the_api_counters_leave_out_uploads_for_a_helper_like_the_datastore_ones() {
        let counter =
            |&(name, label, meaning): &(&'static str, &'static str, &'static str)| Counter {
                name,
                label,
                meaning,
                value: 3,
            };
        let counters: Vec<Counter> = UPLOAD_METRICS.iter().map(counter).collect();
        let task_id = TaskId::from([7; 32]);
        let table = render(&task_id, Role::Leader, &counters, OutputFormat::Table).unwrap();
        assert!(table.starts_with("COUNTER"), "{table}");
        assert!(table.contains("uploads accepted "), "{table}");
        let table = render(&task_id, Role::Helper, &counters, OutputFormat::Table).unwrap();
        assert!(!table.contains("uploads"), "{table}");
        let json = render(&task_id, Role::Helper, &counters, OutputFormat::Json).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed["counters"]["report_success"], 3);
        // Every counter the API serves has a row, under the API's name.
        for (served, table) in [
            (
                serde_json::to_value(UploadMetrics::default()).unwrap(),
                UPLOAD_METRICS,
            ),
            (
                serde_json::to_value(AggregationMetrics::default()).unwrap(),
                AGGREGATION_METRICS,
            ),
        ] {
            assert_eq!(served.as_object().unwrap().len(), table.len());
            for (name, _, _) in table {
                assert!(served.get(name).is_some(), "{name}");
            }
        }
    }
}
