//! A fault-injecting HTTP/1.1 proxy for the cross-process tests: it sits
//! between two parties (the Leader and its Helper, or a client and the
//! Leader), forwards each request to its upstream and, for requests matching
//! a scripted [`Rule`] (method and path pattern), applies the rule's next
//! [`Fault`] instead of a plain forward. It counts what it did, so that a
//! test can assert that every scripted fault was really injected and that
//! the upstream itself never answered a 5xx.
//!
//! The proxy speaks just enough HTTP/1.1 for the aggregators' and clients'
//! requests: one request per connection (every answer says `Connection:
//! close`), bodies with `Content-Length`. Forwarding uses a fresh `reqwest`
//! request; faults that must misbehave at the byte level (resets, truncated
//! bodies, uploads aborted mid-body) write to the sockets directly.

use anyhow::{bail, Context as _};
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

/// Largest request head the proxy reads.
const MAX_HEAD_LEN: usize = 64 * 1024;
/// How long the proxy waits for an upstream's answer: far beyond what the
/// aggregators should ever take in these tests, so that a hung request
/// shows as a proxy failure.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest request body the proxy reads.
const MAX_BODY_LEN: usize = 16 * 1024 * 1024;

/// What the proxy does to one matching request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answers this status without forwarding: the upstream never sees the
    /// request.
    StatusBefore(u16),
    /// Resets the caller's connection (TCP RST) without forwarding.
    ResetBefore,
    /// Waits this long, then forwards and relays the answer (the caller may
    /// have given up meanwhile, and then the upstream processes a request
    /// nobody waits for).
    DelayBefore(Duration),
    /// Forwards (the upstream processes the request), then answers this
    /// status instead of the upstream's answer.
    StatusAfter(u16),
    /// Forwards, then resets the caller's connection instead of answering.
    ResetAfter,
    /// Forwards, then holds the upstream's answer this long before relaying
    /// it (past the caller's timeout).
    DelayAfter(Duration),
    /// Forwards, then sends the upstream's status and headers but only the
    /// first half of its body (at least one byte short of the announced
    /// `Content-Length`), and closes the connection.
    TruncateAfter,
    /// Forwards the request twice at once and relays the first answer (a
    /// client that sends its upload twice).
    Duplicate,
    /// Sends the upstream the request head and only half of the body, then
    /// resets that connection (an upload aborted mid-body); resets the
    /// caller's connection too.
    AbortUpstream,
}

impl Fault {
    /// Whether the upstream receives (and may process) the request.
    pub fn forwards(&self) -> bool {
        !matches!(self, Self::StatusBefore(_) | Self::ResetBefore)
    }
}

/// Faults for requests with method `method` whose path matches `pattern`:
/// `/`-separated segments, `*` matching any one segment (e.g.
/// `/tasks/*/aggregation_jobs/*`). The n-th matching request gets the n-th
/// fault; once they are used up, matching requests are forwarded unchanged.
/// A [`Rule::pinned`] rule keeps to the path of the first request it
/// matched (e.g. all its faults hit one aggregation job).
#[derive(Debug, Clone)]
pub struct Rule {
    pub method: String,
    pub pattern: String,
    pub faults: Vec<Fault>,
    pub pinned: bool,
}

impl Rule {
    pub fn new(method: &str, pattern: &str, faults: impl IntoIterator<Item = Fault>) -> Self {
        Self {
            method: method.to_owned(),
            pattern: pattern.to_owned(),
            faults: faults.into_iter().collect(),
            pinned: false,
        }
    }

    /// This rule, matching only the path of the first request it matches.
    pub fn pinned(mut self) -> Self {
        self.pinned = true;
        self
    }

    /// Whether a request with `method` and `path` (no query) matches.
    pub fn matches(&self, method: &str, path: &str) -> bool {
        if !self.method.eq_ignore_ascii_case(method) {
            return false;
        }
        let pattern: Vec<&str> = self.pattern.split('/').collect();
        let path: Vec<&str> = path.split('/').collect();
        pattern.len() == path.len()
            && pattern
                .iter()
                .zip(&path)
                .all(|(want, got)| *want == "*" || want == got)
    }
}

/// One request the proxy handled: what it was and what happened to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handled {
    pub method: String,
    pub path: String,
    /// The fault applied, if any.
    pub fault: Option<Fault>,
    /// The upstream's status(es), for each time the request was forwarded
    /// and answered.
    pub upstream_statuses: Vec<u16>,
    /// How long the proxy took over it, once it is done with it.
    pub elapsed: Option<Duration>,
    /// The request's body.
    pub request_body: Vec<u8>,
}

