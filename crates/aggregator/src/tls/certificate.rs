//! [`ServerCertificate`]: the certificate chain and private key `dyad serve`
//! presents, read from the PEM files of [`TlsConfig`], checked to be a pair,
//! and summed up ([`CertificateSummary`]: subject, expiry) for the logs.
//! Also `read_certificates`, the PEM certificate reader the root
//! certificate files share.

use super::config::TlsConfig;
use super::error::{read_file, TlsError};
use super::provider::crypto_provider;
use rustls::pki_types::pem::{self, PemObject as _};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;
use x509_cert::der::Decode as _;

/// What the logs say about a served certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateSummary {
    /// The file the chain was read from.
    pub certificate_file: PathBuf,
    /// The server certificate's subject (RFC 4514 form, e.g. `CN=leader.example`).
    pub subject: String,
    /// The end of the server certificate's validity.
    pub not_after: SystemTime,
    /// The same, as the certificate writes it (RFC 3339, UTC).
    pub not_after_text: String,
    /// Certificates in the chain, the server's included.
    pub chain_length: usize,
}

impl CertificateSummary {
    /// Whether the server certificate's validity has ended at `now`.
    pub fn expired_at(&self, now: SystemTime) -> bool {
        self.not_after < now
    }
}

/// A certificate chain with its private key, ready to serve.
#[derive(Clone)]
pub struct ServerCertificate {
    pub(crate) key: Arc<CertifiedKey>,
    pub summary: CertificateSummary,
}

impl fmt::Debug for ServerCertificate {
    // The private key is never shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerCertificate")
            .field("summary", &self.summary)
            .finish_non_exhaustive()
    }
}

impl ServerCertificate {
    /// Reads and checks both files of `config`: the chain must hold at least
    /// one valid X.509 certificate, the key file one private key of a kind
    /// the crypto provider signs with, and the key must be the server
    /// certificate's.
    pub fn load(config: &TlsConfig) -> Result<Self, TlsError> {
        let chain = read_certificates("tls.certificate_file", &config.certificate_file)?;
        let summary = summarize(&config.certificate_file, &chain)?;
        let key = read_private_key("tls.private_key_file", &config.private_key_file)?;
        let key =
            CertifiedKey::from_der(chain, key, &crypto_provider()).map_err(
                |error| match error {
                    rustls::Error::InconsistentKeys(_) => TlsError::KeyMismatch {
                        certificate_file: config.certificate_file.clone(),
                        private_key_file: config.private_key_file.clone(),
                    },
                    other => TlsError::UnusableKey {
                        what: "tls.private_key_file",
                        path: config.private_key_file.clone(),
                        reason: other.to_string(),
                    },
                },
            )?;
        Ok(Self {
            key: Arc::new(key),
            summary,
        })
    }
}

/// Every `CERTIFICATE` block of the PEM file at `path`, each checked to
/// parse as X.509; at least one.
pub(crate) fn read_certificates(
    what: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read_file(what, path)?;
    let certificates = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| TlsError::Pem {
            what,
            path: path.to_owned(),
            reason: error.to_string(),
        })?;
    if certificates.is_empty() {
        return Err(TlsError::NoCertificate {
            what,
            path: path.to_owned(),
        });
    }
    for (index, der) in certificates.iter().enumerate() {
        x509_cert::Certificate::from_der(der).map_err(|error| TlsError::InvalidCertificate {
            what,
            path: path.to_owned(),
            index: index + 1,
            reason: error.to_string(),
        })?;
    }
    Ok(certificates)
}

/// The first private key (PKCS#8, PKCS#1 or SEC1) of the PEM file at
/// `path`. The file's bytes are wiped once read.
pub(super) fn read_private_key(
    what: &'static str,
    path: &Path,
) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = zeroize::Zeroizing::new(read_file(what, path)?);
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|error| match error {
        pem::Error::NoItemsFound => TlsError::NoPrivateKey {
            what,
            path: path.to_owned(),
        },
        other => TlsError::Pem {
            what,
            path: path.to_owned(),
            reason: other.to_string(),
        },
    })
}

