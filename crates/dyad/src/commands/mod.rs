//! One module per `dyad` subcommand.

pub mod decode;
pub mod hpke;
