//! Every message of draft-ietf-ppm-dap-09, with its wire encoding.

mod hpke;
mod role;

pub use crate::ids::*;
pub use crate::time::*;
pub use hpke::*;
pub use role::*;