/// A running proxy. Stops accepting when dropped.
pub struct FaultProxy {
    url: Url,
    state: Arc<Mutex<ProxyState>>,
    accept_task: tokio::task::JoinHandle<()>,
}

struct ProxyState {
    /// Per rule: the rule and its faults not yet used.
    rules: Vec<(Rule, VecDeque<Fault>)>,
    handled: Vec<Handled>,
    /// Requests the proxy could not read or forward, with why.
    failures: Vec<String>,
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `upstream` (a base
    /// URL such as `http://127.0.0.1:PORT/`) under `rules`.
    pub async fn start(upstream: Url, rules: Vec<Rule>) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let url: Url = format!("http://{address}/").parse()?;
        let state = Arc::new(Mutex::new(ProxyState {
            rules: rules
                .into_iter()
                .map(|rule| {
                    let faults = rule.faults.iter().cloned().collect();
                    (rule, faults)
                })
                .collect(),
            handled: Vec::new(),
            failures: Vec::new(),
        }));
        let upstream_address = upstream_address(&upstream)?;
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(UPSTREAM_TIMEOUT)
            .pool_max_idle_per_host(0)
            .build()?;
        let shared = Arc::new(Upstream {
            base: upstream,
            address: upstream_address,
            http,
        });
        let accept_state = Arc::clone(&state);
        let accept_task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = Arc::clone(&accept_state);
                let upstream = Arc::clone(&shared);
                tokio::spawn(async move {
                    if let Err(error) = handle(stream, &upstream, &state).await {
                        lock(&state).failures.push(format!("{error:#}"));
                    }
                });
            }
        });
        Ok(Self {
            url,
            state,
            accept_task,
        })
    }

    /// The proxy's base URL, to give the caller instead of the upstream's.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Every request handled so far, in the order they arrived.
    pub fn handled(&self) -> Vec<Handled> {
        lock(&self.state).handled.clone()
    }

    /// The faults applied so far.
    pub fn injected(&self) -> Vec<Fault> {
        self.handled().into_iter().filter_map(|h| h.fault).collect()
    }

    /// The scripted faults not applied yet (no matching request came).
    pub fn unused_faults(&self) -> Vec<(String, Fault)> {
        lock(&self.state)
            .rules
            .iter()
            .flat_map(|(rule, left)| {
                left.iter()
                    .map(move |fault| (format!("{} {}", rule.method, rule.pattern), fault.clone()))
            })
            .collect()
    }

    /// Requests the upstream answered with a 5xx (as `METHOD PATH: STATUS`).
    pub fn upstream_server_errors(&self) -> Vec<String> {
        self.handled()
            .iter()
            .flat_map(|h| {
                h.upstream_statuses
                    .iter()
                    .filter(|status| **status >= 500)
                    .map(move |status| format!("{} {}: {status}", h.method, h.path))
            })
            .collect()
    }

    /// Requests the proxy is still busy with (held, or waiting for the
    /// upstream's answer), as `METHOD PATH`.
    pub fn in_flight(&self) -> Vec<String> {
        self.handled()
            .iter()
            .filter(|h| h.elapsed.is_none())
            .map(|h| format!("{} {}", h.method, h.path))
            .collect()
    }

    /// Requests the proxy itself failed to read or to forward (other than
    /// by a scripted fault).
    pub fn failures(&self) -> Vec<String> {
        lock(&self.state).failures.clone()
    }

    /// How many handled requests had each fault, by its `Debug` form.
    pub fn summary(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for handled in self.handled() {
            let key = match handled.fault {
                Some(fault) => format!("{} {:?}", handled.method, fault),
                None => format!("{} forwarded", handled.method),
            };
            *counts.entry(key).or_default() += 1;
        }
        counts
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

fn lock(state: &Mutex<ProxyState>) -> std::sync::MutexGuard<'_, ProxyState> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Where requests go.
struct Upstream {
    base: Url,
    address: SocketAddr,
    http: reqwest::Client,
}

fn upstream_address(base: &Url) -> anyhow::Result<SocketAddr> {
    let host = base.host_str().context("upstream URL without a host")?;
    let port = base
        .port_or_known_default()
        .context("upstream URL without a port")?;
    format!("{host}:{port}")
        .parse()
        .with_context(|| format!("upstream {base} is not an IP address and port"))
}

/// A request as read from the caller.
struct Request {
    method: String,
    /// Path and query, as sent.
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }
}

