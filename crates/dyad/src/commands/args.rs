//! Command-line arguments shared by several subcommands: tokens, HPKE keys
//! (from flags or the collector's key file), times, queries and trusted CA
//! certificates.

use anyhow::{bail, Context as _};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use clap::Args;
use dyad_core::hpke::{HpkeKeypair, HpkePrivateKey};
use dyad_core::task::AuthenticationToken;
use dyad_messages::draft09::{
    BatchId, Duration, FixedSizeQuery, HpkeConfig, Interval, Query, Time,
};
use dyad_messages::Decode;
use std::path::PathBuf;

use crate::task_files::{read_yaml, CollectorKeyFile};

/// A request authentication token (DAP-09 section 3.1): the interop
/// `DAP-Auth-Token` header, or `Authorization: Bearer`.
#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    /// Token sent in a `DAP-Auth-Token` header.
    #[arg(
        long,
        env = "DYAD_DAP_AUTH_TOKEN",
        hide_env_values = true,
        conflicts_with = "bearer_token",
        allow_hyphen_values = true
    )]
    pub dap_auth_token: Option<String>,
    /// Token sent as `Authorization: Bearer <token>`.
    #[arg(
        long,
        env = "DYAD_BEARER_TOKEN",
        hide_env_values = true,
        allow_hyphen_values = true
    )]
    pub bearer_token: Option<String>,
}

impl TokenArgs {
    pub fn token(&self) -> anyhow::Result<Option<AuthenticationToken>> {
        Ok(match (&self.dap_auth_token, &self.bearer_token) {
            (Some(t), _) => {
                Some(AuthenticationToken::new_dap_auth(t.clone()).context("DAP-Auth-Token")?)
            }
            (_, Some(t)) => {
                Some(AuthenticationToken::new_bearer(t.clone()).context("bearer token")?)
            }
            _ => None,
        })
    }
}

/// The collector's HPKE keypair from its key file (`--hpke-key`, as
/// `dyad collector init` writes it) or from two flags.
#[derive(Debug, Clone, Args)]
pub struct CollectorKeySourceArgs {
    /// The collector's key file (`collector-key.yaml`): its HPKE config and
    /// private key.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["hpke_config", "hpke_private_key"])]
    pub hpke_key: Option<PathBuf>,
    /// The collector's encoded HpkeConfig, base64url (instead of --hpke-key).
    #[arg(
        long,
        required_unless_present = "hpke_key",
        requires = "hpke_private_key",
        allow_hyphen_values = true
    )]
    pub hpke_config: Option<String>,
    /// The collector's HPKE private key, base64url (instead of --hpke-key).
    #[arg(
        long,
        env = "DYAD_HPKE_PRIVATE_KEY",
        hide_env_values = true,
        allow_hyphen_values = true
    )]
    pub hpke_private_key: Option<String>,
}

impl CollectorKeySourceArgs {
    pub fn keypair(&self) -> anyhow::Result<HpkeKeypair> {
        if let Some(path) = &self.hpke_key {
            let file: CollectorKeyFile = read_yaml(path, "collector key file")?;
            return file
                .keypair()
                .with_context(|| format!("in {}", path.display()));
        }
        match (&self.hpke_config, &self.hpke_private_key) {
            (Some(config), Some(private_key)) => {
                parse_keypair(config, private_key, "--hpke-config", "--hpke-private-key")
            }
            _ => bail!(
                "give the collector's HPKE key: --hpke-key FILE, or --hpke-config with --hpke-private-key"
            ),
        }
    }
}

/// A keypair from its two base64url parts, naming each part as `config_name`
/// and `key_name` in errors (never the key itself).
pub fn parse_keypair(
    config: &str,
    private_key: &str,
    config_name: &str,
    key_name: &str,
) -> anyhow::Result<HpkeKeypair> {
    let config = URL_SAFE_NO_PAD
        .decode(config.trim())
        .with_context(|| format!("{config_name} is not base64url"))?;
    let config = HpkeConfig::get_decoded(&config)
        .with_context(|| format!("{config_name} is not an HpkeConfig"))?;
    let private_key: HpkePrivateKey = private_key
        .trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("{key_name} is not base64url"))?;
    HpkeKeypair::new(config, private_key)
        .with_context(|| format!("{config_name} and {key_name} are not one keypair"))
}

