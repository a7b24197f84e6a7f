//! The files that pass between the three parties of a task (DAP-09 section
//! 4.2), each holding only what its reader must know:
//!
//! | file | written by | read by | secret? |
//! |---|---|---|---|
//! | [`ClientTaskFile`] (`client-task.yaml`) | the Leader's `task add` | `dyad upload --task-file` | no |
//! | [`CollectorTaskFile`] (`collector-task.yaml`) | the Leader's `task add` | `dyad collect --credentials` | yes: the collector's token |
//! | [`CollectorKeyFile`] (`collector-key.yaml`) | `dyad collector init` | `dyad collect --hpke-key` | yes: the collector's private key |
//!
//! No file written by one party holds another party's private key.

use anyhow::Context as _;
use dyad_core::task::BatchMode;
use dyad_core::vdaf::VdafInstance;
use dyad_messages::draft09::{Duration, TaskId};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::path::Path;
use url::Url;

/// What a client needs to upload to a task. Public.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientTaskFile {
    pub task_id: TaskId,
    pub leader: Url,
    pub helper: Url,
    pub vdaf: VdafInstance,
    /// Seconds; report times are rounded down to it.
    pub time_precision: Duration,
}

/// What the Collector needs from the Leader's operator to collect a task:
/// the task's public parameters and the Collector's bearer token (shared by
/// the Collector and the Leader). Never a private key: the Collector's
/// keypair stays in its own [`CollectorKeyFile`].
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectorTaskFile {
    pub task_id: TaskId,
    pub leader: Url,
    pub helper: Url,
    pub vdaf: VdafInstance,
    pub batch_mode: BatchMode,
    pub time_precision: Duration,
    pub min_batch_size: u64,
    /// Sent as `Authorization: Bearer` to the Leader.
    pub collector_bearer_token: String,
}

impl std::fmt::Debug for CollectorTaskFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CollectorTaskFile")
            .field("task_id", &self.task_id)
            .field("leader", &self.leader.as_str())
            .field("vdaf", &self.vdaf)
            .finish_non_exhaustive()
    }
}

/// The Collector's own HPKE keypair, as `dyad collector init` writes it.
/// Only the `hpke_config` part is ever handed to anyone.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectorKeyFile {
    /// The encoded HpkeConfig (DAP-09 section 4.4.1), base64url: public.
    pub hpke_config: String,
    /// The HPKE private key, base64url: secret.
    pub hpke_private_key: String,
}

impl std::fmt::Debug for CollectorKeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CollectorKeyFile")
            .field("hpke_config", &self.hpke_config)
            .finish_non_exhaustive()
    }
}

/// Reads a YAML file of type `T`, naming the file once in any error.
pub fn read_yaml<T: DeserializeOwned>(path: &Path, what: &str) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {what} {}", path.display()))?;
    serde_yaml::from_str(&text).with_context(|| format!("{} is not a {what}", path.display()))
}

/// Writes `value` as YAML to a file only its owner can read (for files
/// holding a token or a private key).
pub fn write_secret_yaml<T: Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    use std::io::Write as _;
    let text = serde_yaml::to_string(value)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Writes `value` as YAML to a file anyone may read (public parameters).
pub fn write_public_yaml<T: Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    std::fs::write(path, serde_yaml::to_string(value)?)
        .with_context(|| format!("cannot write {}", path.display()))
}
