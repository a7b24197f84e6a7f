//! The global HPKE keys over the management API (DAP-09 section 4.4.1: the
//! keys Clients seal to when a task has none of its own): list, read, add
//! (`PUT`, always `pending`, under the lowest free config ID), change state
//! (`PATCH`) and delete. The same datastore operations as `dyad hpke-key`;
//! a private key never leaves the datastore.

use super::error::{ManagementError, ManagementResult};
use super::models::{
    parse_aead, parse_config_id, parse_kdf, parse_kem, GlobalHpkeConfigJson,
    PatchHpkeConfigRequest, PutHpkeConfigRequest,
};
use super::routes::{json, parse_body};
use super::state::ManagementState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use dyad_core::hpke::{HpkeCiphersuite, HpkeKeypair};
use dyad_datastore::models::{GlobalHpkeKey, HpkeKeyState};
use dyad_datastore::{DatastoreError, DatastoreExt, TxError};
use dyad_messages::draft09::HpkeConfigId;

/// `GET /hpke_configs`: every global key, by config ID.
pub async fn list(State(state): State<ManagementState>) -> ManagementResult<Response> {
    let keys = all_keys(&state).await?;
    let items = keys
        .iter()
        .map(item)
        .collect::<ManagementResult<Vec<_>>>()?;
    json(StatusCode::OK, &items)
}

/// `GET /hpke_configs/{id}`.
pub async fn get(
    State(state): State<ManagementState>,
    Path(config_id): Path<String>,
) -> ManagementResult<Response> {
    let config_id = config_id_of(&config_id)?;
    let keys = all_keys(&state).await?;
    let key = keys
        .iter()
        .find(|key| key.id() == config_id)
        .ok_or_else(|| not_found(config_id))?;
    json(StatusCode::OK, &item(key)?)
}

/// `PUT /hpke_configs`: a new `pending` key for the suite asked (default
/// X25519HkdfSha256/HkdfSha256/Aes128Gcm), 201 with it; 409 when all 256
/// config IDs are taken.
pub async fn put(State(state): State<ManagementState>, body: Bytes) -> ManagementResult<Response> {
    let request: PutHpkeConfigRequest = if body.is_empty() {
        PutHpkeConfigRequest::default()
    } else {
        parse_body(&body)?
    };
    let default = HpkeCiphersuite::DEFAULT;
    let kem = named(request.kem_id.as_deref(), parse_kem, "kem_id")?.unwrap_or(default.kem);
    let kdf = named(request.kdf_id.as_deref(), parse_kdf, "kdf_id")?.unwrap_or(default.kdf);
    let aead = named(request.aead_id.as_deref(), parse_aead, "aead_id")?.unwrap_or(default.aead);
    // Refused here, before any transaction, if dyad cannot use the suite.
    HpkeKeypair::generate(HpkeConfigId(0), kem, kdf, aead)
        .map_err(|error| ManagementError::bad_request(format!("unusable HPKE suite: {error}")))?;
    let stored = state
        .datastore
        .run_tx("management_put_hpke_config", move |tx| {
            Box::pin(async move {
                tx.lock_global_hpke_keys().await?;
                let taken: Vec<u8> = tx
                    .get_global_hpke_keys()
                    .await?
                    .iter()
                    .map(|key| key.id().0)
                    .collect();
                let Some(id) = (0..=u8::MAX).find(|id| !taken.contains(id)) else {
                    return Err(TxError::abort(ManagementError::conflict(
                        "all 256 HPKE config IDs are taken: delete an expired key first",
                    )));
                };
                // Generating again on a retry is harmless: nothing was kept.
                let keypair = HpkeKeypair::generate(HpkeConfigId(id), kem, kdf, aead)
                    .map_err(TxError::abort)?;
                tx.put_global_hpke_key(&keypair, HpkeKeyState::Pending)
                    .await?;
                let stored = tx.get_global_hpke_keys().await?;
                stored
                    .into_iter()
                    .find(|key| key.id() == HpkeConfigId(id))
                    .ok_or_else(|| {
                        TxError::abort(ManagementError::internal("the new key vanished"))
                    })
            })
        })
        .await?;
    tracing::info!(
        config_id = stored.id().0,
        "global HPKE key added (pending) over the management API"
    );
    json(StatusCode::CREATED, &item(&stored)?)
}

/// `PATCH /hpke_configs/{id}`: the key's new state; 200 with no body.
pub async fn patch(
    State(state): State<ManagementState>,
    Path(config_id): Path<String>,
    body: Bytes,
) -> ManagementResult<Response> {
    let config_id = config_id_of(&config_id)?;
    let request: PatchHpkeConfigRequest = parse_body(&body)?;
    let new_state = HpkeKeyState::from(request.state);
    state
        .datastore
        .run_tx("management_patch_hpke_config", move |tx| {
            Box::pin(async move {
                tx.lock_global_hpke_keys().await?;
                match tx.set_global_hpke_key_state(config_id, new_state).await {
                    Err(DatastoreError::NotFound { .. }) => {
                        Err(TxError::abort(not_found(config_id)))
                    }
                    other => Ok(other?),
                }
            })
        })
        .await?;
    tracing::info!(
        config_id = config_id.0,
        state = new_state.name(),
        "global HPKE key state set over the management API"
    );
    Ok(StatusCode::OK.into_response())
}

/// `DELETE /hpke_configs/{id}`: 204, also when there was no such key.
pub async fn delete(
    State(state): State<ManagementState>,
    Path(config_id): Path<String>,
) -> ManagementResult<Response> {
    let config_id = config_id_of(&config_id)?;
    let deleted = state
        .datastore
        .run_tx("management_delete_hpke_config", move |tx| {
            Box::pin(async move {
                tx.lock_global_hpke_keys().await?;
                Ok(tx.delete_global_hpke_key(config_id).await?)
            })
        })
        .await?;
    if deleted {
        tracing::info!(
            config_id = config_id.0,
            "global HPKE key deleted over the management API"
        );
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn all_keys(state: &ManagementState) -> ManagementResult<Vec<GlobalHpkeKey>> {
    Ok(state
        .datastore
        .run_read_tx("management_get_hpke_configs", |tx| {
            Box::pin(async move { Ok(tx.get_global_hpke_keys().await?) })
        })
        .await?)
}

fn item(key: &GlobalHpkeKey) -> ManagementResult<GlobalHpkeConfigJson> {
    GlobalHpkeConfigJson::from_key(key).ok_or_else(|| {
        ManagementError::internal(format!(
            "global HPKE key {} uses an algorithm the API cannot name",
            key.id().0
        ))
    })
}

fn config_id_of(text: &str) -> ManagementResult<HpkeConfigId> {
    parse_config_id(text).ok_or_else(|| {
        ManagementError::bad_request(format!(
            "invalid config_id {text:?}: a config ID is a number from 0 to 255"
        ))
    })
}

fn not_found(config_id: HpkeConfigId) -> ManagementError {
    ManagementError::not_found(format!("no global HPKE key with config ID {}", config_id.0))
}

/// The algorithm a request member names, if given; 400 for a name the API
/// does not know.
fn named<T>(
    name: Option<&str>,
    parse: fn(&str) -> Option<T>,
    member: &str,
) -> ManagementResult<Option<T>> {
    name.map(|name| {
        parse(name)
            .ok_or_else(|| ManagementError::bad_request(format!("unknown {member} {name:?}")))
    })
    .transpose()
}
