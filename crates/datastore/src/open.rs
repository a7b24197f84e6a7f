//! Opening a datastore from its URL, whichever the backend: what the
//! aggregator's configuration and the `dyad migrate` tool call.

use crate::sqlite::SqliteDatastore;
use crate::{Datastore, DatastoreError};
use dyad_core::clock::Clock;
use std::sync::Arc;

/// Opens the datastore at `url`, bringing its schema up to date:
/// `sqlite://PATH` (created if missing) opens the SQLite backend with its
/// default options. PostgreSQL URLs are refused until that backend exists.
pub async fn open(url: &str, clock: Arc<dyn Clock>) -> Result<Arc<dyn Datastore>, DatastoreError> {
    if url.starts_with("sqlite:") {
        return Ok(Arc::new(SqliteDatastore::open(url, clock).await?));
    }
    if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        return Err(DatastoreError::Config(
            "the PostgreSQL backend is not available yet".into(),
        ));
    }
    Err(DatastoreError::Config(
        "unknown datastore URL scheme (expected sqlite://PATH)".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::run_test;
    use crate::DatastoreExt;
    use dyad_core::clock::MockClock;

    #[test]
    fn opens_sqlite_and_refuses_others() {
        run_test(async {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("x.sqlite").display());
            let clock: Arc<dyn Clock> = Arc::new(MockClock::default());
            let datastore = open(&url, clock.clone()).await.unwrap();
            let tasks = datastore
                .run_read_tx("list", |tx| {
                    Box::pin(async move { Ok(tx.get_tasks().await?) })
                })
                .await
                .unwrap();
            assert!(tasks.is_empty());
            for bad in ["postgres://db/x", "mysql://db/x", "x.sqlite"] {
                assert!(matches!(
                    open(bad, clock.clone()).await,
                    Err(DatastoreError::Config(_))
                ));
            }
        });
    }
}
