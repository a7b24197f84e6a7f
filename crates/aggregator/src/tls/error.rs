//! [`TlsError`]: why a certificate, key or CA file could not be used, and
//! [`read_file`], the one place these files are read (so every read error
//! names the file and the setting it came from).

use std::path::{Path, PathBuf};

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

/// Reads `path`, naming it and `what` on failure.
pub(crate) fn read_file(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|error| TlsError::Read {
        what,
        path: path.to_owned(),
        error,
    })
}
