//! Every message of draft-ietf-ppm-dap-09, with its wire encoding.
//!
//! One file per concept; everything is re-exported here, so callers write
//! `dyad_messages::draft09::Report`.

mod aggregate_share;
mod aggregation_job;
mod batch_selector;
mod collection;
mod empty;
mod extension;
mod hpke;
mod input_share;
mod prepare;
mod prepare_error;
mod query;
mod report;
mod report_metadata;
mod report_share;
mod role;
mod url;

pub use crate::ids::*;
pub use crate::time::*;
pub use aggregate_share::*;
pub use aggregation_job::*;
pub use batch_selector::*;
pub use collection::*;
pub use empty::*;
pub use extension::*;
pub use hpke::*;
pub use input_share::*;
pub use prepare::*;
pub use prepare_error::*;
pub use query::*;
pub use report::*;
pub use report_metadata::*;
pub use report_share::*;
pub use role::*;
pub use url::*;
