//! Opening a datastore from its URL, whichever the backend: what the
//! aggregator's configuration and the `dyad migrate` tool call.

use crate::postgres::{is_postgres_url, PostgresDatastore};
use crate::schema::Migrated;
use crate::sqlite::SqliteDatastore;
use crate::{Datastore, DatastoreError, DatastoreOptions};
use dyad_core::clock::Clock;
use std::sync::Arc;

const SCHEMES: &str = "expected sqlite://PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE";

/// Opens the datastore at `url` with `options`: `sqlite://PATH` (created if
/// missing) opens the SQLite backend, `postgres://...` (or
/// `postgresql://...`) the PostgreSQL backend.
pub async fn open(
    url: &str,
    clock: Arc<dyn Clock>,
    options: &DatastoreOptions,
) -> Result<Arc<dyn Datastore>, DatastoreError> {
    if url.starts_with("sqlite:") {
        return Ok(Arc::new(SqliteDatastore::open(url, clock, options).await?));
    }
    if is_postgres_url(url) {
        return Ok(Arc::new(
            PostgresDatastore::open(url, clock, options).await?,
        ));
    }
    Err(DatastoreError::Config(format!(
        "unknown datastore URL scheme ({SCHEMES})"
    )))
}

/// Applies the pending schema migrations to the datastore at `url` (either
/// backend, as in [`open`]; a PostgreSQL database must exist, a SQLite file
/// is created if missing); returns the schema versions it was and is at.
pub async fn migrate(url: &str) -> Result<Migrated, DatastoreError> {
    if url.starts_with("sqlite:") {
        return SqliteDatastore::migrate(url).await;
    }
    if is_postgres_url(url) {
        return PostgresDatastore::migrate(url).await;
    }
    Err(DatastoreError::Config(format!(
        "unknown datastore URL scheme ({SCHEMES})"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::run_test;
    use crate::DatastoreExt;
    use dyad_core::clock::MockClock;

    #[test]
    fn opens_sqlite_and_refuses_unknown_schemes() {
        run_test(async {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("x.sqlite").display());
            let clock: Arc<dyn Clock> = Arc::new(MockClock::default());
            let options = DatastoreOptions::new(crate::DatastoreKeys::generate());
            let datastore = open(&url, clock.clone(), &options).await.unwrap();
            let tasks = datastore
                .run_read_tx("list", |tx| {
                    Box::pin(async move { Ok(tx.get_tasks().await?) })
                })
                .await
                .unwrap();
            assert!(tasks.is_empty());
            for bad in ["mysql://db/x", "x.sqlite", "postgres:/no-host"] {
                assert!(
                    matches!(
                        open(bad, clock.clone(), &options).await,
                        Err(DatastoreError::Config(_))
                    ),
                    "{bad}"
                );
                assert!(matches!(migrate(bad).await, Err(DatastoreError::Config(_))));
            }
        });
    }

    #[test]
    fn migrate_creates_and_reports_the_sqlite_schema_version() {
        run_test(async {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("m.sqlite").display());
            let created = migrate(&url).await.unwrap();
            let again = migrate(&url).await.unwrap();
            crate::testing::assert_created_then_up_to_date(&created, &again);
            let mut options = DatastoreOptions::new(crate::DatastoreKeys::generate());
            options.apply_migrations = false;
            open(&url, Arc::new(MockClock::default()), &options)
                .await
                .unwrap();
        });
    }
}
