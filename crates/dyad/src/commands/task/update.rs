//! `dyad task update TASK_ID --task-expiration WHEN`: changes a stored
//! task's `task_expiration` (DAP-09 section 4.2: the time after which
//! clients are no longer expected to upload; the Leader then rejects their
//! reports, section 4.4.2), and prints the new value. With `--api`, over a
//! management API (`PATCH /tasks/{id}`).

use super::DatastoreArgs;
use crate::management_client::{is_not_found, ManagementClient};
use crate::output::{rfc3339, OutputFormat, Table};
use anyhow::Context as _;
use clap::Args;
use dyad_aggregator::management::task_json::TaskResponse;
use dyad_core::clock::{Clock as _, RealClock};
use dyad_datastore::DatastoreExt;
use dyad_messages::draft09::{TaskId, Time};
use reqwest::Method;

#[derive(Debug, Args)]
pub struct UpdateArgs {
    #[command(flatten)]
    datastore: DatastoreArgs,
    /// The task ID (base64url). One in 64 starts with `-`, so a leading
    /// hyphen is part of the ID here, never a flag.
    #[arg(allow_hyphen_values = true)]
    task_id: TaskId,
    /// The new expiration: an RFC 3339 time (`2030-01-01T00:00:00Z`),
    /// seconds since the epoch, or `none` for a task that never expires.
    #[arg(long, value_name = "RFC3339|SECONDS|none", value_parser = parse_expiration)]
    task_expiration: Expiration,
    /// How to print the result.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

/// A `--task-expiration` value: a time, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Expiration(Option<Time>);

fn parse_expiration(value: &str) -> Result<Expiration, String> {
    let value = value.trim();
    if value.eq_ignore_ascii_case("none") || value.eq_ignore_ascii_case("never") {
        return Ok(Expiration(None));
    }
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        let seconds = value
            .parse::<u64>()
            .map_err(|_| format!("{value} seconds is out of range"))?;
        return Ok(Expiration(Some(Time::from_seconds_since_epoch(seconds))));
    }
    let time = chrono::DateTime::parse_from_rfc3339(value).map_err(|e| {
        format!(
            "{e}: give an RFC 3339 time (e.g. 2030-01-01T00:00:00Z), seconds since the epoch, \
             or none"
        )
    })?;
    let seconds = u64::try_from(time.timestamp())
        .map_err(|_| format!("{value} is before 1970-01-01T00:00:00Z"))?;
    Ok(Expiration(Some(Time::from_seconds_since_epoch(seconds))))
}

pub async fn run(args: UpdateArgs) -> anyhow::Result<()> {
    let (task_id, expiration) = (args.task_id, args.task_expiration.0);
    let (previous, now) = if let Some(api) = args.datastore.api()? {
        (
            update_over_api(&api, &task_id, expiration).await?,
            RealClock.now(),
        )
    } else {
        update_in_datastore(&args.datastore, &task_id, expiration).await?
    };
    if let Some(expiration) = expiration.filter(|expiration| *expiration < now) {
        noteln!(
            "warning: {} is in the past: the task has expired, and the Leader rejects \
             the reports clients upload now",
            rfc3339(expiration)
        );
    }
    out!("{}", render(&task_id, expiration, previous, args.format)?)?;
    Ok(())
}

/// Sets the expiration in the datastore; the previous one and the
/// datastore's time.
async fn update_in_datastore(
    datastore: &DatastoreArgs,
    task_id: &TaskId,
    expiration: Option<Time>,
) -> anyhow::Result<(Option<Time>, Time)> {
    let datastore = datastore.open_existing().await?;
    let task_id = *task_id;
    let (previous, now) = datastore
        .run_tx("update_task_expiration", move |tx| {
            Box::pin(async move {
                let Some(task) = tx.get_task(&task_id).await? else {
                    return Ok(None);
                };
                tx.update_task_expiration(&task_id, expiration).await?;
                Ok(Some((task.task_expiration(), tx.now())))
            })
        })
        .await?
        .with_context(|| super::datastore_args::no_such_task(&task_id))?;
    tracing::info!(task_id = %task_id, ?expiration, "changed a task's expiration");
    Ok((previous, now))
}

