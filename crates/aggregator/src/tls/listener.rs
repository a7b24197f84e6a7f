//! [`TlsListener`]: an `axum::serve` listener that speaks HTTPS only. A
//! task accepts TCP connections and gives each its own task for the TLS
//! handshake (bounded by [`HANDSHAKE_TIMEOUT`]), so a slow or silent client
//! never holds up the others; finished handshakes queue for the server. A
//! client that fails its handshake (plain HTTP, a certificate it does not
//! trust) is dropped with a debug log. The certificate comes from a
//! [`ReloadableCertificate`] at each handshake.

use super::reload::ReloadableCertificate;
use super::{crypto_provider, TlsError};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// Longest a client may take to complete its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections whose handshake is done but that the server has not taken yet.
const QUEUED_CONNECTIONS: usize = 64;

/// The TLS server configuration: TLS 1.2 and 1.3, no client certificates,
/// HTTP/1.1 (the only HTTP version served), the certificate of the moment
/// from `certificate`.
pub fn server_config(
    certificate: Arc<ReloadableCertificate>,
) -> Result<rustls::ServerConfig, TlsError> {
    let mut config = rustls::ServerConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .map_err(|error| TlsError::Setup(error.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(certificate);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// A TCP listener whose connections are TLS-terminated before the server
/// sees them. Dropping it stops accepting.
pub struct TlsListener {
    local_addr: SocketAddr,
    handshaken: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
}

impl TlsListener {
    /// Starts accepting on `listener` (on the current tokio runtime),
    /// presenting `certificate`.
    pub fn new(
        listener: TcpListener,
        certificate: Arc<ReloadableCertificate>,
    ) -> Result<Self, TlsError> {
        let local_addr = listener
            .local_addr()
            .map_err(|error| TlsError::Setup(format!("listener address: {error}")))?;
        let acceptor = TlsAcceptor::from(Arc::new(server_config(certificate)?));
        let (sender, handshaken) = mpsc::channel(QUEUED_CONNECTIONS);
        tokio::spawn(accept_loop(listener, acceptor, sender));
        Ok(Self {
            local_addr,
            handshaken,
        })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.handshaken.recv().await {
            Some(connection) => connection,
            // The accept loop only ends once this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    sender: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    loop {
        let accepted = tokio::select! {
            _ = sender.closed() => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // As axum does for plain TCP: errors of one connection are
                // that connection's; others (out of file descriptors) get a
                // pause before the next try.
                if !matches!(
                    error.kind(),
                    io::ErrorKind::ConnectionRefused
                        | io::ErrorKind::ConnectionAborted
                        | io::ErrorKind::ConnectionReset
                ) {
                    tracing::error!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let sender = sender.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    let _ = sender.send((tls, peer)).await;
                }
                Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TlsConfig;
    use crate::tls::certificate::testing::{write, TestCa};
    use axum::routing::get;
    use axum::Router;

    async fn serve(certificate: Arc<ReloadableCertificate>) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let listener = TlsListener::new(listener, certificate).unwrap();
        let address = listener.local_addr;
        let router = Router::new().route("/", get(|| async { "hello" }));
        tokio::spawn(async move { axum::serve(listener, router).await });
        address
    }

    fn trusting(ca: &TestCa) -> reqwest::Client {
        reqwest::Client::builder()
            .tls_certs_only([
                reqwest::Certificate::from_pem(ca.certificate_pem().as_bytes()).unwrap(),
            ])
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn serves_https_to_a_trusting_client_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new("dyad");
        let (chain, key) = ca.server_certificate("leader.test");
        let certificate = ReloadableCertificate::load(TlsConfig {
            certificate_file: write(dir.path(), "chain.pem", chain),
            private_key_file: write(dir.path(), "key.pem", key),
        })
        .unwrap();
        let address = serve(certificate).await;

        let body = trusting(&ca)
            .get(format!("https://localhost:{}/", address.port()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(body, "hello");

        // Plain HTTP gets no answer, an untrusting client refuses the
        // server, and the listener goes on serving after both.
        let plain = reqwest::Client::new()
            .get(format!("http://{address}/"))
            .send()
            .await;
        assert!(plain.is_err(), "{plain:?}");
        let stranger = trusting(&TestCa::new("other"))
            .get(format!("https://{address}/"))
            .send()
            .await;
        assert!(stranger.is_err(), "{stranger:?}");
        let again = trusting(&ca)
            .get(format!("https://127.0.0.1:{}/", address.port()))
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 200);
    }
}
