//! `dyad task`: provision tasks into an aggregator's datastore (DAP-09
//! section 4.2), list them, show one, delete one. Adding lives in `add.rs`.

mod add;

pub use add::AddArgs;

use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};
use dyad_aggregator::config::AggregatorConfig;
use dyad_core::clock::RealClock;
use dyad_datastore::{Datastore, DatastoreExt, DatastoreKeys, DatastoreOptions, KEYS_ENV};
use dyad_messages::draft09::TaskId;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Add a task: from a YAML task file, or generated from flags.
    Add(Box<AddArgs>),
    /// List the datastore's tasks.
    List(DatastoreArgs),
    /// Show one task (secrets redacted).
    Show(TaskIdArgs),
    /// Delete one task.
    Delete(TaskIdArgs),
}

/// Which datastore to work on: a URL, or the one a `dyad serve` config names.
#[derive(Debug, Args)]
pub struct DatastoreArgs {
    /// Datastore URL, e.g. `sqlite:///var/lib/dyad/leader.sqlite`.
    #[arg(long, required_unless_present = "config", conflicts_with = "config")]
    datastore: Option<String>,
    /// A `dyad serve` config file whose datastore to use.
    #[arg(long)]
    config: Option<PathBuf>,
}

impl DatastoreArgs {
    /// Opens the datastore: with `--config`, as `dyad serve` would; with
    /// `--datastore`, with the keys of `DYAD_DATASTORE_KEYS` (and, for
    /// SQLite, bringing the schema up to date).
    pub(super) async fn open(&self) -> anyhow::Result<Arc<dyn Datastore>> {
        let (url, options) = match (&self.datastore, &self.config) {
            (Some(url), _) => {
                let keys = DatastoreKeys::from_env()?.with_context(|| {
                    format!(
                        "{KEYS_ENV} must hold the datastore keys the aggregator uses \
                         (or give --config)"
                    )
                })?;
                let mut options = DatastoreOptions::new(keys);
                options.apply_migrations = DatastoreOptions::migrates_by_default(url);
                (url.clone(), options)
            }
            (None, Some(path)) => {
                let config = AggregatorConfig::from_file(path)?;
                let options = config.datastore_options()?;
                (config.datastore, options)
            }
            (None, None) => bail!("give --datastore or --config"),
        };
        dyad_aggregator::runtime::open_datastore(&url, Arc::new(RealClock), &options).await
    }
}

#[derive(Debug, Args)]
pub struct TaskIdArgs {
    #[command(flatten)]
    datastore: DatastoreArgs,
    /// The task ID (base64url).
    task_id: TaskId,
}

pub async fn run(command: TaskCommand) -> anyhow::Result<()> {
    match command {
        TaskCommand::Add(args) => add::run(*args).await,
        TaskCommand::List(args) => {
            let datastore = args.open().await?;
            let tasks = datastore
                .run_read_tx("list_tasks", |tx| {
                    Box::pin(async move { Ok(tx.get_tasks().await?) })
                })
                .await?;
            for task in tasks {
                println!(
                    "{}  {}  {}  {:?}",
                    task.task_id(),
                    task.role(),
                    task.vdaf(),
                    task.batch_mode()
                );
            }
            Ok(())
        }
        TaskCommand::Show(args) => {
            let datastore = args.datastore.open().await?;
            let task_id = args.task_id;
            let task = datastore
                .run_read_tx("show_task", move |tx| {
                    Box::pin(async move { Ok(tx.get_task(&task_id).await?) })
                })
                .await?
                .with_context(|| format!("no task {task_id}"))?;
            println!("{task:#?}");
            Ok(())
        }
        TaskCommand::Delete(args) => {
            let datastore = args.datastore.open().await?;
            let task_id = args.task_id;
            let deleted = datastore
                .run_tx("delete_task", move |tx| {
                    Box::pin(async move { Ok(tx.delete_task(&task_id).await?) })
                })
                .await?;
            if !deleted {
                bail!("no task {task_id}");
            }
            println!("deleted {task_id}");
            Ok(())
        }
    }
}
