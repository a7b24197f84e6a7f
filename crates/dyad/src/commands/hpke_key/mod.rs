//! `dyad hpke-key`: the global HPKE keys of an aggregator's datastore, the
//! keys every task without keys of its own uses (`dyad task add
//! --hpke-keys global`). `list` shows them (never a private key), `add`
//! makes a keypair inside the datastore, `set-state` moves one through
//! pending, active and expired, `delete` removes one (asking first). The
//! `key-rotator` role of `dyad serve` does all this on a schedule; these
//! commands are for setting up, inspecting and emergencies. Each file holds
//! one subcommand; `view.rs` is a key as `list` and the others print it.
//! With `--api URL`, each works on a remote aggregator's management API
//! instead (`remote.rs`).

mod add;
mod delete;
mod list;
mod remote;
mod set_state;
mod view;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum HpkeKeyCommand {
    /// List the global HPKE keys: config ID, state, ciphersuite, since when.
    List(list::ListArgs),
    /// Make a new global HPKE keypair in the datastore (its private key is
    /// never printed).
    Add(add::AddArgs),
    /// Move a global key to another state (pending, active, expired).
    SetState(set_state::SetStateArgs),
    /// Delete a global key (asks first).
    Delete(delete::DeleteArgs),
}

pub async fn run(command: HpkeKeyCommand) -> anyhow::Result<()> {
    match command {
        HpkeKeyCommand::List(args) => list::run(args).await,
        HpkeKeyCommand::Add(args) => add::run(args).await,
        HpkeKeyCommand::SetState(args) => set_state::run(args).await,
        HpkeKeyCommand::Delete(args) => delete::run(args).await,
    }
}
