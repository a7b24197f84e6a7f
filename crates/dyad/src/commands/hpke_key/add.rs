//! `dyad hpke-key add`: makes a new global HPKE keypair inside the
//! datastore, under the next free config ID (or `--id`), in state
//! `pending` (the default: every replica reads it before it is advertised)
//! or `active`. Only its public part is printed. With `--api`, the
//! management API makes the key (`PUT /hpke_configs`: pending, under the
//! lowest free config ID, so `--id` cannot be chosen there), then, for
//! `--state active`, activates it.

use super::list::render;
use super::view::KeyView;
use crate::commands::task::DatastoreArgs;
use crate::management_client::ManagementClient;
use crate::output::OutputFormat;
use crate::report::hinted;
use clap::Args;
use dyad_aggregator::key_rotator::plan::new_config_id;
use dyad_aggregator::management::models::{
    aead_name, kdf_name, kem_name, GlobalHpkeConfigJson, PutHpkeConfigRequest,
};
use dyad_core::hpke::{HpkeCiphersuite, HpkeKeypair};
use dyad_datastore::models::HpkeKeyState;
use dyad_datastore::{DatastoreExt, TxError};
use dyad_messages::draft09::{HpkeAeadId, HpkeConfigId, HpkeKdfId, HpkeKemId};
use reqwest::Method;

#[derive(Debug, Args)]
pub struct AddArgs {
    #[command(flatten)]
    datastore: DatastoreArgs,
    /// KEM (RFC 9180 section 7.1); default 32, DHKEM(X25519, HKDF-SHA256).
    #[arg(long, default_value_t = 0x0020)]
    kem: u16,
    /// KDF (RFC 9180 section 7.2); default 1, HKDF-SHA256.
    #[arg(long, default_value_t = 0x0001)]
    kdf: u16,
    /// AEAD (RFC 9180 section 7.3); default 1, AES-128-GCM.
    #[arg(long, default_value_t = 0x0001)]
    aead: u16,
    /// The config ID (0 to 255); default: the one after the newest key's.
    #[arg(long)]
    id: Option<u8>,
    /// `pending` (opens reports, not advertised until made active) or
    /// `active` (advertised at once: use it for a first key, when no Client
    /// can have cached another).
    #[arg(long, default_value = "pending", value_parser = super::view::parse_state)]
    state: HpkeKeyState,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

/// Why a key cannot be added (the transaction's own errors).
#[derive(Debug)]
enum AddError {
    Taken(HpkeConfigId, HpkeKeyState),
    Full,
}

impl std::fmt::Display for AddError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AddError::Taken(id, state) => {
                write!(f, "config ID {id} is taken by a {state} global key")
            }
            AddError::Full => f.write_str("no free config ID: all 256 are taken"),
        }
    }
}

impl std::error::Error for AddError {}

