//! [`Collector`]: runs collection jobs against the Leader (DAP-09 section
//! 4.6).
//!
//! `PUT {leader}tasks/{task-id}/collection_jobs/{id}` creates a job with a
//! `CollectionReq`; `POST` to the same URI polls it (202 while pending, 200
//! with a `Collection` once finished); `DELETE` abandons it. Every request
//! is authenticated with the collector's token and retried under the retry
//! policy when it fails transiently; an error answer (a problem document
//! such as `invalidBatchSize`) ends the operation with that error, so a
//! collection the Leader refuses is never polled forever.
//!
//! # Where is
//!
//! - the job's URI -> [`Collector::job_url`]; creating it with a
//!   `CollectionReq` (DAP-09 section 4.6.1) -> [`Collector::put_job`];
//! - a poll: 202 pending (with `Retry-After`), 200 a `Collection`, 204 deleted
//!   (DAP-09 section 4.6.1) -> [`Collector::post_job`];
//! - opening and unsharding the result -> [`Collector::poll_once`], through
//!   [`open_collection`];
//! - the largest `Collection` read -> [`collection_cap`];
//! - the wait between polls -> [`next_poll_delay`], never below
//!   [`MIN_POLL_DELAY`]; when to stop waiting ->
//!   [`Collector::poll_until_complete_with`];
//! - an error answer ends the operation -> [`error_or_unexpected`];
//! - a taskprov task: the `dap-taskprov` header on every request
//!   (taskprov-06 section 7) -> [`Collector::request`]; `unrecognizedTask`
//!   retried after a wait, within the configured limit (taskprov-06 section
//!   5.3) -> [`Collector::create_collection_job`].

use crate::error::CollectorError;
use crate::http::{error_response, read_body, resource, retry_after, with_retry};
use crate::job::{Collection, CollectionJob, PollProgress, PollResult};
use crate::open::open_collection;
use crate::vdaf::CollectorVdaf;
use dyad_core::hpke::HpkeKeypair;
use dyad_core::retry::RetryPolicy;
use dyad_messages::draft09::{
    Collection as CollectionMessage, CollectionJobId, CollectionReq, Query, TaskId,
};
use dyad_messages::media_type::DapMediaType;
use dyad_messages::problem::DapProblemType;
use dyad_messages::taskprov::TASKPROV_HEADER;
use dyad_messages::{Decode, Encode};
use reqwest::header::{HeaderName, HeaderValue, ACCEPT, CONTENT_TYPE};
use reqwest::{Method, RequestBuilder, StatusCode};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use url::Url;

/// The largest `Collection` the collector reads when the VDAF cannot tell
/// its aggregate shares' length ahead.
const MAX_COLLECTION_LEN: usize = 64 * 1024 * 1024;

/// Everything in a `Collection` (DAP-09 section 4.6.1) beside the two
/// aggregate share payloads: batch selector, report count, interval, and per
/// share an HPKE config ID, encapsulated key (at most 133 bytes, P-521), AEAD
/// tag and length prefixes; generously rounded up.
const COLLECTION_ALLOWANCE: usize = 16 * 1024;

/// The most of a `Collection` to read, given the length of one encoded
/// aggregate share if the VDAF tells it: both shares plus the framing, never
/// more than [`MAX_COLLECTION_LEN`].
fn collection_cap(aggregate_share_len: Option<usize>) -> usize {
    aggregate_share_len.map_or(MAX_COLLECTION_LEN, |len| {
        len.saturating_mul(2)
            .saturating_add(COLLECTION_ALLOWANCE)
            .min(MAX_COLLECTION_LEN)
    })
}

/// The shortest wait between polls, even when the Leader's `Retry-After`
/// asks for less (so that `Retry-After: 0` cannot make the collector spin).
pub const MIN_POLL_DELAY: Duration = Duration::from_millis(100);

