//! `dyad taskprov-peer add`: stores a taskprov peer aggregator: its
//! endpoint and role, the Collector's public HPKE config every task with
//! it gets, the `verify_key_init` both aggregators share (from a file, or
//! a new one written to a file, owner-only, for the peer's operator), and
//! the tokens (from files, one per line: never on the command line, where
//! other users could read them). With `--api`, through a management API
//! (`POST /taskprov/peer_aggregators`).
//!
//! A Leader peer (this aggregator is the Helper): `--aggregator-auth-token-file`
//! holds the tokens the Leader presents, stored as hashes. A Helper peer
//! (this aggregator is the Leader): its first line is the token sent to
//! the Helper, and `--collector-auth-token-file` holds the Collector's,
//! stored as hashes.

use super::view::{render, PeerView};
use crate::commands::task::{parse_collector_hpke_config, DatastoreArgs};
use crate::output::OutputFormat;
use crate::report::hinted;
use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use dyad_aggregator::management::models::{AuthTokenJson, HpkeConfigJson};
use dyad_aggregator::management::taskprov_peers::{
    role_name, PeerAggregatorJson, PostPeerAggregatorRequest,
};
use dyad_core::task::{AuthenticationToken, AuthenticationTokenType, StoredAuthenticationToken};
use dyad_core::taskprov::{PeerAggregator, VerifyKeyInit};
use dyad_datastore::{DatastoreError, DatastoreExt, TxError};
use dyad_messages::draft09::{Duration, Role};
use reqwest::Method;
use std::path::{Path, PathBuf};
use url::Url;
use zeroize::Zeroizing;

/// The peer's role in the tasks it shares with this aggregator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PeerRole {
    /// The peer leads (this aggregator is the Helper).
    Leader,
    /// The peer helps (this aggregator is the Leader).
    Helper,
}

/// How the tokens are presented.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TokenType {
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// `DAP-Auth-Token: <token>`.
    DapAuth,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    #[command(flatten)]
    datastore: DatastoreArgs,
    /// The peer's DAP base URL, as TaskConfigs name it.
    #[arg(long)]
    endpoint: Url,
    /// The peer's role.
    #[arg(long, value_enum)]
    role: PeerRole,
    /// The Collector's public HPKE config: the file `dyad collector init`
    /// wrote (`collector-hpke-config.txt`), or its base64url text.
    #[arg(long, value_name = "FILE|TEXT")]
    collector_hpke_config: String,
    /// A file holding the 32-byte secret shared with the peer, unpadded
    /// base64url.
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "new_verify_key_init"
    )]
    verify_key_init_file: Option<PathBuf>,
    /// Make a new shared secret and write it to FILE (readable by its owner
    /// only; give it to the peer's operator over a secure channel).
    #[arg(long, value_name = "FILE", conflicts_with = "verify_key_init_file")]
    new_verify_key_init: Option<PathBuf>,
    /// A file with the aggregator auth tokens, one per line.
    #[arg(long, value_name = "FILE")]
    aggregator_auth_token_file: PathBuf,
    /// A Helper peer only: a file with the Collector's auth tokens, one per
    /// line.
    #[arg(long, value_name = "FILE")]
    collector_auth_token_file: Option<PathBuf>,
    /// How the tokens are presented.
    #[arg(long, value_enum, default_value_t = TokenType::Bearer)]
    token_type: TokenType,
    /// Seconds after which the reports of the peer's tasks may be deleted;
    /// kept when absent.
    #[arg(long, value_name = "SECS")]
    report_expiry_age: Option<u64>,
    /// Seconds of clock skew tolerated in report timestamps.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    tolerable_clock_skew: u64,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

