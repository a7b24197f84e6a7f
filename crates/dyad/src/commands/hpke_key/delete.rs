//! `dyad hpke-key delete ID`: deletes a global key, after asking (on a
//! terminal; elsewhere only with `--yes`). An active key is refused unless
//! `--force`: Clients are being given it, and each upload sealed to it
//! would fail until they refetch. Expire it first (`set-state ID expired`)
//! and delete it once Clients' cached copies have run out. With `--api`,
//! over a management API (`DELETE /hpke_configs/{id}`), with the same
//! checks.

use super::view::{find, KeyView};
use crate::commands::task::{confirm, DatastoreArgs};
use crate::report::hinted;
use anyhow::bail;
use clap::Args;
use dyad_datastore::models::HpkeKeyState;
use dyad_datastore::DatastoreExt;
use dyad_messages::draft09::HpkeConfigId;
use std::io::IsTerminal as _;

#[derive(Debug, Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    datastore: DatastoreArgs,
    /// The key's config ID.
    id: u8,
    /// Delete without asking (needed when stdin is not a terminal).
    #[arg(long, short = 'y')]
    yes: bool,
    /// Delete even an active key.
    #[arg(long)]
    force: bool,
}

pub async fn run(args: DeleteArgs) -> anyhow::Result<()> {
    let id = HpkeConfigId(args.id);
    if let Some(api) = args.datastore.api()? {
        let view = super::remote::key(&api, id).await?;
        if !agreed(&args, &view)? {
            return Ok(());
        }
        api.delete(&format!("hpke_configs/{}", args.id)).await?;
        tracing::info!(
            config_id = args.id,
            "deleted a global HPKE key over the management API"
        );
        outln!("Deleted global HPKE key {} ({}).", args.id, view.state)?;
        return Ok(());
    }
    let datastore = args.datastore.open_existing().await?;
    let keys = datastore
        .run_read_tx("get_global_hpke_keys", |tx| {
            Box::pin(async move { Ok(tx.get_global_hpke_keys().await?) })
        })
        .await?;
    let view = KeyView::of(find(&keys, id)?);
    if !agreed(&args, &view)? {
        return Ok(());
    }
    let deleted = datastore
        .run_tx("delete_global_hpke_key", move |tx| {
            Box::pin(async move {
                tx.lock_global_hpke_keys().await?;
                Ok(tx.delete_global_hpke_key(id).await?)
            })
        })
        .await?;
    if !deleted {
        bail!(
            "global HPKE key {} was deleted meanwhile by someone else",
            args.id
        );
    }
    tracing::info!(config_id = args.id, "deleted a global HPKE key");
    outln!("Deleted global HPKE key {} ({}).", args.id, view.state)?;
    Ok(())
}

/// Whether to delete the key: refused while active (without `--force`),
/// then `--yes` or the operator's answer. Says so when nothing is deleted.
fn agreed(args: &DeleteArgs, view: &KeyView) -> anyhow::Result<bool> {
    if view.state == HpkeKeyState::Active.to_string() && !args.force {
        return Err(hinted(
            format!(
                "global HPKE key {} is active: Clients are being given it",
                args.id
            ),
            format!(
                "expire it first (`dyad hpke-key set-state {} expired`) and delete it once \
                 Clients' cached configs ran out, or give --force",
                args.id
            ),
        ));
    }
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            bail!(
                "not deleting global HPKE key {} without confirmation: stdin is not a terminal \
                 to ask on (give --yes to delete without asking)",
                args.id
            );
        }
        let since = view
            .state_since
            .as_ref()
            .map(|since| format!(", since {since}"))
            .unwrap_or_default();
        let question = format!(
            "Delete global HPKE key {} ({}, {}{since})? Reports sealed to it will no longer \
             open. [y/N] ",
            view.config_id,
            view.state,
            view.ciphersuite(),
        );
        if !confirm(&question)? {
            noteln!("Nothing deleted.");
            return Ok(false);
        }
    }
    Ok(true)
}
