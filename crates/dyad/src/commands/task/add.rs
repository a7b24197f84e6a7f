//! `dyad task add`: provision a task so that every private key stays with
//! its owner (DAP-09 section 4.2). `--generate` makes a new task on one
//! aggregator, given the Collector's public HPKE config; `--file` imports
//! the task file it wrote on the other aggregator. Each aggregator makes its
//! own HPKE keypair; the files written hold no private key (see
//! `provision.rs` and `task_files.rs`).

use super::DatastoreArgs;
use crate::output::OutputFormat;
use crate::provision::{self, LocalPolicy, Provisioned, TaskParameters};
use crate::task_files::{
    decode_hpke_config, read_yaml, write_public_yaml, write_secret_yaml, PeerTaskFile,
};
use anyhow::{bail, Context as _};
use clap::{Args, ValueEnum};
use dyad_core::hpke::HpkeCiphersuite;
use dyad_core::task::{BatchMode, Task, VerifyKey};
use dyad_core::vdaf::{DpStrategy, VdafInstance};
use dyad_datastore::DatastoreExt as _;
use dyad_messages::draft09::{Duration, HpkeConfig, Role, TaskId, Time};
use std::path::{Path, PathBuf};
use url::Url;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum BatchModeArg {
    TimeInterval,
    FixedSize,
}

/// Whose HPKE keys a task uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum HpkeKeysArg {
    /// A keypair of the task's own, made now.
    Task,
    /// The aggregator's global keys (`dyad hpke-key`, the key-rotator role).
    Global,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum RoleArg {
    Leader,
    Helper,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    #[command(flatten)]
    pub(super) datastore: DatastoreArgs,
    /// The task file the other aggregator's `task add --generate` wrote
    /// (`helper-task.yaml` or `leader-task.yaml`). This aggregator makes its
    /// own HPKE keypair; a Leader also writes the Collector's and the
    /// clients' files into --out-dir.
    #[arg(
        long,
        conflicts_with = "generate",
        required_unless_present = "generate"
    )]
    pub(super) file: Option<PathBuf>,
    /// Generate a new task: its ID, verify key, the Leader→Helper token and
    /// this aggregator's HPKE keypair (and, as Leader, the Collector's
    /// token). Stores this aggregator's task and writes the other files into
    /// --out-dir.
    #[arg(long, requires_all = ["role", "leader", "helper", "vdaf", "min_batch_size", "time_precision", "collector_hpke_config", "out_dir"])]
    pub(super) generate: bool,
    /// This aggregator's role in the generated task.
    #[arg(long, value_enum, requires = "generate")]
    pub(super) role: Option<RoleArg>,
    /// The Collector's public HPKE config: the file `dyad collector init`
    /// wrote (`collector-hpke-config.txt`), or its base64url text.
    #[arg(
        long,
        value_name = "FILE|BASE64",
        requires = "generate",
        allow_hyphen_values = true
    )]
    pub(super) collector_hpke_config: Option<String>,
    /// The Leader's DAP base URL.
    #[arg(long, requires = "generate")]
    pub(super) leader: Option<Url>,
    /// The Helper's DAP base URL.
    #[arg(long, requires = "generate")]
    pub(super) helper: Option<Url>,
    /// The VDAF, as JSON, e.g. '{"type":"Prio3Histogram","length":"4","chunk_length":"2"}'.
    #[arg(long, requires = "generate")]
    pub(super) vdaf: Option<VdafInstance>,
    /// Differential privacy: the noise both aggregators add to their
    /// aggregate shares, so the Collector gets a noisy total.
    /// `PureDpDiscreteLaplace:EPSILON` (Prio3Histogram, Prio3SumVec) or
    /// `ZCdpDiscreteGaussian:EPSILON` (Prio3FixedPointBoundedL2VecSum), epsilon
    /// an integer, N/D or a decimal (smaller: more noise); or its JSON form
    /// (see docs/CONFIGURING.md, "Differential privacy"). Default:
    /// NoDifferentialPrivacy (exact results).
    #[arg(long, value_name = "STRATEGY", requires = "generate")]
    pub(super) dp_strategy: Option<DpStrategy>,
    #[arg(long, value_enum, default_value_t = BatchModeArg::TimeInterval)]
    pub(super) batch_mode: BatchModeArg,
    /// fixed-size only: the most reports a batch may hold.
    #[arg(long, requires = "generate")]
    pub(super) max_batch_size: Option<u64>,
    #[arg(long, requires = "generate")]
    pub(super) min_batch_size: Option<u64>,
    /// Seconds.
    #[arg(long, requires = "generate")]
    pub(super) time_precision: Option<u64>,
    /// How many times a batch may be collected (DAP-09 section 4.6.5);
    /// default 1, or for a VDAF collected level by level (Poplar1) its
    /// number of levels, so that a whole heavy-hitters walk fits.
    #[arg(long)]
    pub(super) max_batch_query_count: Option<u64>,
    /// Seconds since the epoch after which reports are rejected.
    #[arg(long, requires = "generate")]
    pub(super) task_expiration: Option<u64>,
    /// This aggregator only: seconds after which reports are too old to
    /// aggregate.
    #[arg(long)]
    pub(super) report_expiry_age: Option<u64>,
    /// This aggregator only: seconds of clock skew tolerated in report
    /// timestamps.
    #[arg(long)]
    pub(super) tolerable_clock_skew: Option<u64>,
    /// This aggregator's HPKE keys for the task: `task`, a keypair of the
    /// task's own made now; or `global`, the aggregator's global keys, which
    /// the key-rotator role rotates (see `dyad hpke-key`).
    #[arg(long, value_enum, default_value_t = HpkeKeysArg::Task)]
    pub(super) hpke_keys: HpkeKeysArg,
    /// Where to write the files for the other parties (created if missing;
    /// existing files are never overwritten).
    #[arg(long)]
    pub(super) out_dir: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub(super) format: OutputFormat,
}

