//! Which aggregator a `dyad task` or `dyad hpke-key` command works on
//! ([`DatastoreArgs`]: a datastore URL, the datastore a `dyad serve` config
//! names, or a remote management API with `--api`), how it is opened, and
//! the error for a task it does not hold.

use crate::management_client::ManagementClient;
use anyhow::{bail, Context as _};
use clap::Args;
use dyad_aggregator::config::AggregatorConfig;
use dyad_core::clock::RealClock;
use dyad_datastore::{Datastore, DatastoreKeys, DatastoreOptions, KEYS_ENV};
use dyad_messages::draft09::TaskId;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use url::Url;

/// Which aggregator to work on: a datastore URL, the datastore a `dyad
/// serve` config names, or a remote management API.
#[derive(Debug, Args)]
pub struct DatastoreArgs {
    /// Datastore URL, e.g. `sqlite:///var/lib/dyad/leader.sqlite`.
    #[arg(
        long,
        required_unless_present_any = ["config", "api"],
        conflicts_with_all = ["config", "api"]
    )]
    datastore: Option<String>,
    /// A `dyad serve` config file whose datastore to use.
    #[arg(long, conflicts_with = "api")]
    config: Option<PathBuf>,
    /// A remote aggregator's management API base URL (its
    /// management_listen_address), instead of a datastore; the bearer token
    /// comes from the DYAD_API_TOKEN environment variable.
    #[arg(long, value_name = "URL")]
    api: Option<Url>,
    /// With --api: a PEM file of CA certificates to trust besides the
    /// system's (may be repeated).
    #[arg(long = "ca-cert", value_name = "FILE")]
    ca_certs: Vec<PathBuf>,
}

impl DatastoreArgs {
    /// Whether `--api` is given.
    pub(crate) fn has_api(&self) -> bool {
        self.api.is_some()
    }

    /// The management API client when `--api` is given (`None`: work on
    /// the datastore).
    pub(crate) fn api(&self) -> anyhow::Result<Option<ManagementClient>> {
        let Some(base) = &self.api else {
            return Ok(None);
        };
        let roots = dyad_aggregator::tls::read_root_certificates("--ca-cert", &self.ca_certs)?;
        ManagementClient::new(base, roots).map(Some)
    }

    /// Opens the datastore: with `--config`, as `dyad serve` would; with
    /// `--datastore`, with the keys of `DYAD_DATASTORE_KEYS` (and, for
    /// SQLite, bringing the schema up to date).
    pub(crate) async fn open(&self) -> anyhow::Result<Arc<dyn Datastore>> {
        let (url, options) = self.url_and_options()?;
        dyad_aggregator::runtime::open_datastore(&url, Arc::new(RealClock), &options).await
    }

    /// Opens a datastore that must exist already: a SQLite file that is not
    /// there is an error (naming the file), not a new empty database.
    pub(crate) async fn open_existing(&self) -> anyhow::Result<Arc<dyn Datastore>> {
        let (url, options) = self.url_and_options()?;
        if let Some(path) = missing_sqlite_file(&url) {
            return Err(crate::hints::with_hint(
                format!("no SQLite datastore at {}", path.display()),
                Some(format!(
                    "check --datastore / the config's datastore; a new aggregator's is created \
                     by `dyad migrate --database sqlite://{}` (or its first `dyad serve`)",
                    path.display()
                )),
            ));
        }
        dyad_aggregator::runtime::open_datastore(&url, Arc::new(RealClock), &options).await
    }

    /// With `--config`, what `dyad serve` would use; with `--datastore`, the
    /// keys of `DYAD_DATASTORE_KEYS` (and, for SQLite, bringing the schema up
    /// to date).
    fn url_and_options(&self) -> anyhow::Result<(String, DatastoreOptions)> {
        if !self.ca_certs.is_empty() {
            bail!("--ca-cert applies to --api only: a datastore is not reached over HTTPS");
        }
        Ok(match (&self.datastore, &self.config) {
            (Some(url), _) => {
                let keys = DatastoreKeys::from_env()?.with_context(|| {
                    format!(
                        "{KEYS_ENV} must hold the datastore keys the aggregator uses \
                         (or give --config)"
                    )
                })?;
                let mut options = DatastoreOptions::new(keys);
                options.apply_migrations = DatastoreOptions::migrates_by_default(url);
                (url.clone(), options)
            }
            (None, Some(path)) => {
                let config = AggregatorConfig::from_file(path)?;
                let options = config.datastore_options()?;
                (config.datastore, options)
            }
            (None, None) => bail!("give --datastore, --config or --api"),
        })
    }
}

/// The file of a `sqlite:` URL when it does not exist (`None` for other
/// URLs and in-memory databases).
fn missing_sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path.starts_with(":memory:") || rest.contains("mode=memory") {
        return None;
    }
    let path = Path::new(path);
    (!path.exists()).then(|| path.to_path_buf())
}

/// The error for a task ID the datastore does not hold.
pub(super) fn no_such_task(task_id: &TaskId) -> String {
    format!("no task {task_id} in this datastore (`dyad task list` shows the stored tasks)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sqlite_files_that_are_not_there_are_missing() {
        let dir = tempfile::tempdir().unwrap();
        let there = dir.path().join("there.sqlite");
        std::fs::write(&there, b"").unwrap();
        let absent = dir.path().join("absent.sqlite");
        assert_eq!(
            missing_sqlite_file(&format!("sqlite://{}", there.display())),
            None
        );
        assert_eq!(
            missing_sqlite_file(&format!("sqlite://{}?mode=rwc", absent.display())),
            Some(absent.clone())
        );
        assert_eq!(
            missing_sqlite_file(&format!("sqlite:{}", absent.display())),
            Some(absent)
        );
        assert_eq!(missing_sqlite_file("sqlite::memory:"), None);
        assert_eq!(missing_sqlite_file("postgres://localhost/dyad"), None);
    }

    #[derive(Debug, clap::Parser)]
    struct Flags {
        #[command(flatten)]
        datastore: DatastoreArgs,
    }

    #[test]
    fn api_and_a_datastore_are_one_or_the_other_and_ca_cert_goes_with_api() {
        use clap::Parser as _;
        let both = Flags::try_parse_from(["t", "--api", "http://127.0.0.1:1/", "--config", "c"]);
        assert!(both.is_err());
        let api = Flags::try_parse_from(["t", "--api", "http://127.0.0.1:1/"]).unwrap();
        assert!(api.datastore.has_api());
        let stray =
            Flags::try_parse_from(["t", "--config", "c.yaml", "--ca-cert", "ca.pem"]).unwrap();
        let error = format!("{:#}", stray.datastore.url_and_options().unwrap_err());
        assert!(
            error.starts_with("--ca-cert applies to --api only"),
            "{error}"
        );
        assert!(Flags::try_parse_from(["t"]).is_err());
    }
}
