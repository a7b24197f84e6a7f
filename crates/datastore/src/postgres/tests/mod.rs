//! What only PostgreSQL has (the conformance suite, `tests/conformance/`,
//! runs on it too):
//! retries of serialization failures and dropped connections, many
//! replicas (separate pools) acquiring jobs at once, migrations shared by
//! replicas, secrets at rest, and rows corrupted behind the datastore's
//! back. Every test runs in a fresh database on the server named by
//! `DYAD_TEST_DATABASE_URL`, and passes without running when it is unset.

mod concurrency;
mod plans;
mod retries;
mod schema;

use super::PostgresDatastore;
use crate::testing::run_test;
use crate::{DatastoreKeys, DatastoreOptions};
use dyad_core::clock::MockClock;
use dyad_test_support::postgres::TestDatabase;
use sqlx::{Connection as _, PgConnection};
use std::future::Future;
use std::sync::Arc;

/// A fresh test database, the clock and keys to open it with.
pub(super) struct Fixture {
    pub(super) db: TestDatabase,
    pub(super) clock: MockClock,
    pub(super) keys: DatastoreKeys,
}

impl Fixture {
    pub(super) fn options(&self) -> DatastoreOptions {
        DatastoreOptions::new(self.keys.clone())
    }

    /// Opens a datastore (one more "replica") on the test database.
    pub(super) async fn open(&self, options: DatastoreOptions) -> PostgresDatastore {
        PostgresDatastore::open(self.db.url(), Arc::new(self.clock.clone()), &options)
            .await
            .expect("open PostgreSQL datastore")
    }

    /// A direct connection to the test database, behind the datastore's back.
    pub(super) async fn connect(&self) -> PgConnection {
        PgConnection::connect(self.db.url())
            .await
            .expect("connect to the test database")
    }
}

/// Runs `test` on a fresh test database, or passes at once (saying so on
/// stderr) when `DYAD_TEST_DATABASE_URL` is not set.
pub(super) fn with_database<F, Fut>(test: F)
where
    F: FnOnce(Fixture) -> Fut,
    Fut: Future<Output = ()>,
{
    run_test(async {
        let Some(db) = TestDatabase::create().await else {
            return;
        };
        test(Fixture {
            db,
            clock: MockClock::default(),
            keys: DatastoreKeys::generate(),
        })
        .await;
    });
}

/// Puts `reports` in one transaction.
pub(super) async fn upload(
    datastore: &dyn crate::Datastore,
    reports: Vec<crate::models::LeaderStoredReport>,
) {
    use crate::DatastoreExt;
    datastore
        .run_tx("upload", move |tx| {
            let reports = reports.clone();
            Box::pin(async move { Ok(tx.put_client_reports(&reports).await?) })
        })
        .await
        .unwrap();
}
