//! Taskprov's peer aggregators over the management API (the aggregator
//! API's `/taskprov/peer_aggregators`): list, add, delete. A peer is the
//! other aggregator of the tasks this one provisions from their
//! advertisement (draft-wang-ppm-dap-taskprov-06; see
//! [`dyad_core::taskprov::PeerAggregator`] and [`crate::taskprov`]).
//!
//! - `GET`: 200, every peer by role then endpoint, secrets left out.
//! - `POST`: 201 with the peer as `GET` lists it; 409 if a peer with the
//!   endpoint and role exists; 400 for a body that does not make a peer
//!   (the reason once). `role` (or `peer_role`) is the peer's role.
//! - `DELETE`: body `{endpoint, role}`; 204, also when there was none.
//!   Tasks already provisioned with the peer stay.
//!
//! Tokens: a Leader peer's `aggregator_auth_tokens` (the tokens the Leader
//! presents to this Helper) are stored as hashes only; a Helper peer's
//! first aggregator token is the one this Leader sends, and its
//! `collector_auth_tokens` (the Collector's) are stored as hashes.

use super::error::{ManagementError, ManagementResult};
use super::models::{AuthTokenJson, HpkeConfigJson};
use super::routes::{json, parse_body};
use super::state::ManagementState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use dyad_core::task::StoredAuthenticationToken;
use dyad_core::taskprov::{PeerAggregator, VerifyKeyInit};
use dyad_datastore::{DatastoreError, DatastoreExt, TxError};
use dyad_messages::draft09::{Duration, Role};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A peer as the API lists it: no secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerAggregatorJson {
    /// The peer's DAP API base URL.
    pub endpoint: String,
    /// The peer's role: `"Leader"` or `"Helper"`.
    pub role: String,
    /// The Collector's HPKE configuration every task with the peer gets.
    pub collector_hpke_config: HpkeConfigJson,
    /// Seconds after which reports may be deleted; `null`: kept.
    pub report_expiry_age: Option<u64>,
    /// Seconds of clock skew tolerated on report times.
    pub tolerable_clock_skew: u64,
}

impl PeerAggregatorJson {
    /// The listed form of `peer`.
    pub fn from_peer(peer: &PeerAggregator) -> ManagementResult<Self> {
        Ok(Self {
            endpoint: peer.endpoint().to_string(),
            role: role_name(peer.role()).to_owned(),
            collector_hpke_config: HpkeConfigJson::from_config(peer.collector_hpke_config())
                .ok_or_else(|| {
                    ManagementError::internal(format!(
                        "peer {}: collector HPKE config uses an algorithm the API cannot name",
                        peer.endpoint()
                    ))
                })?,
            report_expiry_age: peer.report_expiry_age().map(|d| d.as_seconds()),
            tolerable_clock_skew: peer.tolerable_clock_skew().as_seconds(),
        })
    }
}

/// The body of `POST /taskprov/peer_aggregators`. `Debug` hides the
/// secrets.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostPeerAggregatorRequest {
    pub endpoint: String,
    /// The peer's role (`peer_role` is accepted too).
    #[serde(alias = "peer_role")]
    pub role: String,
    pub collector_hpke_config: HpkeConfigJson,
    /// The 32-byte secret both aggregators share, unpadded base64url.
    pub verify_key_init: String,
    #[serde(default)]
    pub report_expiry_age: Option<u64>,
    pub tolerable_clock_skew: u64,
    pub aggregator_auth_tokens: Vec<AuthTokenJson>,
    #[serde(default)]
    pub collector_auth_tokens: Vec<AuthTokenJson>,
}

impl fmt::Debug for PostPeerAggregatorRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostPeerAggregatorRequest")
            .field("endpoint", &self.endpoint)
            .field("role", &self.role)
            .field("collector_hpke_config", &self.collector_hpke_config)
            .field("verify_key_init", &"<redacted>")
            .field("report_expiry_age", &self.report_expiry_age)
            .field("tolerable_clock_skew", &self.tolerable_clock_skew)
            .field("aggregator_auth_tokens", &self.aggregator_auth_tokens)
            .field("collector_auth_tokens", &self.collector_auth_tokens)
            .finish()
    }
}

