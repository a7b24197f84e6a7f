//! `dyad task list`: every task in the datastore (or, with `--api`, of the
//! aggregator behind a management API), one row each, by task ID (or a
//! JSON array of [`TaskView`]s, or CSV).

use super::view::TaskView;
use super::DatastoreArgs;
use crate::output::{OutputFormat, Table};
use clap::Args;
use dyad_datastore::DatastoreExt;

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    datastore: DatastoreArgs,
    /// How to print the tasks.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

pub async fn run(args: ListArgs) -> anyhow::Result<()> {
    if let Some(api) = args.datastore.api()? {
        let views = super::remote::views(&api).await?;
        out!("{}", render(&views, args.format, "on this aggregator")?)?;
        return Ok(());
    }
    let datastore = args.datastore.open_existing().await?;
    let tasks = datastore
        .run_read_tx("list_tasks", |tx| {
            Box::pin(async move { Ok(tx.get_tasks().await?) })
        })
        .await?;
    let views: Vec<TaskView> = tasks.iter().map(TaskView::of).collect();
    out!("{}", render(&views, args.format, "in this datastore")?)?;
    Ok(())
}

/// The tasks as `format` prints them; `place` says where there are none.
fn render(views: &[TaskView], format: OutputFormat, place: &str) -> anyhow::Result<String> {
    if format == OutputFormat::Json {
        return Ok(serde_json::to_string_pretty(&views)? + "\n");
    }
    if views.is_empty() && format == OutputFormat::Table {
        return Ok(format!(
            "No tasks {place} (add one with `dyad task add`).\n"
        ));
    }
    let mut table = Table::new([
        "TASK ID",
        "ROLE",
        "VDAF",
        "BATCH MODE",
        "MIN BATCH SIZE",
        "TIME PRECISION",
        "EXPIRES",
    ]);
    for view in views {
        table.row([
            view.task_id().to_owned(),
            view.role().to_owned(),
            view.vdaf(),
            view.batch_mode().to_owned(),
            view.min_batch_size().to_string(),
            view.time_precision(),
            view.task_expiration(),
        ]);
    }
    Ok(match format {
        OutputFormat::Csv => table.render_csv(),
        _ => table.render(),
    })
}

#[cfg(test)]
mod tests {
    use super::super::view::fixtures::{helper_task, leader_task};
    use super::*;
    use dyad_core::task::Task;

    fn render(tasks: &[Task], format: OutputFormat) -> anyhow::Result<String> {
        let views: Vec<TaskView> = tasks.iter().map(TaskView::of).collect();
        super::render(&views, format, "in this datastore")
    }

    #[test]
    fn table_has_a_header_and_one_aligned_row_per_task() {
        let tasks = [helper_task(), leader_task()];
        assert_eq!(
            render(&tasks, OutputFormat::Table).unwrap(),
            "\
TASK ID                                      ROLE    VDAF                                                       BATCH MODE     MIN BATCH SIZE  TIME PRECISION  EXPIRES
AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE  helper  {\"type\":\"Prio3Histogram\",\"length\":\"4\",\"chunk_length\":\"2\"}  fixed_size     100             60 s            never
BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc  leader  {\"type\":\"Prio3Count\"}                                      time_interval  100             3600 s          2030-01-01T00:00:00Z
"
        );
    }

    #[test]
    fn csv_has_the_same_columns() {
        assert_eq!(
            render(&[leader_task()], OutputFormat::Csv).unwrap(),
            "\
TASK ID,ROLE,VDAF,BATCH MODE,MIN BATCH SIZE,TIME PRECISION,EXPIRES
BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc,leader,\"{\"\"type\"\":\"\"Prio3Count\"\"}\",time_interval,100,3600 s,2030-01-01T00:00:00Z
"
        );
    }

    #[test]
    fn json_is_an_array_of_task_views_without_secrets() {
        let json = render(&[helper_task()], OutputFormat::Json).unwrap();
        assert_eq!(
            json,
            r#"[
  {
    "task_id": "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE",
    "role": "helper",
    "leader_aggregator_endpoint": "https://leader.example/",
    "helper_aggregator_endpoint": "https://helper.example/",
    "vdaf": {
      "type": "Prio3Histogram",
      "length": "4",
      "chunk_length": "2"
    },
    "dp_strategy": {
      "dp_strategy": "PureDpDiscreteLaplace",
      "budget": {
        "epsilon": [
          [
            1
          ],
          [
            2
          ]
        ]
      }
    },
    "batch_mode": "fixed_size",
    "min_batch_size": 100,
    "max_batch_size": 500,
    "time_precision_secs": 60,
    "max_batch_query_count": 1,
    "task_expiration": null,
    "report_expiry_age_secs": 604800,
    "tolerable_clock_skew_secs": 60,
    "aggregator_auth_token": {
      "type": "dap_auth",
      "stored": "hash"
    },
    "collector_auth_token": null,
    "hpke_keys": [],
    "collector_hpke_config": {
      "id": 1,
      "kem": "X25519-HKDF-SHA256",
      "kdf": "HKDF-SHA256",
      "aead": "AES-128-GCM"
    }
  }
]
"#
        );
    }

    #[test]
    fn an_empty_list_says_so_or_is_an_empty_array() {
        assert_eq!(
            render(&[], OutputFormat::Table).unwrap(),
            "No tasks in this datastore (add one with `dyad task add`).\n"
        );
        assert_eq!(render(&[], OutputFormat::Json).unwrap(), "[]\n");
        assert_eq!(
            render(&[], OutputFormat::Csv).unwrap(),
            "TASK ID,ROLE,VDAF,BATCH MODE,MIN BATCH SIZE,TIME PRECISION,EXPIRES\n"
        );
    }
}
