//! One module per `dyad` subcommand, and the arguments they share.

pub mod args;
pub mod bench;
pub mod collect;
pub mod collect_output;
pub mod collector;
pub mod datastore_key;
pub mod decode;
pub mod heavy_hitters;
pub mod hpke;
pub mod hpke_key;
pub mod interop;
pub mod local_deployment;
pub mod migrate;
pub mod quickstart;
pub mod quickstart_heavy_hitters;
pub mod serve;
pub mod task;
pub mod taskprov_peer;
pub mod upload;