impl AddArgs {
    /// Whether the task goes to a management API (`--api`).
    pub(super) fn over_api(&self) -> bool {
        self.datastore.has_api()
    }
}

/// The task ID a management API gives a task (`POST /tasks`): SHA-256 of
/// its verify key's bytes.
pub(super) fn api_task_id(key: &VerifyKey) -> TaskId {
    use sha2::Digest as _;
    TaskId::from_bytes(sha2::Sha256::digest(key.as_bytes()).into())
}

/// One file written for another party.
pub(super) struct Written {
    path: PathBuf,
    reader: &'static str,
    /// What makes the file secret, if anything.
    secret: Option<&'static str>,
    /// What its reader does with it.
    next: String,
}

pub async fn run(args: AddArgs) -> anyhow::Result<()> {
    if args.format == OutputFormat::Csv {
        bail!("`task add` answers as a table or JSON, not CSV");
    }
    let policy = LocalPolicy {
        report_expiry_age: args.report_expiry_age.map(Duration::from_seconds),
        tolerable_clock_skew: args.tolerable_clock_skew.map(Duration::from_seconds),
    };
    // Everything that can fail without side effects fails first: the task
    // is stored only once its files can be written, and written only once it
    // is stored.
    let (provisioned, peer_file) = if let Some(path) = &args.file {
        let peer_file = read_peer_task_file(path)?;
        (provision::import(&peer_file, &policy)?, None)
    } else {
        let generated = provision::generate(
            &parameters(&args)?,
            match args.role.context("give --role")? {
                RoleArg::Leader => Role::Leader,
                RoleArg::Helper => Role::Helper,
            },
            parse_collector_hpke_config(
                args.collector_hpke_config
                    .as_deref()
                    .context("give --collector-hpke-config")?,
            )?,
            &policy,
        )?;
        (generated.mine, Some(generated.peer_file))
    };
    let mut provisioned = provisioned;
    if args.hpke_keys == HpkeKeysArg::Global {
        provisioned.task = without_own_keys(&provisioned.task)?;
    }
    let out_dir = prepare_out_dir(&provisioned, peer_file.as_ref(), args.out_dir.as_deref())?;
    store(&args.datastore, provisioned.task.clone()).await?;
    if args.hpke_keys == HpkeKeysArg::Global {
        note_missing_global_key(&args.datastore).await;
    }
    let written = match out_dir {
        Some(out_dir) => {
            write_files(&out_dir, &provisioned, peer_file.as_ref()).map_err(|error| {
                crate::report::hinted(
                    format!(
                        "task {} is stored, but its files could not all be written: {error:#}",
                        provisioned.task.task_id()
                    ),
                    "remove it with `dyad task delete`, empty --out-dir and add it again",
                )
            })?
        }
        None => Vec::new(),
    };
    report(&provisioned.task, &written, args.format)
}

