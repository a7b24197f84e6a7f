//! An HTTP/1.1 peer on a raw TCP socket: it reads each request (head and
//! `Content-Length` body), asks the test's script for an [`Answer`], sends
//! it and closes the connection. Answers can be what no honest server
//! sends: [`FLOOD_BYTES`] of body streamed in 64 KiB chunks (never held
//! whole, so the peer's own memory stays flat), or a body trickled one byte
//! at a time.

use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

/// The size of a flood: 200 MB.
pub const FLOOD_BYTES: usize = 200 * 1024 * 1024;

/// A request as the peer read it.
#[derive(Debug, Clone)]
pub struct Request {
    /// The request line and headers, lowercased.
    pub head: String,
}

impl Request {
    /// Whether the request line is `METHOD PATH...` with a path starting
    /// with `path_prefix` (method in any case).
    pub fn is(&self, method: &str, path_prefix: &str) -> bool {
        let prefix = format!(
            "{} {}",
            method.to_ascii_lowercase(),
            path_prefix.to_ascii_lowercase()
        );
        self.head.starts_with(&prefix)
    }
}

/// How the peer answers one request.
#[derive(Debug, Clone)]
pub enum Answer {
    /// `status` (e.g. `"200 OK"`) with `body`, its length declared.
    Body {
        status: &'static str,
        content_type: &'static str,
        body: Vec<u8>,
    },
    /// `status` and [`FLOOD_BYTES`] of `fill` bytes, streamed; the length
    /// declared up front or not at all.
    Flood {
        status: &'static str,
        content_type: &'static str,
        declare_length: bool,
        fill: u8,
    },
    /// `200 OK` declaring `declared` bytes, then one byte every `every`.
    Trickle { declared: usize, every: Duration },
}

impl Answer {
    /// `200 OK` and a flood of zero bytes of `content_type`, its length
    /// undeclared.
    pub fn flood(content_type: &'static str) -> Self {
        Answer::Flood {
            status: "200 OK",
            content_type,
            declare_length: false,
            fill: 0,
        }
    }
}

/// Starts a peer on a loopback port that answers each request with
/// `script(request)`; its base URL (`http://127.0.0.1:PORT/`). It runs on
/// the current tokio runtime until that stops.
pub async fn start<F>(script: F) -> Url
where
    F: Fn(&Request) -> Answer + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding a loopback port");
    let addr = listener.local_addr().expect("the bound address");
    let script = Arc::new(script);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let script = script.clone();
            tokio::spawn(async move {
                let mut stream = stream;
                if let Some(request) = read_request(&mut stream).await {
                    let answer = script(&request);
                    send(&mut stream, &answer).await;
                }
            });
        }
    });
    format!("http://{addr}/").parse().expect("a URL")
}

/// Reads one request: its head, then as many body bytes as
/// `Content-Length` says (discarded). `None` if the connection ends first.
pub async fn read_request(stream: &mut TcpStream) -> Option<Request> {
    let mut request = Vec::new();
    let mut buf = [0u8; 8192];
    let header_end = loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
        if let Some(pos) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
    };
    let head = String::from_utf8_lossy(&request[..header_end]).to_ascii_lowercase();
    let body_len: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut have = request.len() - header_end;
    while have < body_len {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => have += n,
        }
    }
    Some(Request { head })
}

/// Sends `answer` (see [`Answer`]); stops quietly when the reader goes.
pub async fn send(stream: &mut TcpStream, answer: &Answer) {
    match answer {
        Answer::Body {
            status,
            content_type,
            body,
        } => {
            let head = format!(
                "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            if stream.write_all(head.as_bytes()).await.is_ok() {
                let _ = stream.write_all(body).await;
            }
        }
        Answer::Flood {
            status,
            content_type,
            declare_length,
            fill,
        } => {
            let length = if *declare_length {
                format!("content-length: {FLOOD_BYTES}\r\n")
            } else {
                String::new()
            };
            let head = format!(
                "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\n{length}connection: close\r\n\r\n"
            );
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let chunk = vec![*fill; 64 * 1024];
            let mut sent = 0;
            while sent < FLOOD_BYTES {
                if stream.write_all(&chunk).await.is_err() {
                    return;
                }
                sent += chunk.len();
            }
        }
        Answer::Trickle { declared, every } => {
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {declared}\r\nconnection: close\r\n\r\n"
            );
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            for _ in 0..*declared {
                tokio::time::sleep(*every).await;
                if stream.write_all(b"\0").await.is_err() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends `request` to `url`'s port and reads until the peer closes,
    /// counting the bytes.
    async fn exchange(url: &Url, request: &str) -> (String, usize) {
        let mut stream = TcpStream::connect(("127.0.0.1", url.port().unwrap()))
            .await
            .unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut head = Vec::new();
        let mut total = 0;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = stream.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            if head.len() < 256 {
                head.extend_from_slice(&buf[..n.min(256)]);
            }
            total += n;
        }
        (String::from_utf8_lossy(&head).into_owned(), total)
    }

    #[tokio::test]
    async fn answers_each_request_as_the_script_says() {
        let url = start(|request| {
            if request.is("GET", "/hpke_config") {
                Answer::Body {
                    status: "200 OK",
                    content_type: "text/plain",
                    body: b"hello".to_vec(),
                }
            } else {
                Answer::flood("application/octet-stream")
            }
        })
        .await;
        let (head, total) = exchange(&url, "GET /hpke_config HTTP/1.1\r\n\r\n").await;
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.ends_with("\r\n\r\nhello"), "{head}");
        let (head, total_flood) = exchange(
            &url,
            "PUT /tasks/x HTTP/1.1\r\ncontent-length: 3\r\n\r\nabc",
        )
        .await;
        assert!(head.contains("application/octet-stream"), "{head}");
        assert!(total_flood > FLOOD_BYTES && total < 200);
    }
}
