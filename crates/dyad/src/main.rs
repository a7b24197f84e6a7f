//! The `dyad` binary: one executable with a subcommand for every dyad process
//! and tool. Each subcommand lives in its own module under `commands/`.

mod commands;

use clap::{Parser, Subcommand};
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
    /// Decode a DAP-09 message from a file or stdin and pretty-print it.
    Decode(commands::decode::DecodeArgs),
    /// HPKE key management.
    #[command(subcommand)]
    Hpke(commands::hpke::HpkeCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Decode(args) => commands::decode::run(args),
        Command::Hpke(command) => commands::hpke::run(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
