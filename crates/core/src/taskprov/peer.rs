//! [`PeerAggregator`]: what an aggregator running taskprov knows of the
//! other aggregator of the tasks it accepts by advertisement: its endpoint
//! and role, the `verify_key_init` both share ("Deriving the VDAF
//! Verification Key"), and what every task provisioned with it gets: the
//! Collector's HPKE configuration, report expiry, clock skew and the
//! authentication tokens of DAP-09 section 3.1.
//!
//! Tokens follow who presents them: on the Helper (the peer is the Leader)
//! only the hashes of the tokens the Leader presents are kept; on the
//! Leader (the peer is the Helper) the token sent to the Helper itself, and
//! the hashes of the tokens the Collector presents.
//!
//! # Where is
//!
//! - the checks of a peer's parameters -> [`PeerAggregator::new`];
//! - whether a `TaskConfig` names this peer -> [`PeerAggregator::serves`].

use super::derive::VerifyKeyInit;
use crate::hpke::HpkeCiphersuite;
use crate::task::StoredAuthenticationToken;
use dyad_messages::draft09::{Duration, HpkeConfig, Role};
use serde::{Deserialize, Deserializer, Serialize};
use url::Url;

/// The other aggregator of the tasks taskprov provisions, as configured by
/// this aggregator's operator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PeerAggregator {
    endpoint: Url,
    role: Role,
    collector_hpke_config: HpkeConfig,
    verify_key_init: VerifyKeyInit,
    report_expiry_age: Option<Duration>,
    tolerable_clock_skew: Duration,
    aggregator_auth_tokens: Vec<StoredAuthenticationToken>,
    collector_auth_tokens: Vec<StoredAuthenticationToken>,
}

/// Why a peer's parameters do not make a usable peer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("peer aggregator {field}: {reason}")]
pub struct PeerAggregatorError {
    /// The parameter at fault.
    pub field: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> PeerAggregatorError {
    PeerAggregatorError {
        field,
        reason: reason.into(),
    }
}

/// The parameters of a peer, as given (checked by [`PeerAggregator::new`]).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PeerFields {
    endpoint: Url,
    role: Role,
    collector_hpke_config: HpkeConfig,
    verify_key_init: VerifyKeyInit,
    #[serde(default)]
    report_expiry_age: Option<Duration>,
    tolerable_clock_skew: Duration,
    aggregator_auth_tokens: Vec<StoredAuthenticationToken>,
    #[serde(default)]
    collector_auth_tokens: Vec<StoredAuthenticationToken>,
}

