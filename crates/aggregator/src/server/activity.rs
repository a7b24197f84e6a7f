//! What a connection is doing, for its header and idle timeouts:
//! [`ActivityIo`] notes every read and write on the socket, the service
//! notes when a request starts and ends ([`Activity::request_started`]), and
//! [`Activity::deadline`] says when the connection must have done something
//! more.
//!
//! - No request in flight and no byte of a next one: idle, closed
//!   `idle_timeout` after the last traffic (a fresh connection counts as
//!   idle from its accept).
//! - Bytes of a request head read but the head not complete (no request in
//!   flight): closed `header_read_timeout` after its first byte, however
//!   slowly the rest trickles in.
//! - A request in flight: no deadline here; its body has its own
//!   ([`super::body`]), and handlers are bounded by the datastore's
//!   timeouts.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// No request head under way.
const NO_HEAD: u64 = u64::MAX;

/// The shared record of one connection's activity. Times are milliseconds
/// since the connection was accepted.
#[derive(Debug)]
pub struct Activity {
    origin: Instant,
    last_traffic: AtomicU64,
    head_started: AtomicU64,
    in_flight: AtomicUsize,
}

/// Why a connection was closed by its [`Activity`] deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expired {
    /// A request head started and did not finish in time.
    HeaderTimeout,
    /// No request and no traffic for too long.
    Idle,
}

impl Expired {
    /// For logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Expired::HeaderTimeout => "request head not received in time",
            Expired::Idle => "idle",
        }
    }
}

/// Marks a request in flight until dropped.
#[derive(Debug)]
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Activity {
    /// A connection accepted now.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            origin: Instant::now(),
            last_traffic: AtomicU64::new(0),
            head_started: AtomicU64::new(NO_HEAD),
            in_flight: AtomicUsize::new(0),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX - 1)
    }

    fn at(&self, ms: u64) -> Instant {
        self.origin + Duration::from_millis(ms)
    }

    fn touch(&self) {
        self.last_traffic.store(self.now_ms(), Ordering::Release);
    }

    /// Bytes were read from the client.
    fn on_read(&self) {
        let now = self.now_ms();
        self.last_traffic.store(now, Ordering::Release);
        if self.in_flight.load(Ordering::Acquire) == 0 {
            // The first byte of a head starts its clock; later ones do not.
            let _ = self.head_started.compare_exchange(
                NO_HEAD,
                now,
                Ordering::AcqRel,
                Ordering::Acquire,
            );
        }
    }

    /// A request head was read in full and its request starts.
    pub fn request_started(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.head_started.store(NO_HEAD, Ordering::Release);
        self.touch();
        InFlight(self.clone())
    }

    /// When the connection must next be checked, and what it expires of
    /// then; `None` while a request is in flight.
    pub fn deadline(
        &self,
        header_timeout: Duration,
        idle_timeout: Duration,
    ) -> Option<(Instant, Expired)> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        match self.head_started.load(Ordering::Acquire) {
            NO_HEAD => Some((
                self.at(self.last_traffic.load(Ordering::Acquire)) + idle_timeout,
                Expired::Idle,
            )),
            started => Some((self.at(started) + header_timeout, Expired::HeaderTimeout)),
        }
    }

    /// What the connection has expired of at `now`, if anything.
    pub fn expired(
        &self,
        now: Instant,
        header_timeout: Duration,
        idle_timeout: Duration,
    ) -> Option<Expired> {
        self.deadline(header_timeout, idle_timeout)
            .filter(|(deadline, _)| *deadline <= now)
            .map(|(_, expired)| expired)
    }
}

/// A socket (plain or TLS) that tells its [`Activity`] of its traffic.
pub struct ActivityIo<I> {
    inner: I,
    activity: Arc<Activity>,
}

impl<I> ActivityIo<I> {
    pub fn new(inner: I, activity: Arc<Activity>) -> Self {
        Self { inner, activity }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for ActivityIo<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.on_read();
        }
        polled
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for ActivityIo<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(written)) if written > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(written)) if written > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::sleep;

    // Wide apart, so that a loaded machine's late wake-ups do not matter.
    const HEADER: Duration = Duration::from_millis(1000);
    const IDLE: Duration = Duration::from_millis(2000);

    #[tokio::test]
    async fn a_silent_connection_expires_as_idle_after_the_idle_timeout() {
        let activity = Activity::new();
        sleep(Duration::from_millis(1200)).await;
        assert_eq!(activity.expired(Instant::now(), HEADER, IDLE), None);
        sleep(Duration::from_millis(900)).await;
        assert_eq!(
            activity.expired(Instant::now(), HEADER, IDLE),
            Some(Expired::Idle)
        );
    }

    #[tokio::test]
    async fn a_trickled_head_expires_after_the_header_timeout_from_its_first_byte() {
        let activity = Activity::new();
        activity.on_read();
        for _ in 0..3 {
            sleep(Duration::from_millis(100)).await;
            activity.on_read(); // more bytes do not restart the clock
        }
        assert_eq!(activity.expired(Instant::now(), HEADER, IDLE), None);
        sleep(Duration::from_millis(750)).await;
        assert_eq!(
            activity.expired(Instant::now(), HEADER, IDLE),
            Some(Expired::HeaderTimeout)
        );
    }

    #[tokio::test]
    async fn a_request_in_flight_has_no_deadline_and_its_end_restarts_the_idle_clock() {
        let activity = Activity::new();
        activity.on_read();
        let request = activity.request_started();
        sleep(Duration::from_millis(100)).await;
        activity.on_read(); // body bytes are not a new head
        assert_eq!(activity.deadline(HEADER, IDLE), None);
        assert_eq!(
            activity.expired(Instant::now() + IDLE * 10, HEADER, IDLE),
            None
        );
        drop(request);
        let (deadline, expired) = activity.deadline(HEADER, IDLE).unwrap();
        assert_eq!(expired, Expired::Idle);
        let left = deadline - Instant::now();
        assert!(left > IDLE - Duration::from_millis(500), "{left:?}");
    }
}
