//! `dyad datastore-key`: the keys that encrypt task secrets at rest (see
//! docs/CONFIGURING.md, "Datastore keys"): `generate` makes one, `reseal`
//! ends a rotation by re-sealing every stored secret under the first key.

use super::task::DatastoreArgs;
use crate::output::{OutputFormat, Table};
use clap::{Args, Subcommand};
use dyad_datastore::reseal::{count_sealed_values, reseal_all, ResealSummary};
use dyad_datastore::DatastoreKeys;
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Debug, Subcommand)]
pub enum DatastoreKeyCommand {
    /// Print a fresh random datastore key (16 bytes, base64url), for
    /// `DYAD_DATASTORE_KEYS` or the config's `datastore_keys`.
    Generate,
    /// Re-seal every stored secret under the first datastore key, so that
    /// the keys after it can then be removed (the end of a rotation). Safe
    /// while aggregators run, once they all hold the new key first.
    Reseal(ResealArgs),
}

#[derive(Debug, Args)]
pub struct ResealArgs {
    #[command(flatten)]
    datastore: DatastoreArgs,
    /// Rows re-sealed per transaction (each transaction stays short, so
    /// running aggregators barely wait).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    batch_size: u64,
    /// How to print the summary.
    #[arg(long, value_enum, default_value_t)]
    format: OutputFormat,
}

pub async fn run(command: DatastoreKeyCommand) -> anyhow::Result<()> {
    match command {
        DatastoreKeyCommand::Generate => {
            outln!("{}", DatastoreKeys::generate_encoded())?;
            Ok(())
        }
        DatastoreKeyCommand::Reseal(args) => reseal(args).await,
    }
}

async fn reseal(args: ResealArgs) -> anyhow::Result<()> {
    let datastore = args.datastore.open().await?;
    let result = async {
        let total = count_sealed_values(datastore.as_ref()).await?;
        let progress = ProgressBar::new(total).with_style(
            ProgressStyle::with_template("re-sealing {bar:40} {pos}/{len} rows ({eta} left)")
                .expect("valid progress template"),
        );
        let summary = reseal_all(datastore.as_ref(), args.batch_size, |rows| {
            progress.inc(rows)
        })
        .await;
        progress.finish_and_clear();
        anyhow::Ok(summary?)
    }
    .await;
    datastore.close().await;
    out!("{}", render(&result?, args.format))?;
    Ok(())
}

/// The summary in the chosen format.
fn render(summary: &ResealSummary, format: OutputFormat) -> String {
    match format {
        OutputFormat::Json => format!(
            "{}\n",
            serde_json::json!({
                "resealed": summary.resealed,
                "already_under_first_key": summary.already_current,
            })
        ),
        OutputFormat::Table | OutputFormat::Csv => {
            let mut table = Table::new(["rows", "count"]);
            table.row([
                "re-sealed under the first key".to_owned(),
                summary.resealed.to_string(),
            ]);
            table.row([
                "already under the first key".to_owned(),
                summary.already_current.to_string(),
            ]);
            if format == OutputFormat::Csv {
                table.render_csv()
            } else {
                table.render()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_and_differ() {
        let a = DatastoreKeys::generate_encoded();
        let b = DatastoreKeys::generate_encoded();
        assert_ne!(a, b);
        assert_eq!(DatastoreKeys::from_list(&a).unwrap().len(), 1);
    }

    #[test]
    fn summary_prints_as_a_table_or_json() {
        let summary = ResealSummary {
            resealed: 3,
            already_current: 12,
        };
        let table = render(&summary, OutputFormat::Table);
        assert_eq!(
            table,
            "rows                           count\n\
             re-sealed under the first key  3\n\
             already under the first key    12\n"
        );
        let json: serde_json::Value =
            serde_json::from_str(&render(&summary, OutputFormat::Json)).unwrap();
        assert_eq!(json["resealed"], 3);
        assert_eq!(json["already_under_first_key"], 12);
    }
}
