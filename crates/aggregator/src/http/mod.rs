//! The DAP HTTP API (DAP-09 sections 4.3-4.6): an axum router, served by
//! [`crate::server`] with its connection and body limits.
//!
//! | method and path | who calls | handler |
//! |---|---|---|
//! | `GET /hpke_config?task_id=` | Clients | [`hpke_config`] (4.4.1) |
//! | `PUT /tasks/{task-id}/reports` | Clients → Leader | [`crate::upload`] (4.4.2) |
//! | `PUT/POST/DELETE /tasks/{task-id}/collection_jobs/{id}` | Collector → Leader | [`crate::collection_jobs`] (4.6.1) |
//! | `PUT/POST/DELETE /tasks/{task-id}/aggregation_jobs/{id}` | Leader → Helper | [`crate::helper`] (4.5) |
//! | `POST /tasks/{task-id}/aggregate_shares` | Leader → Helper | [`crate::helper`] (4.6.2) |
//!
//! Every failure goes through [`problem::ApiError`] (requests no route takes:
//! `fallback`; times a datastore cannot hold: [`times`]); request parsing,
//! authentication and media types through [`request`]. One tracing span per
//! request ([`trace`]).

#[cfg(test)]
mod bad_input_tests;
mod fallback;
pub mod hpke_config;
pub mod problem;
pub mod request;
pub mod times;
pub mod trace;

use crate::config::UploadConfig;
use crate::server::ServerLimits;
use crate::upload::writer::{ReportWriter, WriterTask};
use axum::routing::{get, post, put};
use axum::Router;
use dyad_core::task::Task;
use dyad_datastore::{Datastore, DatastoreExt};
use dyad_messages::draft09::{Role, TaskId, Time};
use problem::{ApiError, ApiResult};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

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
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            max_upload_body_bytes: crate::config::DEFAULT_MAX_UPLOAD_BODY_BYTES,
            max_request_body_bytes: crate::config::DEFAULT_MAX_REQUEST_BODY_BYTES,
            collection_retry_after: Duration::from_secs(5),
            upload: UploadConfig::default(),
            server: ServerLimits::default(),
        }
    }
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub(crate) datastore: Arc<dyn Datastore>,
    pub(crate) config: ApiConfig,
    pub(crate) reports: ReportWriter,
}

impl AppState {
    /// The current time, from the datastore's clock.
    pub(crate) fn now(&self) -> Time {
        self.datastore.clock().now()
    }

    /// The task, in any role; `unrecognizedTask` if there is none.
    pub(crate) async fn task(&self, task_id: TaskId) -> ApiResult<Task> {
        let task = self
            .datastore
            .run_read_tx("get_task", move |tx| {
                Box::pin(async move { Ok(tx.get_task(&task_id).await?) })
            })
            .await?;
        task.ok_or_else(|| ApiError::unrecognized_task(task_id, "unknown task"))
    }

    /// The task, which this aggregator must run in `role`. A task run in
    /// the other role is as unknown here as one not run at all (DAP-09
    /// gives no other error for it).
    pub(crate) async fn task_in_role(&self, task_id: TaskId, role: Role) -> ApiResult<Task> {
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

/// The HTTP API with its background report writer.
pub struct HttpApi {
    router: Router,
    writer: WriterTask,
    limits: ServerLimits,
}

impl HttpApi {
    /// Builds the router and starts the report writer (on the current tokio
    /// runtime).
    pub fn new(datastore: Arc<dyn Datastore>, config: ApiConfig) -> Self {
        let (reports, writer) =
            ReportWriter::spawn(datastore.clone(), config.upload, config.server.retry_after);
        let state = AppState {
            datastore,
            config,
            reports,
        };
        Self {
            router: build_router(state),
            writer,
            limits: config.server,
        }
    }

    /// The router, for serving elsewhere or for in-process requests.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// Serves on `listener` until `shutdown` is cancelled, then lets the
    /// requests in flight finish (within the shutdown grace period), writes
    /// the reports still queued, and returns.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let HttpApi {
            router,
            writer,
            limits,
        } = self;
        if let Ok(address) = listener.local_addr() {
            tracing::info!(%address, max_connections = limits.max_connections, "serving the DAP API");
        }
        let served = crate::server::serve(listener, None, router, limits, shutdown).await;
        writer.stop().await;
        served.map_err(|e| anyhow::anyhow!("HTTP server: {e}"))
    }

    /// [`HttpApi::serve`] over HTTPS: every connection on `listener` is
    /// TLS-terminated with `certificate`, which SIGHUP reloads meanwhile
    /// (see [`crate::tls`]).
    pub async fn serve_tls(
        self,
        listener: TcpListener,
        certificate: Arc<crate::tls::ReloadableCertificate>,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let HttpApi {
            router,
            writer,
            limits,
        } = self;
        let acceptor = match crate::tls::acceptor(certificate.clone()) {
            Ok(acceptor) => acceptor,
            Err(error) => {
                writer.stop().await;
                return Err(error.into());
            }
        };
        if let Ok(address) = listener.local_addr() {
            tracing::info!(%address, max_connections = limits.max_connections, "serving the DAP API over HTTPS");
        }
        crate::tls::reload::log_served(&certificate.summary(), "serving the TLS certificate");
        let reloads = shutdown.child_token();
        let reloader = crate::tls::reload::reload_on_sighup(certificate, reloads.clone());
        let served = crate::server::serve(listener, Some(acceptor), router, limits, shutdown).await;
        reloads.cancel();
        let _ = reloader.await;
        writer.stop().await;
        served.map_err(|e| anyhow::anyhow!("HTTP server: {e}"))
    }
}

/// Builds the router (and starts a report writer that stops when the last
/// clone of the router is dropped). For in-process tests and embedding.
pub fn router(datastore: Arc<dyn Datastore>, config: ApiConfig) -> Router {
    HttpApi::new(datastore, config).router()
}

/// Serves the API on `listener` until `shutdown` is cancelled (see
/// [`HttpApi::serve`]). Bind port 0 and read `listener.local_addr()` first
/// to learn the address.
pub async fn serve_on(
    listener: TcpListener,
    datastore: Arc<dyn Datastore>,
    config: ApiConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    HttpApi::new(datastore, config)
        .serve(listener, shutdown)
        .await
}

fn build_router(state: AppState) -> Router {
    use crate::{collection_jobs, helper, upload};
    Router::new()
        .route("/hpke_config", get(hpke_config::get_hpke_config))
        .route("/tasks/{task_id}/reports", put(upload::put_report))
        .route(
            "/tasks/{task_id}/collection_jobs/{collection_job_id}",
            put(collection_jobs::put_collection_job)
                .post(collection_jobs::poll_collection_job)
                .delete(collection_jobs::delete_collection_job),
        )
        .route(
            "/tasks/{task_id}/aggregation_jobs/{aggregation_job_id}",
            put(helper::init::put_aggregation_job)
                .post(helper::continue_job::post_aggregation_job)
                .delete(helper::delete::delete_aggregation_job),
        )
        .route(
            "/tasks/{task_id}/aggregate_shares",
            post(helper::aggregate_share_req::post_aggregate_share),
        )
        .method_not_allowed_fallback(fallback::method_not_allowed)
        .fallback(fallback::not_found)
        .layer(axum::middleware::from_fn(trace::trace_request))
        .with_state(state)
}
