//! The DAP router ([`build_router`]: method and path → handler, see the
//! table of [`crate::http`]) and [`HttpApi`], which serves it over HTTP or
//! HTTPS together with the batching report writer.

use super::{fallback, hpke_config, trace};
use crate::hpke_keys::GlobalHpkeKeys;
use crate::server::ServerLimits;
use crate::state::{ApiConfig, AppState};
use crate::task_cache::TaskCache;
use crate::upload::writer::{ReportWriter, WriterTask};
use crate::{collection_jobs, helper, upload};
use axum::routing::{get, post, put};
use axum::Router;
use dyad_datastore::Datastore;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

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
        let hpke_keys = GlobalHpkeKeys::new(datastore.clone());
        // Stops with the last clone of the keys (the router's state).
        hpke_keys.spawn_refresher(Duration::from_secs(config.hpke_keys.refresh_interval_secs));
        let state = AppState {
            datastore,
            config,
            reports,
            hpke_keys,
            tasks: TaskCache::default(),
        };
        Self {
            router: build_router(state),
            writer,
            limits: config.server,
        }
    }

    /// The API with its router replaced by `f` of it (to serve more beside
    /// the DAP routes, e.g. the management API under a path prefix).
    pub fn map_router(mut self, f: impl FnOnce(Router) -> Router) -> Self {
        self.router = f(self.router);
        self
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

/// The DAP routes. Each begins with a segment of
/// [`DAP_PATH_ROOTS`](crate::config::DAP_PATH_ROOTS), which a management
/// path prefix may not begin with: a new first segment goes there too.
pub(super) fn build_router(state: AppState) -> Router {
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