/// The wait before the next poll of a pending job: the poll policy's
/// `backoff_delay`, but never longer than the Leader's `Retry-After` asks
/// (DAP-09 section 4.6.1: it suggests a polling interval; a Leader that
/// knows the job is nearly done asks for little). A `Retry-After` below
/// [`MIN_POLL_DELAY`] is taken as that, so that `Retry-After: 0` cannot
/// make the collector spin.
pub fn next_poll_delay(backoff_delay: Duration, retry_after: Option<Duration>) -> Duration {
    match retry_after {
        Some(asked) => backoff_delay.min(asked.max(MIN_POLL_DELAY)),
        None => backoff_delay,
    }
}

/// Everything a collector's requests share, whatever the VDAF.
pub(crate) struct Shared {
    pub(crate) task_id: TaskId,
    pub(crate) leader: Url,
    pub(crate) auth_header: (HeaderName, HeaderValue),
    pub(crate) keypair: HpkeKeypair,
    pub(crate) http: reqwest::Client,
    pub(crate) retry_policy: RetryPolicy,
    pub(crate) poll_policy: RetryPolicy,
    /// The `dap-taskprov` header's value for a taskprov task.
    pub(crate) taskprov_header: Option<HeaderValue>,
    /// How long `unrecognizedTask` answers to a job's creation are retried.
    pub(crate) unrecognized_task_wait: Duration,
}

/// The pause between attempts to create a collection job the Leader
/// answered `unrecognizedTask` to.
const UNRECOGNIZED_TASK_PAUSE: Duration = Duration::from_secs(1);

/// A DAP collector for one task.
///
/// Cloning is cheap.
pub struct Collector<V> {
    shared: Arc<Shared>,
    vdaf: Arc<V>,
}

impl<V> Clone for Collector<V> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            vdaf: Arc::clone(&self.vdaf),
        }
    }
}

impl<V> fmt::Debug for Collector<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Collector")
            .field("task_id", &self.shared.task_id)
            .field("leader", &self.shared.leader.as_str())
            .field("hpke_config_id", &self.shared.keypair.id())
            .finish_non_exhaustive()
    }
}

/// What one `POST` to a collection job said.
enum Polled {
    Pending(Option<Duration>),
    Ready(Vec<u8>),
}

impl<V: CollectorVdaf> Collector<V> {
    pub(crate) fn from_parts(shared: Arc<Shared>, vdaf: Arc<V>) -> Self {
        Self { shared, vdaf }
    }

    pub fn task_id(&self) -> &TaskId {
        &self.shared.task_id
    }

    pub fn vdaf(&self) -> &V {
        &self.vdaf
    }

    /// Starts a collection job for `query` under a fresh random ID.
    pub async fn start_collection(
        &self,
        query: Query,
        aggregation_parameter: &V::AggregationParam,
    ) -> Result<CollectionJob<V::AggregationParam>, CollectorError> {
        let job = CollectionJob::new(
            CollectionJobId::random(),
            query,
            aggregation_parameter.clone(),
        );
        self.create_collection_job(&job).await?;
        Ok(job)
    }

    /// Creates `job` at the Leader (again, harmlessly, if it exists with the
    /// same request). Any 2xx answer is success (the spec says 201 Created).
    pub async fn create_collection_job(
        &self,
        job: &CollectionJob<V::AggregationParam>,
    ) -> Result<(), CollectorError> {
        let encoded_param = self
            .vdaf
            .encode_aggregation_parameter(job.aggregation_parameter())?;
        let body = CollectionReq::new(*job.query(), encoded_param).get_encoded()?;
        let url = self.job_url(job.id())?;
        let start = Instant::now();
        loop {
            let created = with_retry(&self.shared.retry_policy, "create collection job", || {
                self.put_job(&url, job.id(), body.clone())
            })
            .await;
            match created {
                Err(error)
                    if error.problem_type() == Some(DapProblemType::UnrecognizedTask)
                        && start.elapsed() + UNRECOGNIZED_TASK_PAUSE
                            <= self.shared.unrecognized_task_wait =>
                {
                    tracing::info!(
                        task_id = %self.shared.task_id,
                        collection_job_id = %job.id(),
                        "the leader does not know the task yet; retrying"
                    );
                    tokio::time::sleep(UNRECOGNIZED_TASK_PAUSE).await;
                }
                created => break created?,
            }
        }
        tracing::info!(
            task_id = %self.shared.task_id,
            collection_job_id = %job.id(),
            query = ?job.query(),
            "collection job created"
        );
        Ok(())
    }

