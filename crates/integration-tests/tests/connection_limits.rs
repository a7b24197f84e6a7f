//! The Leader's server limits, against real `dyad serve` processes:
//!
//! - held by 2,000 idle connections and 1,000 slow uploads (part of a body
//!   sent, then trickled or held), the Leader still takes an ordinary
//!   client's uploads and gives the exact collection, its memory stays
//!   bounded, and its timeouts then close every one of those connections;
//! - past `server.max_connections`, a new connection is answered `503` with
//!   `Retry-After`, and served again once connections close;
//! - past `server.max_buffered_bodies`, an upload is answered `503` with
//!   `Retry-After`, and uploads and collection work again once the slow
//!   bodies go;
//! - each such refusal is counted in `dyad_http_refused_total` by the limit
//!   and the status answered;
//! - SIGTERM stops a Leader within its shutdown grace period, however many
//!   idle connections and slow uploads it holds.

use dyad_core::vdaf::{plaintext_aggregate, random_measurement, AggregationParam, Measurement};
use dyad_integration_tests::{
    assert_aggregate_eq, free_port, past_bucket_time, Dyad, TaskOptions, WAIT,
};
use dyad_messages::draft09::{Duration, Interval, Query, Time};
use futures::StreamExt;
use std::net::SocketAddr;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PRECISION: u64 = 3600;
const IDLE_CONNECTIONS: usize = 2_000;
const SLOW_UPLOADS: usize = 1_000;
/// Bytes of its body each slow upload sends before trickling or holding.
const SLOW_BODY_SENT: usize = 16 * 1024;
/// The Leader's idle and body timeouts in the held-connections test.
const HOLD_TIMEOUT_SECS: u64 = 30;
/// The bound on the Leader's peak resident memory while held (KiB).
/// Measured: a peak of about 100 MiB (VmHWM 101,400 KiB), from 26 MiB idle.
const RSS_BOUND_KIB: u64 = 192 * 1024;

/// Raises this process's soft open-file limit to its hard limit (the test
/// holds more than 3,000 sockets).
fn raise_open_file_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write one `rlimit` through
    // valid pointers.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        limit.rlim_cur = limit.rlim_max;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
    }
    assert!(
        limit.rlim_cur > (IDLE_CONNECTIONS + SLOW_UPLOADS + 200) as u64,
        "the hard open-file limit ({}) is too low for this test",
        limit.rlim_cur
    );
}

/// A `/proc/PID/status` figure in KiB.
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().trim_end_matches(" kB").parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"))
}

/// Open file descriptors of `pid`.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

fn leader_address(dyad: &Dyad) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], dyad.leader.port()))
}

/// `count` connections to `address`, opened 64 at a time.
async fn connect_many(address: SocketAddr, count: usize) -> Vec<TcpStream> {
    futures::stream::iter(0..count)
        .map(|_| async move { TcpStream::connect(address).await.expect("connecting") })
        .buffer_unordered(64)
        .collect()
        .await
}

/// The head of an upload of `length` body bytes to the task.
fn upload_head(dyad: &Dyad, length: usize) -> String {
    format!(
        "PUT /tasks/{}/reports HTTP/1.1\r\nhost: 127.0.0.1\r\n\
         content-type: application/dap-report\r\ncontent-length: {length}\r\n\r\n",
        dyad.credentials.task_id
    )
}

/// Slow uploads: each announces a body just under the upload cap, sends
/// `sent` bytes of it, then holds.
async fn start_slow_uploads(dyad: &Dyad, count: usize, sent: usize) -> Vec<TcpStream> {
    let mut streams = connect_many(leader_address(dyad), count).await;
    let mut start = upload_head(dyad, (1 << 20) - 1).into_bytes();
    start.extend(std::iter::repeat_n(0u8, sent));
    for stream in &mut streams {
        stream
            .write_all(&start)
            .await
            .expect("sending a slow upload");
    }
    streams
}

