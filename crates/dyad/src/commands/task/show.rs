//! `dyad task show TASK_ID`: one task as a two-column key/value table (or
//! its JSON [`TaskView`], or CSV), secrets never shown; from the datastore
//! or, with `--api`, a management API (`GET /tasks/{id}`).

use super::view::TaskView;
use super::DatastoreArgs;
use crate::output::{OutputFormat, Table};
use anyhow::Context as _;
use clap::Args;
use dyad_core::task::Task;
use dyad_datastore::DatastoreExt;
use dyad_messages::draft09::TaskId;

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[command(flatten)]
    datastore: DatastoreArgs,
    /// The task ID (base64url). One in 64 starts with `-`, so a leading
    /// hyphen is part of the ID here, never a flag.
    #[arg(allow_hyphen_values = true)]
    task_id: TaskId,
    /// How to print the task.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

pub async fn run(args: ShowArgs) -> anyhow::Result<()> {
    if let Some(api) = args.datastore.api()? {
        let view = super::remote::view(&api, &args.task_id).await?;
        out!("{}", render_view(&view, args.format)?)?;
        return Ok(());
    }
    let datastore = args.datastore.open_existing().await?;
    let task_id = args.task_id;
    let task = datastore
        .run_read_tx("show_task", move |tx| {
            Box::pin(async move { Ok(tx.get_task(&task_id).await?) })
        })
        .await?
        .with_context(|| super::datastore_args::no_such_task(&task_id))?;
    out!("{}", render(&task, args.format)?)?;
    Ok(())
}

/// The task as `format` prints it.
fn render(task: &Task, format: OutputFormat) -> anyhow::Result<String> {
    render_view(&TaskView::of(task), format)
}

/// The task's view as `format` prints it.
fn render_view(view: &TaskView, format: OutputFormat) -> anyhow::Result<String> {
    Ok(match format {
        OutputFormat::Json => serde_json::to_string_pretty(view)? + "\n",
        OutputFormat::Table => key_value_table(Table::new(Vec::<String>::new()), view).render(),
        OutputFormat::Csv => key_value_table(Table::new(["field", "value"]), view).render_csv(),
    })
}

