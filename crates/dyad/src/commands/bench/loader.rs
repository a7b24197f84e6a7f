//! The bench's loader: reports the DAP client prepared beforehand (sharded
//! and sealed by `Client::prepare_report`, encoded once), uploaded over C
//! HTTP/1.1 connections to the Leader (DAP-09 section 4.4.2: `PUT
//! {leader}/tasks/{task-id}/reports`, `application/dap-report`). Each
//! connection stands for a client of its own: it sends the next report not
//! yet taken as soon as its last one was answered `201 Created`.
//!
//! Why not the client library's own upload: it goes through reqwest (a
//! connection pool, redirect and retry layers, a timer per request), which
//! cost the loader about 30 us of CPU per upload against about 17 us on a
//! bare hyper connection. The loader shares the measured machine with the
//! aggregators, and every CPU-second it takes is one they do not get; in a
//! deployment the clients run elsewhere. The bytes sent are the ones the
//! library's upload would send.
//!
//! A `503` (the Leader's queue is full) is waited out for its `Retry-After`
//! and the same report sent again; any other answer than `201` stops the
//! run with the status and the start of the answer's body.

use anyhow::{bail, Context as _};
use dyad_messages::draft09::TaskId;
use dyad_messages::media_type::DapMediaType;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::StatusCode;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The wait before sending a report again after a `503` without a
/// readable `Retry-After`.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Most `503`s one report may get before the run stops.
const MAX_RETRIES: u32 = 30;

/// How much of a refusal's body the error shows.
const BODY_SHOWN: usize = 512;

/// Where the reports go: the Leader's address and the upload resource.
#[derive(Clone, Debug)]
pub(super) struct Target {
    /// `host:port`, to connect to.
    authority: String,
    /// The same, as the `Host` header (built once, not per request).
    host: hyper::header::HeaderValue,
    /// The upload resource's path.
    path: hyper::Uri,
}

impl Target {
    /// The upload resource of `task_id` at the Leader `leader` (a plain
    /// `http://` URL, as the bench's aggregators serve).
    pub(super) fn new(leader: &url::Url, task_id: &TaskId) -> anyhow::Result<Self> {
        if leader.scheme() != "http" {
            bail!("the bench's loader speaks plain HTTP; the Leader is at {leader}");
        }
        let host = leader
            .host_str()
            .with_context(|| format!("the Leader's URL {leader} has no host"))?;
        let port = leader
            .port_or_known_default()
            .with_context(|| format!("the Leader's URL {leader} has no port"))?;
        let resource = leader
            .join(&format!("tasks/{task_id}/reports"))
            .with_context(|| format!("the upload resource under {leader}"))?;
        let authority = format!("{host}:{port}");
        Ok(Self {
            host: authority.parse()?,
            path: resource.path().parse()?,
            authority,
        })
    }
}

/// Uploads every report of `bodies` over `connections` connections,
/// counting each answered one in `answered`; each upload's time from first
/// sent to answered, in milliseconds.
pub(super) async fn upload_all(
    target: Target,
    bodies: Arc<Vec<Bytes>>,
    connections: usize,
    answered: Arc<AtomicU64>,
) -> anyhow::Result<Vec<f64>> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..connections.clamp(1, bodies.len().max(1)) {
        let client = Connection {
            target: target.clone(),
            bodies: bodies.clone(),
            next: next.clone(),
            answered: answered.clone(),
        };
        clients.spawn(client.run());
    }
    let mut latencies = Vec::with_capacity(bodies.len());
    while let Some(joined) = clients.join_next().await {
        match joined.context("an upload connection's task")? {
            Ok(mine) => latencies.extend(mine),
            Err(error) => {
                // One connection failing ends the run: the others stop too.
                clients.abort_all();
                return Err(error);
            }
        }
    }
    Ok(latencies)
}

/// One connection's share of the uploads.
struct Connection {
    target: Target,
    bodies: Arc<Vec<Bytes>>,
    next: Arc<AtomicUsize>,
    answered: Arc<AtomicU64>,
}

impl Connection {
    async fn run(self) -> anyhow::Result<Vec<f64>> {
        let authority = &self.target.authority;
        let stream = tokio::net::TcpStream::connect(authority.as_str())
            .await
            .with_context(|| format!("connecting to the Leader at {authority}"))?;
        stream.set_nodelay(true)?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .with_context(|| format!("opening an HTTP/1.1 connection to {authority}"))?;
        let driving = tokio::spawn(connection);
        let mut latencies = Vec::new();
        let outcome = loop {
            let index = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(body) = self.bodies.get(index) else {
                break Ok(latencies);
            };
            let sent = Instant::now();
            if let Err(error) = self.upload(&mut sender, body).await {
                break Err(error.context(format!("uploading report {index} to {authority}")));
            }
            latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
            self.answered.fetch_add(1, Ordering::Relaxed);
        };
        driving.abort();
        outcome
    }

    /// Sends one report until it is answered `201`, waiting out `503`s.
    async fn upload(
        &self,
        sender: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
        body: &Bytes,
    ) -> anyhow::Result<()> {
        let mut refused = 0;
        loop {
            let request = hyper::Request::put(self.target.path.clone())
                .header(hyper::header::HOST, self.target.host.clone())
                .header(
                    hyper::header::CONTENT_TYPE,
                    hyper::header::HeaderValue::from_static(DapMediaType::Report.as_str()),
                )
                .body(Full::new(body.clone()))?;
            sender.ready().await.context("the connection closed")?;
            let response = sender.send_request(request).await?;
            let status = response.status();
            let retry_after = retry_after(response.headers());
            let answer = response.into_body().collect().await?.to_bytes();
            match status {
                StatusCode::CREATED => return Ok(()),
                StatusCode::SERVICE_UNAVAILABLE if refused < MAX_RETRIES => {
                    refused += 1;
                    tokio::time::sleep(retry_after).await;
                }
                _ => bail!(
                    "the Leader answered {status}: {}",
                    String::from_utf8_lossy(&answer[..answer.len().min(BODY_SHOWN)])
                ),
            }
        }
    }
}

/// The wait a `Retry-After` header asks for (in seconds), else
/// [`DEFAULT_RETRY_AFTER`].
fn retry_after(headers: &hyper::HeaderMap) -> Duration {
    headers
        .get(hyper::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok())
        .map_or(DEFAULT_RETRY_AFTER, Duration::from_secs)
}

#[cfg(test)]
#[path = "loader_tests.rs"]
mod tests;
