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
