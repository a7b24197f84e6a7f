//! [`ReloadableCertificate`]: the certificate the HTTPS listener presents,
//! replaced without dropping the listener. Each new TLS handshake asks it
//! for the certificate of the moment, so connections opened after a reload
//! see the new one and open connections keep theirs. A reload that fails
//! (file missing, unparseable, key not the certificate's) changes nothing.
//! [`reload_on_sighup`] reloads on every SIGHUP.

use super::certificate::{CertificateSummary, ServerCertificate};
use super::config::TlsConfig;
use super::error::TlsError;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use tokio_util::sync::CancellationToken;

/// The served certificate and the files it is (re)read from.
pub struct ReloadableCertificate {
    config: TlsConfig,
    current: RwLock<ServerCertificate>,
}

impl fmt::Debug for ReloadableCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReloadableCertificate")
            .field("config", &self.config)
            .field("summary", &self.summary())
            .finish()
    }
}

impl ReloadableCertificate {
    /// Reads the certificate and key of `config` (see
    /// [`ServerCertificate::load`]).
    pub fn load(config: TlsConfig) -> Result<Arc<Self>, TlsError> {
        let current = ServerCertificate::load(&config)?;
        Ok(Arc::new(Self {
            config,
            current: RwLock::new(current),
        }))
    }

    /// Reads both files again and, if they make a valid pair, serves them
    /// from the next handshake on. On error the previous certificate stays.
    pub fn reload(&self) -> Result<CertificateSummary, TlsError> {
        let loaded = ServerCertificate::load(&self.config)?;
        let summary = loaded.summary.clone();
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = loaded;
        Ok(summary)
    }

    /// The certificate served now.
    pub fn summary(&self) -> CertificateSummary {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .summary
            .clone()
    }

    /// The files it is read from.
    pub fn config(&self) -> &TlsConfig {
        &self.config
    }
}

impl ResolvesServerCert for ReloadableCertificate {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .key
                .clone(),
        )
    }
}

/// Logs the certificate about to be served (a warning if it has expired).
pub(crate) fn log_served(summary: &CertificateSummary, message: &'static str) {
    let certificate_file = summary.certificate_file.display().to_string();
    if summary.expired_at(std::time::SystemTime::now()) {
        tracing::warn!(
            certificate_file,
            subject = %summary.subject,
            not_after = %summary.not_after_text,
            "the TLS certificate has expired; clients will refuse it"
        );
    }
    tracing::info!(
        certificate_file,
        subject = %summary.subject,
        not_after = %summary.not_after_text,
        chain_length = summary.chain_length,
        "{message}"
    );
}

/// Reloads `certificate` on every SIGHUP until `stop` is cancelled, logging
/// the outcome of each reload. The handler is installed before this returns
/// (so a SIGHUP right after start reloads rather than ends the process);
/// the reloads run on a spawned task. Where signals cannot be received (not
/// unix, or the handler cannot be installed) it logs why and does nothing.
pub fn reload_on_sighup(
    certificate: Arc<ReloadableCertificate>,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(hangups) => hangups,
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGHUP; the TLS certificate will not be reloaded");
                return tokio::spawn(async {});
            }
        };
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    received = hangups.recv() => {
                        if received.is_none() {
                            return;
                        }
                        match certificate.reload() {
                            Ok(summary) => log_served(&summary, "SIGHUP: reloaded the TLS certificate"),
                            Err(error) => tracing::error!(
                                error = %error,
                                "SIGHUP: reloading the TLS certificate failed; still serving the previous one"
                            ),
                        }
                    }
                }
            }
        })
    }
    #[cfg(not(unix))]
    {
        let _ = (certificate, stop);
        tokio::spawn(async {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::certificate::testing::{write, TestCa};

    #[test]
    fn reload_serves_the_new_pair_and_a_failed_reload_keeps_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new("dyad");
        let (first, first_key) = ca.server_certificate("first.test");
        let config = TlsConfig {
            certificate_file: write(dir.path(), "chain.pem", first),
            private_key_file: write(dir.path(), "key.pem", first_key),
        };
        let certificate = ReloadableCertificate::load(config).unwrap();
        assert_eq!(certificate.summary().subject, "CN=first.test");

        let (second, second_key) = ca.server_certificate("second.test");
        write(dir.path(), "chain.pem", second.clone());
        // The key still belongs to the first certificate: refused, nothing changes.
        assert!(matches!(
            certificate.reload(),
            Err(TlsError::KeyMismatch { .. })
        ));
        assert_eq!(certificate.summary().subject, "CN=first.test");

        write(dir.path(), "key.pem", second_key);
        assert_eq!(certificate.reload().unwrap().subject, "CN=second.test");
        assert_eq!(certificate.summary().subject, "CN=second.test");

        std::fs::remove_file(dir.path().join("key.pem")).unwrap();
        assert!(matches!(certificate.reload(), Err(TlsError::Read { .. })));
        assert_eq!(certificate.summary().subject, "CN=second.test");
    }
}
