//! `dyad task delete TASK_ID`: deletes a task and everything stored for it,
//! after saying what that is and asking (on a terminal; elsewhere only with
//! `--yes`), then says what went, per kind of row. With `--api`, over a
//! management API (`DELETE /tasks/{id}`), which does not say what was
//! stored: the question and the answer name the task and its role only.

use super::DatastoreArgs;
use crate::management_client::ManagementClient;
use crate::output::{OutputFormat, Table};
use anyhow::{bail, Context as _};
use clap::Args;
use dyad_datastore::models::TaskRowCounts;
use dyad_datastore::DatastoreExt;
use dyad_messages::draft09::{Role, TaskId};
use std::io::{BufRead as _, IsTerminal as _, Write as _};

#[derive(Debug, Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    datastore: DatastoreArgs,
    /// The task ID (base64url). One in 64 starts with `-`, so a leading
    /// hyphen is part of the ID here, never a flag.
    #[arg(allow_hyphen_values = true)]
    task_id: TaskId,
    /// Delete without asking (needed when stdin is not a terminal).
    #[arg(long, short = 'y')]
    yes: bool,
    /// How to print what was deleted.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

pub async fn run(args: DeleteArgs) -> anyhow::Result<()> {
    if let Some(api) = args.datastore.api()? {
        return delete_over_api(&api, &args).await;
    }
    let datastore = args.datastore.open_existing().await?;
    let task_id = args.task_id;
    let (role, stored) = datastore
        .run_read_tx("count_task_rows", move |tx| {
            Box::pin(async move {
                let Some(task) = tx.get_task(&task_id).await? else {
                    return Ok(None);
                };
                let counts = tx.count_task_rows(&task_id).await?;
                Ok(counts.map(|counts| (task.role(), counts)))
            })
        })
        .await?
        .with_context(|| super::datastore_args::no_such_task(&task_id))?;

    if !agreed(&args, &summary(role, &stored))? {
        return Ok(());
    }

    let deleted = datastore
        .run_tx("delete_task", move |tx| {
            Box::pin(async move { Ok(tx.delete_task(&task_id).await?) })
        })
        .await?
        .with_context(|| format!("task {task_id} was deleted meanwhile by someone else"))?;
    tracing::info!(task_id = %task_id, rows = deleted.total(), "deleted a task");
    out!("{}", render(&task_id, role, Some(&deleted), args.format)?)?;
    Ok(())
}

/// Whether to go ahead: `--yes`, or the operator's answer to a question
/// naming what the task holds (`what`). Says so when nothing is deleted.
fn agreed(args: &DeleteArgs, what: &str) -> anyhow::Result<bool> {
    if args.yes {
        return Ok(true);
    }
    let task_id = &args.task_id;
    if !std::io::stdin().is_terminal() {
        bail!(
            "not deleting task {task_id} without confirmation: stdin is not a terminal \
             to ask on (give --yes to delete without asking)"
        );
    }
    if !confirm(&format!("Delete task {task_id} ({what})? [y/N] "))? {
        noteln!("Nothing deleted.");
        return Ok(false);
    }
    Ok(true)
}

/// `task delete --api`: the task is read first (to name its role, and to
/// say so if there is none: the API answers 204 either way), then deleted.
async fn delete_over_api(api: &ManagementClient, args: &DeleteArgs) -> anyhow::Result<()> {
    let task_id = args.task_id;
    let task = super::remote::task(api, &task_id).await?;
    let role = match task.role.as_str() {
        "Leader" => Role::Leader,
        _ => Role::Helper,
    };
    let what = format!("{role}, and everything stored for it");
    if !agreed(args, &what)? {
        return Ok(());
    }
    api.delete(&format!("tasks/{task_id}")).await?;
    tracing::info!(task_id = %task_id, "deleted a task over the management API");
    out!("{}", render(&task_id, role, None, args.format)?)?;
    Ok(())
}

