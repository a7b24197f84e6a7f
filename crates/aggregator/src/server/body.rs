//! [`LimitedBody`]: a request body as the server hands it to the router,
//! bounded in time and in memory.
//!
//! - It holds one of `max_buffered_bodies` permits from its request's start
//!   until it ends or is dropped (the server answers `503` before reading a
//!   body when none is left).
//! - Each chunk received takes its size from the `max_buffered_body_bytes`
//!   budget, given back when the body is dropped (once the handler has
//!   collected it); a chunk that does not fit ends the body with
//!   [`BodyLimitError::Overloaded`], or, when the body alone is larger than
//!   the whole budget (it could never fit, however long the client waits),
//!   with [`BodyLimitError::TooLarge`].
//! - How a body was cut off is also left in its [`BodyOutcome`], which the
//!   connection reads once the router answered: a handler that read the
//!   body through an extractor of its own (a plain-text 400 from axum) is
//!   answered with the problem document of the limit instead (see
//!   `connection::handle`).
//! - The whole body must arrive within `body_read_timeout` of the request's
//!   start, however it trickles: past it the body ends with
//!   [`BodyLimitError::TimedOut`].
//!
//! The handlers read bodies with [`crate::http::request::read_body`], which
//! answers these errors as `408` and `503` (with `Retry-After`), and closes
//! the connection, whose rest of body is never read.

use axum::body::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;

/// Why a request body was cut off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BodyLimitError {
    /// The body did not arrive within the body read timeout.
    #[error("the request body did not arrive within {} s", .0.as_secs_f64())]
    TimedOut(Duration),
    /// The bytes of the bodies being received reached the server's budget.
    #[error("too many request bytes being received at once; retry later")]
    Overloaded {
        /// The `Retry-After` to answer with.
        retry_after: Duration,
    },
    /// The body alone is larger than the listener's byte limit.
    #[error("the request body is larger than this listener's limit of {limit} bytes")]
    TooLarge {
        /// The listener's limit (`max_buffered_body_bytes`).
        limit: usize,
    },
}

/// How a body ended, shared between the body and its connection: set at
/// most once, when the body is cut off.
pub type BodyOutcome = Arc<std::sync::OnceLock<BodyLimitError>>;

/// A request body with the server's limits (see the module documentation).
pub struct LimitedBody<B = Incoming> {
    inner: B,
    deadline: Pin<Box<Sleep>>,
    timeout: Duration,
    budget: Arc<Semaphore>,
    /// The most bytes one body may have (`budget`'s size).
    limit: usize,
    /// Bytes received so far.
    received: usize,
    retry_after: Duration,
    outcome: BodyOutcome,
    /// The bytes taken from `budget` so far.
    taken: Option<OwnedSemaphorePermit>,
    /// The body's place among those being received; released at its end.
    place: Option<OwnedSemaphorePermit>,
    failed: bool,
}

impl<B> LimitedBody<B> {
    /// `inner`, holding `place`, with `timeout` counted from now and its
    /// bytes taken from `budget` (of `limit` bytes in all); how it was cut
    /// off, if it is, goes to `outcome`.
    pub fn new(
        inner: B,
        place: OwnedSemaphorePermit,
        (budget, limit): (Arc<Semaphore>, usize),
        timeout: Duration,
        retry_after: Duration,
        outcome: BodyOutcome,
    ) -> Self {
        Self {
            inner,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            timeout,
            budget,
            limit,
            received: 0,
            retry_after,
            outcome,
            taken: None,
            place: Some(place),
            failed: false,
        }
    }