/// A point in time on the command line: seconds since the epoch, or RFC 3339
/// (`2026-12-01T22:00:00Z`).
pub fn parse_time(text: &str) -> Result<u64, String> {
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(seconds);
    }
    let time = chrono::DateTime::parse_from_rfc3339(text).map_err(|_| {
        format!("{text:?} is neither seconds since the epoch nor an RFC 3339 time such as 2026-12-01T22:00:00Z")
    })?;
    u64::try_from(time.timestamp()).map_err(|_| format!("{text:?} is before 1970"))
}

/// Which batch to collect (DAP-09 section 4.1).
#[derive(Debug, Clone, Args)]
pub struct QueryArgs {
    /// Time-interval query: the batch interval's start, as RFC 3339
    /// (2026-12-01T22:00:00Z) or seconds since the epoch.
    #[arg(long, value_name = "TIME", value_parser = parse_time, requires = "batch_interval_duration", conflicts_with_all = ["batch_id", "current_batch"])]
    pub batch_interval_start: Option<u64>,
    /// Time-interval query: the batch interval's duration in seconds.
    #[arg(long, value_name = "SECS")]
    pub batch_interval_duration: Option<u64>,
    /// Fixed-size query by batch ID (base64url).
    #[arg(long, conflicts_with = "current_batch", allow_hyphen_values = true)]
    pub batch_id: Option<BatchId>,
    /// Fixed-size query for the Leader's current batch.
    #[arg(long)]
    pub current_batch: bool,
}

impl QueryArgs {
    pub fn query(&self) -> anyhow::Result<Query> {
        Ok(match (self.batch_interval_start, self.batch_interval_duration, self.batch_id, self.current_batch) {
            (Some(start), Some(duration), None, false) => Query::TimeInterval(
                Interval::new(Time::from_seconds_since_epoch(start), Duration::from_seconds(duration))
                    .context("batch interval")?,
            ),
            (None, None, Some(id), false) => Query::FixedSize(FixedSizeQuery::ByBatchId(id)),
            (None, None, None, true) => Query::FixedSize(FixedSizeQuery::CurrentBatch),
            _ => bail!(
                "give one query: --batch-interval-start with --batch-interval-duration, --batch-id, or --current-batch"
            ),
        })
    }
}

/// CA certificates to trust for the aggregators' HTTPS, besides the
/// system's: for aggregators whose certificates come from a private CA.
#[derive(Debug, Clone, Args)]
pub struct CaCertArgs {
    /// A PEM file of CA certificates to trust besides the system's (may be repeated).
    #[arg(long = "ca-cert", value_name = "FILE")]
    pub ca_certs: Vec<PathBuf>,
}

impl CaCertArgs {
    /// Every certificate of every `--ca-cert` file; an error names a file
    /// that cannot be read or holds no certificate.
    pub fn certificates(&self) -> anyhow::Result<Vec<reqwest::Certificate>> {
        Ok(dyad_aggregator::tls::read_root_certificates(
            "--ca-cert",
            &self.ca_certs,
        )?)
    }
}

#[cfg(test)]
mod ca_cert_tests {
    use super::*;

    #[test]
    fn no_ca_cert_gives_no_certificates_and_a_missing_file_is_named() {
        let none = CaCertArgs { ca_certs: vec![] };
        assert!(none.certificates().unwrap().is_empty());
        let missing = CaCertArgs {
            ca_certs: vec![PathBuf::from("/nonexistent/private-ca.pem")],
        };
        let error = format!("{:#}", missing.certificates().unwrap_err());
        assert!(
            error.contains("--ca-cert") && error.contains("/nonexistent/private-ca.pem"),
            "{error}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Flags {
        #[command(flatten)]
        token: TokenArgs,
        #[command(flatten)]
        query: QueryArgs,
        #[command(flatten)]
        key: CollectorKeySourceArgs,
    }

    #[test]
    fn base64url_values_that_start_with_a_hyphen_are_values_not_flags() {
        // base64url has `-` among its 64 characters: one random value in 64
        // starts with it.
        let batch_id = std::iter::repeat_with(BatchId::random)
            .find(|id| id.to_string().starts_with('-'))
            .unwrap();
        let flags = Flags::try_parse_from([
            "test",
            "--bearer-token",
            "-token",
            "--batch-id",
            &batch_id.to_string(),
            "--hpke-config",
            "-config",
            "--hpke-private-key",
            "-key",
        ])
        .unwrap();
        assert_eq!(flags.token.bearer_token.as_deref(), Some("-token"));
        assert_eq!(flags.query.batch_id, Some(batch_id));
        assert_eq!(flags.key.hpke_config.as_deref(), Some("-config"));
        assert_eq!(flags.key.hpke_private_key.as_deref(), Some("-key"));
    }
}