    /// Polls `job` once: pending, or finished with the unsharded result.
    pub async fn poll_once(
        &self,
        job: &CollectionJob<V::AggregationParam>,
    ) -> Result<PollResult<V::AggregateResult>, CollectorError> {
        let url = self.job_url(job.id())?;
        let cap = collection_cap(self.vdaf.aggregate_share_len(job.aggregation_parameter()));
        let polled = with_retry(&self.shared.retry_policy, "poll collection job", || {
            self.post_job(&url, job.id(), cap)
        })
        .await?;
        let body = match polled {
            Polled::Pending(retry_after) => {
                tracing::debug!(
                    task_id = %self.shared.task_id,
                    collection_job_id = %job.id(),
                    retry_after_ms = retry_after.map(|d| d.as_millis() as u64),
                    "collection job pending"
                );
                return Ok(PollResult::Pending { retry_after });
            }
            Polled::Ready(body) => body,
        };
        let message =
            CollectionMessage::get_decoded(&body).map_err(CollectorError::InvalidCollection)?;
        let encoded_param = self
            .vdaf
            .encode_aggregation_parameter(job.aggregation_parameter())?;
        let collection = open_collection(
            &*self.vdaf,
            &self.shared.keypair,
            self.shared.task_id,
            job,
            encoded_param,
            message,
        )?;
        tracing::info!(
            task_id = %self.shared.task_id,
            collection_job_id = %job.id(),
            report_count = collection.report_count,
            interval = %collection.interval,
            "collection finished"
        );
        Ok(PollResult::Ready(collection))
    }

    /// Polls `job` until it finishes; gives up with
    /// [`CollectorError::Timeout`] once the poll policy's `max_elapsed` has
    /// passed (the job can be polled again later). The first poll is at
    /// once, the next ones after the poll policy's growing delays (250 ms
    /// doubling, by default), each cut to the Leader's `Retry-After` when it
    /// asks for less: see [`next_poll_delay`].
    pub async fn poll_until_complete(
        &self,
        job: &CollectionJob<V::AggregationParam>,
    ) -> Result<Collection<V::AggregateResult>, CollectorError> {
        self.poll_until_complete_with(job, |_| {}).await
    }

    /// [`Self::poll_until_complete`], telling `observer` after each poll
    /// that found the job pending (to show progress, say).
    pub async fn poll_until_complete_with(
        &self,
        job: &CollectionJob<V::AggregationParam>,
        mut observer: impl FnMut(&PollProgress),
    ) -> Result<Collection<V::AggregateResult>, CollectorError> {
        let policy = &self.shared.poll_policy;
        let start = Instant::now();
        let mut backoff = policy.backoff();
        let mut polls = 0u32;
        loop {
            polls = polls.saturating_add(1);
            let retry_after = match self.poll_once(job).await? {
                PollResult::Ready(collection) => return Ok(collection),
                PollResult::Pending { retry_after } => retry_after,
            };
            let elapsed = start.elapsed();
            let Some(backoff_delay) = backoff.next_delay(elapsed) else {
                return Err(CollectorError::Timeout {
                    job_id: job.id(),
                    waited: elapsed,
                });
            };
            let mut delay = next_poll_delay(backoff_delay, retry_after);
            if let Some(max_elapsed) = policy.max_elapsed() {
                delay = delay.min(max_elapsed.saturating_sub(elapsed));
            }
            observer(&PollProgress {
                polls,
                elapsed,
                retry_after,
                next_delay: delay,
            });
            tokio::time::sleep(delay).await;
        }
    }

    /// Starts a collection job and polls it until it finishes.
    pub async fn collect(
        &self,
        query: Query,
        aggregation_parameter: &V::AggregationParam,
    ) -> Result<Collection<V::AggregateResult>, CollectorError> {
        let job = self.start_collection(query, aggregation_parameter).await?;
        self.poll_until_complete(&job).await
    }

