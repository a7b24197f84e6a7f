//! `dyad task`: provision tasks into an aggregator's datastore (DAP-09
//! section 4.2) and manage them. This module holds the subcommands and how
//! they open the datastore ([`DatastoreArgs`]); each subcommand lives in
//! its own file: `add.rs`, `list.rs`, `show.rs`, `delete.rs`, `update.rs`,
//! `stats.rs` (and `view.rs`, the task as `list` and `show` print it).
//! With `--api URL`, each works on a remote aggregator through its
//! management API instead (`remote.rs`; `add_remote.rs` provisions a task
//! through its `POST /tasks`). `taskprov-config` (`taskprov_config.rs`)
//! stores nothing: it writes a taskprov task config for clients and
//! collectors.

mod add;
mod add_remote;
mod datastore_args;
mod delete;
mod list;
mod remote;
mod show;
mod stats;
mod taskprov_config;
mod update;
mod view;

pub use add::AddArgs;
pub use datastore_args::DatastoreArgs;
pub use delete::DeleteArgs;
pub use list::ListArgs;
pub use show::ShowArgs;
pub use stats::StatsArgs;
pub use taskprov_config::TaskprovConfigArgs;
pub use update::UpdateArgs;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Add a task: from a YAML task file, or generated from flags.
    Add(Box<AddArgs>),
    /// List the aggregator's tasks.
    List(ListArgs),
    /// Show one task (secrets are never shown).
    Show(ShowArgs),
    /// Delete a task and everything stored for it (asks first).
    Delete(DeleteArgs),
    /// Change a task's expiration.
    Update(UpdateArgs),
    /// Show a task's statistics: uploads and prepared reports by outcome.
    Stats(StatsArgs),
    /// Write a taskprov task config (draft-wang-ppm-dap-taskprov-06) for
    /// clients and the collector; the aggregators provision the task in-band.
    TaskprovConfig(TaskprovConfigArgs),
}

pub async fn run(command: TaskCommand) -> anyhow::Result<()> {
    match command {
        TaskCommand::Add(args) if args.over_api() => add_remote::run(*args).await,
        TaskCommand::Add(args) => add::run(*args).await,
        TaskCommand::List(args) => list::run(args).await,
        TaskCommand::Show(args) => show::run(args).await,
        TaskCommand::Delete(args) => delete::run(args).await,
        TaskCommand::Update(args) => update::run(args).await,
        TaskCommand::Stats(args) => stats::run(args).await,
        TaskCommand::TaskprovConfig(args) => taskprov_config::run(args),
    }
}

// Shared with `dyad hpke-key`: the confirmation prompt and the names of
// HPKE algorithms.
pub(crate) use add::parse_collector_hpke_config;
pub(crate) use delete::confirm;
pub(crate) use view::{aead_name, kdf_name, kem_name};
