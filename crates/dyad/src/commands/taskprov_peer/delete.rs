//! `dyad taskprov-peer delete --endpoint URL --role ROLE`: deletes a
//! taskprov peer aggregator, after asking (on a terminal; elsewhere only
//! with `--yes`). Tasks already provisioned with it stay; new
//! advertisements naming it are refused (`invalidTask`). With `--api`,
//! over a management API (`DELETE /taskprov/peer_aggregators`).

use super::add::PeerRole;
use super::list::views;
use crate::commands::task::{confirm, DatastoreArgs};
use anyhow::bail;
use clap::Args;
use dyad_aggregator::management::taskprov_peers::{role_name, DeletePeerAggregatorRequest};
use dyad_datastore::DatastoreExt;
use dyad_messages::draft09::Role;
use reqwest::Method;
use std::io::IsTerminal as _;
use url::Url;

#[derive(Debug, Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    datastore: DatastoreArgs,
    /// The peer's DAP base URL.
    #[arg(long)]
    endpoint: Url,
    /// The peer's role.
    #[arg(long, value_enum)]
    role: PeerRole,
    /// Delete without asking (needed when stdin is not a terminal).
    #[arg(long, short = 'y')]
    yes: bool,
}

pub async fn run(args: DeleteArgs) -> anyhow::Result<()> {
    let role = match args.role {
        PeerRole::Leader => Role::Leader,
        PeerRole::Helper => Role::Helper,
    };
    let mut endpoint = args.endpoint.clone();
    if !endpoint.path().ends_with('/') {
        let path = format!("{}/", endpoint.path());
        endpoint.set_path(&path);
    }
    let name = role_name(role);
    let known = views(&args.datastore)
        .await?
        .into_iter()
        .any(|view| view.endpoint == endpoint.as_str() && view.role == name);
    if !known {
        bail!("no {name} taskprov peer aggregator at {endpoint} (see `dyad taskprov-peer list`)");
    }
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            bail!(
                "not deleting the {name} peer at {endpoint} without confirmation: stdin is not \
                 a terminal to ask on (give --yes to delete without asking)"
            );
        }
        let question = format!(
            "Delete the {name} taskprov peer aggregator at {endpoint}? Tasks it advertises \
             will no longer be provisioned. [y/N] "
        );
        if !confirm(&question)? {
            noteln!("Nothing deleted.");
            return Ok(());
        }
    }
    if let Some(api) = args.datastore.api()? {
        let request = DeletePeerAggregatorRequest {
            endpoint: endpoint.to_string(),
            role: name.to_owned(),
        };
        api.send_empty(Method::DELETE, "taskprov/peer_aggregators", &request)
            .await?;
    } else {
        let datastore = args.datastore.open_existing().await?;
        let target = endpoint.clone();
        let deleted = datastore
            .run_tx("delete_taskprov_peer", move |tx| {
                let endpoint = target.clone();
                Box::pin(
                    async move { Ok(tx.delete_taskprov_peer_aggregator(&endpoint, role).await?) },
                )
            })
            .await?;
        if !deleted {
            bail!("the {name} peer at {endpoint} was deleted meanwhile by someone else");
        }
    }
    tracing::info!(endpoint = %endpoint, role = name, "deleted a taskprov peer aggregator");
    outln!("Deleted the {name} taskprov peer aggregator at {endpoint}.")?;
    Ok(())
}
