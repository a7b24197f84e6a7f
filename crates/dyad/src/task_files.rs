//! The files that pass between the three parties of a task (DAP-09 section
//! 4.2), each holding only what its reader must know:
//!
//! | file | written by | read by | secret? |
//! |---|---|---|---|
//! | [`PeerTaskFile`] (`helper-task.yaml` / `leader-task.yaml`) | the generating aggregator's `task add --generate` | the other aggregator's `task add --file` | yes: the verify key and the Leader→Helper token |
//! | [`ClientTaskFile`] (`client-task.yaml`) | the Leader's `task add` | `dyad upload --task-file` | no |
//! | [`CollectorTaskFile`] (`collector-task.yaml`) | the Leader's `task add` | `dyad collect --credentials` | yes: the collector's token |
//! | [`CollectorKeyFile`] (`collector-key.yaml`) | `dyad collector init` | `dyad collect --hpke-key` | yes: the collector's private key |
//!
//! No file written by one party holds another party's private key.

use anyhow::Context as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use dyad_core::hpke::{HpkeKeypair, HpkePrivateKey};
use dyad_core::task::{AuthenticationToken, BatchMode, VerifyKey};
use dyad_core::vdaf::{DpStrategy, VdafInstance};
use dyad_messages::draft09::{Duration, HpkeConfig, HpkeConfigId, Role, TaskId, Time};
use dyad_messages::{Decode as _, Encode as _};
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
    /// The noise the aggregators add: the collected result is noisy unless
    /// `NoDifferentialPrivacy` (left out then).
    #[serde(default, skip_serializing_if = "DpStrategy::is_none")]
    pub dp_strategy: DpStrategy,
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
            .field("dp_strategy", &self.dp_strategy)
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

impl CollectorKeyFile {
    /// A fresh keypair with the suite every DAP implementation supports
    /// (DAP-09 section 6), and this file holding it.
    pub fn generate(id: HpkeConfigId) -> anyhow::Result<(HpkeKeypair, Self)> {
        let keypair = HpkeKeypair::generate_default(id);
        let file = CollectorKeyFile {
            hpke_config: encode_hpke_config(keypair.config())?,
            hpke_private_key: URL_SAFE_NO_PAD.encode(keypair.private_key().as_bytes()),
        };
        Ok((keypair, file))
    }

    /// The keypair, checked: the config decodes and the private key is its
    /// public key's.
    pub fn keypair(&self) -> anyhow::Result<HpkeKeypair> {
        let config = decode_hpke_config(&self.hpke_config).context("hpke_config")?;
        let private_key: HpkePrivateKey = self
            .hpke_private_key
            .trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("hpke_private_key is not base64url"))?;
        HpkeKeypair::new(config, private_key)
            .context("hpke_private_key is not the private key of hpke_config")
    }
}

/// What the generating aggregator hands the other aggregator's operator
/// (DAP-09 section 4.2): the task's shared parameters, the VDAF verify key,
/// the Leader→Helper token and the Collector's public HPKE config. It holds
/// no HPKE private key: the reader makes its own keypair when it imports
/// the file. Secret (verify key, token): written with mode 0600, redacted in
/// `Debug`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerTaskFile {
    /// The role of the aggregator this file is for (`leader` or `helper`).
    pub role: Role,
    pub task_id: TaskId,
    pub leader: Url,
    pub helper: Url,
    pub vdaf: VdafInstance,
    /// The noise both aggregators add to their aggregate shares (left out
    /// for `NoDifferentialPrivacy`).
    #[serde(default, skip_serializing_if = "DpStrategy::is_none")]
    pub dp_strategy: DpStrategy,
    pub batch_mode: BatchMode,
    pub min_batch_size: u64,
    /// Seconds.
    pub time_precision: Duration,
    pub max_batch_query_count: u64,
    /// Seconds since the epoch after which clients stop uploading, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_expiration: Option<Time>,
    /// `vdaf_verify_key`, base64url.
    pub vdaf_verify_key: VerifyKey,
    /// The token the Leader presents to the Helper (DAP-09 section 3.1).
    /// The Helper keeps only its hash.
    pub aggregator_auth_token: AuthenticationToken,
    /// The Collector's encoded HpkeConfig (DAP-09 section 4.4.1), base64url:
    /// public; aggregate shares are sealed to it.
    #[serde(with = "hpke_config_base64url")]
    pub collector_hpke_config: HpkeConfig,
}

impl std::fmt::Debug for PeerTaskFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerTaskFile")
            .field("role", &self.role)
            .field("task_id", &self.task_id)
            .field("leader", &self.leader.as_str())
            .field("helper", &self.helper.as_str())
            .field("vdaf", &self.vdaf)
            .field("dp_strategy", &self.dp_strategy)
            .field("batch_mode", &self.batch_mode)
            .finish_non_exhaustive()
    }
}

/// An HpkeConfig in its DAP encoding, as unpadded base64url.
pub fn encode_hpke_config(config: &HpkeConfig) -> anyhow::Result<String> {
    Ok(URL_SAFE_NO_PAD.encode(config.get_encoded().context("encoding the HpkeConfig")?))
}

/// Decodes a base64url HpkeConfig (surrounding whitespace ignored, padding
/// optional), saying which of the two steps failed.
pub fn decode_hpke_config(text: &str) -> anyhow::Result<HpkeConfig> {
    let bytes = URL_SAFE_NO_PAD
        .decode(text.trim().trim_end_matches('='))
        .context("not base64url")?;
    HpkeConfig::get_decoded(&bytes).context("not an encoded HpkeConfig")
}

/// `#[serde(with)]` for an [`HpkeConfig`] as base64url text.
mod hpke_config_base64url {
    use dyad_messages::draft09::HpkeConfig;
    use serde::{Deserialize as _, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(config: &HpkeConfig, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(
            &crate::task_files::encode_hpke_config(config).map_err(serde::ser::Error::custom)?,
        )
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<HpkeConfig, D::Error> {
        let text = String::deserialize(d)?;
        crate::task_files::decode_hpke_config(&text)
            .map_err(|error| serde::de::Error::custom(format!("collector_hpke_config: {error:#}")))
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
