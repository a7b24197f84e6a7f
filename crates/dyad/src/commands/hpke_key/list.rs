//! `dyad hpke-key list`: every global HPKE key, by config ID, as a table
//! (config ID, state, ciphersuite, since when), JSON or CSV; with `--api`,
//! as a management API lists them (`GET /hpke_configs`: no times).

use super::view::KeyView;
use crate::commands::task::DatastoreArgs;
use crate::output::{OutputFormat, Table};
use clap::Args;
use dyad_datastore::DatastoreExt;

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    datastore: DatastoreArgs,
    /// How to print the keys.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

pub async fn run(args: ListArgs) -> anyhow::Result<()> {
    if let Some(api) = args.datastore.api()? {
        let views = super::remote::keys(&api).await?;
        out!("{}", render(&views, args.format)?)?;
        return Ok(());
    }
    let datastore = args.datastore.open_existing().await?;
    let keys = datastore
        .run_read_tx("list_global_hpke_keys", |tx| {
            Box::pin(async move { Ok(tx.get_global_hpke_keys().await?) })
        })
        .await?;
    let views: Vec<KeyView> = keys.iter().map(KeyView::of).collect();
    out!("{}", render(&views, args.format)?)?;
    Ok(())
}

/// The keys as `format` prints them.
pub(super) fn render(views: &[KeyView], format: OutputFormat) -> anyhow::Result<String> {
    if format == OutputFormat::Json {
        return Ok(serde_json::to_string_pretty(views)? + "\n");
    }
    if views.is_empty() && format == OutputFormat::Table {
        return Ok("No global HPKE keys (add one with `dyad hpke-key add`, \
                   or run the key-rotator role).\n"
            .to_owned());
    }
    let mut table = Table::new([
        "CONFIG ID",
        "STATE",
        "CIPHERSUITE",
        "STATE SINCE",
        "CREATED",
    ]);
    for view in views {
        table.row([
            view.config_id.to_string(),
            view.state.clone(),
            view.ciphersuite(),
            view.state_since_text(),
            view.created_at
                .clone()
                .unwrap_or_else(|| "unknown".to_owned()),
        ]);
    }
    Ok(match format {
        OutputFormat::Csv => table.render_csv(),
        _ => table.render(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(id: u8, state: &str) -> KeyView {
        KeyView {
            config_id: id,
            state: state.to_owned(),
            kem: "X25519-HKDF-SHA256".to_owned(),
            kdf: "HKDF-SHA256".to_owned(),
            aead: "AES-128-GCM".to_owned(),
            state_since: Some("2026-12-02T06:00:00Z".to_owned()),
            created_at: Some("2026-12-01T05:00:00Z".to_owned()),
        }
    }

    #[test]
    fn table_has_one_aligned_row_per_key() {
        assert_eq!(
            render(&[view(1, "expired"), view(12, "active")], OutputFormat::Table).unwrap(),
            "\
CONFIG ID  STATE    CIPHERSUITE                                   STATE SINCE           CREATED
1          expired  X25519-HKDF-SHA256, HKDF-SHA256, AES-128-GCM  2026-12-02T06:00:00Z  2026-12-01T05:00:00Z
12         active   X25519-HKDF-SHA256, HKDF-SHA256, AES-128-GCM  2026-12-02T06:00:00Z  2026-12-01T05:00:00Z
"
        );
    }

    #[test]
    fn no_keys_says_how_to_make_one_and_json_is_an_array() {
        let text = render(&[], OutputFormat::Table).unwrap();
        assert!(text.contains("dyad hpke-key add"), "{text}");
        assert_eq!(render(&[], OutputFormat::Json).unwrap(), "[]\n");
        let json: serde_json::Value =
            serde_json::from_str(&render(&[view(3, "pending")], OutputFormat::Json).unwrap())
                .unwrap();
        assert_eq!(json[0]["config_id"], 3);
        assert_eq!(json[0]["state"], "pending");
        assert_eq!(json[0]["kem"], "X25519-HKDF-SHA256");
    }
}
