//! Proptest strategies for every message (feature `test-util`), shared by
//! this crate's tests, other crates' tests and the fuzzers.
//!
//! Each strategy yields only values that encode successfully (lengths inside
//! the spec's ranges) and whose registry values are normalised (an `Other`
//! never holds a value this build names), so `decode(encode(v)) == v` holds
//! for every generated `v`. Byte strings and lists are kept short.

mod bytes;
mod draft09;
pub mod layout;
pub mod mutation;
mod taskprov;

pub use self::bytes::{bytes, opaque, opaque_nonempty};
pub use self::draft09::*;
pub use self::taskprov::*;