/// The shared task parameters from the flags of `--generate`.
pub(super) fn parameters(args: &AddArgs) -> anyhow::Result<TaskParameters> {
    let vdaf = args.vdaf.context("give --vdaf")?;
    let dp_strategy = args.dp_strategy.clone().unwrap_or_default();
    dp_strategy.check_for(&vdaf).map_err(|error| {
        crate::report::hinted(
            format!("--dp-strategy: {error}"),
            "leave --dp-strategy out for exact results",
        )
    })?;
    Ok(TaskParameters {
        leader: args.leader.clone().context("give --leader")?,
        helper: args.helper.clone().context("give --helper")?,
        vdaf,
        dp_strategy,
        batch_mode: match args.batch_mode {
            BatchModeArg::TimeInterval => {
                if args.max_batch_size.is_some() {
                    bail!("--max-batch-size applies only to --batch-mode fixed-size");
                }
                BatchMode::TimeInterval
            }
            BatchModeArg::FixedSize => BatchMode::FixedSize {
                max_batch_size: args.max_batch_size,
            },
        },
        min_batch_size: args.min_batch_size.context("give --min-batch-size")?,
        time_precision: Duration::from_seconds(
            args.time_precision.context("give --time-precision")?,
        ),
        max_batch_query_count: args
            .max_batch_query_count
            .unwrap_or_else(|| default_max_batch_query_count(&vdaf)),
        task_expiration: args.task_expiration.map(Time::from_seconds_since_epoch),
    })
}

/// One collection per batch, or one per level for a VDAF collected level
/// by level (its parameter chosen at each collection).
pub(super) fn default_max_batch_query_count(vdaf: &VdafInstance) -> u64 {
    match dyad_core::vdaf::param_kind(vdaf) {
        dyad_core::vdaf::ParamKind::Levelled { levels } => levels,
        dyad_core::vdaf::ParamKind::Single(_) => 1,
    }
}

/// `--collector-hpke-config`: a file holding the base64url HpkeConfig, or
/// the text itself. The suite must be one dyad can seal aggregate shares to.
pub(crate) fn parse_collector_hpke_config(arg: &str) -> anyhow::Result<HpkeConfig> {
    const HINT: &str = "give the collector-hpke-config.txt that `dyad collector init` wrote";
    let path = Path::new(arg);
    let (text, source) = if path.is_file() {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read --collector-hpke-config {}", path.display()))?;
        (text, path.display().to_string())
    } else if arg.contains(['/', '.']) {
        // base64url has neither character: this was meant as a file.
        return Err(crate::report::hinted(
            format!("--collector-hpke-config: no file {}", path.display()),
            HINT,
        ));
    } else {
        (arg.to_owned(), "the value".to_owned())
    };
    if text.contains("hpke_private_key") {
        bail!(
            "--collector-hpke-config: {source} holds the Collector's private key; give the \
             public config instead (collector-hpke-config.txt, written beside it by \
             `dyad collector init`), and keep the private key with the Collector"
        );
    }
    let config = decode_hpke_config(&text).map_err(|error| {
        crate::report::hinted(
            format!("--collector-hpke-config: {source} is not a base64url HpkeConfig ({error:#})"),
            HINT,
        )
    })?;
    let suite = HpkeCiphersuite::of(&config);
    if !suite.is_supported() {
        return Err(crate::report::hinted(
            format!(
                "--collector-hpke-config: the config's HPKE suite (KEM {:?}, KDF {:?}, AEAD {:?}) \
                 is not one dyad can seal to",
                suite.kem, suite.kdf, suite.aead
            ),
            "`dyad collector init` makes a supported one",
        ));
    }
    Ok(config)
}