fn bucket_query(time: Time) -> Query {
    Query::TimeInterval(
        Interval::new(
            time.to_batch_interval_start(Duration::from_seconds(PRECISION)),
            Duration::from_seconds(PRECISION),
        )
        .unwrap(),
    )
}

/// Uploads `count` random measurements with the client library and
/// collects their bucket; checks the exact aggregate.
async fn upload_and_collect(dyad: &Dyad, count: usize) {
    let time = past_bucket_time(PRECISION, 1);
    let client = dyad.client_at(time);
    let mut rng = rand::thread_rng();
    let measurements: Vec<Measurement> = (0..count)
        .map(|_| random_measurement(dyad.vdaf(), &mut rng))
        .collect();
    let results = tokio::time::timeout(WAIT, client.upload_batch(&measurements, 4))
        .await
        .expect("uploads timed out");
    for result in results {
        if let Err(error) = result {
            panic!("upload failed: {error}\n{}", dyad.logs());
        }
    }
    let collection = dyad.collect(bucket_query(time)).await.unwrap();
    assert_eq!(collection.report_count, count as u64);
    let expected =
        plaintext_aggregate(dyad.vdaf(), &AggregationParam::Empty, &measurements).unwrap();
    assert_aggregate_eq(&collection.aggregate_result, &expected);
}

