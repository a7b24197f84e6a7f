//! The `dyad` binary: one executable with a subcommand for every dyad process
//! and tool. Each subcommand lives in its own module under `commands/`.

// First, so that every module may use its `out!` and `outln!`.
#[macro_use]
mod stdout;

mod commands;
mod hints;
mod malloc;
mod management_client;
mod output;
mod progress;
mod provision;
mod report;
mod task_config_file;
mod task_files;
mod values;

use clap::{Parser, Subcommand};
use std::io::Write as _;
use std::process::ExitCode;

/// dyad: an implementation of the Distributed Aggregation Protocol (DAP-09).
#[derive(Debug, Parser)]
#[command(name = "dyad", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Measure this machine: the crypto limit, upload ingest, aggregation
    /// and end to end over real HTTP, and the aggregators' peak memory.
    Bench(commands::bench::BenchArgs),
    /// The Collector's own setup: its HPKE keypair.
    #[command(subcommand)]
    Collector(commands::collector::CollectorCommand),
    /// Manage the keys that encrypt task secrets at rest.
    #[command(subcommand)]
    DatastoreKey(commands::datastore_key::DatastoreKeyCommand),
    /// Decode a DAP-09 message from a file or stdin and pretty-print it.
    Decode(commands::decode::DecodeArgs),
    /// HPKE keypairs outside any datastore (keygen); for an aggregator's global keys see hpke-key.
    #[command(subcommand)]
    Hpke(commands::hpke::HpkeCommand),
    /// Manage the global HPKE keys, used by every task without keys of its own.
    #[command(subcommand)]
    HpkeKey(commands::hpke_key::HpkeKeyCommand),
    /// Apply pending schema migrations to a datastore (SQLite or PostgreSQL).
    Migrate(commands::migrate::MigrateArgs),
    /// Run a Leader, a Helper, clients and a collector in one process, and
    /// check the collected result against the plaintext total.
    Quickstart(commands::quickstart::QuickstartArgs),
    /// Run the aggregator roles a config file names.
    Serve(commands::serve::ServeArgs),
    /// Manage an aggregator's tasks.
    #[command(subcommand)]
    Task(commands::task::TaskCommand),
    /// Manage the taskprov peer aggregators: the other aggregator of the
    /// tasks a request may advertise (draft-wang-ppm-dap-taskprov-06).
    #[command(subcommand)]
    TaskprovPeer(commands::taskprov_peer::TaskprovPeerCommand),
    /// Upload measurements to a task, as a DAP client.
    Upload(commands::upload::UploadArgs),
    /// Collect a batch's aggregate result, as a DAP collector.
    Collect(commands::collect::CollectArgs),
    /// Find the strings of a Poplar1 task's batch counted at least
    /// --threshold times, one collection per level of the prefix tree.
    HeavyHitters(commands::heavy_hitters::HeavyHittersArgs),
    /// Interop test API: the Client role (test use only).
    InteropClient(commands::interop::client::InteropClientArgs),
    /// Interop test API: an Aggregator (Leader or Helper) serving the DAP
    /// API too (test use only).
    InteropAggregator(commands::interop::aggregator::InteropAggregatorArgs),
    /// Interop test API: the Collector role (test use only).
    InteropCollector(commands::interop::collector::InteropCollectorArgs),
}

fn main() -> ExitCode {
    // Before any other thread exists.
    malloc::bound();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return refused_arguments(error),
    };
    let result = match cli.command {
        Command::Bench(args) => block_on(commands::bench::run(args)),
        Command::Collector(command) => commands::collector::run(command),
        Command::DatastoreKey(command) => block_on(commands::datastore_key::run(command)),
        Command::Decode(args) => commands::decode::run(args),
        Command::Hpke(command) => commands::hpke::run(command),
        Command::HpkeKey(command) => block_on(commands::hpke_key::run(command)),
        Command::TaskprovPeer(command) => block_on(commands::taskprov_peer::run(command)),
        Command::Migrate(args) => block_on(commands::migrate::run(args)),
        Command::Quickstart(args) => block_on(commands::quickstart::run(args)),
        Command::Serve(args) => block_on(commands::serve::run(args)),
        Command::Task(command) => block_on(commands::task::run(command)),
        Command::Upload(args) => block_on(commands::upload::run(args)),
        Command::Collect(args) => block_on(commands::collect::run(args)),
        Command::HeavyHitters(args) => block_on(commands::heavy_hitters::run(args)),
        Command::InteropClient(args) => block_on(commands::interop::client::run(args)),
        Command::InteropAggregator(args) => block_on(commands::interop::aggregator::run(args)),
        Command::InteropCollector(args) => block_on(commands::interop::collector::run(args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of our output went away (`| head`): not a failure.
        Err(error) if stdout::closed_by_reader(&error) => ExitCode::SUCCESS,
        Err(error) => {
            // Nothing more to do if stderr is closed too.
            let _ = write!(std::io::stderr(), "{}", report::render(&error));
            ExitCode::FAILURE
        }
    }
}

/// Arguments clap refused: reported by clap itself (with its usage
/// advice), except a `--vdaf` the VDAF parser refused, reported as
/// `error:` and `hint:` lines like every other failure.
fn refused_arguments(error: clap::Error) -> ExitCode {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    use std::error::Error as _;
    if error.kind() == ErrorKind::ValueValidation {
        let arg = error.get(ContextKind::InvalidArg);
        let value = error.get(ContextKind::InvalidValue);
        if let (Some(ContextValue::String(arg)), Some(ContextValue::String(value))) = (arg, value) {
            if arg.starts_with("--vdaf") {
                if let Some(shown) = error
                    .source()
                    .and_then(|source| report::vdaf_argument(value, source))
                {
                    note!("{shown}");
                    return ExitCode::from(2);
                }
            }
        }
    }
    error.exit()
}

/// Runs an async command on a multi-threaded tokio runtime.
fn block_on<F: std::future::Future<Output = anyhow::Result<()>>>(future: F) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(future)
}
