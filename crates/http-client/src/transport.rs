//! Which failures to get an answer are worth retrying: the one
//! classification of reqwest's errors that the client and the collector
//! share.
//!
//! # Where is
//!
//! - connection failures, timeouts, lost requests and answers cut short are
//!   transient; a refused server certificate, a request that could not be
//!   built, a redirect loop are not -> [`transport_class`];
//! - a refused server certificate (unknown issuer, wrong name, expired) ->
//!   [`certificate_refused`];
//! - an answer's body cut short -> [`cut_mid_body`].

use dyad_core::retry::RetryClass;

/// Failures to connect, time-outs and connections lost while sending or
/// receiving are worth retrying; a refused certificate, a request that
/// could not be built, or a redirect loop, is not.
pub fn transport_class(error: &reqwest::Error) -> RetryClass {
    if certificate_refused(error) {
        RetryClass::Permanent
    } else if error.is_connect()
        || error.is_timeout()
        || error.is_request()
        || error.is_body()
        || cut_mid_body(error)
    {
        RetryClass::Transient
    } else {
        RetryClass::Permanent
    }
}

/// Whether `error` is an answer's body cut short (the connection closed or
/// reset before its end). reqwest reports a failure while reading a body
/// chunk as a decode error (its source a body error, or hyper's with the
/// I/O error); with no content decoding enabled, that is the only way to
/// get one. A lost answer is worth asking again, like a lost connection.
pub fn cut_mid_body(error: &reqwest::Error) -> bool {
    error.is_decode()
}

/// Whether `error` is the server's certificate being refused (unknown
/// issuer, wrong name, expired): a configuration problem that retrying
/// cannot fix. The TLS error sits inside (nested) `io::Error`s, whose
/// `source` skips it, hence the look inside each `io::Error` of the chain.
pub fn certificate_refused(error: &reqwest::Error) -> bool {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = next {
        let mut candidate = Some(current);
        while let Some(error) = candidate {
            if let Some(rustls::Error::InvalidCertificate(_)) = error.downcast_ref() {
                return true;
            }
            candidate = error
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .map(|inner| inner as &(dyn std::error::Error + 'static));
        }
        next = current.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::{read_body, BodyError};
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    /// An answer whose body stops before its `Content-Length` (the
    /// connection reset mid-body) is retried like a lost connection.
    #[tokio::test]
    async fn an_answer_cut_mid_body_is_transient() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request).await;
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly part")
                .await
                .unwrap();
            stream.flush().await.unwrap();
            stream.set_zero_linger().unwrap();
        });
        let response = reqwest::get(format!("http://{address}/")).await.unwrap();
        let error = match read_body(response, 1024).await {
            Err(BodyError::Http(error)) => error,
            other => panic!("expected a cut body, got {other:?}"),
        };
        assert!(cut_mid_body(&error), "{error:?}");
        assert!(!certificate_refused(&error));
        assert!(transport_class(&error).is_transient());
    }

    /// A connection nobody accepts is worth retrying.
    #[tokio::test]
    async fn a_refused_connection_is_transient() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let error = reqwest::get(format!("http://{address}/"))
            .await
            .unwrap_err();
        assert!(!certificate_refused(&error));
        assert!(transport_class(&error).is_transient(), "{error:?}");
    }

    /// A server whose certificate no trusted root vouches for: retrying
    /// cannot help, so the failure is permanent.
    #[tokio::test]
    async fn a_refused_server_certificate_is_permanent() {
        let key = rcgen::KeyPair::generate().unwrap();
        let certificate = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![certificate.der().clone()], key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            // The handshake fails on the client's side; nothing to serve.
            let _ = acceptor.accept(stream).await;
        });
        let error = reqwest::get(format!("https://localhost:{port}/"))
            .await
            .unwrap_err();
        assert!(certificate_refused(&error), "{error:?}");
        assert!(!transport_class(&error).is_transient());
    }
}
