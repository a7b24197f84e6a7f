//! Retry with exponential backoff and jitter, for HTTP calls to peers and for
//! retried datastore transactions.
//!
//! Nothing here sleeps: a [`RetryPolicy`] hands out a [`Backoff`], an
//! iterator of delays, and the caller sleeps however its runtime does
//! (`tokio::time::sleep`, `std::thread::sleep`, a test clock). [`Retryable`]
//! lets an error say whether trying again could help and whether the peer
//! asked for a particular delay; [`Backoff::decide`] combines the two:
//!
//! ```
//! use dyad_core::retry::{RetryClass, RetryDecision, RetryPolicy, Retryable};
//! use std::time::Duration;
//!
//! struct Busy;
//! impl Retryable for Busy {
//!     fn retry_class(&self) -> RetryClass {
//!         RetryClass::Transient
//!     }
//! }
//!
//! let policy = RetryPolicy::new(Duration::from_millis(10), Duration::from_secs(1))
//!     .with_jitter(0.0)
//!     .with_max_attempts(3);
//! let mut backoff = policy.backoff();
//! assert_eq!(backoff.decide(&Busy, Duration::ZERO), RetryDecision::Retry(Duration::from_millis(10)));
//! assert_eq!(backoff.decide(&Busy, Duration::ZERO), RetryDecision::Retry(Duration::from_millis(20)));
//! assert_eq!(backoff.decide(&Busy, Duration::ZERO), RetryDecision::GiveUp);
//! ```
//!
//! [`RetryClass::from_http_status`] and [`parse_retry_after`] classify HTTP
//! answers the same way for every caller.
//!
//! # Where is
//!
//! - exponential delays with jitter, capped -> [`Backoff::next_delay`];
//! - retry or give up (a permanent error, the attempts, the time spent, the
//!   delay the peer asked for) -> [`Backoff::decide`];
//! - which HTTP statuses are transient (408, 429, 5xx but 501 and 505) ->
//!   [`RetryClass::from_http_status`];
//! - `Retry-After` as seconds or an HTTP date (RFC 9110 section 10.2.3) ->
//!   [`parse_retry_after`].

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::{Duration, SystemTime};

/// How often and how patiently to retry an operation that failed transiently.
///
/// The delay before retry `n` (counting from 0) is
/// `min(initial_delay * multiplier^n, max_delay)`, reduced by a random
/// fraction of at most `jitter` of itself, and never longer than what is left
/// of `max_elapsed`. Retrying stops once `max_attempts` attempts (the first
/// one included) have been made or `max_elapsed` has passed, whichever comes
/// first; a policy with neither limit retries forever.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    initial_delay: Duration,
    max_delay: Duration,
    multiplier: f64,
    jitter: f64,
    max_attempts: Option<u32>,
    max_elapsed: Option<Duration>,
}

impl RetryPolicy {
    /// The first delay of [`RetryPolicy::default`].
    pub const DEFAULT_INITIAL_DELAY: Duration = Duration::from_millis(500);
    /// The longest delay of [`RetryPolicy::default`].
    pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(30);
    /// The growth factor of [`RetryPolicy::default`] and [`RetryPolicy::new`].
    pub const DEFAULT_MULTIPLIER: f64 = 2.0;
    /// The jitter of [`RetryPolicy::default`] and [`RetryPolicy::new`].
    pub const DEFAULT_JITTER: f64 = 0.5;
    /// How long [`RetryPolicy::default`] keeps trying.
    pub const DEFAULT_MAX_ELAPSED: Duration = Duration::from_secs(120);

    /// A policy starting at `initial_delay` and growing (by
    /// [`Self::DEFAULT_MULTIPLIER`], with [`Self::DEFAULT_JITTER`]) up to
    /// `max_delay`, with no limit on attempts or elapsed time: add one with
    /// [`Self::with_max_attempts`] or [`Self::with_max_elapsed`].
    pub fn new(initial_delay: Duration, max_delay: Duration) -> Self {
        Self {
            initial_delay,
            max_delay: max_delay.max(initial_delay),
            multiplier: Self::DEFAULT_MULTIPLIER,
            jitter: Self::DEFAULT_JITTER,
            max_attempts: None,
            max_elapsed: None,
        }
    }

