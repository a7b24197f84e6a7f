//! `dyad task stats TASK_ID`: a task's statistics as the datastore holds
//! them (how uploads ended, how reports came out of preparation), as a
//! table of counters with what each means, JSON or CSV. The counts are
//! summed over the task's shard rows; see `docs/CONFIGURING.md`
//! ("Task statistics") for when each is counted.

use super::DatastoreArgs;
use crate::output::{OutputFormat, Table};
use anyhow::Context as _;
use clap::Args;
use dyad_datastore::models::TaskCounters;
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
    out!("{}", render(&task_id, role, &counters, args.format)?)?;
    Ok(())
}

/// The counters as `format` prints them. A Helper takes no uploads, so its
/// table leaves their rows out (JSON and CSV always list every counter).
fn render(
    task_id: &TaskId,
    role: Role,
    counters: &TaskCounters,
    format: OutputFormat,
) -> anyhow::Result<String> {
    let all = counters.counters();
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
            for counter in all
                .iter()
                .filter(|c| role == Role::Leader || !c.name.starts_with("uploads_"))
            {
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
            for counter in &all {
                table.row([counter.name.to_owned(), counter.value.to_string()]);
            }
            table.render_csv()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let table = render(&task_id, Role::Leader, &counters(), OutputFormat::Table).unwrap();
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
        let table = render(&task_id, Role::Helper, &counters(), OutputFormat::Table).unwrap();
        assert!(!table.contains("uploads"), "{table}");
        assert!(table.contains("reports aggregated"), "{table}");
        let json = render(&task_id, Role::Helper, &counters(), OutputFormat::Json).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed["role"], "helper");
        assert_eq!(parsed["counters"]["uploads_accepted"], 10);
        assert_eq!(parsed["counters"]["reports_aggregated"], 9);
        assert_eq!(
            parsed["counters"].as_object().unwrap().len(),
            TaskCounters::COLUMNS.len()
        );
    }
}
