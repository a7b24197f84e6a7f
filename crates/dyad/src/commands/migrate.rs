//! `dyad migrate`: brings a datastore's schema up to date (SQLite or
//! PostgreSQL) and prints the schema version it is then at, with the
//! version it was at and the migrations applied. Run it once per
//! release before starting replicas configured with
//! `datastore_apply_migrations: false`; running it again, or from several
//! places at once, is harmless. The datastore is given by its URL
//! (`--database`) or by the aggregator configuration file that names it
//! (`--config`, the file `dyad serve` runs with).

use clap::Args;
use dyad_aggregator::config::AggregatorConfig;
use dyad_datastore::Migrated;
use std::fmt;
use std::path::PathBuf;

#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct MigrateArgs {
    /// Datastore URL: `sqlite://PATH` (created if missing) or
    /// `postgres://USER:PASSWORD@HOST:PORT/DATABASE` (which must exist).
    #[arg(long, env = "DYAD_DATABASE_URL", hide_env_values = true)]
    database: Option<String>,
    /// An aggregator configuration file (as for `dyad serve --config`):
    /// its `datastore` is migrated.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

impl MigrateArgs {
    /// The URL of the datastore to migrate.
    fn url(&self) -> anyhow::Result<String> {
        match (&self.database, &self.config) {
            (Some(url), _) => Ok(url.clone()),
            (None, Some(path)) => Ok(AggregatorConfig::from_file(path)?.datastore),
            (None, None) => anyhow::bail!("give --database URL or --config FILE"),
        }
    }
}

impl fmt::Debug for MigrateArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may hold a password.
        f.debug_struct("MigrateArgs").finish_non_exhaustive()
    }
}

pub async fn run(args: MigrateArgs) -> anyhow::Result<()> {
    let migrated = migrate(&args.url()?).await?;
    outln!("{}", describe(&migrated))?;
    Ok(())
}

/// The answer: the version the schema is at, and how it got there.
fn describe(migrated: &Migrated) -> String {
    let Migrated {
        before,
        after,
        applied,
    } = migrated;
    let applied = match applied.as_slice() {
        [] => return format!("schema version {after}: up to date, no migration applied"),
        [one] => format!("migration {one} applied"),
        [first, .., last] if applied.len() as i64 == last - first + 1 => {
            format!("migrations {first} to {last} applied")
        }
        many => format!(
            "migrations {} applied",
            many.iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    match before {
        0 => format!("schema version {after}: created ({applied})"),
        // A database with a gap in its migrations (only by hand).
        before if before == after => format!("schema version {after}: completed ({applied})"),
        before => format!("schema version {after}: migrated from version {before} ({applied})"),
    }
}

/// Applies the pending migrations to the datastore at `url`: the versions
/// it was and is at.
pub async fn migrate(url: &str) -> anyhow::Result<Migrated> {
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
            let created = migrate(&url).await.unwrap();
            let again = migrate(&url).await.unwrap();
            dyad_datastore::testing::assert_created_then_up_to_date(&created, &again);
            opens_without_migrating(&url).await;
        });
    }

    #[test]
    fn migrates_a_postgres_database_and_again() {
        block_on(async {
            let Some(db) = TestDatabase::create().await else {
                return;
            };
            let latest = dyad_datastore::schema_version();
            assert_eq!(migrate(db.url()).await.unwrap().after, latest);
            let again = migrate(db.url()).await.unwrap();
            assert_eq!((again.before, again.after), (latest, latest));
            assert!(again.applied.is_empty());
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
            database: Some("postgres://user:Secret-Pw@db/x".into()),
            config: None,
        };
        assert!(!format!("{args:?}").contains("Secret-Pw"));
    }

    #[derive(clap::Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        args: MigrateArgs,
    }

    fn parse(argv: &[&str]) -> Result<MigrateArgs, clap::Error> {
        use clap::Parser as _;
        Cli::try_parse_from(std::iter::once("migrate").chain(argv.iter().copied()))
            .map(|cli| cli.args)
    }

    /// `--config` migrates the datastore the aggregator's file names, the
    /// one `dyad serve --config` would open.
    #[test]
    fn migrates_the_datastore_a_config_file_names() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("c.sqlite").display());
        let config = dir.path().join("aggregator.yaml");
        std::fs::write(
            &config,
            format!(
                "listen_address: \"127.0.0.1:8080\"\ndatastore: \"{url}\"\nroles: [aggregator]\n"
            ),
        )
        .unwrap();
        let args = parse(&["--config", config.to_str().unwrap()]).unwrap();
        assert_eq!(args.url().unwrap(), url);
        block_on(async {
            assert_eq!(
                migrate(&args.url().unwrap()).await.unwrap().after,
                dyad_datastore::schema_version()
            );
            opens_without_migrating(&url).await;
        });
    }

    #[test]
    fn the_answer_says_what_was_applied_and_from_which_version() {
        let said = |before, after, applied: &[i64]| {
            describe(&Migrated {
                before,
                after,
                applied: applied.to_vec(),
            })
        };
        assert_eq!(
            said(0, 11, &(1..=11).collect::<Vec<_>>()),
            "schema version 11: created (migrations 1 to 11 applied)"
        );
        assert_eq!(
            said(10, 11, &[11]),
            "schema version 11: migrated from version 10 (migration 11 applied)"
        );
        assert_eq!(
            said(9, 11, &[10, 11]),
            "schema version 11: migrated from version 9 (migrations 10 to 11 applied)"
        );
        assert_eq!(
            said(8, 11, &[3, 9, 10, 11]),
            "schema version 11: migrated from version 8 (migrations 3, 9, 10, 11 applied)"
        );
        assert_eq!(
            said(11, 11, &[3]),
            "schema version 11: completed (migration 3 applied)"
        );
        assert_eq!(
            said(11, 11, &[]),
            "schema version 11: up to date, no migration applied"
        );
    }

    #[test]
    fn needs_exactly_one_of_database_and_config() {
        let both = parse(&["--database", "sqlite:///tmp/x", "--config", "a.yaml"]);
        assert_eq!(
            both.unwrap_err().kind(),
            clap::error::ErrorKind::ArgumentConflict
        );
        // (Unless DYAD_DATABASE_URL is set, which stands for --database.)
        if std::env::var_os("DYAD_DATABASE_URL").is_none() {
            assert_eq!(
                parse(&[]).unwrap_err().kind(),
                clap::error::ErrorKind::MissingRequiredArgument
            );
        }
        let missing = parse(&["--config", "/nonexistent/aggregator.yaml"]).unwrap();
        let error = format!("{:#}", missing.url().unwrap_err());
        assert!(error.contains("/nonexistent/aggregator.yaml"), "{error}");
    }
}
