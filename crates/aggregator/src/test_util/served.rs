//! The real HTTP API served on a loopback port over a fresh datastore of
//! either backend (a temporary SQLite file, or a fresh PostgreSQL database
//! when `DYAD_TEST_DATABASE_URL` is set), on a [`MockClock`], with a
//! [`TableDumper`] over the same database.

use super::table_dump::TableDumper;
use crate::http::serve_on;
use crate::state::ApiConfig;
use dyad_core::clock::MockClock;
use dyad_core::task::Task;
use dyad_datastore::{Datastore, DatastoreExt, DatastoreKeys, DatastoreOptions};
use dyad_test_support::postgres::TestDatabase;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Which datastore backend to serve on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// An API being served.
pub struct ServedApi {
    pub address: SocketAddr,
    pub clock: MockClock,
    pub datastore: Arc<dyn Datastore>,
    pub dumper: TableDumper,
    shutdown: CancellationToken,
    served: Option<JoinHandle<anyhow::Result<()>>>,
    /// What keeps the database alive: its directory, or the PostgreSQL
    /// database (dropped with it).
    _dir: Option<tempfile::TempDir>,
    _database: Option<TestDatabase>,
}

impl ServedApi {
    /// Serves the API over a fresh datastore of `backend` holding `tasks`
    /// (`clock` is the datastore's); `None` for PostgreSQL when no test
    /// server is configured (the caller's test then passes without running).
    pub async fn start(backend: Backend, clock: MockClock, tasks: &[&Task]) -> Option<Self> {
        Self::start_with(backend, clock, tasks, ApiConfig::default()).await
    }

    /// [`ServedApi::start`] with the given options.
    pub async fn start_with(
        backend: Backend,
        clock: MockClock,
        tasks: &[&Task],
        config: ApiConfig,
    ) -> Option<Self> {
        let (url, dir, database) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("dyad.sqlite").display());
                (url, Some(dir), None)
            }
            Backend::Postgres => {
                let database = TestDatabase::create().await?;
                (database.url().to_owned(), None, Some(database))
            }
        };
        let options = DatastoreOptions::new(DatastoreKeys::generate());
        let datastore = dyad_datastore::open(&url, Arc::new(clock.clone()), &options)
            .await
            .expect("open the test datastore");
        for task in tasks {
            let task = (*task).clone();
            datastore
                .run_tx("test_put_task", move |tx| {
                    let task = task.clone();
                    Box::pin(async move { Ok(tx.put_task(&task).await?) })
                })
                .await
                .unwrap();
        }
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let served = tokio::spawn(serve_on(
            listener,
            datastore.clone(),
            config,
            shutdown.clone(),
        ));
        let dumper = TableDumper::connect(&url).await;
        Some(Self {
            address,
            clock,
            datastore,
            dumper,
            shutdown,
            served: Some(served),
            _dir: dir,
            _database: database,
        })
    }

    /// `http://address` followed by `path_and_query`.
    pub fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{path_and_query}", self.address)
    }

    /// Stops serving and closes the datastore; panics if serving failed.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(served) = self.served.take() {
            served.await.unwrap().unwrap();
        }
        self.dumper.close().await;
        self.datastore.close().await;
    }
}

impl Drop for ServedApi {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
