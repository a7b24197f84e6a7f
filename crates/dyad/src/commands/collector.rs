//! `dyad collector`: the Collector's own setup. `init` makes the Collector's
//! HPKE keypair (DAP-09 section 4.6: aggregate shares are sealed to it), keeps
//! the private key in `collector-key.yaml` (mode 0600) and writes the public
//! config to `collector-hpke-config.txt`, for the Leader's operator to put
//! into the task. The private key never leaves the Collector.

use crate::output::OutputFormat;
use crate::task_files::{write_secret_yaml, CollectorKeyFile};
use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};
use dyad_messages::draft09::HpkeConfigId;
use std::path::{Path, PathBuf};

/// The Collector's private key file.
pub const KEY_FILE: &str = "collector-key.yaml";
/// The Collector's public HPKE config, base64url, one line.
pub const PUBLIC_CONFIG_FILE: &str = "collector-hpke-config.txt";

#[derive(Debug, Subcommand)]
pub enum CollectorCommand {
    /// Make the Collector's HPKE keypair: the private key stays in
    /// collector-key.yaml, the public config goes to the Leader's operator.
    Init(InitArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The folder to write collector-key.yaml and collector-hpke-config.txt
    /// into (created if missing).
    #[arg(long)]
    out_dir: PathBuf,
    /// The HPKE config ID of the keypair.
    #[arg(long, default_value_t = 1)]
    config_id: u8,
    /// Replace an existing collector-key.yaml. Results sealed to the old key
    /// can then no longer be opened.
    #[arg(long)]
    force: bool,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

pub fn run(command: CollectorCommand) -> anyhow::Result<()> {
    match command {
        CollectorCommand::Init(args) => init(args),
    }
}

fn init(args: InitArgs) -> anyhow::Result<()> {
    if args.format == OutputFormat::Csv {
        bail!("`collector init` answers as a table or JSON, not CSV");
    }
    let (key_path, config_path) = write_key_files(&args.out_dir, args.config_id, args.force)?;
    let public = std::fs::read_to_string(&config_path)?;
    if args.format == OutputFormat::Json {
        let answer = serde_json::json!({
            "key_file": key_path.display().to_string(),
            "hpke_config_file": config_path.display().to_string(),
            "hpke_config": public.trim(),
        });
        outln!("{}", serde_json::to_string_pretty(&answer)?)?;
        return Ok(());
    }
    let mut table = crate::output::Table::new(["FILE", "HOLDS", "SECRET"]);
    table
        .row([
            key_path.display().to_string(),
            "the Collector's HPKE keypair".to_owned(),
            "yes: mode 0600, never leaves the Collector".to_owned(),
        ])
        .row([
            config_path.display().to_string(),
            "the public HpkeConfig (base64url)".to_owned(),
            "no".to_owned(),
        ]);
    out!("{}", table.render())?;
    outln!()?;
    outln!(
        "next: send {PUBLIC_CONFIG_FILE} to the Leader's operator, who runs \
         `dyad task add --generate --role leader --collector-hpke-config {PUBLIC_CONFIG_FILE} ...` \
         and sends back collector-task.yaml (the task and your collector token)"
    )?;
    outln!("next: collect with collector-task.yaml and {KEY_FILE}")?;
    Ok(())
}

/// Makes a keypair and writes its two files into `out_dir`; refuses to
/// replace an existing key file unless `force`. Returns their paths.
pub fn write_key_files(
    out_dir: &Path,
    config_id: u8,
    force: bool,
) -> anyhow::Result<(PathBuf, PathBuf)> {
    let key_path = out_dir.join(KEY_FILE);
    let config_path = out_dir.join(PUBLIC_CONFIG_FILE);
    if key_path.exists() && !force {
        bail!(
            "{} already exists: replacing it would lose the key that opens this Collector's \
             results (give --force to replace it anyway)",
            key_path.display()
        );
    }
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("cannot create --out-dir {}", out_dir.display()))?;
    let (_, file) = CollectorKeyFile::generate(HpkeConfigId(config_id))?;
    // An existing key file keeps its old mode when truncated: remove it first
    // so the new one is created 0600.
    if key_path.exists() {
        std::fs::remove_file(&key_path)
            .with_context(|| format!("cannot replace {}", key_path.display()))?;
    }
    write_secret_yaml(&key_path, &file)?;
    std::fs::write(&config_path, format!("{}\n", file.hpke_config))
        .with_context(|| format!("cannot write {}", config_path.display()))?;
    Ok((key_path, config_path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task_files::{decode_hpke_config, read_yaml};

    #[test]
    fn init_writes_a_private_key_file_and_its_public_config() {
        let dir = tempfile::tempdir().unwrap();
        let (key_path, config_path) = write_key_files(dir.path(), 5, false).unwrap();
        let file: CollectorKeyFile = read_yaml(&key_path, "collector key file").unwrap();
        let keypair = file.keypair().unwrap();
        let public = std::fs::read_to_string(&config_path).unwrap();
        assert_eq!(&decode_hpke_config(&public).unwrap(), keypair.config());
        assert_eq!(keypair.config().id, HpkeConfigId(5));
        assert!(!public.contains(&file.hpke_private_key));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&key_path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn init_never_replaces_a_key_unless_forced() {
        let dir = tempfile::tempdir().unwrap();
        let (key_path, _) = write_key_files(dir.path(), 1, false).unwrap();
        let before = std::fs::read_to_string(&key_path).unwrap();
        let error = write_key_files(dir.path(), 1, false).unwrap_err();
        assert!(format!("{error:#}").contains("--force"), "{error:#}");
        assert_eq!(std::fs::read_to_string(&key_path).unwrap(), before);
        write_key_files(dir.path(), 1, true).unwrap();
        assert_ne!(std::fs::read_to_string(&key_path).unwrap(), before);
    }

    #[test]
    fn the_key_file_debug_hides_the_private_key() {
        let (_, file) = CollectorKeyFile::generate(HpkeConfigId(1)).unwrap();
        assert!(!format!("{file:?}").contains(&file.hpke_private_key));
    }
}
