//! `dyad migrate`: brings a datastore's schema up to date (SQLite or
//! PostgreSQL) and prints the schema version it is then at. Run it once per
//! release before starting replicas configured with
//! `datastore_apply_migrations: false`; running it again, or from several
//! places at once, is harmless.

use clap::Args;
use std::fmt;

#[derive(Args)]
pub struct MigrateArgs {
    /// Datastore URL: `sqlite://PATH` (created if missing) or
    /// `postgres://USER:PASSWORD@HOST:PORT/DATABASE` (which must exist).
    #[arg(long, env = "DYAD_DATABASE_URL", hide_env_values = true)]
    database: String,
}

impl fmt::Debug for MigrateArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may hold a password.
        f.debug_struct("MigrateArgs").finish_non_exhaustive()
    }
}

pub async fn run(args: MigrateArgs) -> anyhow::Result<()> {
    let version = migrate(&args.database).await?;
    outln!("schema version {version}")?;
    Ok(())
}

/// Applies the pending migrations to the datastore at `url`; the schema
/// version it is then at.
pub async fn migrate(url: &str) -> anyhow::Result<i64> {
    dyad_datastore::migrate(url).await.map_err(|error| {
        dyad_aggregator::startup::OpenDatastoreError::new("migrating", url, error).into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dyad_core::clock::MockClock;
    use dyad_datastore::{DatastoreKeys, DatastoreOptions};
    use dyad_test_support::postgres::TestDatabase;
    use std::sync::Arc;

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(future)
    }

    /// Opening without applying migrations needs a migrated database.
    async fn opens_without_migrating(url: &str) {
        let mut options = DatastoreOptions::new(DatastoreKeys::generate());
        options.apply_migrations = false;
        dyad_datastore::open(url, Arc::new(MockClock::default()), &options)
            .await
            .unwrap()
            .close()
            .await;
    }

    #[test]
    fn migrates_a_sqlite_file_and_again() {
        block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("m.sqlite").display());
            assert_eq!(
                migrate(&url).await.unwrap(),
                dyad_datastore::schema_version()
            );
            assert_eq!(
                migrate(&url).await.unwrap(),
                dyad_datastore::schema_version()
            );
            opens_without_migrating(&url).await;
        });
    }

    #[test]
    fn migrates_a_postgres_database_and_again() {
        block_on(async {
            let Some(db) = TestDatabase::create().await else {
                return;
            };
            assert_eq!(
                migrate(db.url()).await.unwrap(),
                dyad_datastore::schema_version()
            );
            assert_eq!(
                migrate(db.url()).await.unwrap(),
                dyad_datastore::schema_version()
            );
            opens_without_migrating(db.url()).await;
        });
    }

    #[test]
    fn refuses_unknown_urls_without_showing_them() {
        block_on(async {
            let error = migrate("mysql://user:Secret-Pw@db/x").await.unwrap_err();
            let shown = format!("{error:#}");
            assert!(shown.contains("sqlite://"), "{shown}");
            assert!(!shown.contains("Secret-Pw"), "{shown}");
        });
        let args = MigrateArgs {
            database: "postgres://user:Secret-Pw@db/x".into(),
        };
        assert!(!format!("{args:?}").contains("Secret-Pw"));
    }
}