/// An upstream answer, as relayed.
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Headers that describe one hop's connection or framing; never relayed.
fn is_hop_header(name: &str) -> bool {
    [
        "host",
        "connection",
        "content-length",
        "transfer-encoding",
        "keep-alive",
    ]
    .iter()
    .any(|hop| name.eq_ignore_ascii_case(hop))
}

async fn handle(
    mut caller: TcpStream,
    upstream: &Upstream,
    state: &Mutex<ProxyState>,
) -> anyhow::Result<()> {
    let Some(request) = read_request(&mut caller).await? else {
        return Ok(());
    };
    let started = Instant::now();
    // Recorded at once, so that a request still held (delayed, or waiting
    // for its upstream) shows as in flight.
    let (fault, index) = {
        let mut state = lock(state);
        let fault = state
            .rules
            .iter_mut()
            .find(|(rule, _)| rule.matches(&request.method, request.path()))
            .and_then(|(rule, left)| {
                if rule.pinned {
                    rule.pattern = request.path().to_owned();
                }
                left.pop_front()
            });
        state.handled.push(Handled {
            method: request.method.clone(),
            path: request.path().to_owned(),
            fault: fault.clone(),
            upstream_statuses: Vec::new(),
            elapsed: None,
            request_body: request.body.clone(),
        });
        (fault, state.handled.len() - 1)
    };
    let mut statuses = Vec::new();
    let outcome = apply(
        &mut caller,
        upstream,
        &request,
        fault.as_ref(),
        &mut statuses,
    )
    .await;
    let mut state = lock(state);
    let handled = &mut state.handled[index];
    handled.upstream_statuses = statuses;
    handled.elapsed = Some(started.elapsed());
    outcome
}

/// Applies `fault` (or plain forwarding) to one request; the upstream's
/// statuses go to `statuses`.
async fn apply(
    caller: &mut TcpStream,
    upstream: &Upstream,
    request: &Request,
    fault: Option<&Fault>,
    statuses: &mut Vec<u16>,
) -> anyhow::Result<()> {
    match fault {
        None => {
            let response = forward(upstream, request).await?;
            statuses.push(response.status);
            write_response(caller, &response, None).await
        }
        Some(Fault::StatusBefore(status)) => write_response(caller, &injected(*status), None).await,
        Some(Fault::ResetBefore) => reset(caller),
        Some(Fault::DelayBefore(delay)) => {
            tokio::time::sleep(*delay).await;
            let response = forward(upstream, request).await?;
            statuses.push(response.status);
            // The caller has usually gone; relaying may fail, harmlessly.
            let _ = write_response(caller, &response, None).await;
            Ok(())
        }
        Some(Fault::StatusAfter(status)) => {
            statuses.push(forward(upstream, request).await?.status);
            write_response(caller, &injected(*status), None).await
        }
        Some(Fault::ResetAfter) => {
            statuses.push(forward(upstream, request).await?.status);
            reset(caller)
        }
        Some(Fault::DelayAfter(delay)) => {
            let response = forward(upstream, request).await?;
            statuses.push(response.status);
            tokio::time::sleep(*delay).await;
            let _ = write_response(caller, &response, None).await;
            Ok(())
        }
        Some(Fault::TruncateAfter) => {
            let response = forward(upstream, request).await?;
            statuses.push(response.status);
            let keep = response.body.len() / 2;
            write_response(caller, &response, Some(keep)).await
        }
        Some(Fault::Duplicate) => {
            let (first, second) =
                futures::future::join(forward(upstream, request), forward(upstream, request)).await;
            let (first, second) = (first?, second?);
            statuses.extend([first.status, second.status]);
            write_response(caller, &first, None).await
        }
        Some(Fault::AbortUpstream) => {
            abort_upstream(upstream, request).await?;
            reset(caller)
        }
    }
}

/// A response the proxy makes up (never the upstream's).
fn injected(status: u16) -> Response {
    Response {
        status,
        headers: vec![("content-type".into(), "text/plain".into())],
        body: format!("fault injected by the test proxy: {status}").into_bytes(),
    }
}

/// Closes the connection with a TCP reset instead of an orderly close.
fn reset(stream: &mut TcpStream) -> anyhow::Result<()> {
    stream.set_zero_linger()?;
    Ok(())
}