    /// A policy that never retries: one attempt and done.
    pub fn no_retries() -> Self {
        Self::new(Duration::ZERO, Duration::ZERO).with_max_attempts(1)
    }

    /// The growth factor between consecutive delays; values below 1 (and NaN)
    /// are taken as 1, a constant delay.
    pub fn with_multiplier(mut self, multiplier: f64) -> Self {
        self.multiplier = if multiplier >= 1.0 { multiplier } else { 1.0 };
        self
    }

    /// The largest fraction by which a delay is randomly shortened, in
    /// `[0, 1]` (values outside, and NaN, are clamped): 0 gives exact
    /// delays, 1 gives delays uniform between 0 and the computed delay.
    /// Jitter keeps many clients that failed together from retrying together.
    pub fn with_jitter(mut self, jitter: f64) -> Self {
        self.jitter = if jitter.is_nan() {
            0.0
        } else {
            jitter.clamp(0.0, 1.0)
        };
        self
    }

    /// At most `max_attempts` attempts in all, the first included (0 is
    /// taken as 1).
    pub fn with_max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = Some(max_attempts.max(1));
        self
    }

    /// No retry once `max_elapsed` has passed since the first attempt.
    pub fn with_max_elapsed(mut self, max_elapsed: Duration) -> Self {
        self.max_elapsed = Some(max_elapsed);
        self
    }

    pub fn initial_delay(&self) -> Duration {
        self.initial_delay
    }

    pub fn max_delay(&self) -> Duration {
        self.max_delay
    }

    pub fn multiplier(&self) -> f64 {
        self.multiplier
    }

    pub fn jitter(&self) -> f64 {
        self.jitter
    }

    pub fn max_attempts(&self) -> Option<u32> {
        self.max_attempts
    }

    pub fn max_elapsed(&self) -> Option<Duration> {
        self.max_elapsed
    }

    /// The delays for one operation, jittered from the operating system's
    /// random source. Start a new one for each operation.
    pub fn backoff(&self) -> Backoff {
        Backoff::new(self.clone(), StdRng::from_entropy())
    }

    /// The delays for one operation, jittered from a seeded generator, so
    /// that a test sees the same delays every run.
    pub fn backoff_seeded(&self, seed: u64) -> Backoff {
        Backoff::new(self.clone(), StdRng::seed_from_u64(seed))
    }
}

/// 500 ms doubling up to 30 s, jitter 0.5, for at most two minutes.
impl Default for RetryPolicy {
    fn default() -> Self {
        Self::new(Self::DEFAULT_INITIAL_DELAY, Self::DEFAULT_MAX_DELAY)
            .with_max_elapsed(Self::DEFAULT_MAX_ELAPSED)
    }
}

/// The delays before each retry of one operation, from a [`RetryPolicy`].
///
/// [`Backoff::next_delay`] takes the time elapsed since the first attempt, as
/// the caller measures it. As an [`Iterator`], a `Backoff` counts only the
/// delays it has handed out as elapsed time (the attempts themselves are
/// taken as instantaneous), which makes it fully deterministic.
#[derive(Clone, Debug)]
pub struct Backoff {
    policy: RetryPolicy,
    rng: StdRng,
    /// Attempts made so far: delays handed out, plus the first attempt.
    attempts: u32,
    /// The un-jittered delay before the next retry.
    next_base: Duration,
    /// The sum of the delays handed out.
    slept: Duration,
}

impl Backoff {
    fn new(policy: RetryPolicy, rng: StdRng) -> Self {
        let next_base = policy.initial_delay.min(policy.max_delay);
        Self {
            policy,
            rng,
            attempts: 1,
            next_base,
            slept: Duration::ZERO,
        }
    }

