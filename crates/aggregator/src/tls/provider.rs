//! [`crypto_provider`]: the aws-lc-rs provider every TLS configuration here
//! is built with, the one `reqwest` already brings in, so the binary carries
//! one TLS implementation.

use std::sync::Arc;

/// The crypto provider of every TLS configuration built here.
pub fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}