fn key_value_table(mut table: Table, view: &TaskView) -> Table {
    for (name, value) in view.rows() {
        table.row([name.to_owned(), value]);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::super::view::fixtures::{helper_task, leader_task};
    use super::*;

    #[test]
    fn table_is_key_value_rows_without_secrets() {
        assert_eq!(
            render(&leader_task(), OutputFormat::Table).unwrap(),
            r#"task ID                BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc
role                   leader
leader endpoint        https://leader.example/dap/
helper endpoint        https://helper.example/
VDAF                   {"type":"Prio3Count"}
differential privacy   none (exact results)
batch mode             time_interval
min batch size         100
time precision         3600 s
max batch query count  1
task expiration        2030-01-01T00:00:00Z
report expiry age      none (reports are kept)
tolerable clock skew   60 s
aggregator auth token  DAP-Auth-Token, token stored
collector auth token   bearer, hash stored
HPKE keys              id 2: X25519-HKDF-SHA256, HKDF-SHA256, AES-128-GCM
                       id 3: X25519-HKDF-SHA256, HKDF-SHA256, AES-128-GCM
collector HPKE config  id 1: X25519-HKDF-SHA256, HKDF-SHA256, AES-128-GCM
"#
        );
    }

    #[test]
    fn a_fixed_size_helper_task_shows_its_max_batch_size_and_expiry_age() {
        assert_eq!(
            render(&helper_task(), OutputFormat::Table).unwrap(),
            r#"task ID                AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE
role                   helper
leader endpoint        https://leader.example/
helper endpoint        https://helper.example/
VDAF                   {"type":"Prio3Histogram","length":"4","chunk_length":"2"}
differential privacy   PureDpDiscreteLaplace (epsilon 1/2): each aggregator adds noise; results are noisy
batch mode             fixed_size
min batch size         100
max batch size         500
time precision         60 s
max batch query count  1
task expiration        never
report expiry age      604800 s
tolerable clock skew   60 s
aggregator auth token  DAP-Auth-Token, hash stored
collector auth token   none
HPKE keys              none of its own: the aggregator's global keys (`dyad hpke-key list`)
collector HPKE config  id 1: X25519-HKDF-SHA256, HKDF-SHA256, AES-128-GCM
"#
        );
    }

    #[test]
    fn json_is_the_task_view() {
        assert_eq!(
            render(&leader_task(), OutputFormat::Json).unwrap(),
            r#"{
  "task_id": "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc",
  "role": "leader",
  "leader_aggregator_endpoint": "https://leader.example/dap/",
  "helper_aggregator_endpoint": "https://helper.example/",
  "vdaf": {
    "type": "Prio3Count"
  },
  "dp_strategy": {
    "dp_strategy": "NoDifferentialPrivacy"
  },
  "batch_mode": "time_interval",
  "min_batch_size": 100,
  "max_batch_size": null,
  "time_precision_secs": 3600,
  "max_batch_query_count": 1,
  "task_expiration": "2030-01-01T00:00:00Z",
  "report_expiry_age_secs": null,
  "tolerable_clock_skew_secs": 60,
  "aggregator_auth_token": {
    "type": "dap_auth",
    "stored": "token"
  },
  "collector_auth_token": {
    "type": "bearer",
    "stored": "hash"
  },
  "hpke_keys": [
    {
      "id": 2,
      "kem": "X25519-HKDF-SHA256",
      "kdf": "HKDF-SHA256",
      "aead": "AES-128-GCM"
    },
    {
      "id": 3,
      "kem": "X25519-HKDF-SHA256",
      "kdf": "HKDF-SHA256",
      "aead": "AES-128-GCM"
    }
  ],
  "collector_hpke_config": {
    "id": 1,
    "kem": "X25519-HKDF-SHA256",
    "kdf": "HKDF-SHA256",
    "aead": "AES-128-GCM"
  }
}
"#
        );
    }

    #[test]
    fn no_output_format_holds_a_secret() {
        let task = leader_task();
        let secrets = [
            "leader-to-helper".to_owned(),
            "collector-token".to_owned(),
            // The verify key (0x5a * 16) and the private key, in every
            // encoding a careless printer might use.
            "WlpaWlpaWlpaWlpaWlpaWg".to_owned(),
            "5a5a5a5a".to_owned(),
            "77076d0a7318a57d".to_owned(),
            "dwdtCnMYpX08Fs".to_owned(),
        ];
        for format in [OutputFormat::Table, OutputFormat::Json, OutputFormat::Csv] {
            let out = render(&task, format).unwrap();
            for secret in &secrets {
                assert!(!out.contains(secret.as_str()), "{format:?} shows {secret}");
            }
        }
    }

    #[test]
    fn a_task_read_over_the_api_has_the_same_rows_less_its_tokens() {
        use dyad_aggregator::management::task_json::TaskResponse;
        for task in [leader_task(), helper_task()] {
            let response = TaskResponse::from_task(&task).unwrap();
            let own = match task.role() {
                dyad_messages::draft09::Role::Leader => task.leader_aggregator_endpoint(),
                _ => task.helper_aggregator_endpoint(),
            };
            let remote = TaskView::of_api(&response, Some(own)).unwrap().rows();
            let local = TaskView::of(&task).rows();
            assert_eq!(remote.len(), local.len());
            for ((name, local), (remote_name, remote)) in local.iter().zip(&remote) {
                assert_eq!(name, remote_name);
                if name.ends_with("auth token") {
                    assert_eq!(remote, "not shown by the management API");
                } else {
                    assert_eq!(local, remote, "{name}");
                }
            }
            let json = render_view(
                &TaskView::of_api(&response, None).unwrap(),
                OutputFormat::Json,
            )
            .unwrap();
            assert!(!json.contains("auth_token"), "{json}");
            assert!(!json.contains("WlpaWlpa"), "the verify key: {json}");
        }
    }

    #[test]
    fn over_the_api_an_unknown_own_url_says_why() {
        let response =
            dyad_aggregator::management::task_json::TaskResponse::from_task(&leader_task())
                .unwrap();
        let table = render_view(
            &TaskView::of_api(&response, None).unwrap(),
            OutputFormat::Table,
        )
        .unwrap();
        assert!(
            table.contains(
                "leader endpoint        this aggregator (not shown: its management_api.dap_url is not set)"
            ),
            "{table}"
        );
        assert!(
            table.contains("helper endpoint        https://helper.example/\n"),
            "{table}"
        );
    }
}
