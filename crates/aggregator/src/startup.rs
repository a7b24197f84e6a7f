//! What an aggregator process checks and says before it serves: opening the
//! datastore with errors that say what to do ([`OpenDatastoreError`]),
//! checking that its keys open every stored task ([`check_keys`], so that a
//! wrong key stops the process instead of failing each request), and the
//! log lines saying where the keys came from ([`log_keys`]) and what runs
//! ([`log_started`]). Keys themselves are never logged.
//!
//! ## Where is
//!
//! - a key that opens no stored task stops the process, naming the first such
//!   task → [`check_keys`]
//! - advice for the usual datastore setup mistakes →
//!   [`OpenDatastoreError::hint`]
//! - where the keys came from (never the keys), and a warning when the
//!   environment overrides the file → [`log_keys`]
//! - the one line saying what runs → [`log_started`]

use crate::config::{redacted_url, ConfiguredKeys, KeysSource, ProcessRole};
use dyad_datastore::{Datastore, DatastoreError, DatastoreExt, SetupProblem, TxError};
use std::fmt;
use std::net::SocketAddr;

/// Opening a datastore failed; [`OpenDatastoreError::hint`] says what to
/// try for the usual setup mistakes.
#[derive(Debug, thiserror::Error)]
#[error("{doing} the datastore {target}")]
pub struct OpenDatastoreError {
    /// "opening", "migrating", ...
    doing: &'static str,
    /// The URL with its password redacted.
    target: String,
    /// `HOST:PORT` of a PostgreSQL URL.
    server: Option<String>,
    /// The database name of a PostgreSQL URL; the path of a SQLite one.
    database: Option<String>,
    #[source]
    source: DatastoreError,
}

impl OpenDatastoreError {
    /// `source`, from `doing` ("opening", "migrating") the datastore at
    /// `url`.
    pub fn new(doing: &'static str, url: &str, source: DatastoreError) -> Self {
        let parsed = url::Url::parse(url).ok();
        let server = parsed
            .as_ref()
            .filter(|url| url.scheme().starts_with("postgres"))
            .and_then(|url| {
                let host = url.host_str()?;
                Some(format!("{host}:{}", url.port().unwrap_or(5432)))
            });
        let database = parsed.as_ref().map(|url| match url.scheme() {
            "sqlite" => url.path().to_owned(),
            _ => url.path().trim_start_matches('/').to_owned(),
        });
        Self {
            doing,
            target: redacted_url(url),
            server,
            database,
            source,
        }
    }

    /// What to try, for the usual setup mistakes.
    pub fn hint(&self) -> Option<String> {
        match self.source.setup_problem()? {
            SetupProblem::MissingDatabase => {
                let name = self.database.as_deref().unwrap_or("NAME");
                let then = if self.doing == "migrating" {
                    ""
                } else {
                    ", then `dyad migrate --database URL`"
                };
                Some(format!(
                    "create it with `createdb {name}` or `CREATE DATABASE {name}`{then}"
                ))
            }
            SetupProblem::Unreachable => Some(match &self.server {
                Some(server) => format!("is the server at {server} running?"),
                None => "is the database server running?".to_owned(),
            }),
            SetupProblem::CannotOpenFile => Some(
                "does the SQLite file's folder exist, and may this user write there?".to_owned(),
            ),
            SetupProblem::AuthenticationFailed => Some(
                "check the user and password in the URL (postgres://USER:PASSWORD@HOST/NAME), \
                 and that the server's pg_hba.conf lets that user in from this host"
                    .to_owned(),
            ),
        }
    }
}

/// The configured datastore keys cannot open a stored task: the process
/// must not start (it could serve nothing of that task).
#[derive(Debug, thiserror::Error)]
#[error(
    "the datastore keys ({keys}, from {keys_from}) cannot open {row} ({table}.{column}): not starting"
)]
pub struct KeysCheckError {
    row: String,
    table: &'static str,
    column: &'static str,
    keys: usize,
    keys_from: KeysSource,
}

impl KeysCheckError {
    /// What to try.
    pub fn hint(&self) -> String {
        "give the keys this datastore was written with (DYAD_DATASTORE_KEYS or datastore_keys); \
         if a rotation removed the key that sealed it, put that key back after the new one and run \
         `dyad datastore-key reseal` before removing it"
            .to_owned()
    }
}