/// What the task holds, for the question: its role and every kind of row
/// it has, e.g. `leader, 1000 client reports, 12 aggregation jobs`.
fn summary(role: Role, counts: &TaskRowCounts) -> String {
    let mut parts = vec![role.to_string()];
    parts.extend(
        counts
            .kinds()
            .iter()
            .filter(|(_, count)| *count > 0)
            .map(|(kind, count)| format!("{count} {kind}")),
    );
    if counts.total() == 0 {
        parts.push("nothing stored for it yet".to_owned());
    }
    parts.join(", ")
}

/// Asks on stderr, reads the answer from stdin: only `y` or `yes` agree.
pub(crate) fn confirm(question: &str) -> anyhow::Result<bool> {
    note!("{question}");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("reading the answer")?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

/// What was deleted, as `format` prints it; `deleted` is `None` when the
/// rows are not known (over the management API).
fn render(
    task_id: &TaskId,
    role: Role,
    deleted: Option<&TaskRowCounts>,
    format: OutputFormat,
) -> anyhow::Result<String> {
    if format == OutputFormat::Json {
        let rows: Option<serde_json::Map<String, serde_json::Value>> = deleted.map(|deleted| {
            deleted
                .kinds()
                .iter()
                .map(|(kind, count)| (kind.replace([' ', '-'], "_"), (*count).into()))
                .collect()
        });
        let json = serde_json::json!({
            "task_id": task_id.to_string(),
            "role": role.to_string(),
            "deleted_rows": rows,
        });
        return Ok(serde_json::to_string_pretty(&json)? + "\n");
    }
    let mut table = Table::new(["DELETED", "ROWS"]);
    for (kind, count) in deleted.map(|d| d.kinds().to_vec()).unwrap_or_default() {
        table.row([kind.to_owned(), count.to_string()]);
    }
    Ok(match (format, deleted) {
        (OutputFormat::Csv, _) => table.render_csv(),
        (_, Some(_)) => format!("Deleted task {task_id} ({role}).\n{}", table.render()),
        (_, None) => format!("Deleted task {task_id} ({role}).\n"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts() -> TaskRowCounts {
        TaskRowCounts {
            client_reports: 1000,
            aggregation_jobs: 12,
            report_aggregations: 980,
            batch_aggregations: 12,
            ..TaskRowCounts::default()
        }
    }

    #[test]
    fn the_question_names_every_kind_the_task_has() {
        assert_eq!(
            summary(Role::Leader, &counts()),
            "leader, 1000 client reports, 12 aggregation jobs, 980 report aggregations, \
             12 batch aggregations"
        );
        assert_eq!(
            summary(Role::Helper, &TaskRowCounts::default()),
            "helper, nothing stored for it yet"
        );
    }

    #[test]
    fn the_summary_counts_every_kind() {
        let task_id = TaskId::from_bytes([7; 32]);
        assert_eq!(
            render(&task_id, Role::Leader, Some(&counts()), OutputFormat::Table).unwrap(),
            "\
Deleted task BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc (leader).
DELETED               ROWS
client reports        1000
aggregation jobs      12
report aggregations   980
batch aggregations    12
collected batches     0
collection jobs       0
aggregate share jobs  0
anti-replay rows      0
outstanding batches   0
statistics rows       0
"
        );
        assert_eq!(
            render(&task_id, Role::Leader, Some(&counts()), OutputFormat::Json).unwrap(),
            r#"{
  "deleted_rows": {
    "aggregate_share_jobs": 0,
    "aggregation_jobs": 12,
    "anti_replay_rows": 0,
    "batch_aggregations": 12,
    "client_reports": 1000,
    "collected_batches": 0,
    "collection_jobs": 0,
    "outstanding_batches": 0,
    "report_aggregations": 980,
    "statistics_rows": 0
  },
  "role": "leader",
  "task_id": "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc"
}
"#
        );
    }

    #[test]
    fn over_the_api_the_answer_names_the_task_without_row_counts() {
        let task_id = TaskId::from_bytes([7; 32]);
        assert_eq!(
            render(&task_id, Role::Helper, None, OutputFormat::Table).unwrap(),
            "Deleted task BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc (helper).\n"
        );
        let json = render(&task_id, Role::Helper, None, OutputFormat::Json).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed["role"], "helper");
        assert!(parsed["deleted_rows"].is_null(), "{json}");
    }
}
