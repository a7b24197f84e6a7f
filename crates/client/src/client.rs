//! [`Client`]: prepares reports and uploads them to the Leader (DAP-09
//! section 4.4).
//!
//! An upload fetches (or reuses) both aggregators' HPKE configurations,
//! shards the measurement with a fresh random report ID as the nonce, seals
//! each input share to its aggregator and `PUT`s the report to
//! `{leader}tasks/{task-id}/reports`. Transient failures are retried with the
//! same report (the Leader ignores a report ID it has seen, so a retried
//! upload is never counted twice). An `outdatedConfig` answer invalidates the
//! cached configurations and the upload is retried once with a freshly
//! generated report, as DAP-09 section 4.4.2 recommends.
//!
//! # Where is
//!
//! - `outdatedConfig`: both cached configurations invalidated, one retry with a
//!   new report (DAP-09 section 4.4.2) -> [`Client::upload_at`];
//! - a random report ID as the VDAF nonce, the time rounded down to the time
//!   precision (DAP-09 section 4.4.2) -> [`Client::seal`];
//! - the upload: `PUT`, media type, token, any 2xx is success ->
//!   [`Client::put_report`];
//! - transient failures retried with the same report (the Leader counts a
//!   report ID once) -> [`Client::upload_report`];
//! - at most `concurrency` uploads at once -> [`Client::upload_batch`];
//! - a taskprov task: the `dap-taskprov` header on every upload
//!   (taskprov-06 section 4) -> [`Client::put_report`]; no report at or after
//!   the task's expiration (taskprov-06 section 3.3) -> [`Client::seal`].

use crate::error::ClientError;
use crate::hpke_config::HpkeConfigSource;
use crate::http::{error_response, with_retry, RetryObserver};
use crate::report::{seal_report, Recipients};
use crate::time_source::TimeSource;
use crate::vdaf::ClientVdaf;
use dyad_core::retry::RetryPolicy;
use dyad_core::task_config::TaskConfigError;
use dyad_messages::draft09::{
    Duration, Extension, HpkeConfig, Report, ReportId, ReportMetadata, Role, TaskId, Time,
};
use dyad_messages::media_type::DapMediaType;
use dyad_messages::problem::DapProblemType;
use dyad_messages::taskprov::TASKPROV_HEADER;
use dyad_messages::Encode;
use futures::stream::{self, StreamExt};
use reqwest::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use std::fmt;
use std::sync::Arc;
use url::Url;

/// Everything a client's uploads share, whatever the VDAF.
pub(crate) struct Shared {
    pub(crate) task_id: TaskId,
    pub(crate) leader_config: HpkeConfigSource,
    pub(crate) helper_config: HpkeConfigSource,
    pub(crate) reports_url: Url,
    pub(crate) time_precision: Duration,
    pub(crate) http: reqwest::Client,
    pub(crate) auth_header: Option<(HeaderName, HeaderValue)>,
    pub(crate) retry_policy: RetryPolicy,
    pub(crate) retry_observer: Option<RetryObserver>,
    pub(crate) clock: TimeSource,
    pub(crate) leader_extensions: Vec<Extension>,
    pub(crate) helper_extensions: Vec<Extension>,
    pub(crate) taskprov: Option<Taskprov>,
}

/// What a taskprov task adds to a client's uploads.
#[derive(Clone, Debug)]
pub(crate) struct Taskprov {
    /// The `dap-taskprov` header's value: the encoded `TaskConfig` in
    /// unpadded base64url.
    pub(crate) header: HeaderValue,
    /// The task's expiration: no report is prepared at or after it.
    pub(crate) task_expiration: Time,
}

/// A DAP client for one task: uploads measurements as reports.
///
/// Cloning is cheap and clones share the HPKE configuration cache.
pub struct Client<V> {
    shared: Arc<Shared>,
    vdaf: Arc<V>,
}

impl<V> Clone for Client<V> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            vdaf: Arc::clone(&self.vdaf),
        }
    }
}

impl<V> fmt::Debug for Client<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("task_id", &self.shared.task_id)
            .field("reports_url", &self.shared.reports_url.as_str())
            .field("time_precision", &self.shared.time_precision)
            .field("authenticated", &self.shared.auth_header.is_some())
            .finish_non_exhaustive()
    }
}

impl<V: ClientVdaf> Client<V> {
    pub(crate) fn from_parts(shared: Arc<Shared>, vdaf: Arc<V>) -> Self {
        Self { shared, vdaf }
    }

    pub fn task_id(&self) -> &TaskId {
        &self.shared.task_id
    }

    pub fn vdaf(&self) -> &V {
        &self.vdaf
    }

    /// Uploads one measurement, timestamped by the client's clock; returns
    /// the ID of the report the Leader accepted.
    pub async fn upload(&self, measurement: &V::Measurement) -> Result<ReportId, ClientError> {
        self.upload_at(measurement, (self.shared.clock)()).await
    }