/// Sets the expiration over the management API; the previous one.
async fn update_over_api(
    api: &ManagementClient,
    task_id: &TaskId,
    expiration: Option<Time>,
) -> anyhow::Result<Option<Time>> {
    let before = super::remote::task(api, task_id).await?;
    let patch = serde_json::json!({
        "task_expiration": expiration.map(|time| time.as_seconds_since_epoch()),
    });
    let after: TaskResponse = api
        .send(Method::PATCH, &format!("tasks/{task_id}"), &patch)
        .await
        .map_err(|error| {
            if is_not_found(&error) {
                anyhow::anyhow!("task {task_id} was deleted meanwhile by someone else")
            } else {
                error
            }
        })?;
    let now = after.task_expiration.map(Time::from_seconds_since_epoch);
    anyhow::ensure!(
        now == expiration,
        "the management API answered with task_expiration {:?}, not the one sent",
        after.task_expiration
    );
    tracing::info!(task_id = %task_id, ?expiration, "changed a task's expiration over the management API");
    Ok(before.task_expiration.map(Time::from_seconds_since_epoch))
}

/// The new expiration (and the old one), as `format` prints it.
fn render(
    task_id: &TaskId,
    expiration: Option<Time>,
    previous: Option<Time>,
    format: OutputFormat,
) -> anyhow::Result<String> {
    let text = |time: Option<Time>| time.map_or_else(|| "never".to_owned(), rfc3339);
    Ok(match format {
        OutputFormat::Json => {
            let json = serde_json::json!({
                "task_id": task_id.to_string(),
                "task_expiration": expiration.map(rfc3339),
                "previous_task_expiration": previous.map(rfc3339),
            });
            serde_json::to_string_pretty(&json)? + "\n"
        }
        OutputFormat::Csv => {
            let mut table = Table::new(["task_id", "task_expiration", "previous_task_expiration"]);
            table.row([task_id.to_string(), text(expiration), text(previous)]);
            table.render_csv()
        }
        OutputFormat::Table => format!(
            "Task {task_id} now expires: {} (was: {}).\n",
            text(expiration),
            text(previous)
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expirations_parse_from_rfc3339_seconds_or_none() {
        let at = |s| Ok(Expiration(Some(Time::from_seconds_since_epoch(s))));
        assert_eq!(parse_expiration("2030-01-01T00:00:00Z"), at(1_893_456_000));
        assert_eq!(
            parse_expiration("2030-01-01T01:00:00+01:00"),
            at(1_893_456_000)
        );
        assert_eq!(parse_expiration("1893456000"), at(1_893_456_000));
        assert_eq!(parse_expiration("none"), Ok(Expiration(None)));
        assert_eq!(parse_expiration("None"), Ok(Expiration(None)));
    }

    #[test]
    fn bad_expirations_say_what_is_accepted() {
        for bad in ["tomorrow", "2030-01-01", "", "-5"] {
            let error = parse_expiration(bad).unwrap_err();
            assert!(error.contains("RFC 3339"), "{bad}: {error}");
        }
        assert_eq!(
            parse_expiration("1969-12-31T23:59:59Z").unwrap_err(),
            "1969-12-31T23:59:59Z is before 1970-01-01T00:00:00Z"
        );
        assert!(parse_expiration("99999999999999999999")
            .unwrap_err()
            .contains("out of range"));
    }

    #[test]
    fn the_answer_shows_the_new_and_old_expiration() {
        let task_id = TaskId::from_bytes([7; 32]);
        let new = Some(Time::from_seconds_since_epoch(1_893_456_000));
        assert_eq!(
            render(&task_id, new, None, OutputFormat::Table).unwrap(),
            "Task BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc now expires: \
             2030-01-01T00:00:00Z (was: never).\n"
        );
        assert_eq!(
            render(&task_id, None, new, OutputFormat::Json).unwrap(),
            r#"{
  "previous_task_expiration": "2030-01-01T00:00:00Z",
  "task_expiration": null,
  "task_id": "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc"
}
"#
        );
    }
}
