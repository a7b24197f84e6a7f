//! Taskprov peer aggregators (see [`dyad_core::taskprov::PeerAggregator`]):
//! one row per (endpoint, role) of the other aggregator, keyed by
//! `peer_key` (the role's code, then the endpoint's bytes), with the whole
//! peer as its serde (JSON) document sealed under the datastore keys for
//! that key (`taskprov_peer_aggregators.peer_document`, re-sealed by
//! `crate::reseal` like the task documents): `verify_key_init` and the
//! tokens never reach the database in the clear.

use crate::backend::{sql, Backend};
use crate::backend_transaction::{BackendTransaction as Tx, Open};
use crate::columns::{self, Result, RowReader, StoredRow};
use crate::keys::ResealBatch;
use crate::{DatastoreError, DatastoreKeys};
use dyad_core::taskprov::PeerAggregator;
use dyad_messages::draft09::Role;
use url::Url;
use zeroize::Zeroizing;

const TABLE: &str = "taskprov_peer_aggregators";
const COLUMN: &str = "peer_document";

/// The row key of the peer at `endpoint` in `role`.
fn peer_key(endpoint: &Url, role: Role) -> Vec<u8> {
    let mut key = vec![role.as_u8()];
    key.extend_from_slice(endpoint.as_str().as_bytes());
    key
}

pub(crate) async fn put_taskprov_peer_aggregator<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    peer: &PeerAggregator,
) -> Result<()> {
    let Open { conn, now, keys } = tx.write("put_taskprov_peer_aggregator")?;
    let key = peer_key(peer.endpoint(), peer.role());
    let json = Zeroizing::new(
        serde_json::to_vec(peer).map_err(|e| DatastoreError::invalid("peer aggregator", e))?,
    );
    let sealed = keys.seal(TABLE, COLUMN, &key, &json)?;
    let inserted = sql::<DB>(
        "INSERT INTO taskprov_peer_aggregators (peer_key, endpoint, role, peer_document,
             created_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (peer_key) DO NOTHING",
    )
    .bind(key.as_slice())
    .bind(peer.endpoint().as_str())
    .bind(columns::code(peer.role().as_u8().into(), "role")?)
    .bind(sealed)
    .bind(columns::time(now, "created_at")?)
    .execute(&mut *conn)
    .await?;
    if inserted == 1 {
        Ok(())
    } else {
        Err(DatastoreError::AlreadyExists {
            what: format!(
                "a taskprov peer aggregator at {} in role {}",
                peer.endpoint(),
                peer.role()
            ),
        })
    }
}

pub(crate) async fn get_taskprov_peer_aggregators<DB: Backend>(
    tx: &mut Tx<'_, DB>,
) -> Result<Vec<PeerAggregator>> {
    let Open { conn, keys, .. } = tx.read();
    sql::<DB>("SELECT peer_key, peer_document FROM taskprov_peer_aggregators ORDER BY peer_key")
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| peer_of(row, keys))
        .collect()
}

pub(crate) async fn get_taskprov_peer_aggregator<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    endpoint: &Url,
    role: Role,
) -> Result<Option<PeerAggregator>> {
    let Open { conn, keys, .. } = tx.read();
    sql::<DB>("SELECT peer_key, peer_document FROM taskprov_peer_aggregators WHERE peer_key = $1")
        .bind(peer_key(endpoint, role).as_slice())
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(|row| peer_of(row, keys))
        .transpose()
}

pub(crate) async fn delete_taskprov_peer_aggregator<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    endpoint: &Url,
    role: Role,
) -> Result<bool> {
    let Open { conn, .. } = tx.write("delete_taskprov_peer_aggregator")?;
    let deleted = sql::<DB>("DELETE FROM taskprov_peer_aggregators WHERE peer_key = $1")
        .bind(peer_key(endpoint, role).as_slice())
        .execute(&mut *conn)
        .await?;
    Ok(deleted > 0)
}

fn peer_of(row: &impl StoredRow, keys: &DatastoreKeys) -> Result<PeerAggregator> {
    let r = RowReader::new(row, TABLE);
    let key = r.blob("peer_key")?;
    let json = Zeroizing::new(
        keys.open(TABLE, COLUMN, &key, &r.blob(COLUMN)?)
            .map_err(|error| name_peer(error, &key))?,
    );
    // serde_json errors name a position, never the secret values.
    let peer: PeerAggregator =
        serde_json::from_slice(&json).map_err(|e| DatastoreError::corrupt(TABLE, COLUMN, e))?;
    if peer_key(peer.endpoint(), peer.role()) != key {
        return Err(DatastoreError::corrupt(
            TABLE,
            COLUMN,
            "document belongs to another peer",
        ));
    }
    Ok(peer)
}

fn name_peer(error: DatastoreError, key: &[u8]) -> DatastoreError {
    error.naming_row(|| {
        format!(
            "taskprov peer aggregator {}",
            String::from_utf8_lossy(key.get(1..).unwrap_or_default())
        )
    })
}

/// How many peer documents the table holds (see `crate::reseal`).
pub(crate) async fn count_sealed_peer_documents<DB: Backend>(tx: &mut Tx<'_, DB>) -> Result<u64> {
    let Open { conn, .. } = tx.read();
    let counted = sql::<DB>("SELECT COUNT(*) AS count FROM taskprov_peer_aggregators")
        .fetch_one(&mut *conn)
        .await?;
    columns::count_of(&counted, TABLE)
}

/// Re-seals under the first key the documents of up to `limit` peers after
/// the row key `after`, in row key order (see `crate::reseal`); a row
/// changed since it was read is left alone.
pub(crate) async fn reseal_peer_documents<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    after: Option<&[u8]>,
    limit: u64,
) -> Result<ResealBatch> {
    let Open { conn, keys, .. } = tx.write("reseal_sealed_values")?;
    let rows = sql::<DB>(
        "SELECT peer_key, peer_document FROM taskprov_peer_aggregators WHERE peer_key > $1
         ORDER BY peer_key LIMIT $2",
    )
    .bind(after.unwrap_or_default())
    .bind(columns::int(limit, "limit")?)
    .fetch_all(&mut *conn)
    .await?;
    let mut batch = ResealBatch::default();
    for stored in &rows {
        let r = RowReader::new(stored, TABLE);
        let key = r.blob("peer_key")?;
        let sealed = r.blob(COLUMN)?;
        batch.last_row = Some(key.clone());
        let resealed = keys
            .reseal(TABLE, COLUMN, &key, &sealed)
            .map_err(|error| name_peer(error, &key))?;
        let Some(resealed) = resealed else {
            batch.current += 1;
            continue;
        };
        let updated = sql::<DB>(
            "UPDATE taskprov_peer_aggregators SET peer_document = $1
             WHERE peer_key = $2 AND peer_document = $3",
        )
        .bind(resealed)
        .bind(key.as_slice())
        .bind(sealed)
        .execute(&mut *conn)
        .await?;
        if updated == 1 {
            batch.resealed += 1;
        }
    }
    Ok(batch)
}