    /// Tells the Leader to abandon `job` and discard its state.
    pub async fn delete_collection_job(
        &self,
        job: &CollectionJob<V::AggregationParam>,
    ) -> Result<(), CollectorError> {
        let url = self.job_url(job.id())?;
        with_retry(&self.shared.retry_policy, "delete collection job", || {
            self.delete_job(&url)
        })
        .await?;
        tracing::info!(
            task_id = %self.shared.task_id,
            collection_job_id = %job.id(),
            "collection job deleted"
        );
        Ok(())
    }
}

impl<V> Collector<V> {
    fn job_url(&self, id: CollectionJobId) -> Result<Url, CollectorError> {
        resource(
            &self.shared.leader,
            &format!("tasks/{}/collection_jobs/{id}", self.shared.task_id),
        )
    }

    fn request(&self, method: Method, url: &Url) -> RequestBuilder {
        let (name, value) = &self.shared.auth_header;
        let request = self
            .shared
            .http
            .request(method, url.clone())
            .header(name.clone(), value.clone());
        match &self.shared.taskprov_header {
            Some(config) => request.header(TASKPROV_HEADER, config.clone()),
            None => request,
        }
    }

    async fn put_job(
        &self,
        url: &Url,
        id: CollectionJobId,
        body: Vec<u8>,
    ) -> Result<(), CollectorError> {
        let response = self
            .request(Method::PUT, url)
            .header(CONTENT_TYPE, DapMediaType::CollectionReq.as_str())
            .body(body)
            .send()
            .await?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let error = error_or_unexpected(response).await;
        tracing::debug!(
            task_id = %self.shared.task_id,
            collection_job_id = %id,
            status = status.as_u16(),
            error = %error,
            "collection job refused"
        );
        Err(error)
    }

    /// Polls once, reading at most `cap` bytes of a finished `Collection`.
    async fn post_job(
        &self,
        url: &Url,
        id: CollectionJobId,
        cap: usize,
    ) -> Result<Polled, CollectorError> {
        let response = self
            .request(Method::POST, url)
            .header(ACCEPT, DapMediaType::Collection.as_str())
            .body(Vec::new())
            .send()
            .await?;
        match response.status() {
            StatusCode::OK => Ok(Polled::Ready(read_body(response, cap).await?)),
            StatusCode::ACCEPTED => Ok(Polled::Pending(retry_after(response.headers()))),
            StatusCode::NO_CONTENT => Err(CollectorError::CollectionDeleted(id)),
            _ => Err(error_or_unexpected(response).await),
        }
    }

    async fn delete_job(&self, url: &Url) -> Result<(), CollectorError> {
        let response = self.request(Method::DELETE, url).send().await?;
        if response.status().is_success() {
            return Ok(());
        }
        Err(error_or_unexpected(response).await)
    }
}

/// The error a non-success answer amounts to.
async fn error_or_unexpected(response: reqwest::Response) -> CollectorError {
    let status = response.status();
    if status.is_client_error() || status.is_server_error() {
        CollectorError::ErrorResponse(Box::new(error_response(response).await))
    } else {
        CollectorError::UnexpectedStatus(status.as_u16())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn the_collection_cap_follows_the_aggregate_share_length() {
        assert_eq!(collection_cap(Some(8)), 16 + COLLECTION_ALLOWANCE);
        assert_eq!(collection_cap(None), MAX_COLLECTION_LEN);
        assert_eq!(collection_cap(Some(usize::MAX)), MAX_COLLECTION_LEN);
    }

    #[test]
    fn a_poll_waits_the_backoff_delay_cut_to_the_leaders_retry_after() {
        assert_eq!(next_poll_delay(250 * MS, None), 250 * MS);
        assert_eq!(next_poll_delay(250 * MS, Some(5000 * MS)), 250 * MS);
        assert_eq!(next_poll_delay(8000 * MS, Some(1000 * MS)), 1000 * MS);
        assert_eq!(
            next_poll_delay(8000 * MS, Some(Duration::ZERO)),
            MIN_POLL_DELAY
        );
        // The policy's own short delays are the caller's choice.
        assert_eq!(next_poll_delay(20 * MS, Some(Duration::ZERO)), 20 * MS);
        assert_eq!(next_poll_delay(20 * MS, None), 20 * MS);
    }
}
