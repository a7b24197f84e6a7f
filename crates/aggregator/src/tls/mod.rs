//! TLS: `dyad serve` terminating HTTPS itself, and the extra root
//! certificates its HTTP clients (and the command-line client and collector)
//! trust.
//!
//! | module | what |
//! |---|---|
//! | [`certificate`] | reading a PEM certificate chain and private key, and a summary of the certificate for logs |
//! | [`reload`] | [`ReloadableCertificate`]: the certificate served now, replaced on SIGHUP |
//! | [`mod@acceptor`] | the TLS acceptor of the HTTPS listener (handshakes run in [`crate::server`]) |
//! | [`roots`] | [`read_root_certificates`]: PEM CA files for a `reqwest` client |
//!
//! Every piece uses the aws-lc-rs crypto provider, the one `reqwest` already
//! brings in, so the binary carries one TLS implementation.

pub mod acceptor;
pub mod certificate;
pub mod reload;
pub mod roots;

pub use acceptor::acceptor;
pub use certificate::{CertificateSummary, ServerCertificate};
pub use reload::ReloadableCertificate;
pub use roots::read_root_certificates;

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a certificate, key or CA file could not be used. Every variant
/// names the file and where it was configured (`what`, e.g.
/// `tls.certificate_file` or `--ca-cert`); none carries key material.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file could not be read. (The IO error is part of the message,
    /// not a separate source, so that an error chain states it once.)
    #[error("{what} {path}: cannot read: {error}")]
    Read {
        what: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    /// The file is not valid PEM.
    #[error("{what} {path}: not valid PEM: {reason}")]
    Pem {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
    /// The file holds no `CERTIFICATE` block.
    #[error("{what} {path}: no certificate found (expected PEM \"BEGIN CERTIFICATE\" blocks)")]
    NoCertificate { what: &'static str, path: PathBuf },
    /// A certificate does not parse as X.509.
    #[error("{what} {path}: certificate {index} is not a valid X.509 certificate: {reason}")]
    InvalidCertificate {
        what: &'static str,
        path: PathBuf,
        index: usize,
        reason: String,
    },
    /// The file holds no private key of a supported kind.
    #[error(
        "{what} {path}: no private key found (expected a PEM \"PRIVATE KEY\", \
         \"RSA PRIVATE KEY\" or \"EC PRIVATE KEY\" block)"
    )]
    NoPrivateKey { what: &'static str, path: PathBuf },
    /// The private key is of an algorithm or form the provider cannot sign with.
    #[error("{what} {path}: unusable private key: {reason}")]
    UnusableKey {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
    /// The private key is not the certificate's.
    #[error(
        "the private key in {private_key_file} does not belong to the certificate in \
         {certificate_file} (check that tls.private_key_file and tls.certificate_file are a pair)"
    )]
    KeyMismatch {
        certificate_file: PathBuf,
        private_key_file: PathBuf,
    },
    /// The TLS server configuration could not be built.
    #[error("setting up TLS: {0}")]
    Setup(String),
}

/// The crypto provider of every TLS configuration built here.
pub fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Reads `path`, naming it and `what` on failure.
fn read_file(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|error| TlsError::Read {
        what,
        path: path.to_owned(),
        error,
    })
}
