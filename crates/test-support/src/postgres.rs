//! Test databases on a PostgreSQL server, for every suite that runs on
//! PostgreSQL (the datastore's, the aggregator's, the cross-process ones): the server
//! is the one named by the environment variable `DYAD_TEST_DATABASE_URL`
//! (for example `postgres://postgres:postgres@127.0.0.1:5432/postgres`;
//! `scripts/postgres.sh` starts one and sets it). Each [`TestDatabase`] is
//! a fresh database (`CREATE DATABASE dyad_test_t<unix seconds>_<random>`) that is dropped
//! when the value is dropped.
//!
//! Without the variable, [`TestDatabase::create`] says
//! `skipped: DYAD_TEST_DATABASE_URL is not set` on stderr and returns
//! `None`, so tests that need PostgreSQL pass without running.

use sqlx::{Connection as _, PgConnection};

/// The environment variable naming the test server (a URL of a database
/// on it that the tests may connect to and create databases from).
pub const TEST_DATABASE_URL_ENV: &str = "DYAD_TEST_DATABASE_URL";

/// The test server's URL, or `None` after saying on stderr that the test
/// is skipped.
pub fn test_server_url() -> Option<String> {
    match std::env::var(TEST_DATABASE_URL_ENV) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            eprintln!("skipped: {TEST_DATABASE_URL_ENV} is not set");
            None
        }
    }
}

/// A fresh database on the test server, dropped (with `FORCE`, closing any
/// connection left to it) when this value is dropped.
pub struct TestDatabase {
    server_url: String,
    name: String,
    url: String,
    /// A connection held on the database while it lives: test runs sharing
    /// the server sweep away `dyad_test_*` databases left by killed runs
    /// (`scripts/postgres.sh`), and a database in use is spared, so a fresh
    /// one must not sit unused until its test first connects.
    _in_use: std::sync::Mutex<PgConnection>,
}

impl std::fmt::Debug for TestDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDatabase")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl TestDatabase {
    /// Creates a fresh, empty database on the test server; `None` if
    /// `DYAD_TEST_DATABASE_URL` is not set. Panics if the server cannot be
    /// reached (the tests were asked to use it).
    pub async fn create() -> Option<Self> {
        let server_url = test_server_url()?;
        // The creation time in the name lets `scripts/postgres.sh` sweep
        // only databases too old to belong to a run still going.
        let created = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        let name = format!("dyad_test_t{created}_{:016x}", rand::random::<u64>());
        let url = create_database(&server_url, &name)
            .await
            .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
        let in_use = PgConnection::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to test database {name}: {e}"));
        Some(Self {
            server_url,
            name,
            url,
            _in_use: std::sync::Mutex::new(in_use),
        })
    }

    /// The database's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (server_url, name) = (self.server_url.clone(), self.name.clone());
        // Dropped inside a test's runtime, which cannot be blocked on: drop
        // the database from a thread with a runtime of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime
                .block_on(drop_database(&server_url, &name))
                .map_err(|e| e.to_string())
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(error)) => eprintln!("cannot drop test database {}: {error}", self.name),
            Err(_) => eprintln!("cannot drop test database {}: thread panicked", self.name),
        }
    }
}

/// Creates database `name` (a plain identifier: made here) on the server of
/// `server_url`; its URL.
async fn create_database(server_url: &str, name: &str) -> Result<String, sqlx::Error> {
    let mut url = url::Url::parse(server_url).map_err(|e| sqlx::Error::Configuration(e.into()))?;
    url.set_path(&format!("/{name}"));
    let mut conn = PgConnection::connect(server_url).await?;
    let created = sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await;
    let _ = conn.close().await;
    created.map(|_| url.to_string())
}

/// Drops database `name`, closing the connections left to it.
async fn drop_database(server_url: &str, name: &str) -> Result<(), sqlx::Error> {
    let mut conn = PgConnection::connect(server_url).await?;
    let dropped = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await;
    let _ = conn.close().await;
    dropped.map(|_| ())
}