/// Reads one request (head and `Content-Length` body); `None` if the
/// caller closed the connection before sending anything.
async fn read_request(stream: &mut TcpStream) -> anyhow::Result<Option<Request>> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        if buffer.len() > MAX_HEAD_LEN {
            bail!("request head over {MAX_HEAD_LEN} bytes");
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            if buffer.is_empty() {
                return Ok(None);
            }
            bail!("connection closed inside the request head");
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buffer[..head_end]).context("request head not UTF-8")?;
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        bail!("malformed request line {request_line:?}");
    };
    let (method, target) = (method.to_owned(), target.to_owned());
    let mut headers = Vec::new();
    let mut content_length = 0usize;
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .with_context(|| format!("malformed header line {line:?}"))?;
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("content-length") {
            content_length = value.parse().context("bad Content-Length")?;
        }
        if name.eq_ignore_ascii_case("transfer-encoding") {
            bail!("chunked request bodies are not supported by the test proxy");
        }
        headers.push((name.to_owned(), value.to_owned()));
    }
    if content_length > MAX_BODY_LEN {
        bail!("request body of {content_length} bytes");
    }
    let mut body = buffer.split_off(head_end + 4);
    while body.len() < content_length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            bail!("connection closed inside the request body");
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(content_length);
    Ok(Some(Request {
        method,
        target,
        headers,
        body,
    }))
}

/// Sends `request` to the upstream and reads its whole answer.
async fn forward(upstream: &Upstream, request: &Request) -> anyhow::Result<Response> {
    let url = upstream
        .base
        .join(request.target.trim_start_matches('/'))
        .context("forwarded URL")?;
    let method = reqwest::Method::from_bytes(request.method.as_bytes())?;
    let mut builder = upstream.http.request(method, url);
    for (name, value) in &request.headers {
        if !is_hop_header(name) {
            builder = builder.header(name, value);
        }
    }
    let answer = builder
        .body(request.body.clone())
        .send()
        .await
        .with_context(|| format!("forwarding {} {}", request.method, request.path()))?;
    let status = answer.status().as_u16();
    let headers = answer
        .headers()
        .iter()
        .filter(|(name, _)| !is_hop_header(name.as_str()))
        .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_owned())))
        .collect();
    let body = answer.bytes().await?.to_vec();
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// Writes `response` to the caller, with at most `keep` bytes of its body
/// when truncating (then at least one byte short of the announced length).
async fn write_response(
    stream: &mut TcpStream,
    response: &Response,
    keep: Option<usize>,
) -> anyhow::Result<()> {
    let reason = reqwest::StatusCode::from_u16(response.status)
        .ok()
        .and_then(|status| status.canonical_reason())
        .unwrap_or("Unknown");
    let announced = match keep {
        // An empty body cut short: announce one byte that never comes.
        Some(_) if response.body.is_empty() => 1,
        _ => response.body.len(),
    };
    let mut head = format!("HTTP/1.1 {} {reason}\r\n", response.status);
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "content-length: {announced}\r\nconnection: close\r\n\r\n"
    ));
    stream.write_all(head.as_bytes()).await?;
    let body = match keep {
        Some(keep) => &response.body[..keep.min(response.body.len().saturating_sub(1))],
        None => &response.body[..],
    };
    stream.write_all(body).await?;
    stream.flush().await?;
    if keep.is_some() {
        // Cut: the caller must not take the close for the end of the body.
        stream.set_zero_linger()?;
    }
    Ok(())
}

