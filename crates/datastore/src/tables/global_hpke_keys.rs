//! Global HPKE keys (see [`crate::models::GlobalHpkeKey`]): one row per
//! config ID, the public `HpkeConfig` encoded and the private key sealed
//! under the datastore keys (bound to `global_hpke_keys.private_key` of its
//! config ID, re-sealed by `crate::reseal` like the task documents), and
//! the one-row `global_hpke_keys_lock` whose update serializes the writers
//! of the keys ([`lock_global_hpke_keys`]).

use crate::backend::{sql, Backend};
use crate::backend_transaction::{BackendTransaction as Tx, Open};
use crate::columns::{self, Result, RowReader, StoredRow};
use crate::keys::ResealBatch;
use crate::models::{GlobalHpkeKey, HpkeKeyState};
use crate::{DatastoreError, DatastoreKeys};
use dyad_core::hpke::{HpkeKeypair, HpkePrivateKey};
use dyad_messages::draft09::{HpkeConfig, HpkeConfigId};
use zeroize::Zeroizing;

const TABLE: &str = "global_hpke_keys";
const COLUMN: &str = "private_key";

/// Takes the lock row: on PostgreSQL a second writer waits here until the
/// first commits, then fails with a serialization failure and is rerun
/// with a fresh snapshot (so it sees what the first wrote); on SQLite the
/// write lock of `BEGIN IMMEDIATE` serializes writers already.
pub(crate) async fn lock_global_hpke_keys<DB: Backend>(tx: &mut Tx<'_, DB>) -> Result<()> {
    let Open { conn, now, .. } = tx.write("lock_global_hpke_keys")?;
    let updated = sql::<DB>("UPDATE global_hpke_keys_lock SET locked_at = $1 WHERE id = 1")
        .bind(columns::time(now, "now")?)
        .execute(&mut *conn)
        .await?;
    if updated != 1 {
        return Err(DatastoreError::corrupt(
            "global_hpke_keys_lock",
            "id",
            "the lock row is missing",
        ));
    }
    Ok(())
}

pub(crate) async fn put_global_hpke_key<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    keypair: &HpkeKeypair,
    state: HpkeKeyState,
) -> Result<()> {
    let Open { conn, now, keys } = tx.write("put_global_hpke_key")?;
    let id = keypair.id();
    let sealed = keys.seal(
        TABLE,
        COLUMN,
        &row_key(id),
        keypair.private_key().as_bytes(),
    )?;
    let inserted = sql::<DB>(
        "INSERT INTO global_hpke_keys (config_id, state, hpke_config, private_key, created_at,
             state_changed_at)
         VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (config_id) DO NOTHING",
    )
    .bind(config_id_column(id)?)
    .bind(columns::code(state.code(), "state")?)
    .bind(columns::encode(keypair.config(), "hpke_config")?)
    .bind(sealed)
    .bind(columns::time(now, "created_at")?)
    .execute(&mut *conn)
    .await?;
    if inserted == 1 {
        Ok(())
    } else {
        Err(DatastoreError::AlreadyExists {
            what: format!("a global HPKE key with config ID {id}"),
        })
    }
}

pub(crate) async fn get_global_hpke_keys<DB: Backend>(
    tx: &mut Tx<'_, DB>,
) -> Result<Vec<GlobalHpkeKey>> {
    let Open { conn, keys, .. } = tx.read();
    sql::<DB>(
        "SELECT config_id, state, hpke_config, private_key, created_at, state_changed_at
         FROM global_hpke_keys ORDER BY config_id",
    )
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|row| global_hpke_key(row, keys))
    .collect()
}

pub(crate) async fn set_global_hpke_key_state<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    config_id: HpkeConfigId,
    state: HpkeKeyState,
) -> Result<()> {
    let Open { conn, now, .. } = tx.write("set_global_hpke_key_state")?;
    let exists = sql::<DB>("SELECT 1 FROM global_hpke_keys WHERE config_id = $1")
        .bind(config_id_column(config_id)?)
        .fetch_optional(&mut *conn)
        .await?
        .is_some();
    if !exists {
        return Err(DatastoreError::NotFound {
            what: format!("global HPKE key {config_id}"),
        });
    }
    // The time of the last change stays when the state does not change.
    sql::<DB>(
        "UPDATE global_hpke_keys SET state = $1, state_changed_at = $2
         WHERE config_id = $3 AND state <> $1",
    )
    .bind(columns::code(state.code(), "state")?)
    .bind(columns::time(now, "state_changed_at")?)
    .bind(config_id_column(config_id)?)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(crate) async fn delete_global_hpke_key<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    config_id: HpkeConfigId,
) -> Result<bool> {
    let Open { conn, .. } = tx.write("delete_global_hpke_key")?;
    let deleted = sql::<DB>("DELETE FROM global_hpke_keys WHERE config_id = $1")
        .bind(config_id_column(config_id)?)
        .execute(&mut *conn)
        .await?;
    Ok(deleted > 0)
}

