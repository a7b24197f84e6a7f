//! `dyad taskprov-peer list`: every taskprov peer aggregator, by role then
//! endpoint, as a table, JSON or CSV; with `--api`, as a management API
//! lists them (`GET /taskprov/peer_aggregators`).

use super::view::{render, PeerView};
use crate::commands::task::DatastoreArgs;
use crate::output::OutputFormat;
use clap::Args;
use dyad_aggregator::management::taskprov_peers::PeerAggregatorJson;
use dyad_datastore::DatastoreExt;

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    datastore: DatastoreArgs,
    /// How to print the peers.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

pub async fn run(args: ListArgs) -> anyhow::Result<()> {
    let views = views(&args.datastore).await?;
    out!("{}", render(&views, args.format)?)?;
    Ok(())
}

/// Every peer, from the datastore or the management API.
pub(super) async fn views(datastore: &DatastoreArgs) -> anyhow::Result<Vec<PeerView>> {
    if let Some(api) = datastore.api()? {
        let items: Vec<PeerAggregatorJson> = api.get("taskprov/peer_aggregators").await?;
        return Ok(items.iter().map(PeerView::of_api).collect());
    }
    let datastore = datastore.open_existing().await?;
    let peers = datastore
        .run_read_tx("list_taskprov_peers", |tx| {
            Box::pin(async move { Ok(tx.get_taskprov_peer_aggregators().await?) })
        })
        .await?;
    Ok(peers.iter().map(PeerView::of).collect())
}
