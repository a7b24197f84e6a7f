//! `POST /tasks`: a task provisioned the aggregator API's way.
//!
//! - The task ID is SHA-256 of the verify key's bytes: both aggregators,
//!   given the same key, derive the same ID, and the caller cannot pick one.
//! - This aggregator's own endpoint is `management_api.dap_url`; the body
//!   names only the peer's.
//! - The Leader is given the token it sends the Helper
//!   (`aggregator_auth_token`) and the hash of the Collector's token
//!   (`collector_auth_token_hash`); it keeps the token and only the hash
//!   (DAP-09 section 3.1). The Helper is given no token: it makes a random
//!   bearer token, keeps only its SHA-256 hash, and answers the token this
//!   once (`GET` shows `null`): the caller passes it on to the Leader.
//! - The task gets a fresh HPKE keypair of its own (X25519HkdfSha256,
//!   HkdfSha256, Aes128Gcm) under a random config ID; its private key never
//!   leaves the datastore.
//! - What the API cannot say is fixed here: reports expire after
//!   [`REPORT_EXPIRY_AGE`] (two weeks, so the garbage collector bounds what
//!   is kept; dyad's own task default keeps reports for good, which an
//!   operator of this API could not change), and the tolerated clock skew
//!   is [`DEFAULT_TOLERABLE_CLOCK_SKEW`] (one minute, the same in both).
//! - The same task again (same parameters, and for the Leader the same
//!   tokens) is 200 with the task as stored, nothing rewritten (a Helper's
//!   token, stored only as a hash, is `null` then); the same ID with other
//!   parameters is 409; every invalid input is 400. One transaction: a
//!   refused request writes nothing.

use super::error::{ManagementError, ManagementResult};
use super::models::AuthTokenJson;
use super::routes::{json, parse_body};
use super::state::ManagementState;
use super::task_json::TaskResponse;
use super::task_request::{batch_mode_from_json, vdaf_from_json, PostTaskRequest};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine as _;
use dyad_core::hpke::HpkeKeypair;
use dyad_core::task::{
    AuthenticationToken, AuthenticationTokenType, BatchMode, Task, VerifyKey,
    DEFAULT_TOLERABLE_CLOCK_SKEW,
};
use dyad_datastore::{DatastoreError, DatastoreExt, TxError, LATEST_STORABLE_TIME};
use dyad_messages::draft09::{Duration, HpkeConfigId, Role, TaskId, Time};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// How long after its timestamp a report of a task made here may be
/// deleted: two weeks.
pub const REPORT_EXPIRY_AGE: Duration = Duration::from_seconds(14 * 24 * 3600);

/// The 409 of a task ID taken by other parameters.
const CONFLICT: &str = "a task with this ID (the SHA-256 of its verify key) already exists \
                        with different parameters";

/// `POST /tasks`: 200 with the task (and, for a new Helper task, its
/// token); see the module documentation.
pub async fn post_task(
    State(state): State<ManagementState>,
    body: Bytes,
) -> ManagementResult<Response> {
    let request: PostTaskRequest = parse_body(&body)?;
    let (task, helper_token) = task_of(&state, &request)?;
    let candidate = Arc::new(task);
    let stored = {
        let candidate = candidate.clone();
        state
            .datastore
            .run_tx("management_post_task", move |tx| {
                let candidate = candidate.clone();
                Box::pin(async move {
                    if let Some(existing) = tx.get_task(candidate.task_id()).await? {
                        return if same_task(&existing, &candidate) {
                            Ok(Some(existing))
                        } else {
                            Err(TxError::abort(ManagementError::conflict(CONFLICT)))
                        };
                    }
                    match tx.put_task(&candidate).await {
                        Ok(()) => Ok(None),
                        // Made by a concurrent request in between.
                        Err(DatastoreError::AlreadyExists { .. }) => {
                            Err(TxError::abort(ManagementError::conflict(CONFLICT)))
                        }
                        Err(error) => Err(error.into()),
                    }
                })
            })
            .await?
    };
    let response = match stored {
        Some(existing) => {
            tracing::info!(
                task_id = %existing.task_id(),
                "task already provisioned with these parameters: nothing changed"
            );
            TaskResponse::from_task(&existing)?
        }
        None => {
            tracing::info!(
                task_id = %candidate.task_id(),
                role = %candidate.role(),
                "task created over the management API"
            );
            let mut response = TaskResponse::from_task(&candidate)?;
            response.aggregator_auth_token = helper_token.as_ref().map(AuthTokenJson::from_token);
            response
        }
    };
    json(StatusCode::OK, &response)
}