/// How many private keys the table holds (see `crate::reseal`).
pub(crate) async fn count_sealed_private_keys<DB: Backend>(tx: &mut Tx<'_, DB>) -> Result<u64> {
    let Open { conn, .. } = tx.read();
    let counted = sql::<DB>("SELECT COUNT(*) AS count FROM global_hpke_keys")
        .fetch_one(&mut *conn)
        .await?;
    columns::count_of(&counted, TABLE)
}

/// Re-seals under the first key the private keys of up to `limit` rows
/// after the config ID whose row key is `after`, in config ID order (see
/// `crate::reseal`); a row changed since it was read is left alone.
pub(crate) async fn reseal_private_keys<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    after: Option<&[u8]>,
    limit: u64,
) -> Result<ResealBatch> {
    let Open { conn, keys, .. } = tx.write("reseal_sealed_values")?;
    let after = match after {
        None => -1,
        Some([id]) => i64::from(*id),
        Some(_) => return Err(DatastoreError::invalid("after", "not a config ID row key")),
    };
    let rows = sql::<DB>(
        "SELECT config_id, private_key FROM global_hpke_keys WHERE config_id > $1
         ORDER BY config_id LIMIT $2",
    )
    .bind(columns::code(after, "after")?)
    .bind(columns::int(limit, "limit")?)
    .fetch_all(&mut *conn)
    .await?;
    let mut batch = ResealBatch::default();
    for stored in &rows {
        let r = RowReader::new(stored, TABLE);
        let id = config_id_of(&r)?;
        let sealed = r.blob(COLUMN)?;
        batch.last_row = Some(row_key(id).to_vec());
        let resealed = keys
            .reseal(TABLE, COLUMN, &row_key(id), &sealed)
            .map_err(|error| name_key(error, id))?;
        let Some(resealed) = resealed else {
            batch.current += 1;
            continue;
        };
        let updated = sql::<DB>(
            "UPDATE global_hpke_keys SET private_key = $1 WHERE config_id = $2 AND private_key = $3",
        )
        .bind(resealed)
        .bind(config_id_column(id)?)
        .bind(sealed)
        .execute(&mut *conn)
        .await?;
        if updated == 1 {
            batch.resealed += 1;
        }
    }
    Ok(batch)
}

/// The row key a private key is sealed for: its config ID.
fn row_key(id: HpkeConfigId) -> [u8; 1] {
    [id.0]
}

fn config_id_column(id: HpkeConfigId) -> Result<i16> {
    columns::code(id.0.into(), "config_id")
}

fn config_id_of<R: StoredRow>(r: &RowReader<'_, R>) -> Result<HpkeConfigId> {
    let code = r.code("config_id")?;
    u8::try_from(code)
        .map(HpkeConfigId)
        .map_err(|_| r.corrupt("config_id", "not a u8"))
}

/// One stored key, its private key opened.
fn global_hpke_key(row: &impl StoredRow, keys: &DatastoreKeys) -> Result<GlobalHpkeKey> {
    let r = RowReader::new(row, TABLE);
    let id = config_id_of(&r)?;
    let state = r.code("state")?;
    let state = HpkeKeyState::from_code(state)
        .ok_or_else(|| r.corrupt("state", format!("unknown state {state}")))?;
    let config: HpkeConfig = r.decode("hpke_config")?;
    if config.id != id {
        return Err(r.corrupt("hpke_config", "config ID differs from the row's"));
    }
    let private_key = Zeroizing::new(
        keys.open(TABLE, COLUMN, &row_key(id), &r.blob(COLUMN)?)
            .map_err(|error| name_key(error, id))?,
    );
    let keypair = HpkeKeypair::new(config, HpkePrivateKey::new(private_key.to_vec()))
        .map_err(|e| r.corrupt(COLUMN, e))?;
    Ok(GlobalHpkeKey {
        keypair,
        state,
        created_at: r.time("created_at")?,
        state_changed_at: r.time("state_changed_at")?,
    })
}

/// A decryption error naming the key rather than its row key.
fn name_key(error: DatastoreError, id: HpkeConfigId) -> DatastoreError {
    error.naming_row(|| format!("global HPKE key {id}"))
}
