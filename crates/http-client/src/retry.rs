//! Retrying a request that failed transiently, under a [`RetryPolicy`]
//! (the failure's class is its [`Retryable`] answer), with a log line and a
//! [`RetryNotice`] for each retry.
//!
//! # Where is
//!
//! - retry or give up, and how long to wait -> [`with_retry`] (deciding
//!   through [`dyad_core::retry::Backoff::decide`]).

use dyad_core::retry::{RetryDecision, RetryPolicy, Retryable};
use dyad_messages::draft09::Role;
use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant};

/// What the caller of [`with_retry`] hears before each retry of a request
/// that failed transiently.
#[derive(Debug)]
pub struct RetryNotice<'a, E> {
    /// What was being done: `"upload report"`, `"fetch HPKE config"`, ...
    pub operation: &'static str,
    /// The peer the request went to.
    pub role: Role,
    /// The attempt that failed, counting from 1.
    pub attempt: u32,
    /// Why it failed.
    pub error: &'a E,
    /// The wait before the next attempt.
    pub delay: Duration,
    /// Time since the first attempt began.
    pub elapsed: Duration,
}

/// Runs `attempt` until it succeeds, fails permanently, or `policy` says to
/// stop, sleeping between attempts, logging each retry and telling
/// `on_retry` of it.
pub async fn with_retry<T, E, F, Fut>(
    policy: &RetryPolicy,
    role: Role,
    operation: &'static str,
    on_retry: impl Fn(&RetryNotice<'_, E>),
    mut attempt: F,
) -> Result<T, E>
where
    E: Retryable + fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let start = Instant::now();
    let mut backoff = policy.backoff();
    loop {
        let error = match attempt().await {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        let elapsed = start.elapsed();
        match backoff.decide(&error, elapsed) {
            RetryDecision::Retry(delay) => {
                let failed_attempt = backoff.attempts() - 1;
                tracing::warn!(
                    operation,
                    %role,
                    attempt = failed_attempt,
                    delay_ms = delay.as_millis() as u64,
                    error = %error,
                    "transient failure, retrying"
                );
                on_retry(&RetryNotice {
                    operation,
                    role,
                    attempt: failed_attempt,
                    error: &error,
                    delay,
                    elapsed,
                });
                tokio::time::sleep(delay).await;
            }
            RetryDecision::GiveUp => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dyad_core::retry::RetryClass;
    use std::cell::Cell;

    #[derive(Debug)]
    struct Failure(RetryClass);

    impl fmt::Display for Failure {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{:?}", self.0)
        }
    }

    impl Retryable for Failure {
        fn retry_class(&self) -> RetryClass {
            self.0
        }
    }

    fn quick() -> RetryPolicy {
        RetryPolicy::new(Duration::from_millis(1), Duration::from_millis(2)).with_max_attempts(5)
    }

    #[tokio::test]
    async fn transient_failures_are_retried_and_told_until_success() {
        let calls = Cell::new(0);
        let told = Cell::new(Vec::new());
        let result = with_retry(
            &quick(),
            Role::Leader,
            "test",
            |notice: &RetryNotice<'_, Failure>| {
                let mut seen = told.take();
                seen.push((notice.attempt, notice.role, notice.operation));
                told.set(seen);
            },
            || {
                calls.set(calls.get() + 1);
                let call = calls.get();
                async move {
                    if call < 3 {
                        Err(Failure(RetryClass::Transient))
                    } else {
                        Ok(call)
                    }
                }
            },
        )
        .await;
        assert_eq!(result.unwrap(), 3);
        assert_eq!(
            told.take(),
            [(1, Role::Leader, "test"), (2, Role::Leader, "test")]
        );
    }

    #[tokio::test]
    async fn a_permanent_failure_ends_at_once() {
        let calls = Cell::new(0);
        let result: Result<(), Failure> = with_retry(
            &quick(),
            Role::Helper,
            "test",
            |_| panic!("a permanent failure is not retried"),
            || {
                calls.set(calls.get() + 1);
                async { Err(Failure(RetryClass::Permanent)) }
            },
        )
        .await;
        assert!(result.is_err());
        assert_eq!(calls.get(), 1);
    }
}