    /// Uploads one measurement timestamped `time` (rounded down to the
    /// task's time precision).
    pub async fn upload_at(
        &self,
        measurement: &V::Measurement,
        time: Time,
    ) -> Result<ReportId, ClientError> {
        let mut refreshed = false;
        loop {
            let (leader, helper) = futures::try_join!(
                self.shared.leader_config.get(
                    &self.shared.http,
                    &self.shared.retry_policy,
                    self.shared.retry_observer.as_ref(),
                ),
                self.shared.helper_config.get(
                    &self.shared.http,
                    &self.shared.retry_policy,
                    self.shared.retry_observer.as_ref(),
                ),
            )?;
            let report = self.seal(measurement, time, &leader.config, &helper.config)?;
            let report_id = report.metadata.id;
            match self.upload_report(&report).await {
                Ok(()) => return Ok(report_id),
                Err(error)
                    if !refreshed
                        && error.problem_type() == Some(DapProblemType::OutdatedConfig) =>
                {
                    tracing::info!(
                        task_id = %self.shared.task_id,
                        %report_id,
                        leader_config_id = %leader.config.id,
                        helper_config_id = %helper.config.id,
                        "HPKE config outdated; refreshing and retrying with a new report"
                    );
                    self.shared
                        .leader_config
                        .invalidate(leader.generation)
                        .await;
                    self.shared
                        .helper_config
                        .invalidate(helper.generation)
                        .await;
                    refreshed = true;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Uploads every measurement, at most `concurrency` at a time (at least
    /// one); returns each one's outcome, in the order of `measurements`.
    pub async fn upload_batch(
        &self,
        measurements: &[V::Measurement],
        concurrency: usize,
    ) -> Vec<Result<ReportId, ClientError>> {
        stream::iter(measurements)
            .map(|measurement| self.upload(measurement))
            .buffered(concurrency.max(1))
            .collect()
            .await
    }

    /// The report for `measurement` at `time` (rounded down to the time
    /// precision), sealed to the aggregators' current configurations,
    /// without uploading it.
    pub async fn prepare_report(
        &self,
        measurement: &V::Measurement,
        time: Time,
    ) -> Result<Report, ClientError> {
        let (leader, helper) = futures::try_join!(
            self.shared.leader_config.get(
                &self.shared.http,
                &self.shared.retry_policy,
                self.shared.retry_observer.as_ref(),
            ),
            self.shared.helper_config.get(
                &self.shared.http,
                &self.shared.retry_policy,
                self.shared.retry_observer.as_ref(),
            ),
        )?;
        self.seal(measurement, time, &leader.config, &helper.config)
    }

    fn seal(
        &self,
        measurement: &V::Measurement,
        time: Time,
        leader_config: &HpkeConfig,
        helper_config: &HpkeConfig,
    ) -> Result<Report, ClientError> {
        if let Some(taskprov) = &self.shared.taskprov {
            if time >= taskprov.task_expiration {
                return Err(TaskConfigError::Expired {
                    expiration: taskprov.task_expiration,
                    now: time,
                }
                .into());
            }
        }
        let metadata = ReportMetadata::new(
            ReportId::random(),
            time.to_batch_interval_start(self.shared.time_precision),
        );
        let sharded = self.vdaf.shard_report(measurement, &metadata.id)?;
        Ok(seal_report(
            self.shared.task_id,
            metadata,
            sharded,
            Recipients {
                leader_config,
                helper_config,
                leader_extensions: &self.shared.leader_extensions,
                helper_extensions: &self.shared.helper_extensions,
            },
        )?)
    }
}

impl<V> Client<V> {
    /// Sends a prepared report to the Leader, retrying transient failures.
    /// Any 2xx answer is success (the spec says 201 Created; some deployed
    /// Leaders answer 200 OK).
    pub async fn upload_report(&self, report: &Report) -> Result<(), ClientError> {
        let body = report.get_encoded()?;
        let report_id = report.metadata.id;
        with_retry(
            &self.shared.retry_policy,
            self.shared.retry_observer.as_ref(),
            Role::Leader,
            "upload report",
            || self.put_report(body.clone(), report_id),
        )
        .await
    }

    async fn put_report(&self, body: Vec<u8>, report_id: ReportId) -> Result<(), ClientError> {
        let mut request = self
            .shared
            .http
            .put(self.shared.reports_url.clone())
            .header(CONTENT_TYPE, DapMediaType::Report.as_str())
            .body(body);
        if let Some((name, value)) = &self.shared.auth_header {
            request = request.header(name.clone(), value.clone());
        }
        if let Some(taskprov) = &self.shared.taskprov {
            request = request.header(TASKPROV_HEADER, taskprov.header.clone());
        }
        let response = request.send().await?;
        let status = response.status();
        if status.is_success() {
            tracing::debug!(
                task_id = %self.shared.task_id,
                %report_id,
                status = status.as_u16(),
                "report uploaded"
            );
            return Ok(());
        }
        if status.is_client_error() || status.is_server_error() {
            let response = error_response(response).await;
            tracing::debug!(
                task_id = %self.shared.task_id,
                %report_id,
                status = response.status,
                problem = response.problem.as_ref().map(|p| p.type_uri.as_str()),
                "report upload refused"
            );
            return Err(ClientError::ErrorResponse {
                role: Role::Leader,
                response: Box::new(response),
            });
        }
        Err(ClientError::UnexpectedStatus {
            role: Role::Leader,
            status: status.as_u16(),
        })
    }
}
