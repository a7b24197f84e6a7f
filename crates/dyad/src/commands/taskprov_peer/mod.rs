//! `dyad taskprov-peer`: the taskprov peer aggregators of an aggregator
//! (draft-wang-ppm-dap-taskprov-06): the other aggregator of the tasks this
//! one provisions when a request advertises them (`taskprov.enabled` in
//! the configuration). `list` shows them (never a secret), `add` stores
//! one (its shared `verify_key_init` and tokens read from files, never
//! from the command line), `delete` removes one (asking first). Each file
//! holds one subcommand; `view.rs` is a peer as `list` and `add` print it.
//! With `--api URL`, each works through a remote management API
//! (`/taskprov/peer_aggregators`) instead of a datastore.

mod add;
mod delete;
mod list;
mod view;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum TaskprovPeerCommand {
    /// List the taskprov peer aggregators: endpoint, role, Collector HPKE
    /// config, report expiry, clock skew.
    List(list::ListArgs),
    /// Add a taskprov peer aggregator (its secrets read from files).
    Add(add::AddArgs),
    /// Delete a taskprov peer aggregator (asks first); tasks already
    /// provisioned with it stay.
    Delete(delete::DeleteArgs),
}

pub async fn run(command: TaskprovPeerCommand) -> anyhow::Result<()> {
    match command {
        TaskprovPeerCommand::List(args) => list::run(args).await,
        TaskprovPeerCommand::Add(args) => add::run(args).await,
        TaskprovPeerCommand::Delete(args) => delete::run(args).await,
    }
}