/// Reads a peer task file, recognising the full task files (with the
/// Helper's private key) that earlier versions wrote.
pub(super) fn read_peer_task_file(path: &Path) -> anyhow::Result<PeerTaskFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read task file {}", path.display()))?;
    if let Ok(serde_yaml::Value::Mapping(map)) = serde_yaml::from_str(&text) {
        if map.contains_key("hpke_keys") {
            bail!(
                "{} holds an HPKE private key made by the other aggregator, which this \
                 aggregator no longer accepts; generate the task again with `dyad task add \
                 --generate --collector-hpke-config ...` and import the helper-task.yaml it \
                 writes",
                path.display()
            );
        }
    }
    read_yaml(path, "task file (helper-task.yaml or leader-task.yaml)")
}

/// The names of the files this side writes for the other parties.
fn file_names(provisioned: &Provisioned, peer_file: Option<&PeerTaskFile>) -> Vec<&'static str> {
    let mut names = Vec::new();
    if let Some(peer) = peer_file {
        names.push(peer_file_name(peer.role));
    }
    if provisioned.collector_file.is_some() {
        names.push(COLLECTOR_TASK_FILE);
    }
    if provisioned.client_file.is_some() {
        names.push(CLIENT_TASK_FILE);
    }
    names
}

const COLLECTOR_TASK_FILE: &str = "collector-task.yaml";
const CLIENT_TASK_FILE: &str = "client-task.yaml";

/// The name of the file for the aggregator in `role`.
fn peer_file_name(role: Role) -> &'static str {
    match role {
        Role::Leader => "leader-task.yaml",
        _ => "helper-task.yaml",
    }
}

/// The folder the files go into, if there are any: created, and checked to
/// hold none of them yet, before anything is stored.
pub(super) fn prepare_out_dir(
    provisioned: &Provisioned,
    peer_file: Option<&PeerTaskFile>,
    out_dir: Option<&Path>,
) -> anyhow::Result<Option<PathBuf>> {
    let names = file_names(provisioned, peer_file);
    if names.is_empty() {
        return Ok(None);
    }
    let Some(out_dir) = out_dir else {
        bail!(
            "give --out-dir: as the {}, this aggregator writes {} for the other parties",
            provisioned.task.role(),
            names.join(" and ")
        );
    };
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("cannot create --out-dir {}", out_dir.display()))?;
    for name in &names {
        let path = out_dir.join(name);
        if path.exists() {
            bail!(
                "{} already exists (from another task?); give an empty --out-dir",
                path.display()
            );
        }
    }
    Ok(Some(out_dir.to_path_buf()))
}

/// The task without its own HPKE keypair: it uses the global keys.
fn without_own_keys(task: &Task) -> anyhow::Result<Task> {
    task.to_builder()
        .hpke_keys(Vec::new())
        .build()
        .context("removing the task's own HPKE keys")
}

/// A note when no global key is active yet: until one is, the task's
/// `GET /hpke_config` fails and no Client can upload.
async fn note_missing_global_key(datastore: &DatastoreArgs) {
    let Ok(datastore) = datastore.open().await else {
        return;
    };
    let keys = datastore
        .run_read_tx("get_global_hpke_keys", |tx| {
            Box::pin(async move { Ok(tx.get_global_hpke_keys().await?) })
        })
        .await;
    let active = keys.is_ok_and(|keys| {
        keys.iter()
            .any(|key| key.state == dyad_datastore::models::HpkeKeyState::Active)
    });
    if !active {
        noteln!(
            "note: no global HPKE key is active yet: run the key-rotator role or              `dyad hpke-key add --state active` before Clients upload"
        );
    }
}

