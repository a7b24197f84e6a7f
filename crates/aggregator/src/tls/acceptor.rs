//! [`acceptor`]: the TLS side of `dyad serve`'s HTTPS listener. The
//! server ([`crate::server`]) runs each handshake on its connection's own
//! task, bounded by `server.tls_handshake_timeout_secs`, so a slow or silent
//! client never holds up the others; a client that fails its handshake
//! (plain HTTP, a certificate it does not trust) is dropped with a debug
//! log. The certificate comes from a [`ReloadableCertificate`] at each
//! handshake.

use super::error::TlsError;
use super::provider::crypto_provider;
use super::reload::ReloadableCertificate;
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

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

/// The acceptor of HTTPS connections presenting `certificate`.
pub fn acceptor(certificate: Arc<ReloadableCertificate>) -> Result<TlsAcceptor, TlsError> {
    Ok(TlsAcceptor::from(Arc::new(server_config(certificate)?)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TlsConfig;
    use crate::tls::certificate::testing::{write, TestCa};
    use axum::routing::get;
    use axum::Router;
    use std::net::SocketAddr;
    use tokio::net::TcpListener;

    async fn serve(certificate: Arc<ReloadableCertificate>) -> SocketAddr {
        serve_with(certificate, crate::server::ServerLimits::default()).await
    }

    async fn serve_with(
        certificate: Arc<ReloadableCertificate>,
        limits: crate::server::ServerLimits,
    ) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let acceptor = acceptor(certificate).unwrap();
        let router = Router::new().route("/", get(|| async { "hello" }));
        tokio::spawn(crate::server::serve(
            listener,
            Some(acceptor),
            router,
            limits,
            tokio_util::sync::CancellationToken::new(),
        ));
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

    #[tokio::test]
    async fn a_client_that_never_finishes_its_handshake_is_dropped_after_the_timeout() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new("dyad");
        let (chain, key) = ca.server_certificate("leader.test");
        let certificate = ReloadableCertificate::load(TlsConfig {
            certificate_file: write(dir.path(), "chain.pem", chain),
            private_key_file: write(dir.path(), "key.pem", key),
        })
        .unwrap();
        let timeout = std::time::Duration::from_millis(300);
        let address = serve_with(
            certificate,
            crate::server::ServerLimits {
                tls_handshake_timeout: timeout,
                ..crate::server::ServerLimits::default()
            },
        )
        .await;
        // A TLS record header and nothing more: the handshake never ends.
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        stream
            .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00])
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let mut rest = Vec::new();
        tokio::time::timeout(timeout * 5, stream.read_to_end(&mut rest))
            .await
            .expect("the server dropped the connection")
            .unwrap();
        assert!(started.elapsed() >= timeout - std::time::Duration::from_millis(50));
        // Others are still served.
        let body = trusting(&ca)
            .get(format!("https://localhost:{}/", address.port()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(body, "hello");
    }
}