/// Reads every stored task and global HPKE key with the configured keys;
/// how many tasks there are. Fails with [`KeysCheckError`] naming the first
/// task (in task ID order) or global key that none of the keys opens.
pub async fn check_keys(datastore: &dyn Datastore, keys: &ConfiguredKeys) -> anyhow::Result<u64> {
    let result = datastore
        .run_read_tx("check_datastore_keys", |tx| {
            Box::pin(async move {
                let tasks = tx.get_tasks().await?.len();
                // The global HPKE keys' private keys are sealed too.
                tx.get_global_hpke_keys().await?;
                Ok(tasks)
            })
        })
        .await;
    match result {
        Ok(count) => Ok(count as u64),
        Err(TxError::Datastore(DatastoreError::Decrypt {
            table, column, row, ..
        })) => Err(KeysCheckError {
            row,
            table,
            column,
            keys: keys.keys.len(),
            keys_from: keys.source,
        }
        .into()),
        Err(error) => Err(anyhow::Error::new(error).context("reading the stored tasks")),
    }
}

/// Logs where the keys came from (never the keys), and warns when the
/// environment overrides keys the config file gives too.
pub fn log_keys(keys: &ConfiguredKeys) {
    tracing::info!(source = %keys.source, keys = keys.keys.len(), "datastore keys");
    if keys.overridden_file_keys > 0 {
        tracing::warn!(
            file_keys = keys.overridden_file_keys,
            "{} overrides the config file's datastore_keys, which are not used; \
             keep the keys in one place",
            dyad_datastore::KEYS_ENV
        );
    }
}

/// The roles, comma-separated, for the startup line.
struct Roles<'a>(&'a [ProcessRole]);

impl fmt::Display for Roles<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, role) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str(",")?;
            }
            write!(f, "{role}")?;
        }
        Ok(())
    }
}

/// The one line saying what this process is and runs: version, roles,
/// listen addresses, datastore (password redacted), task count.
pub fn log_started(roles: &[ProcessRole], listening: &[SocketAddr], datastore: &str, tasks: u64) {
    let listen = listening
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",");
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        roles = %Roles(roles),
        listen = if listen.is_empty() { "-" } else { listen.as_str() },
        datastore = %redacted_url(datastore),
        tasks,
        "dyad started"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use dyad_core::clock::RealClock;
    use dyad_datastore::{DatastoreKeys, DatastoreOptions};
    use std::sync::Arc;

    #[test]
    fn open_errors_name_the_redacted_target_and_hint_by_problem() {
        let unreachable = OpenDatastoreError::new(
            "opening",
            "postgres://dyad:hunter2@db.example:6543/leader",
            DatastoreError::Database(sqlx::Error::PoolTimedOut),
        );
        let shown = unreachable.to_string();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("db.example:6543/leader"), "{shown}");
        assert_eq!(
            unreachable.hint().as_deref(),
            Some("is the server at db.example:6543 running?")
        );
        let other =
            OpenDatastoreError::new("opening", "sqlite:///x", DatastoreError::Config("x".into()));
        assert_eq!(other.hint(), None);
    }

    #[tokio::test]
    async fn wrong_keys_are_refused_naming_the_first_task() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("k.sqlite").display());
        let written = DatastoreKeys::generate();
        let datastore = dyad_datastore::open(
            &url,
            Arc::new(RealClock),
            &DatastoreOptions::new(written.clone()),
        )
        .await
        .unwrap();
        let mut tasks = vec![
            dyad_datastore::testing::fixtures::leader_task(),
            dyad_datastore::testing::fixtures::leader_task(),
        ];
        tasks.sort_by_key(|task| *task.task_id());
        for task in &tasks {
            let task = task.clone();
            datastore
                .run_tx("put", move |tx| {
                    let task = task.clone();
                    Box::pin(async move { Ok(tx.put_task(&task).await?) })
                })
                .await
                .unwrap();
        }
        let right = ConfiguredKeys {
            keys: written,
            source: KeysSource::ConfigFile,
            overridden_file_keys: 0,
        };
        assert_eq!(check_keys(datastore.as_ref(), &right).await.unwrap(), 2);
        datastore.close().await;

        let wrong_keys = DatastoreKeys::generate();
        let wrong = dyad_datastore::open(
            &url,
            Arc::new(RealClock),
            &DatastoreOptions::new(wrong_keys.clone()),
        )
        .await
        .unwrap();
        let configured = ConfiguredKeys {
            keys: wrong_keys,
            source: KeysSource::Environment,
            overridden_file_keys: 0,
        };
        let error = check_keys(wrong.as_ref(), &configured).await.unwrap_err();
        let error = error.downcast::<KeysCheckError>().unwrap();
        let shown = error.to_string();
        assert!(
            shown.contains(&format!("task {}", tasks[0].task_id())),
            "{shown}"
        );
        assert!(shown.contains("DYAD_DATASTORE_KEYS"), "{shown}");
        assert!(error.hint().contains("datastore-key reseal"));
    }
}