async fn store(datastore: &DatastoreArgs, task: Task) -> anyhow::Result<()> {
    let task_id = *task.task_id();
    datastore
        .open()
        .await?
        .run_tx("add_task", move |tx| {
            let task = task.clone();
            Box::pin(async move { Ok(tx.put_task(&task).await?) })
        })
        .await
        .with_context(|| format!("cannot store task {task_id}"))
}

/// Writes the files for the other parties: secret ones readable by their
/// owner only.
pub(super) fn write_files(
    out_dir: &Path,
    provisioned: &Provisioned,
    peer_file: Option<&PeerTaskFile>,
) -> anyhow::Result<Vec<Written>> {
    let mut written = Vec::new();
    if let Some(peer) = peer_file {
        let name = peer_file_name(peer.role);
        let path = out_dir.join(name);
        write_secret_yaml(&path, peer)?;
        let (reader, extra) = match peer.role {
            Role::Leader => (
                "the Leader's operator",
                " --out-dir DIR` (it writes the Collector's and the clients' files there)",
            ),
            _ => ("the Helper's operator", "`"),
        };
        // A management API derives the task ID from the verify key: only
        // such a task can be added through one.
        let or_api =
            if peer.role == Role::Leader && peer.task_id == api_task_id(&peer.vdaf_verify_key) {
                " (or `--api URL` instead of --config, for its management API)"
            } else {
                ""
            };
        written.push(Written {
            path,
            reader,
            secret: Some("verify key, Leader→Helper token"),
            next: format!(
                "send {name} to {reader} over a private channel; they run \
                 `dyad task add --config SERVE_CONFIG --file {name}{extra}{or_api}"
            ),
        });
    }
    if let Some(collector) = &provisioned.collector_file {
        let path = out_dir.join(COLLECTOR_TASK_FILE);
        write_secret_yaml(&path, collector)?;
        written.push(Written {
            path,
            reader: "the Collector",
            secret: Some("collector token"),
            next: format!(
                "send {COLLECTOR_TASK_FILE} to the Collector over a private channel; with \
                 its own collector-key.yaml it can collect"
            ),
        });
    }
    if let Some(client) = &provisioned.client_file {
        let path = out_dir.join(CLIENT_TASK_FILE);
        write_public_yaml(&path, client)?;
        written.push(Written {
            path,
            reader: "clients",
            secret: None,
            next: format!("publish {CLIENT_TASK_FILE} to the clients"),
        });
    }
    Ok(written)
}