impl PeerAggregator {
    /// Checks a peer's parameters: `role` is the peer's (leader or helper);
    /// `endpoint` an absolute http(s) URL without query or fragment (a `/`
    /// is added to its path if missing, as for a task's endpoints); the
    /// Collector's HPKE configuration one dyad seals to; at least one
    /// aggregator token; with a Leader peer no Collector token (the Helper
    /// takes no Collector requests) and the aggregator tokens kept as
    /// hashes; with a Helper peer the first aggregator token held itself
    /// (it is sent) and at least one Collector token, kept as hashes.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        endpoint: Url,
        role: Role,
        collector_hpke_config: HpkeConfig,
        verify_key_init: VerifyKeyInit,
        report_expiry_age: Option<Duration>,
        tolerable_clock_skew: Duration,
        aggregator_auth_tokens: Vec<StoredAuthenticationToken>,
        collector_auth_tokens: Vec<StoredAuthenticationToken>,
    ) -> Result<Self, PeerAggregatorError> {
        let endpoint = base_url(endpoint)?;
        if !role.is_aggregator() {
            return Err(invalid(
                "role",
                format!("must be leader or helper, not {role}"),
            ));
        }
        if !HpkeCiphersuite::of(&collector_hpke_config).is_supported() {
            return Err(invalid(
                "collector_hpke_config",
                "uses a ciphersuite dyad cannot seal to",
            ));
        }
        if report_expiry_age == Some(Duration::ZERO) {
            return Err(invalid(
                "report_expiry_age",
                "must be positive (omit it to keep reports)",
            ));
        }
        if aggregator_auth_tokens.is_empty() {
            return Err(invalid("aggregator_auth_tokens", "must not be empty"));
        }
        let (aggregator_auth_tokens, collector_auth_tokens) = match role {
            Role::Leader => {
                if !collector_auth_tokens.is_empty() {
                    return Err(invalid(
                        "collector_auth_tokens",
                        "must be empty for a Leader peer: the Helper takes no requests from the Collector",
                    ));
                }
                (hashes(aggregator_auth_tokens), Vec::new())
            }
            _ => {
                if aggregator_auth_tokens[0].token().is_none() {
                    return Err(invalid(
                        "aggregator_auth_tokens",
                        "the first must be the token itself: the Leader sends it to the Helper",
                    ));
                }
                if collector_auth_tokens.is_empty() {
                    return Err(invalid(
                        "collector_auth_tokens",
                        "must not be empty for a Helper peer: the Leader checks the Collector's token",
                    ));
                }
                (aggregator_auth_tokens, hashes(collector_auth_tokens))
            }
        };
        Ok(Self {
            endpoint,
            role,
            collector_hpke_config,
            verify_key_init,
            report_expiry_age,
            tolerable_clock_skew,
            aggregator_auth_tokens,
            collector_auth_tokens,
        })
    }

    /// The peer's API endpoint (ends in `/`).
    pub fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    /// The peer's role in the tasks: [`Role::Leader`] when this aggregator
    /// is the Helper, and the other way round.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The role this aggregator takes in tasks with this peer.
    pub fn our_role(&self) -> Role {
        match self.role {
            Role::Leader => Role::Helper,
            _ => Role::Leader,
        }
    }

    /// The Collector's HPKE configuration, given to every task.
    pub fn collector_hpke_config(&self) -> &HpkeConfig {
        &self.collector_hpke_config
    }

    /// The secret the verification keys are derived from.
    pub fn verify_key_init(&self) -> &VerifyKeyInit {
        &self.verify_key_init
    }

    /// How long reports are kept, if they expire.
    pub fn report_expiry_age(&self) -> Option<Duration> {
        self.report_expiry_age
    }

    /// The clock skew tolerated on report times.
    pub fn tolerable_clock_skew(&self) -> Duration {
        self.tolerable_clock_skew
    }

    /// The tokens of the Leader's requests to the Helper: hashes on the
    /// Helper; on the Leader, the first is the token it sends.
    pub fn aggregator_auth_tokens(&self) -> &[StoredAuthenticationToken] {
        &self.aggregator_auth_tokens
    }

    /// The hashes of the tokens the Collector presents (the Leader only).
    pub fn collector_auth_tokens(&self) -> &[StoredAuthenticationToken] {
        &self.collector_auth_tokens
    }

    /// Whether a `TaskConfig` naming `leader` and `helper` as its
    /// endpoints is a task with this peer: the peer's endpoint is the one
    /// of its role (each compared as a base URL).
    pub fn serves(&self, leader: &str, helper: &str) -> bool {
        let endpoint = match self.role {
            Role::Leader => leader,
            _ => helper,
        };
        Url::parse(endpoint)
            .ok()
            .and_then(|url| base_url(url).ok())
            .is_some_and(|url| url == self.endpoint)
    }
}

/// The tokens as hashes (a token is kept only where it is presented).
fn hashes(tokens: Vec<StoredAuthenticationToken>) -> Vec<StoredAuthenticationToken> {
    tokens
        .into_iter()
        .map(|t| StoredAuthenticationToken::Hash(t.hash()))
        .collect()
}

/// An absolute http(s) URL with a host, no query or fragment, its path
/// ending in `/`.
pub(super) fn base_url(mut url: Url) -> Result<Url, PeerAggregatorError> {
    if !matches!(url.scheme(), "https" | "http") {
        return Err(invalid(
            "endpoint",
            format!("scheme must be https (or http), not {:?}", url.scheme()),
        ));
    }
    if url.host().is_none() {
        return Err(invalid("endpoint", "has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("endpoint", "must not have a query or fragment"));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// A peer is read through the same checks as [`PeerAggregator::new`].
impl<'de> Deserialize<'de> for PeerAggregator {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = PeerFields::deserialize(d)?;
        PeerAggregator::new(
            f.endpoint,
            f.role,
            f.collector_hpke_config,
            f.verify_key_init,
            f.report_expiry_age,
            f.tolerable_clock_skew,
            f.aggregator_auth_tokens,
            f.collector_auth_tokens,
        )
        .map_err(serde::de::Error::custom)
    }
}