pub async fn run(args: AddArgs) -> anyhow::Result<()> {
    let role = match args.role {
        PeerRole::Leader => Role::Leader,
        PeerRole::Helper => Role::Helper,
    };
    if role == Role::Leader && args.collector_auth_token_file.is_some() {
        return Err(hinted(
            "--collector-auth-token-file is for a Helper peer: a Helper takes no Collector requests",
            "leave it out for --role leader",
        ));
    }
    if role == Role::Helper && args.collector_auth_token_file.is_none() {
        return Err(hinted(
            "a Helper peer needs --collector-auth-token-file: this Leader checks the Collector's token",
            "give a file with the Collector's token(s), one per line",
        ));
    }
    let collector_hpke_config = parse_collector_hpke_config(&args.collector_hpke_config)?;
    let kind = match args.token_type {
        TokenType::Bearer => AuthenticationTokenType::Bearer,
        TokenType::DapAuth => AuthenticationTokenType::DapAuth,
    };
    let aggregator_tokens = read_tokens(&args.aggregator_auth_token_file, kind)?;
    let collector_tokens = match &args.collector_auth_token_file {
        Some(path) => read_tokens(path, kind)?,
        None => Vec::new(),
    };
    // Refused before a new secret is written.
    if let Some(path) = &args.new_verify_key_init {
        if path.exists() {
            bail!(
                "--new-verify-key-init: {} exists; give it with --verify-key-init-file to use it",
                path.display()
            );
        }
    }
    let (verify_key_init, written) = match (&args.verify_key_init_file, &args.new_verify_key_init) {
        (Some(path), _) => (read_verify_key_init(path)?, None),
        (None, Some(path)) => (VerifyKeyInit::random(), Some(path.clone())),
        (None, None) => bail!("give --verify-key-init-file or --new-verify-key-init"),
    };
    let peer = PeerAggregator::new(
        args.endpoint.clone(),
        role,
        collector_hpke_config,
        verify_key_init.clone(),
        args.report_expiry_age.map(Duration::from_seconds),
        Duration::from_seconds(args.tolerable_clock_skew),
        aggregator_tokens
            .iter()
            .cloned()
            .map(StoredAuthenticationToken::from)
            .collect(),
        collector_tokens
            .iter()
            .cloned()
            .map(StoredAuthenticationToken::from)
            .collect(),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;

    let view = if let Some(api) = args.datastore.api()? {
        let request = PostPeerAggregatorRequest {
            endpoint: peer.endpoint().to_string(),
            role: role_name(role).to_owned(),
            collector_hpke_config: HpkeConfigJson::from_config(peer.collector_hpke_config())
                .context("the Collector's HPKE config uses an algorithm the API cannot name")?,
            verify_key_init: verify_key_init.to_base64url().to_string(),
            report_expiry_age: args.report_expiry_age,
            tolerable_clock_skew: args.tolerable_clock_skew,
            aggregator_auth_tokens: aggregator_tokens
                .iter()
                .map(AuthTokenJson::from_token)
                .collect(),
            collector_auth_tokens: collector_tokens
                .iter()
                .map(AuthTokenJson::from_token)
                .collect(),
        };
        let created: PeerAggregatorJson = api
            .send(Method::POST, "taskprov/peer_aggregators", &request)
            .await?;
        PeerView::of_api(&created)
    } else {
        let datastore = args.datastore.open_existing().await?;
        let stored = peer.clone();
        let result = datastore
            .run_tx("add_taskprov_peer", move |tx| {
                let peer = stored.clone();
                Box::pin(async move { Ok(tx.put_taskprov_peer_aggregator(&peer).await?) })
            })
            .await;
        if let Err(TxError::Datastore(DatastoreError::AlreadyExists { .. })) = result {
            return Err(hinted(
                format!(
                    "a {} peer aggregator at {} exists already",
                    role_name(role),
                    peer.endpoint()
                ),
                "delete it first (`dyad taskprov-peer delete`) to replace it",
            ));
        }
        result?;
        PeerView::of(&peer)
    };
    if let Some(path) = written {
        write_secret(&path, &verify_key_init.to_base64url())?;
        noteln!(
            "Wrote the new verify_key_init to {} (owner-only): give it to the peer's operator \
             over a secure channel; both aggregators must hold the same secret.",
            path.display()
        );
    }
    tracing::info!(endpoint = %view.endpoint, role = %view.role, "added a taskprov peer aggregator");
    out!("{}", render(&[view], args.format)?)?;
    Ok(())
}

/// The tokens of a file, one per line (blank lines skipped).
fn read_tokens(
    path: &Path,
    kind: AuthenticationTokenType,
) -> anyhow::Result<Vec<AuthenticationToken>> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?,
    );
    let tokens = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .enumerate()
        .map(|(n, line)| {
            AuthenticationToken::new(kind, line.to_owned())
                .map_err(|e| anyhow::anyhow!("{} line {}: {e}", path.display(), n + 1))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if tokens.is_empty() {
        bail!("{} holds no token (one per line)", path.display());
    }
    Ok(tokens)
}

fn read_verify_key_init(path: &Path) -> anyhow::Result<VerifyKeyInit> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?,
    );
    text.trim().parse().map_err(|e| {
        hinted(
            format!("{}: {e}", path.display()),
            "`dyad taskprov-peer add --new-verify-key-init FILE` makes one",
        )
    })
}

/// Writes `text` (and a newline) to a new file only its owner can read.
fn write_secret(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    writeln!(file, "{text}").with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
