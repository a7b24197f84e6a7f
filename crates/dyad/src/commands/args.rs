//! Command-line arguments shared by several subcommands: tokens, HPKE keys,
//! VDAFs, queries and trusted CA certificates.

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

/// A request authentication token (DAP-09 section 3.1): the interop
/// `DAP-Auth-Token` header, or `Authorization: Bearer`.
#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    /// Token sent in a `DAP-Auth-Token` header.
    #[arg(
        long,
        env = "DYAD_DAP_AUTH_TOKEN",
        hide_env_values = true,
        conflicts_with = "bearer_token"
    )]
    pub dap_auth_token: Option<String>,
    /// Token sent as `Authorization: Bearer <token>`.
    #[arg(long, env = "DYAD_BEARER_TOKEN", hide_env_values = true)]
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

/// The collector's HPKE keypair, as `dyad hpke keygen` prints it.
#[derive(Debug, Clone, Args)]
pub struct CollectorKeyArgs {
    /// The collector's encoded HpkeConfig, base64url.
    #[arg(long)]
    pub hpke_config: String,
    /// The collector's HPKE private key, base64url.
    #[arg(long, env = "DYAD_HPKE_PRIVATE_KEY", hide_env_values = true)]
    pub hpke_private_key: String,
}

impl CollectorKeyArgs {
    pub fn keypair(&self) -> anyhow::Result<HpkeKeypair> {
        let config = URL_SAFE_NO_PAD
            .decode(self.hpke_config.trim())
            .context("--hpke-config is not base64url")?;
        let config =
            HpkeConfig::get_decoded(&config).context("--hpke-config is not an HpkeConfig")?;
        let private_key: HpkePrivateKey = self
            .hpke_private_key
            .trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("--hpke-private-key is not base64url"))?;
        HpkeKeypair::new(config, private_key)
            .context("the HPKE config and private key do not match")
    }
}

/// Which batch to collect (DAP-09 section 4.1).
#[derive(Debug, Clone, Args)]
pub struct QueryArgs {
    /// Time-interval query: the batch interval's start (seconds since the epoch).
    #[arg(long, requires = "batch_interval_duration", conflicts_with_all = ["batch_id", "current_batch"])]
    pub batch_interval_start: Option<u64>,
    /// Time-interval query: the batch interval's duration in seconds.
    #[arg(long)]
    pub batch_interval_duration: Option<u64>,
    /// Fixed-size query by batch ID (base64url).
    #[arg(long, conflicts_with = "current_batch")]
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