    /// The attempts made so far, counting the first one and one for each
    /// delay handed out.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The sum of the delays handed out so far.
    pub fn total_delay(&self) -> Duration {
        self.slept
    }

    /// The policy the delays come from.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// The delay before the next attempt, given the time `elapsed` since the
    /// first one began; `None` when the policy says to stop.
    pub fn next_delay(&mut self, elapsed: Duration) -> Option<Duration> {
        if self
            .policy
            .max_attempts
            .is_some_and(|max| self.attempts >= max)
        {
            return None;
        }
        let reduction = self.policy.jitter * self.rng.gen::<f64>();
        let mut delay = scale(self.next_base, 1.0 - reduction, self.next_base);
        if let Some(max_elapsed) = self.policy.max_elapsed {
            let remaining = max_elapsed.checked_sub(elapsed).unwrap_or_default();
            if remaining.is_zero() {
                return None;
            }
            delay = delay.min(remaining);
        }
        self.attempts = self.attempts.saturating_add(1);
        self.slept = self.slept.saturating_add(delay);
        self.next_base = scale(
            self.next_base,
            self.policy.multiplier,
            self.policy.max_delay,
        )
        .min(self.policy.max_delay);
        Some(delay)
    }

    /// Whether, and after how long, to try again after `error`, `elapsed`
    /// after the first attempt began.
    ///
    /// A permanent error is never retried. A transient one is retried after
    /// the next delay of the policy, or after the delay the peer asked for
    /// ([`Retryable::retry_after`]) if that is longer; if the peer's delay
    /// would end past the policy's `max_elapsed`, the operation gives up
    /// rather than retry early.
    pub fn decide<E: Retryable + ?Sized>(&mut self, error: &E, elapsed: Duration) -> RetryDecision {
        if !error.retry_class().is_transient() {
            return RetryDecision::GiveUp;
        }
        let Some(delay) = self.next_delay(elapsed) else {
            return RetryDecision::GiveUp;
        };
        let Some(asked) = error.retry_after().filter(|asked| *asked > delay) else {
            return RetryDecision::Retry(delay);
        };
        match self.policy.max_elapsed {
            Some(max_elapsed) if elapsed.saturating_add(asked) > max_elapsed => {
                RetryDecision::GiveUp
            }
            _ => {
                self.slept = self.slept.saturating_add(asked - delay);
                RetryDecision::Retry(asked)
            }
        }
    }
}

impl Iterator for Backoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let elapsed = self.slept;
        self.next_delay(elapsed)
    }
}

/// `duration * factor`, or `saturated` if the product is not a finite
/// duration that fits.
fn scale(duration: Duration, factor: f64, saturated: Duration) -> Duration {
    Duration::try_from_secs_f64(duration.as_secs_f64() * factor).unwrap_or(saturated)
}

/// What [`Backoff::decide`] says to do after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryDecision {
    /// Sleep this long, then try again.
    Retry(Duration),
    /// Stop and report the error.
    GiveUp,
}

/// Whether an error may go away if the operation is simply tried again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RetryClass {
    /// Worth retrying: the peer was unreachable, overloaded, or failed
    /// internally, or a transaction lost a race.
    Transient,
    /// Retrying the same request gets the same answer.
    Permanent,
}

impl RetryClass {
    pub fn is_transient(self) -> bool {
        self == RetryClass::Transient
    }

    /// The class of an HTTP error status: 408 Request Timeout, 429 Too Many
    /// Requests and the 5xx server errors are transient, except 501 Not
    /// Implemented and 505 HTTP Version Not Supported, which say the request
    /// itself cannot be served; everything else is permanent.
    pub fn from_http_status(status: u16) -> RetryClass {
        match status {
            408 | 429 => RetryClass::Transient,
            501 | 505 => RetryClass::Permanent,
            500..=599 => RetryClass::Transient,
            _ => RetryClass::Permanent,
        }
    }
}

/// An error that knows whether retrying could help.
pub trait Retryable {
    /// Whether the failed operation is worth trying again.
    fn retry_class(&self) -> RetryClass;

