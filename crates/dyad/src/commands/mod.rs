//! One module per `dyad` subcommand, and the arguments they share.

pub mod args;
pub mod collect;
pub mod decode;
pub mod hpke;
pub mod quickstart;
pub mod serve;
pub mod task;
pub mod upload;
