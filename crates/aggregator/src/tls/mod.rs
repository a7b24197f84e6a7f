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
//! | [`config`] | [`TlsConfig`]: the `tls` section of the configuration file |
//! | [`error`] | [`TlsError`], naming the file and setting of each failure |
//! | [`provider`] | [`crypto_provider`]: aws-lc-rs, for every TLS configuration here |
//!
//! Every piece uses the aws-lc-rs crypto provider, the one `reqwest` already
//! brings in, so the binary carries one TLS implementation.
//!
//! ## Where is
//!
//! - the chain must hold a valid X.509 certificate and the key must be its
//!   pair → [`certificate::ServerCertificate::load`]
//! - the key file's bytes wiped once read → [`certificate::read_private_key`]
//! - SIGHUP reloads; a bad pair keeps the certificate served →
//!   [`reload::ReloadableCertificate::reload`], [`reload::reload_on_sighup`]
//! - an expired certificate is logged as a warning → [`reload::log_served`]
//! - TLS 1.2 and 1.3, HTTP/1.1 only, no client certificates →
//!   [`acceptor::server_config`]
//! - extra CA files for HTTP clients → [`roots::read_root_certificates`]
//! - every error names the file and the setting it came from →
//!   [`error::TlsError`], [`error::read_file`]
//! - one crypto provider for everything → [`provider::crypto_provider`]

pub mod acceptor;
pub mod certificate;
pub mod config;
pub mod error;
pub mod provider;
pub mod reload;
pub mod roots;

pub use acceptor::acceptor;
pub use certificate::{CertificateSummary, ServerCertificate};
pub use config::TlsConfig;
pub use error::TlsError;
pub use provider::crypto_provider;
pub use reload::ReloadableCertificate;
pub use roots::read_root_certificates;