    /// The delay the peer asked for before trying again (an HTTP
    /// `Retry-After` header, say), if any.
    fn retry_after(&self) -> Option<Duration> {
        None
    }
}

impl Retryable for RetryClass {
    fn retry_class(&self) -> RetryClass {
        *self
    }
}

/// The delay an HTTP `Retry-After` value (RFC 9110 section 10.2.3) asks for,
/// as of `now`: a number of seconds, or an HTTP date (a date already past
/// asks for no delay). `None` if the value is neither.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // All digits: only overflow can fail, and then the peer asked for
        // longer than anyone will wait.
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    #[test]
    fn delays_grow_geometrically_up_to_the_maximum() {
        let policy = RetryPolicy::new(ms(100), ms(1000))
            .with_jitter(0.0)
            .with_max_attempts(7);
        let delays: Vec<_> = policy.backoff().collect();
        assert_eq!(
            delays,
            [ms(100), ms(200), ms(400), ms(800), ms(1000), ms(1000)]
        );
        let tripled: Vec<_> = policy
            .with_multiplier(3.0)
            .with_max_attempts(4)
            .backoff()
            .collect();
        assert_eq!(tripled, [ms(100), ms(300), ms(900)]);
    }

    #[test]
    fn max_attempts_counts_the_first_attempt() {
        let policy = RetryPolicy::new(ms(1), ms(1)).with_max_attempts(3);
        let mut backoff = policy.backoff();
        assert_eq!(backoff.attempts(), 1);
        assert_eq!(backoff.by_ref().count(), 2);
        assert_eq!(backoff.attempts(), 3);
        assert_eq!(RetryPolicy::no_retries().backoff().next(), None);
        // Zero attempts is taken as one.
        let zero = RetryPolicy::new(ms(1), ms(1)).with_max_attempts(0);
        assert_eq!(zero.backoff().count(), 0);
    }

    #[test]
    fn max_elapsed_shortens_the_last_delay_and_then_stops() {
        let policy = RetryPolicy::new(ms(100), ms(1000))
            .with_jitter(0.0)
            .with_max_elapsed(ms(650));
        let delays: Vec<_> = policy.backoff().collect();
        // 100 + 200 = 300 slept; 400 would overshoot 650, so 350.
        assert_eq!(delays, [ms(100), ms(200), ms(350)]);

        // With the caller's own elapsed time.
        let mut backoff = policy.backoff();
        assert_eq!(backoff.next_delay(ms(600)), Some(ms(50)));
        assert_eq!(backoff.next_delay(ms(650)), None);
        assert_eq!(backoff.next_delay(ms(10_000)), None);
    }

    #[test]
    fn jitter_shortens_delays_within_its_bound_and_is_seedable() {
        let policy = RetryPolicy::new(ms(1000), ms(1000))
            .with_jitter(0.25)
            .with_max_attempts(201);
        let delays: Vec<_> = policy.backoff_seeded(7).collect();
        assert_eq!(delays.len(), 200);
        assert!(delays.iter().all(|d| *d > ms(750) && *d <= ms(1000)));
        let distinct: std::collections::BTreeSet<_> = delays.iter().collect();
        assert!(distinct.len() > 100, "jitter should vary the delays");
        assert_eq!(delays, policy.backoff_seeded(7).collect::<Vec<_>>());
        assert_ne!(delays, policy.backoff_seeded(8).collect::<Vec<_>>());

        let full = policy.with_jitter(1.0).backoff_seeded(1);
        let total: Duration = full.sum();
        // Uniform in [0, 1000 ms]: the mean of 200 draws is near 500 ms.
        let mean = total / 200;
        assert!(mean > ms(400) && mean < ms(600), "{mean:?}");
    }

    #[test]
    fn out_of_range_parameters_are_clamped_not_trusted() {
        let policy = RetryPolicy::new(ms(100), ms(10))
            .with_multiplier(0.5)
            .with_jitter(7.0);
        assert_eq!(policy.max_delay(), ms(100));
        assert_eq!(policy.multiplier(), 1.0);
        assert_eq!(policy.jitter(), 1.0);
        assert_eq!(policy.clone().with_multiplier(f64::NAN).multiplier(), 1.0);
        assert_eq!(policy.with_jitter(f64::NAN).jitter(), 0.0);
        // A huge multiplier saturates at the maximum rather than panicking.
        let delays: Vec<_> = RetryPolicy::new(ms(1), Duration::MAX)
            .with_multiplier(f64::MAX)
            .with_jitter(0.0)
            .with_max_attempts(4)
            .backoff()
            .collect();
        assert_eq!(delays, [ms(1), Duration::MAX, Duration::MAX]);
    }

    #[test]
    fn default_policy_is_bounded() {
        let policy = RetryPolicy::default();
        let total: Duration = policy.backoff().sum();
        assert_eq!(total, RetryPolicy::DEFAULT_MAX_ELAPSED);
        assert!(policy
            .backoff()
            .all(|d| d <= RetryPolicy::DEFAULT_MAX_DELAY));
    }

    struct Failure {
        class: RetryClass,
        retry_after: Option<Duration>,
    }

    impl Retryable for Failure {
        fn retry_class(&self) -> RetryClass {
            self.class
        }
        fn retry_after(&self) -> Option<Duration> {
            self.retry_after
        }
    }

    #[test]
    fn decide_never_retries_permanent_errors() {
        let mut backoff = RetryPolicy::new(ms(1), ms(1)).backoff();
        let permanent = Failure {
            class: RetryClass::Permanent,
            retry_after: Some(ms(1)),
        };
        assert_eq!(
            backoff.decide(&permanent, Duration::ZERO),
            RetryDecision::GiveUp
        );
        assert_eq!(backoff.attempts(), 1);
    }

    #[test]
    fn decide_honours_a_longer_retry_after_within_the_deadline() {
        let policy = RetryPolicy::new(ms(100), ms(100))
            .with_jitter(0.0)
            .with_max_elapsed(ms(5000));
        let mut backoff = policy.backoff();
        let transient = |retry_after| Failure {
            class: RetryClass::Transient,
            retry_after,
        };
        assert_eq!(
            backoff.decide(&transient(None), Duration::ZERO),
            RetryDecision::Retry(ms(100))
        );
        assert_eq!(
            backoff.decide(&transient(Some(ms(2000))), ms(100)),
            RetryDecision::Retry(ms(2000))
        );
        assert_eq!(backoff.total_delay(), ms(2100));
        // A shorter hint does not shorten the policy's delay.
        assert_eq!(
            backoff.decide(&transient(Some(ms(1))), ms(2100)),
            RetryDecision::Retry(ms(100))
        );
        // A hint past the deadline: give up rather than retry too early.
        assert_eq!(
            backoff.decide(&transient(Some(ms(4000))), ms(2200)),
            RetryDecision::GiveUp
        );
        assert_eq!(
            backoff.decide(&RetryClass::Transient, ms(5000)),
            RetryDecision::GiveUp
        );
    }

    #[test]
    fn http_statuses_are_classified() {
        for status in [408, 429, 500, 502, 503, 504, 599] {
            assert_eq!(
                RetryClass::from_http_status(status),
                RetryClass::Transient,
                "{status}"
            );
        }
        for status in [200, 301, 400, 401, 403, 404, 409, 501, 505] {
            assert_eq!(
                RetryClass::from_http_status(status),
                RetryClass::Permanent,
                "{status}"
            );
        }
    }

    #[test]
    fn retry_after_takes_seconds_or_an_http_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
        // 1_445_412_480 is Wed, 21 Oct 2015 07:28:00 GMT.
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        for garbage in ["", "-5", "1.5", "soon", "Wed, 32 Oct 2015 07:28:30 GMT"] {
            assert_eq!(parse_retry_after(garbage, now), None, "{garbage:?}");
        }
    }
}
