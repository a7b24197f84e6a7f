//! What every HTTP handler shares: [`AppState`] (the datastore, the API's
//! options, the report writer and the global HPKE keys) and [`ApiConfig`], the HTTP API's options,
//! derived from the configuration file by [`AggregatorConfig::api_config`].
//!
//! It sits below the router ([`crate::http`]) and the handlers
//! ([`crate::upload`], [`crate::collection_jobs`], [`crate::helper`],
//! [`crate::http::hpke_config`]), which all import it; it imports none of
//! them, only the configuration, the error type ([`crate::http::problem`]),
//! the server's limits and the report writer.
//!
//! ## Where is
//!
//! - a task run in the other role is as unknown as no task
//!   (`unrecognizedTask`, DAP-09 section 3.2) → [`AppState::task_in_role`]
//! - a task read once per [`crate::task_cache::TASK_CACHE_TTL`], not per
//!   request → [`AppState::task`]
//! - the time handlers compare report and batch times against, the
//!   datastore's clock → [`AppState::now`]
//! - an input share opens with the task's keys, then the global ones
//!   (DAP-09 section 4.5.1.3) → [`AppState::global_keys_for`]
//! - the HTTP API's options from the configuration file, the default
//!   connection maximum sized from the open-file limit →
//!   [`AggregatorConfig::api_config`]

use crate::config::{
    AggregatorConfig, HpkeKeysConfig, TaskprovConfig, UploadConfig, DEFAULT_MAX_REQUEST_BODY_BYTES,
    DEFAULT_MAX_UPLOAD_BODY_BYTES,
};
use crate::hpke_keys::{GlobalHpkeKeys, KeySnapshot};
use crate::http::problem::{ApiError, ApiResult};
use crate::server::ServerLimits;
use crate::task_cache::TaskCache;
use crate::upload::writer::ReportWriter;
use dyad_core::task::Task;
use dyad_datastore::{Datastore, DatastoreExt};
use dyad_messages::draft09::{HpkeConfigId, Role, TaskId, Time};
use std::sync::Arc;
use std::time::Duration;

/// Options of the HTTP API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApiConfig {
    /// Largest accepted `Report` body.
    pub max_upload_body_bytes: usize,
    /// Largest accepted body of every other request.
    pub max_request_body_bytes: usize,
    /// The longest `Retry-After` of a collection job still running.
    pub collection_retry_after: Duration,
    /// The batching report writer.
    pub upload: UploadConfig,
    /// The server's limits and timeouts.
    pub server: ServerLimits,
    /// The global HPKE keys' refresh and the configurations' cache lifetime.
    pub hpke_keys: HpkeKeysConfig,
    /// Taskprov's opt-in policy.
    pub taskprov: TaskprovConfig,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            max_upload_body_bytes: DEFAULT_MAX_UPLOAD_BODY_BYTES,
            max_request_body_bytes: DEFAULT_MAX_REQUEST_BODY_BYTES,
            collection_retry_after: Duration::from_secs(5),
            upload: UploadConfig::default(),
            server: ServerLimits::default(),
            hpke_keys: HpkeKeysConfig::default(),
            taskprov: TaskprovConfig::default(),
        }
    }
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub(crate) datastore: Arc<dyn Datastore>,
    pub(crate) config: ApiConfig,
    pub(crate) reports: ReportWriter,
    /// The global HPKE keys, for tasks without keys of their own.
    pub(crate) hpke_keys: GlobalHpkeKeys,
    /// The tasks read lately (see [`crate::task_cache`] for how stale
    /// one may be).
    pub(crate) tasks: TaskCache,
}

impl AppState {
    /// The current time, from the datastore's clock.
    pub(crate) fn now(&self) -> Time {
        self.datastore.clock().now()
    }

    /// The task, in any role; `unrecognizedTask` if there is none. Served
    /// from the [`TaskCache`] while fresh, else read in a transaction of its
    /// own. This is the one place a handler looks a task up.
    pub(crate) async fn task(&self, task_id: TaskId) -> ApiResult<Arc<Task>> {
        let datastore = self.datastore.clone();
        let task = self
            .tasks
            .get_or_read(task_id, || async move {
                datastore
                    .run_read_tx("get_task", move |tx| {
                        Box::pin(async move { Ok(tx.get_task(&task_id).await?) })
                    })
                    .await
            })
            .await?;
        task.ok_or_else(|| ApiError::unrecognized_task(task_id, "unknown task"))
    }

    /// The task, which this aggregator must run in `role`. A task run in
    /// the other role is as unknown here as one not run at all (DAP-09
    /// gives no other error for it).
    pub(crate) async fn task_in_role(&self, task_id: TaskId, role: Role) -> ApiResult<Arc<Task>> {
        let task = self.task(task_id).await?;
        if task.role() != role {
            return Err(ApiError::unrecognized_task(
                task_id,
                format!("this aggregator is not the {role} of the task"),
            ));
        }
        Ok(task)
    }
}

impl AppState {
    /// The global HPKE keys, to try after the task's own when opening input
    /// shares sealed under `config_ids` (DAP-09 section 4.5.1.3): read again
    /// first (at most once a second) if one of them is neither the task's
    /// nor a global key this replica holds, e.g. a key made a moment ago on
    /// another replica.
    pub(crate) async fn global_keys_for(
        &self,
        task: &Task,
        config_ids: impl IntoIterator<Item = HpkeConfigId>,
    ) -> ApiResult<Arc<KeySnapshot>> {
        let unknown_to_task: Vec<HpkeConfigId> = config_ids
            .into_iter()
            .filter(|id| task.hpke_keypair(*id).is_none())
            .collect();
        Ok(self.hpke_keys.knowing(unknown_to_task).await?)
    }
}

impl AggregatorConfig {
    /// The HTTP API's options, from this configuration; the default
    /// connection maximum is sized for the process's open-file limit now in
    /// force (see [`crate::server::open_files`]).
    pub fn api_config(&self) -> ApiConfig {
        let open_files = crate::server::open_files::current().map_or(
            crate::server::open_files::FALLBACK_MAX_CONNECTIONS as u64,
            |(soft, _)| soft,
        );
        ApiConfig {
            max_upload_body_bytes: self.max_upload_body_bytes,
            max_request_body_bytes: self.max_request_body_bytes,
            collection_retry_after: Duration::from_secs(self.collection_retry_after_secs),
            upload: self.upload,
            server: self
                .server
                .limits(open_files, self.datastore_pool.max_connections),
            hpke_keys: self.hpke_keys,
            taskprov: self.taskprov,
        }
    }
}