/// The task the request describes, checked, and for a Helper the token
/// made for it (the task holds only its hash).
fn task_of(
    state: &ManagementState,
    request: &PostTaskRequest,
) -> ManagementResult<(Task, Option<AuthenticationToken>)> {
    let role = match request.role.as_str() {
        "Leader" => Role::Leader,
        "Helper" => Role::Helper,
        other => {
            return Err(bad(format!(
                "invalid role {other:?}: a task makes this aggregator the \"Leader\" or the \
                 \"Helper\""
            )))
        }
    };
    let (vdaf, dp_strategy) = vdaf_from_json(&request.vdaf).map_err(bad)?;
    let batch_mode = batch_mode_from_json(&request.query_type).map_err(bad)?;
    // A parameter the Collector chooses (Poplar1's prefixes) is aggregated
    // per time-interval batch once a collection names it
    // (`leader::param_jobs`): a fixed-size batch would be formed before.
    if vdaf.fixed_aggregation_parameter().is_none()
        && !matches!(batch_mode, BatchMode::TimeInterval)
    {
        return Err(bad(format!(
            "{} tasks need the \"TimeInterval\" query_type: their reports are aggregated \
             once a collection names its aggregation parameter",
            vdaf.type_name()
        )));
    }
    let key_bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&request.vdaf_verify_key)
        .map_err(|_| bad("vdaf_verify_key is not unpadded base64url"))?;
    if key_bytes.len() != vdaf.verify_key_length() {
        return Err(bad(format!(
            "vdaf_verify_key is {} bytes; {} needs {}",
            key_bytes.len(),
            vdaf.type_name(),
            vdaf.verify_key_length()
        )));
    }
    let task_id = TaskId::from_bytes(Sha256::digest(&key_bytes).into());
    let collector_hpke_config = request
        .collector_hpke_config
        .to_config()
        .map_err(|reason| bad(format!("collector_hpke_config: {reason}")))?;
    let task_expiration = request
        .task_expiration
        .map(|seconds| {
            let time = Time::from_seconds_since_epoch(seconds);
            if time > LATEST_STORABLE_TIME {
                Err(bad(format!(
                    "task_expiration {seconds} is past the latest time dyad can store ({})",
                    LATEST_STORABLE_TIME.as_seconds_since_epoch()
                )))
            } else {
                Ok(time)
            }
        })
        .transpose()?;
    let own_endpoint = state.dap_url.clone().ok_or_else(|| {
        ManagementError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "this aggregator's DAP URL is not configured (management_api.dap_url): a task \
             needs both aggregators' endpoints",
        )
    })?;
    let (leader, helper) = match role {
        Role::Leader => (own_endpoint, request.peer_aggregator_endpoint.clone()),
        _ => (request.peer_aggregator_endpoint.clone(), own_endpoint),
    };
    let keypair = HpkeKeypair::generate_default(HpkeConfigId(rand::random()));
    let builder = Task::builder()
        .task_id(task_id)
        .role(role)
        .leader_aggregator_endpoint(leader)
        .helper_aggregator_endpoint(helper)
        .vdaf(vdaf)
        .dp_strategy(dp_strategy)
        .vdaf_verify_key(VerifyKey::new(key_bytes))
        .batch_mode(batch_mode)
        .min_batch_size(request.min_batch_size)
        .time_precision(Duration::from_seconds(request.time_precision))
        .max_batch_query_count(request.max_batch_query_count)
        .task_expiration(task_expiration)
        .report_expiry_age(Some(REPORT_EXPIRY_AGE))
        .tolerable_clock_skew(DEFAULT_TOLERABLE_CLOCK_SKEW)
        .collector_hpke_config(collector_hpke_config)
        .hpke_keys(vec![keypair]);
    let (builder, helper_token) = match role {
        Role::Leader => {
            let token = request
                .aggregator_auth_token
                .as_ref()
                .ok_or_else(|| {
                    bad(
                        "a Leader's task needs aggregator_auth_token: the token the Helper's \
                         POST /tasks answered with",
                    )
                })?
                .to_token()
                .map_err(|reason| bad(format!("aggregator_auth_token: {reason}")))?;
            let collector_hash = request
                .collector_auth_token_hash
                .as_ref()
                .ok_or_else(|| {
                    bad(
                        "a Leader's task needs collector_auth_token_hash: the SHA-256 of the \
                         Collector's token",
                    )
                })?
                .to_hash()
                .map_err(|reason| bad(format!("collector_auth_token_hash: {reason}")))?;
            let builder = builder
                .aggregator_auth_token(token)
                .collector_auth_token(collector_hash);
            (builder, None)
        }
        _ => {
            if request.aggregator_auth_token.is_some() {
                return Err(bad(
                    "a Helper's task takes no aggregator_auth_token: the Helper makes it and \
                     answers it, to be given to the Leader",
                ));
            }
            let token = AuthenticationToken::random(AuthenticationTokenType::Bearer);
            (builder.aggregator_auth_token(token.hash()), Some(token))
        }
    };
    let task = builder
        .build()
        .map_err(|error| bad(format!("invalid task: {error}")))?;
    Ok((task, helper_token))
}

fn bad(detail: impl Into<String>) -> ManagementError {
    ManagementError::bad_request(detail)
}

/// Whether `existing` is the task `candidate` asks for: the same shared
/// parameters and, for a Leader, the same tokens. Its own keypair, the
/// Helper's generated token and this aggregator's endpoint are not
/// compared (the first two are new on every request).
fn same_task(existing: &Task, candidate: &Task) -> bool {
    let shared = existing.role() == candidate.role()
        && existing.peer_aggregator_endpoint() == candidate.peer_aggregator_endpoint()
        && existing.vdaf() == candidate.vdaf()
        && existing.dp_strategy() == candidate.dp_strategy()
        && existing.vdaf_verify_key() == candidate.vdaf_verify_key()
        && existing.batch_mode() == candidate.batch_mode()
        && existing.max_batch_query_count() == candidate.max_batch_query_count()
        && existing.task_expiration() == candidate.task_expiration()
        && existing.min_batch_size() == candidate.min_batch_size()
        && existing.time_precision() == candidate.time_precision()
        && existing.collector_hpke_config() == candidate.collector_hpke_config();
    if !shared || !existing.is_leader() {
        return shared;
    }
    let same_aggregator_token = match candidate.aggregator_auth_token().token() {
        Some(token) => existing.aggregator_auth_token().validate(token),
        None => false,
    };
    let same_collector_hash = match (
        existing.collector_auth_token(),
        candidate.collector_auth_token(),
    ) {
        (Some(existing), Some(candidate)) => existing.hash() == candidate.hash(),
        _ => false,
    };
    same_aggregator_token && same_collector_hash
}