impl PostPeerAggregatorRequest {
    /// The peer this body describes; why not, once.
    pub fn to_peer(&self) -> Result<PeerAggregator, String> {
        let endpoint: url::Url = self
            .endpoint
            .parse()
            .map_err(|e| format!("endpoint {:?} is not a URL: {e}", self.endpoint))?;
        let role = parse_role(&self.role)?;
        let collector_hpke_config = self
            .collector_hpke_config
            .to_config()
            .map_err(|e| format!("collector_hpke_config: {e}"))?;
        let verify_key_init: VerifyKeyInit =
            self.verify_key_init.parse().map_err(|e| format!("{e}"))?;
        let tokens = |list: &[AuthTokenJson], field: &str| {
            list.iter()
                .map(|t| {
                    t.to_token()
                        .map(StoredAuthenticationToken::from)
                        .map_err(|e| format!("{field}: {e}"))
                })
                .collect::<Result<Vec<_>, String>>()
        };
        PeerAggregator::new(
            endpoint,
            role,
            collector_hpke_config,
            verify_key_init,
            self.report_expiry_age.map(Duration::from_seconds),
            Duration::from_seconds(self.tolerable_clock_skew),
            tokens(&self.aggregator_auth_tokens, "aggregator_auth_tokens")?,
            tokens(&self.collector_auth_tokens, "collector_auth_tokens")?,
        )
        .map_err(|e| e.to_string())
    }
}

/// The body of `DELETE /taskprov/peer_aggregators`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeletePeerAggregatorRequest {
    pub endpoint: String,
    #[serde(alias = "peer_role")]
    pub role: String,
}

/// `"Leader"` or `"Helper"`, the API's names of the roles.
pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::Leader => "Leader",
        _ => "Helper",
    }
}

/// A peer's role from its API name (any case).
pub fn parse_role(text: &str) -> Result<Role, String> {
    match text.to_ascii_lowercase().as_str() {
        "leader" => Ok(Role::Leader),
        "helper" => Ok(Role::Helper),
        _ => Err(format!(
            "role {text:?}: a peer aggregator's role is \"Leader\" or \"Helper\""
        )),
    }
}

/// `GET /taskprov/peer_aggregators`.
pub async fn list(State(state): State<ManagementState>) -> ManagementResult<Response> {
    let peers = state
        .datastore
        .run_read_tx("management_get_taskprov_peers", |tx| {
            Box::pin(async move { Ok(tx.get_taskprov_peer_aggregators().await?) })
        })
        .await?;
    let items = peers
        .iter()
        .map(PeerAggregatorJson::from_peer)
        .collect::<ManagementResult<Vec<_>>>()?;
    json(StatusCode::OK, &items)
}

/// `POST /taskprov/peer_aggregators`.
pub async fn post(State(state): State<ManagementState>, body: Bytes) -> ManagementResult<Response> {
    let request: PostPeerAggregatorRequest = parse_body(&body)?;
    let peer = request
        .to_peer()
        .map_err(|e| ManagementError::bad_request(format!("invalid peer aggregator: {e}")))?;
    let stored = peer.clone();
    state
        .datastore
        .run_tx("management_post_taskprov_peer", move |tx| {
            let peer = stored.clone();
            Box::pin(async move {
                match tx.put_taskprov_peer_aggregator(&peer).await {
                    Err(DatastoreError::AlreadyExists { .. }) => {
                        Err(TxError::abort(ManagementError::conflict(format!(
                            "a {} peer aggregator at {} exists: delete it first to replace it",
                            role_name(peer.role()),
                            peer.endpoint()
                        ))))
                    }
                    other => Ok(other?),
                }
            })
        })
        .await?;
    tracing::info!(
        endpoint = %peer.endpoint(),
        role = %peer.role(),
        "taskprov peer aggregator added over the management API"
    );
    json(StatusCode::CREATED, &PeerAggregatorJson::from_peer(&peer)?)
}

/// `DELETE /taskprov/peer_aggregators`.
pub async fn delete(
    State(state): State<ManagementState>,
    body: Bytes,
) -> ManagementResult<Response> {
    let request: DeletePeerAggregatorRequest = parse_body(&body)?;
    let role = parse_role(&request.role).map_err(ManagementError::bad_request)?;
    let endpoint = base_url(&request.endpoint).ok_or_else(|| {
        ManagementError::bad_request(format!(
            "endpoint {:?} is not an http(s) URL",
            request.endpoint
        ))
    })?;
    let target = endpoint.clone();
    let deleted = state
        .datastore
        .run_tx("management_delete_taskprov_peer", move |tx| {
            let endpoint = target.clone();
            Box::pin(async move { Ok(tx.delete_taskprov_peer_aggregator(&endpoint, role).await?) })
        })
        .await?;
    if deleted {
        tracing::info!(
            endpoint = %endpoint,
            role = %role,
            "taskprov peer aggregator deleted over the management API"
        );
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `text` as the base URL peers are stored under (path ending in `/`).
fn base_url(text: &str) -> Option<url::Url> {
    let mut url = url::Url::parse(text).ok()?;
    if !matches!(url.scheme(), "https" | "http") {
        return None;
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Some(url)
}