    fn fail(&mut self, error: BodyLimitError) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.failed = true;
        self.place = None;
        let _ = self.outcome.set(error);
        Poll::Ready(Some(Err(Box::new(error))))
    }

    /// Takes `len` bytes from the budget.
    fn take(&mut self, len: usize) -> Result<(), BodyLimitError> {
        self.received = self.received.saturating_add(len);
        if self.received > self.limit {
            return Err(BodyLimitError::TooLarge { limit: self.limit });
        }
        let overloaded = BodyLimitError::Overloaded {
            retry_after: self.retry_after,
        };
        let len = u32::try_from(len).map_err(|_| overloaded)?;
        let permit = self
            .budget
            .clone()
            .try_acquire_many_owned(len)
            .map_err(|_| overloaded)?;
        match &mut self.taken {
            Some(taken) => taken.merge(permit),
            None => self.taken = Some(permit),
        }
        Ok(())
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<B> Body for LimitedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.failed {
            return Poll::Ready(None);
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            let timeout = self.timeout;
            return self.fail(BodyLimitError::TimedOut(timeout));
        }
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let len = frame.data_ref().map_or(0, Bytes::len);
                if len > 0 {
                    if let Err(error) = self.take(len) {
                        return self.fail(error);
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(error))) => {
                self.failed = true;
                self.place = None;
                Poll::Ready(Some(Err(error.into())))
            }
            Poll::Ready(None) => {
                self.place = None;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.failed || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, StreamBody};

    const TIMEOUT: Duration = Duration::from_millis(300);

    type Chunks = StreamBody<
        futures::stream::BoxStream<'static, Result<Frame<Bytes>, std::convert::Infallible>>,
    >;

    /// A body yielding `chunks` of `size` bytes, `every` apart.
    fn trickle(chunks: usize, size: usize, every: Duration) -> Chunks {
        use futures::StreamExt;
        let stream = futures::stream::iter(0..chunks).then(move |_| async move {
            tokio::time::sleep(every).await;
            Ok(Frame::data(Bytes::from(vec![7u8; size])))
        });
        StreamBody::new(stream.boxed())
    }

    fn limited(
        inner: Chunks,
        places: &Arc<Semaphore>,
        budget: &Arc<Semaphore>,
    ) -> LimitedBody<Chunks> {
        LimitedBody::new(
            inner,
            places.clone().try_acquire_owned().unwrap(),
            // No single-body limit here: these test the shared budget.
            (budget.clone(), usize::MAX),
            TIMEOUT,
            Duration::from_secs(3),
            BodyOutcome::default(),
        )
    }

    #[tokio::test]
    async fn a_body_within_its_limits_arrives_whole_and_gives_its_permits_back() {
        let places = Arc::new(Semaphore::new(1));
        let budget = Arc::new(Semaphore::new(1000));
        let body = limited(trickle(4, 100, Duration::from_millis(20)), &places, &budget);
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(bytes.len(), 400);
        assert_eq!(places.available_permits(), 1);
        assert_eq!(budget.available_permits(), 1000);
    }

    #[tokio::test]
    async fn a_trickling_body_is_cut_off_at_the_timeout() {
        let places = Arc::new(Semaphore::new(1));
        let budget = Arc::new(Semaphore::new(1 << 20));
        let started = tokio::time::Instant::now();
        let body = limited(
            trickle(100, 10, Duration::from_millis(50)),
            &places,
            &budget,
        );
        let error = body.collect().await.unwrap_err();
        assert_eq!(
            error.downcast_ref::<BodyLimitError>(),
            Some(&BodyLimitError::TimedOut(TIMEOUT))
        );
        let took = started.elapsed();
        // Cut at the timeout, long before the 5 s the whole body would take.
        assert!(took >= TIMEOUT && took < Duration::from_secs(3), "{took:?}");
        // Its place is free as soon as it failed.
        assert_eq!(places.available_permits(), 1);
    }

    #[tokio::test]
    async fn bodies_past_the_byte_budget_are_overloaded_and_the_budget_recovers() {
        let places = Arc::new(Semaphore::new(2));
        let budget = Arc::new(Semaphore::new(250));
        let mut first = limited(trickle(2, 100, Duration::ZERO), &places, &budget);
        // The first body holds 200 bytes of the budget until dropped.
        first.frame().await.unwrap().unwrap();
        first.frame().await.unwrap().unwrap();
        assert_eq!(budget.available_permits(), 50);
        let second = limited(trickle(1, 100, Duration::ZERO), &places, &budget);
        let error = second.collect().await.unwrap_err();
        assert_eq!(
            error.downcast_ref::<BodyLimitError>(),
            Some(&BodyLimitError::Overloaded {
                retry_after: Duration::from_secs(3)
            })
        );
        drop(first);
        assert_eq!(budget.available_permits(), 250);
        let third = limited(trickle(2, 100, Duration::ZERO), &places, &budget);
        assert_eq!(third.collect().await.unwrap().to_bytes().len(), 200);
    }

    #[tokio::test]
    async fn a_body_larger_than_the_whole_budget_is_too_large_not_overloaded() {
        let places = Arc::new(Semaphore::new(1));
        let budget = Arc::new(Semaphore::new(250));
        let outcome = BodyOutcome::default();
        let body = LimitedBody::new(
            trickle(3, 100, Duration::ZERO),
            places.clone().try_acquire_owned().unwrap(),
            (budget.clone(), 250),
            TIMEOUT,
            Duration::from_secs(3),
            outcome.clone(),
        );
        let error = body.collect().await.unwrap_err();
        let too_large = BodyLimitError::TooLarge { limit: 250 };
        assert_eq!(error.downcast_ref::<BodyLimitError>(), Some(&too_large));
        assert_eq!(outcome.get(), Some(&too_large));
        assert_eq!(budget.available_permits(), 250);
        assert_eq!(places.available_permits(), 1);
    }
}