fn summarize(path: &Path, chain: &[CertificateDer<'_>]) -> Result<CertificateSummary, TlsError> {
    let leaf = x509_cert::Certificate::from_der(&chain[0]).map_err(|error| {
        TlsError::InvalidCertificate {
            what: "tls.certificate_file",
            path: path.to_owned(),
            index: 1,
            reason: error.to_string(),
        }
    })?;
    let validity = &leaf.tbs_certificate.validity;
    Ok(CertificateSummary {
        certificate_file: path.to_owned(),
        subject: leaf.tbs_certificate.subject.to_string(),
        not_after: SystemTime::UNIX_EPOCH + validity.not_after.to_unix_duration(),
        not_after_text: validity.not_after.to_string(),
        chain_length: chain.len(),
    })
}

/// Certificates for tests: a private CA and server certificates it signs.
#[cfg(test)]
pub(crate) mod testing {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    use std::path::{Path, PathBuf};

    /// A self-signed CA.
    pub struct TestCa {
        issuer: Issuer<'static, KeyPair>,
        pem: String,
    }

    impl TestCa {
        pub fn new(name: &str) -> Self {
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params
                .distinguished_name
                .push(DnType::CommonName, format!("{name} test CA"));
            params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
            let key = KeyPair::generate().unwrap();
            let pem = params.self_signed(&key).unwrap().pem();
            Self {
                issuer: Issuer::new(params, key),
                pem,
            }
        }

        pub fn certificate_pem(&self) -> String {
            self.pem.clone()
        }

        /// A server certificate for `localhost` and 127.0.0.1 with common
        /// name `name`: (chain PEM, PKCS#8 key PEM).
        pub fn server_certificate(&self, name: &str) -> (String, String) {
            let mut params =
                CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                    .unwrap();
            params.distinguished_name.push(DnType::CommonName, name);
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            let key = KeyPair::generate().unwrap();
            let certificate = params.signed_by(&key, &self.issuer).unwrap();
            (certificate.pem(), key.serialize_pem())
        }
    }

    /// Writes `contents` to `dir/name`.
    pub fn write(dir: &Path, name: &str, contents: String) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{write, TestCa};
    use super::*;

    fn config(dir: &Path, chain: String, key: String) -> TlsConfig {
        TlsConfig {
            certificate_file: write(dir, "chain.pem", chain),
            private_key_file: write(dir, "key.pem", key),
        }
    }

    #[test]
    fn loads_a_chain_and_its_key_and_sums_up_the_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new("dyad");
        let (leaf, key) = ca.server_certificate("leader.test");
        let chain = format!("{leaf}{}", ca.certificate_pem());
        let loaded = ServerCertificate::load(&config(dir.path(), chain, key)).unwrap();
        assert_eq!(loaded.summary.subject, "CN=leader.test");
        assert_eq!(loaded.summary.chain_length, 2);
        assert!(!loaded.summary.expired_at(SystemTime::now()));
        assert!(loaded.summary.not_after_text.ends_with('Z'));
        assert_eq!(loaded.key.cert.len(), 2);
    }

    #[test]
    fn missing_files_are_errors_naming_them() {
        let dir = tempfile::tempdir().unwrap();
        let missing = TlsConfig {
            certificate_file: dir.path().join("no-such-chain.pem"),
            private_key_file: dir.path().join("no-such-key.pem"),
        };
        let error = ServerCertificate::load(&missing).unwrap_err().to_string();
        assert!(
            error.contains("tls.certificate_file") && error.contains("no-such-chain.pem"),
            "{error}"
        );

        let ca = TestCa::new("dyad");
        let (leaf, _) = ca.server_certificate("leader.test");
        let only_chain = TlsConfig {
            certificate_file: write(dir.path(), "chain.pem", leaf),
            ..missing
        };
        let error = ServerCertificate::load(&only_chain)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("tls.private_key_file") && error.contains("no-such-key.pem"),
            "{error}"
        );
    }

    #[test]
    fn files_without_a_certificate_or_key_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new("dyad");
        let (leaf, key) = ca.server_certificate("leader.test");

        let error =
            ServerCertificate::load(&config(dir.path(), key.clone(), key.clone())).unwrap_err();
        assert!(matches!(error, TlsError::NoCertificate { .. }), "{error}");

        let error =
            ServerCertificate::load(&config(dir.path(), leaf.clone(), leaf.clone())).unwrap_err();
        assert!(matches!(error, TlsError::NoPrivateKey { .. }), "{error}");

        let broken = leaf.replace("CERTIFICATE-----\n", "CERTIFICATE-----\n!!!");
        let error = ServerCertificate::load(&config(dir.path(), broken, key)).unwrap_err();
        assert!(matches!(error, TlsError::Pem { .. }), "{error}");
    }

    #[test]
    fn a_key_of_another_certificate_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new("dyad");
        let (leaf, _) = ca.server_certificate("leader.test");
        let (_, other_key) = ca.server_certificate("helper.test");
        let error = ServerCertificate::load(&config(dir.path(), leaf, other_key)).unwrap_err();
        assert!(matches!(error, TlsError::KeyMismatch { .. }), "{error}");
        assert!(error.to_string().contains("key.pem"), "{error}");
    }

    #[test]
    fn debug_never_shows_the_private_key() {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new("dyad");
        let (leaf, key) = ca.server_certificate("leader.test");
        let body: String = key.lines().nth(1).unwrap().to_owned();
        let loaded = ServerCertificate::load(&config(dir.path(), leaf, key)).unwrap();
        let shown = format!("{loaded:?}");
        assert!(!shown.contains(&body), "{shown}");
        assert!(shown.contains("leader.test"), "{shown}");
    }
}