/// Prints what was stored and written, and what to do next.
pub(super) fn report(task: &Task, written: &[Written], format: OutputFormat) -> anyhow::Result<()> {
    if format == OutputFormat::Json {
        let files: Vec<_> = written
            .iter()
            .map(|w| {
                serde_json::json!({
                    "path": w.path.display().to_string(),
                    "for": w.reader,
                    "secret": w.secret.is_some(),
                })
            })
            .collect();
        let answer = serde_json::json!({
            "task_id": task.task_id().to_string(),
            "role": task.role().as_str(),
            "vdaf": task.vdaf().to_string(),
            "dp_strategy": task.dp_strategy(),
            "files": files,
        });
        outln!("{}", serde_json::to_string_pretty(&answer)?)?;
        return Ok(());
    }
    let keys = if task.hpke_keys().is_empty() {
        "with this aggregator's global HPKE keys"
    } else {
        "with this aggregator's own HPKE key"
    };
    outln!(
        "stored task {} as the {} ({}, {keys})",
        task.task_id(),
        task.role(),
        task.vdaf()
    )?;
    if !task.dp_strategy().is_none() {
        outln!(
            "differential privacy: {}; each aggregator adds noise to its aggregate share, \
             so collected results are noisy",
            task.dp_strategy()
        )?;
    }
    if written.is_empty() {
        return Ok(());
    }
    let mut table = crate::output::Table::new(["FILE", "FOR", "SECRET"]);
    for w in written {
        table.row([
            w.path.display().to_string(),
            w.reader.to_owned(),
            match w.secret {
                Some(what) => format!("yes ({what}): mode 0600"),
                None => "no".to_owned(),
            },
        ]);
    }
    outln!()?;
    out!("{}", table.render())?;
    outln!()?;
    for w in written {
        outln!("next: {}", w.next)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task_files::{encode_hpke_config, CollectorKeyFile};
    use dyad_messages::draft09::{HpkeAeadId, HpkeConfigId, HpkeKdfId, HpkeKemId, HpkePublicKey};

    fn public_config() -> (HpkeConfig, CollectorKeyFile) {
        let (keypair, file) = CollectorKeyFile::generate(HpkeConfigId(3)).unwrap();
        (keypair.config().clone(), file)
    }

    #[test]
    fn collector_hpke_config_is_read_from_a_file_or_the_value() {
        let (config, file) = public_config();
        assert_eq!(
            parse_collector_hpke_config(&file.hpke_config).unwrap(),
            config
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("collector-hpke-config.txt");
        std::fs::write(&path, format!("{}\n", file.hpke_config)).unwrap();
        assert_eq!(
            parse_collector_hpke_config(path.to_str().unwrap()).unwrap(),
            config
        );
    }

    #[test]
    fn bad_collector_hpke_config_says_what_is_wrong_once() {
        let error = format!(
            "{:#}",
            parse_collector_hpke_config("not base64!").unwrap_err()
        );
        assert!(error.contains("is not a base64url HpkeConfig"), "{error}");
        assert!(error.contains("not base64url"), "{error}");
        assert_eq!(
            error.matches("--collector-hpke-config").count(),
            1,
            "{error}"
        );

        let error = format!("{:#}", parse_collector_hpke_config("AAAA").unwrap_err());
        assert!(error.contains("not an encoded HpkeConfig"), "{error}");

        let error = format!(
            "{:#}",
            parse_collector_hpke_config("/no/such/collector-hpke-config.txt").unwrap_err()
        );
        assert!(
            error.starts_with("--collector-hpke-config: no file /no/such/"),
            "{error}"
        );
    }

    #[test]
    fn the_collector_private_key_file_is_refused_without_echoing_it() {
        let (_, file) = public_config();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("collector-key.yaml");
        std::fs::write(&path, serde_yaml::to_string(&file).unwrap()).unwrap();
        let error = format!(
            "{:#}",
            parse_collector_hpke_config(path.to_str().unwrap()).unwrap_err()
        );
        assert!(
            error.contains("holds the Collector's private key"),
            "{error}"
        );
        assert!(!error.contains(&file.hpke_private_key), "{error}");
    }

    #[test]
    fn an_unsupported_hpke_suite_is_refused() {
        let config = HpkeConfig {
            id: HpkeConfigId(1),
            kem_id: HpkeKemId::from(0x7777),
            kdf_id: HpkeKdfId::from(1),
            aead_id: HpkeAeadId::from(1),
            public_key: HpkePublicKey::from(vec![1; 32]),
        };
        let text = encode_hpke_config(&config).unwrap();
        let error = format!("{:#}", parse_collector_hpke_config(&text).unwrap_err());
        assert!(error.contains("is not one dyad can seal to"), "{error}");
    }

    #[test]
    fn an_old_full_task_file_with_a_private_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("peer-task.yaml");
        std::fs::write(&path, "task_id: x\nhpke_keys: []\n").unwrap();
        let error = format!("{:#}", read_peer_task_file(&path).unwrap_err());
        assert!(error.contains("holds an HPKE private key"), "{error}");
    }
}
