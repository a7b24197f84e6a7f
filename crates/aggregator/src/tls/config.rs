//! [`TlsConfig`]: the `tls` section of the configuration file (see
//! [`crate::config`]), owned here beside the code that reads its files.

use serde::Deserialize;
use std::path::PathBuf;

/// `dyad serve` terminating TLS itself: the DAP listener then speaks HTTPS
/// only. Both files are read at start and again on SIGHUP (see
/// [`crate::tls`]).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain: the server's certificate first, then any
    /// intermediates.
    pub certificate_file: PathBuf,
    /// PEM private key of the server's certificate: PKCS#8 (`PRIVATE
    /// KEY`), PKCS#1 (`RSA PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`).
    pub private_key_file: PathBuf,
}