/// Whether the server closed `stream`: reads until EOF (or a reset) within
/// `within`; returns what it read, `None` if it is still open.
async fn closed_by_server(stream: &mut TcpStream, within: std::time::Duration) -> Option<String> {
    let mut read = Vec::new();
    match tokio::time::timeout(within, stream.read_to_end(&mut read)).await {
        Ok(_) => Some(String::from_utf8_lossy(&read).into_owned()),
        Err(_) => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_held_by_idle_and_slow_connections_still_serves_and_then_closes_them() {
    raise_open_file_limit();
    let timeouts = format!(
        "{{idle_timeout_secs: {HOLD_TIMEOUT_SECS}, header_read_timeout_secs: {HOLD_TIMEOUT_SECS}, \
         body_read_timeout_secs: {HOLD_TIMEOUT_SECS}}}"
    );
    let dyad = Dyad::start_with(
        &TaskOptions::time_interval(r#"{"type":"Prio3Count"}"#, 10),
        &[("server", &timeouts)],
        &[],
    )
    .await
    .unwrap();
    let pid = dyad.leader.pid().expect("the Leader runs");
    let fds_before = open_fds(pid);
    let rss_before = status_kib(pid, "VmRSS");

    // Hold: idle connections, then slow uploads; half of those trickle a
    // byte every second, the others hold.
    let opened = Instant::now();
    let mut idle = connect_many(leader_address(&dyad), IDLE_CONNECTIONS).await;
    let slow = start_slow_uploads(&dyad, SLOW_UPLOADS, SLOW_BODY_SENT).await;
    let (mut trickling, mut holding): (Vec<_>, Vec<_>) = slow
        .into_iter()
        .enumerate()
        .partition(|(index, _)| index % 2 == 0);
    // Trickling goes on past the body timeout: it must not extend it.
    let trickle_until = opened + std::time::Duration::from_secs(HOLD_TIMEOUT_SECS + 5);
    let trickler = tokio::spawn(async move {
        while Instant::now() < trickle_until {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            for (_, stream) in &mut trickling {
                // A failed write: the Leader already closed it.
                let _ = stream.write_all(&[0]).await;
            }
        }
        trickling
    });
    let held_in = opened.elapsed();

    // Meanwhile, an ordinary client uploads and collects, exactly.
    let sampling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let peak_rss = {
        let sampling = sampling.clone();
        tokio::spawn(async move {
            let mut peak = 0;
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(status_kib(pid, "VmRSS"));
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            peak
        })
    };
    let served = Instant::now();
    upload_and_collect(&dyad, 10).await;
    let served_in = served.elapsed();
    let fds_held = open_fds(pid);
    assert!(
        opened.elapsed() < std::time::Duration::from_secs(HOLD_TIMEOUT_SECS),
        "the client's work outlasted the timeouts ({:?}): the connections were not all held meanwhile",
        opened.elapsed()
    );
    assert!(
        fds_held >= fds_before + IDLE_CONNECTIONS + SLOW_UPLOADS,
        "the Leader holds {fds_held} descriptors ({fds_before} before): not every connection was accepted"
    );
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let peak_rss = peak_rss.await.unwrap();
    let hwm = status_kib(pid, "VmHWM");

    // Then the timeouts close every held connection: the idle ones and
    // those that held their body silently, and those that trickled.
    let mut holding: Vec<TcpStream> = holding.drain(..).map(|(_, stream)| stream).collect();
    let deadline = std::time::Duration::from_secs(HOLD_TIMEOUT_SECS + 15);
    let mut answered_408 = 0;
    for stream in idle.iter_mut().chain(holding.iter_mut()) {
        let left = deadline.saturating_sub(opened.elapsed());
        let read = closed_by_server(stream, left).await.unwrap_or_else(|| {
            panic!(
                "a connection is still open {:?} after it was opened",
                opened.elapsed()
            )
        });
        answered_408 += usize::from(read.starts_with("HTTP/1.1 408"));
    }
    let mut trickling = trickler.await.unwrap();
    for (_, stream) in &mut trickling {
        let left = deadline.saturating_sub(opened.elapsed());
        let read = closed_by_server(stream, left.max(std::time::Duration::from_secs(1)))
            .await
            .expect("a trickling upload is still open after the body timeout");
        answered_408 += usize::from(read.starts_with("HTTP/1.1 408"));
    }
    let closed_in = opened.elapsed();
    // The Leader's side is gone too.
    let mut fds_after = open_fds(pid);
    for _ in 0..20 {
        if fds_after <= fds_before + 16 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        fds_after = open_fds(pid);
    }
    eprintln!(
        "{IDLE_CONNECTIONS} idle + {SLOW_UPLOADS} slow connections held in {held_in:?}; client upload+collect \
         in {served_in:?}; Leader fds {fds_before} -> {fds_held} -> {fds_after}; VmRSS {rss_before} KiB before, \
         peak {peak_rss} KiB held, VmHWM {hwm} KiB; every connection closed {closed_in:?} after opening \
         ({answered_408} slow uploads answered 408)"
    );
    assert!(
        fds_after <= fds_before + 16,
        "the Leader still holds {fds_after} descriptors ({fds_before} before)"
    );
    assert!(
        hwm < RSS_BOUND_KIB,
        "the Leader's peak resident memory {hwm} KiB is over the {RSS_BOUND_KIB} KiB bound"
    );
    assert!(
        answered_408 >= SLOW_UPLOADS / 2,
        "only {answered_408} of {SLOW_UPLOADS} slow uploads were answered 408"
    );
}

/// The value of `dyad_http_refused_total{limit, status}` on the metrics
/// page at `address` (0 when not rendered: never incremented).
async fn refused(address: &str, limit: &str, status: &str) -> f64 {
    let page = reqwest::get(format!("http://{address}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let labels = [format!("limit=\"{limit}\""), format!("status=\"{status}\"")];
    page.lines()
        .filter(|line| line.starts_with("dyad_http_refused_total{"))
        .filter(|line| labels.iter().all(|label| line.contains(label.as_str())))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_connection_maximum_a_client_gets_503_with_retry_after_until_connections_close() {
    let metrics = format!("127.0.0.1:{}", free_port());
    let dyad = Dyad::start_with(
        &TaskOptions::time_interval(r#"{"type":"Prio3Count"}"#, 3),
        &[
            ("server", "{max_connections: 40, retry_after_secs: 2}"),
            ("metrics_listen_address", &format!("\"{metrics}\"")),
        ],
        &[],
    )
    .await
    .unwrap();
    // The readiness check's connection may still be counted for a moment.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut held = connect_many(leader_address(&dyad), 40).await;
    // Make sure every held connection was accepted before the next one.
    for stream in &mut held {
        stream
            .write_all(b"GET /hpke_config HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 12];
        stream.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"HTTP/1.1 400");
    }

    let url = format!(
        "{}hpke_config?task_id={}",
        dyad.leader.url(),
        dyad.credentials.task_id
    );
    let response = reqwest::get(&url).await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "2");
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: serde_json::Value = response.json().await.unwrap();
    assert_eq!(problem["status"], 503);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("too many connections"),
        "{problem}"
    );

    assert_eq!(refused(&metrics, "max_connections", "503").await, 1.0);

    drop(held);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let response = reqwest::get(&url).await.unwrap();
    assert_eq!(response.status(), 200);
    upload_and_collect(&dyad, 3).await;
    assert_eq!(refused(&metrics, "max_connections", "503").await, 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_past_the_body_maximum_get_503_with_retry_after_and_recover() {
    let metrics = format!("127.0.0.1:{}", free_port());
    let dyad = Dyad::start_with(
        &TaskOptions::time_interval(r#"{"type":"Prio3Count"}"#, 5),
        &[
            ("server", "{max_buffered_bodies: 4, retry_after_secs: 2}"),
            ("metrics_listen_address", &format!("\"{metrics}\"")),
        ],
        &[],
    )
    .await
    .unwrap();
    let slow = start_slow_uploads(&dyad, 4, 10).await;
    // Let the Leader start reading all four bodies.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    let started = Instant::now();
    let response = reqwest::Client::new()
        .put(format!(
            "{}tasks/{}/reports",
            dyad.leader.url(),
            dyad.credentials.task_id
        ))
        .header("content-type", "application/dap-report")
        .body(vec![0u8; 100])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "2");
    let problem: serde_json::Value = response.json().await.unwrap();
    assert_eq!(problem["status"], 503);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(1),
        "the overload answer took {:?}",
        started.elapsed()
    );

    assert_eq!(refused(&metrics, "max_buffered_bodies", "503").await, 1.0);

    // The slow uploads go; uploads and collection work again.
    drop(slow);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    upload_and_collect(&dyad, 5).await;
}

/// The state letter of `/proc/PID/status` (`Z` once the process exited
/// and waits to be reaped).
fn process_state(pid: u32) -> Option<char> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("State:"))
        .and_then(|state| state.trim().chars().next())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_a_held_leader_within_the_grace_period() {
    const GRACE_SECS: u64 = 2;
    let dyad = Dyad::start_with(
        &TaskOptions::time_interval(r#"{"type":"Prio3Count"}"#, 1),
        &[("server", &format!("{{shutdown_grace_secs: {GRACE_SECS}}}"))],
        &[],
    )
    .await
    .unwrap();
    let pid = dyad.leader.pid().expect("the Leader runs");
    let mut idle = connect_many(leader_address(&dyad), 200).await;
    let _slow = start_slow_uploads(&dyad, 100, 10).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    let started = Instant::now();
    // SAFETY: kill sends a signal to a process id; no memory is involved.
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) }, 0);
    // Idle connections are closed at once.
    for stream in &mut idle {
        let left = std::time::Duration::from_secs(GRACE_SECS).saturating_sub(started.elapsed());
        closed_by_server(stream, left.max(std::time::Duration::from_millis(100)))
            .await
            .expect("an idle connection outlived the start of shutdown");
    }
    // The slow uploads hold requests in flight: dropped at the end of the
    // grace period, and the process exits.
    let bound = std::time::Duration::from_secs(GRACE_SECS + 4);
    while process_state(pid).is_some_and(|state| state != 'Z') {
        assert!(
            started.elapsed() < bound,
            "the Leader still runs {:?} after SIGTERM\n{}",
            started.elapsed(),
            dyad.logs()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let exited_in = started.elapsed();
    eprintln!("the Leader exited {exited_in:?} after SIGTERM (grace period {GRACE_SECS} s)");
    assert!(
        exited_in >= std::time::Duration::from_secs(GRACE_SECS) - std::time::Duration::from_millis(200),
        "the Leader exited before the grace period ended ({exited_in:?}), so it did not wait for requests in flight"
    );
}
