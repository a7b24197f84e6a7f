//! The taskprov extension (draft-wang-ppm-dap-taskprov-06): in-band task
//! provisioning.
//!
//! The task author's [`TaskConfig`] travels, encoded and then written in
//! unpadded base64url, in the `dap-taskprov` HTTP header of every request
//! about the task ([`TASKPROV_HEADER`], [`TaskConfig::to_header_value`],
//! [`TaskConfig::from_header_value`]); each input share carries an empty
//! `taskprov` extension ([`taskprov_extension`]). The task ID is the SHA-256
//! hash of the encoded `TaskConfig` (taskprov-06 section 3.1), computed by
//! the caller over [`TaskConfig`]'s encoding, which is canonical: decoding and
//! re-encoding any accepted input yields the same bytes.
//!
//! `query_config`, `vdaf_config` and `dp_config` are length-prefixed so that a
//! participant can decode a configuration whose query type, VDAF or DP
//! mechanism it does not implement, and then opt out (with `invalidTask`)
//! rather than fail to parse (`invalidMessage`). Unknown variants are
//! therefore kept, with their uninterpreted bytes, as `Other`.

mod dp_config;
mod extension;
mod query_config;
mod task_config;
mod vdaf_config;

pub use dp_config::*;
pub use extension::*;
pub use query_config::*;
pub use task_config::*;
pub use vdaf_config::*;

/// The HTTP header that carries the base64url-encoded [`TaskConfig`]
/// (taskprov-06 section 3). HTTP header names are case-insensitive.
pub const TASKPROV_HEADER: &str = "dap-taskprov";