pub async fn run(args: AddArgs) -> anyhow::Result<()> {
    if args.state == HpkeKeyState::Expired {
        return Err(hinted(
            "a new key cannot be expired",
            "give --state pending (the default) or --state active",
        ));
    }
    let suite = HpkeCiphersuite::new(
        HpkeKemId::from(args.kem),
        HpkeKdfId::from(args.kdf),
        HpkeAeadId::from(args.aead),
    );
    if !suite.is_supported() {
        return Err(hinted(
            format!(
                "kem {}, kdf {}, aead {} is not a ciphersuite dyad supports",
                args.kem, args.kdf, args.aead
            ),
            "--kem 16, 17, 18 or 32; --kdf 1, 2 or 3; --aead 1, 2 or 3",
        ));
    }
    if let Some(api) = args.datastore.api()? {
        let view = add_over_api(&api, &args, suite).await?;
        return report(&view, args.format);
    }
    let datastore = args.datastore.open_existing().await?;
    let (wanted, state) = (args.id.map(HpkeConfigId), args.state);
    let added = datastore
        .run_tx("add_global_hpke_key", move |tx| {
            Box::pin(async move {
                tx.lock_global_hpke_keys().await?;
                let keys = tx.get_global_hpke_keys().await?;
                let id = match wanted {
                    Some(id) => {
                        if let Some(key) = keys.iter().find(|key| key.id() == id) {
                            return Err(TxError::abort(AddError::Taken(id, key.state)));
                        }
                        id
                    }
                    None => new_config_id(&keys).ok_or_else(|| TxError::abort(AddError::Full))?,
                };
                let keypair = HpkeKeypair::generate(id, suite.kem, suite.kdf, suite.aead)
                    .map_err(TxError::abort)?;
                tx.put_global_hpke_key(&keypair, state).await?;
                let keys = tx.get_global_hpke_keys().await?;
                Ok(keys.into_iter().find(|key| key.id() == id))
            })
        })
        .await;
    let added = match added {
        Ok(Some(key)) => key,
        Ok(None) => anyhow::bail!("the new key was not found after storing it"),
        Err(error) => return Err(match error.downcast_aborted::<AddError>() {
            Ok(taken @ AddError::Taken(..)) => hinted(
                taken.to_string(),
                "leave --id out to take the next free one (`dyad hpke-key list` shows the keys)",
            ),
            Ok(full) => hinted(
                full.to_string(),
                "delete expired keys with `dyad hpke-key delete`",
            ),
            Err(other) => other.into(),
        }),
    };
    tracing::info!(config_id = added.id().0, state = %added.state, "added a global HPKE key");
    report(&KeyView::of(&added), args.format)
}

/// `hpke-key add --api`: `PUT /hpke_configs` with the suite's names, then
/// `PATCH` to active if asked; the key as the API then lists it.
async fn add_over_api(
    api: &ManagementClient,
    args: &AddArgs,
    suite: HpkeCiphersuite,
) -> anyhow::Result<KeyView> {
    if args.id.is_some() {
        return Err(hinted(
            "--id cannot be chosen over the management API: it gives a new key the lowest \
             free config ID",
            "leave --id out",
        ));
    }
    let named = |name: Option<&'static str>| {
        name.map(str::to_owned)
            .ok_or_else(|| anyhow::anyhow!("the management API has no name for this ciphersuite"))
    };
    let request = PutHpkeConfigRequest {
        kem_id: Some(named(kem_name(suite.kem))?),
        kdf_id: Some(named(kdf_name(suite.kdf))?),
        aead_id: Some(named(aead_name(suite.aead))?),
    };
    let added: GlobalHpkeConfigJson = api.send(Method::PUT, "hpke_configs", &request).await?;
    let id = HpkeConfigId(added.config.id);
    if args.state == HpkeKeyState::Active {
        super::remote::set_state(api, id, HpkeKeyState::Active)
            .await
            .map_err(|error| {
                hinted(
                    format!(
                        "global HPKE key {id} was added as pending, but activating it failed: \
                         {error:#}"
                    ),
                    format!("`dyad hpke-key set-state {id} active --api ...` once that is fixed"),
                )
            })?;
    }
    tracing::info!(config_id = id.0, state = %args.state, "added a global HPKE key over the management API");
    super::remote::key(api, id).await
}

/// Prints the added key (and, for a pending one, what comes next).
fn report(view: &KeyView, format: OutputFormat) -> anyhow::Result<()> {
    if format == OutputFormat::Json {
        out!(
            "{}",
            render(std::slice::from_ref(view), OutputFormat::Json)?
        )?;
        return Ok(());
    }
    outln!(
        "Added global HPKE key {} ({}, {}).",
        view.config_id,
        view.state,
        view.ciphersuite()
    )?;
    if view.state == HpkeKeyState::Pending.to_string() {
        noteln!(
            "It opens reports now and is advertised once active: `dyad hpke-key set-state {} \
             active` after every replica has read it (hpke_keys.refresh_interval_secs), or let \
             the key-rotator role promote it.",
            view.config_id
        );
    }
    Ok(())
}