/// Sends the upstream the request head and half of its body, then resets
/// the connection.
async fn abort_upstream(upstream: &Upstream, request: &Request) -> anyhow::Result<()> {
    let mut stream = TcpStream::connect(upstream.address).await?;
    let mut head = format!(
        "{} {} HTTP/1.1\r\nhost: {}\r\n",
        request.method, request.target, upstream.address
    );
    for (name, value) in &request.headers {
        if !is_hop_header(name) {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str(&format!(
        "content-length: {}\r\n\r\n",
        request.body.len().max(2)
    ));
    stream.write_all(head.as_bytes()).await?;
    stream
        .write_all(&request.body[..request.body.len() / 2])
        .await?;
    stream.flush().await?;
    // Let the upstream start reading the body before the connection dies.
    tokio::time::sleep(Duration::from_millis(50)).await;
    stream.set_zero_linger()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_whole_segments() {
        let rule = Rule::new("PUT", "/tasks/*/aggregation_jobs/*", []);
        assert!(rule.matches("PUT", "/tasks/abc/aggregation_jobs/def"));
        assert!(rule.matches("put", "/tasks/abc/aggregation_jobs/def"));
        assert!(!rule.matches("POST", "/tasks/abc/aggregation_jobs/def"));
        assert!(!rule.matches("PUT", "/tasks/abc/aggregation_jobs"));
        assert!(!rule.matches("PUT", "/tasks/abc/aggregate_shares/def"));
        assert!(!rule.matches("PUT", "/tasks/abc/aggregation_jobs/def/x"));
    }

    #[tokio::test]
    async fn a_pinned_rule_keeps_to_the_first_path_it_matched() {
        let (upstream_url, _) = upstream("ok").await;
        let proxy = FaultProxy::start(
            upstream_url,
            vec![Rule::new("PUT", "/jobs/*", vec![Fault::StatusBefore(503); 2]).pinned()],
        )
        .await
        .unwrap();
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let mut statuses = Vec::new();
        for job in ["a", "b", "a", "a"] {
            let url = proxy.url().join(&format!("jobs/{job}")).unwrap();
            statuses.push(http.put(url).send().await.unwrap().status().as_u16());
        }
        assert_eq!(statuses, [503, 201, 503, 201]);
    }

    /// A tiny upstream that answers every request `201` with `body`,
    /// counting the requests it read completely.
    async fn upstream(body: &'static str) -> (Url, Arc<Mutex<usize>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap())
            .parse()
            .unwrap();
        let seen = Arc::new(Mutex::new(0));
        let counter = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let counter = Arc::clone(&counter);
                tokio::spawn(async move {
                    if let Ok(Some(_)) = read_request(&mut stream).await {
                        *counter.lock().unwrap() += 1;
                        let response = Response {
                            status: 201,
                            headers: vec![],
                            body: body.as_bytes().to_vec(),
                        };
                        let _ = write_response(&mut stream, &response, None).await;
                    }
                });
            }
        });
        (url, seen)
    }

    #[tokio::test]
    async fn each_fault_reaches_the_upstream_or_not_as_it_says() {
        let (upstream_url, seen) = upstream("hello, world").await;
        let faults = vec![
            Fault::StatusBefore(503),
            Fault::ResetBefore,
            Fault::StatusAfter(500),
            Fault::ResetAfter,
            Fault::TruncateAfter,
            Fault::Duplicate,
            Fault::AbortUpstream,
        ];
        let proxy = FaultProxy::start(
            upstream_url,
            vec![Rule::new("PUT", "/jobs/*", faults.clone())],
        )
        .await
        .unwrap();
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let url = proxy.url().join("jobs/1").unwrap();
        let mut outcomes = Vec::new();
        for _ in 0..faults.len() + 1 {
            let outcome = match http.put(url.clone()).body("payload").send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    match response.text().await {
                        Ok(text) => format!("{status} {text}"),
                        Err(_) => format!("{status} body cut"),
                    }
                }
                Err(_) => "connection failed".to_owned(),
            };
            outcomes.push(outcome);
        }
        assert_eq!(outcomes[0], "503 fault injected by the test proxy: 503");
        assert_eq!(outcomes[1], "connection failed");
        assert_eq!(outcomes[2], "500 fault injected by the test proxy: 500");
        assert_eq!(outcomes[3], "connection failed");
        assert_eq!(outcomes[4], "201 body cut");
        assert_eq!(outcomes[5], "201 hello, world");
        assert_eq!(outcomes[6], "connection failed");
        // Used up: plain forwarding.
        assert_eq!(outcomes[7], "201 hello, world");
        assert!(proxy.unused_faults().is_empty());
        assert_eq!(proxy.injected(), faults);
        // Forwarded: after-faults once each, the duplicate twice, the last
        // request once; never the before-faults or the aborted body.
        assert_eq!(*seen.lock().unwrap(), 3 + 2 + 1);
        assert!(proxy.upstream_server_errors().is_empty());
        assert!(proxy.failures().is_empty(), "{:?}", proxy.failures());
    }

    #[tokio::test]
    async fn a_delay_outlasts_the_callers_timeout_and_still_forwards() {
        let (upstream_url, seen) = upstream("late").await;
        let proxy = FaultProxy::start(
            upstream_url,
            vec![Rule::new(
                "POST",
                "/shares",
                [Fault::DelayAfter(Duration::from_millis(600))],
            )],
        )
        .await
        .unwrap();
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(UPSTREAM_TIMEOUT)
            .timeout(Duration::from_millis(200))
            .build()
            .unwrap();
        let url = proxy.url().join("shares").unwrap();
        let error = http.post(url.clone()).body("x").send().await.unwrap_err();
        assert!(error.is_timeout(), "{error:?}");
        assert_eq!(*seen.lock().unwrap(), 1);
        let answer = http.post(url).body("x").send().await.unwrap();
        assert_eq!(answer.text().await.unwrap(), "late");
    }
}
