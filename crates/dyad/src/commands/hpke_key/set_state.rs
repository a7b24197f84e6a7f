//! `dyad hpke-key set-state ID STATE`: moves a global key to `pending`,
//! `active` or `expired` (replicas follow within
//! `hpke_keys.refresh_interval_secs`). With `--api`, over a management API
//! (`PATCH /hpke_configs/{id}`).

use super::view::{find, no_such_key, parse_state, KeyView};
use crate::commands::task::DatastoreArgs;
use crate::output::OutputFormat;
use clap::Args;
use dyad_datastore::models::HpkeKeyState;
use dyad_datastore::{DatastoreError, DatastoreExt, TxError};
use dyad_messages::draft09::HpkeConfigId;

#[derive(Debug, Args)]
pub struct SetStateArgs {
    #[command(flatten)]
    datastore: DatastoreArgs,
    /// The key's config ID.
    id: u8,
    /// pending, active or expired.
    #[arg(value_parser = parse_state)]
    state: HpkeKeyState,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

pub async fn run(args: SetStateArgs) -> anyhow::Result<()> {
    let (before, view) = if let Some(api) = args.datastore.api()? {
        let id = HpkeConfigId(args.id);
        let before = super::remote::key(&api, id).await?;
        super::remote::set_state(&api, id, args.state).await?;
        let after = super::remote::key(&api, id).await?;
        let before: Option<HpkeKeyState> = before.state.parse().ok();
        (before, after)
    } else {
        in_datastore(&args).await?
    };
    tracing::info!(config_id = args.id, state = %args.state, "set the state of a global HPKE key");
    report(&args, before, &view)
}

/// Sets the state in the datastore: the state before and the key after.
async fn in_datastore(args: &SetStateArgs) -> anyhow::Result<(Option<HpkeKeyState>, KeyView)> {
    let datastore = args.datastore.open_existing().await?;
    let (id, state) = (HpkeConfigId(args.id), args.state);
    let changed = datastore
        .run_tx("set_global_hpke_key_state", move |tx| {
            Box::pin(async move {
                tx.lock_global_hpke_keys().await?;
                let before = tx
                    .get_global_hpke_keys()
                    .await?
                    .into_iter()
                    .find(|key| key.id() == id)
                    .map(|key| key.state);
                tx.set_global_hpke_key_state(id, state).await?;
                let keys = tx.get_global_hpke_keys().await?;
                Ok((before, keys))
            })
        })
        .await;
    let (before, keys) = match changed {
        Ok(changed) => changed,
        Err(TxError::Datastore(DatastoreError::NotFound { .. })) => return Err(no_such_key(id)),
        Err(error) => return Err(error.into()),
    };
    Ok((before, KeyView::of(find(&keys, id)?)))
}

/// Prints the change.
fn report(args: &SetStateArgs, before: Option<HpkeKeyState>, view: &KeyView) -> anyhow::Result<()> {
    let state = args.state;
    if args.format == OutputFormat::Json {
        out!("{}", serde_json::to_string_pretty(view)? + "\n")?;
        return Ok(());
    }
    match before {
        Some(before) if before == state => {
            outln!("Global HPKE key {} is {state} already.", args.id)?
        }
        Some(before) => outln!("Global HPKE key {}: {before} -> {state}.", args.id)?,
        None => outln!("Global HPKE key {} is {state}.", args.id)?,
    }
    noteln!("Every replica follows within hpke_keys.refresh_interval_secs.");
    Ok(())
}
