//! What tests of a datastore need (feature `test-util`), here and in the
//! crates above: a fresh datastore per test with the clock it reads and a
//! way to reopen its database ([`TestDatastore`], [`sqlite_harness`]; the
//! PostgreSQL one [`postgres_harness`]), the
//! values tests store ([`fixtures`]), a runtime to run them on
//! ([`run_test`]) and the check of what two migrations of a new database
//! report ([`assert_created_then_up_to_date`]). The conformance suite every backend must pass is the
//! crate's integration test `tests/conformance/`.

pub mod fixtures;

use crate::postgres::PostgresDatastore;
use crate::sqlite::SqliteDatastore;
use crate::{Datastore, DatastoreError, DatastoreKeys, DatastoreOptions, Migrated};
use dyad_core::clock::MockClock;
use dyad_test_support::postgres::TestDatabase;
use futures::future::BoxFuture;
use std::any::Any;
use std::future::Future;
use std::sync::Arc;

/// Checks what two runs of `migrate` on a new database said: the first
/// created the whole schema, the second found it up to date.
pub fn assert_created_then_up_to_date(created: &Migrated, again: &Migrated) {
    let latest = crate::schema_version();
    assert_eq!((created.before, created.after), (0, latest));
    assert_eq!(created.applied, (1..=latest).collect::<Vec<_>>());
    assert_eq!((again.before, again.after), (latest, latest));
    assert!(again.applied.is_empty());
}

/// Opens another handle on a test's database with other keys (to test
/// what a process configured with those keys would see).
pub type Reopen = Arc<
    dyn Fn(DatastoreKeys) -> BoxFuture<'static, Result<Arc<dyn Datastore>, DatastoreError>>
        + Send
        + Sync,
>;

/// Opens another handle on a test's database with other options (to test
/// what a process configured with those options would see).
pub type ReopenWith = Arc<
    dyn Fn(DatastoreOptions) -> BoxFuture<'static, Result<Arc<dyn Datastore>, DatastoreError>>
        + Send
        + Sync,
>;

/// A fresh datastore for one test, with the clock it reads, the keys it was
/// opened with, a way to reopen its database with other keys, and whatever
/// must live as long as it (a temporary directory, a test database).
pub struct TestDatastore {
    pub datastore: Arc<dyn Datastore>,
    pub clock: MockClock,
    pub keys: DatastoreKeys,
    pub reopen: Reopen,
    pub reopen_with: ReopenWith,
    _keep_alive: Box<dyn Any + Send + Sync>,
}

impl TestDatastore {
    /// Wraps a datastore reading `clock`, opened with `keys`; `reopen_with`
    /// opens another handle on its database; `keep_alive` is dropped with it.
    pub fn new(
        datastore: Arc<dyn Datastore>,
        clock: MockClock,
        keys: DatastoreKeys,
        reopen_with: ReopenWith,
        keep_alive: Box<dyn Any + Send + Sync>,
    ) -> Self {
        let with = reopen_with.clone();
        let reopen: Reopen = Arc::new(move |keys| with(DatastoreOptions::new(keys)));
        Self {
            datastore,
            clock,
            keys,
            reopen,
            reopen_with,
            _keep_alive: keep_alive,
        }
    }
}

/// A SQLite datastore in a fresh temporary file.
pub async fn sqlite_harness() -> TestDatastore {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}", dir.path().join("dyad.sqlite").display());
    let clock = MockClock::default();
    let keys = DatastoreKeys::generate();
    let options = DatastoreOptions::new(keys.clone());
    let datastore = SqliteDatastore::open(&url, Arc::new(clock.clone()), &options)
        .await
        .expect("open SQLite datastore");
    let reopen_clock = clock.clone();
    let reopen: ReopenWith = Arc::new(move |options| {
        let (url, clock) = (url.clone(), reopen_clock.clone());
        Box::pin(async move {
            let datastore = SqliteDatastore::open(&url, Arc::new(clock), &options).await?;
            Ok(Arc::new(datastore) as Arc<dyn Datastore>)
        })
    });
    TestDatastore::new(Arc::new(datastore), clock, keys, reopen, Box::new(dir))
}

/// Runs one test future on a multi-threaded runtime (so that concurrent
/// transactions really run in parallel).
pub fn run_test<F: Future<Output = ()>>(test: F) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(test)
}

/// A PostgreSQL datastore in a fresh test database (migrated, default
/// options), or `None` if `DYAD_TEST_DATABASE_URL` is not set: the harness
/// of the conformance suite (`tests/conformance/`) on PostgreSQL.
pub async fn postgres_harness() -> Option<TestDatastore> {
    let database = TestDatabase::create().await?;
    let clock = MockClock::default();
    let keys = DatastoreKeys::generate();
    let options = DatastoreOptions::new(keys.clone());
    let datastore = PostgresDatastore::open(database.url(), Arc::new(clock.clone()), &options)
        .await
        .expect("open PostgreSQL datastore");
    let (url, reopen_clock) = (database.url().to_owned(), clock.clone());
    let reopen: ReopenWith = Arc::new(move |options| {
        let (url, clock) = (url.clone(), reopen_clock.clone());
        Box::pin(async move {
            let datastore = PostgresDatastore::open(&url, Arc::new(clock), &options).await?;
            Ok(Arc::new(datastore) as Arc<dyn Datastore>)
        })
    });
    Some(TestDatastore::new(
        Arc::new(datastore),
        clock,
        keys,
        reopen,
        Box::new(database),
    ))
}
