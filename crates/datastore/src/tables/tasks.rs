//! Tasks (DAP-09 section 4.2): the task's sealed document in
//! one column (`task_document`, which holds every task secret, encrypted:
//! see `crate::task_document`), plus the columns queries need (and, for a
//! task provisioned by taskprov, its public `TaskConfig` in
//! `taskprov_config`, also kept in the document).

use crate::backend::{sql, Backend};
use crate::backend_transaction::{BackendTransaction as Tx, Open};
use crate::columns::{self, Result};
use crate::keys::{ResealBatch, SealedColumn};
use crate::models::{TaskRowCounts, TASK_TABLES, TASK_TABLE_KEYS, UNAGGREGATED_REPORTS};
use crate::{task_document, DatastoreError};
use dyad_core::task::Task;
use dyad_messages::draft09::{TaskId, Time};

pub(crate) async fn put_task<DB: Backend>(tx: &mut Tx<'_, DB>, task: &Task) -> Result<()> {
    let Open { conn, now, keys } = tx.write("put_task")?;
    let expiration = task
        .task_expiration()
        .map(|t| columns::time(t, "task_expiration"))
        .transpose()?;
    let inserted = sql::<DB>(
        "INSERT INTO tasks (task_id, role, query_type, task_expiration, created_at, updated_at,
             task_document, taskprov_config)
         VALUES ($1, $2, $3, $4, $5, $5, $6, $7) ON CONFLICT (task_id) DO NOTHING",
    )
    .bind(task.task_id().as_bytes().as_slice())
    .bind(columns::code(task.role().as_u8().into(), "role")?)
    .bind(columns::code(
        task.batch_mode().query_type_code().into(),
        "query_type",
    )?)
    .bind(expiration)
    .bind(columns::time(now, "created_at")?)
    .bind(task_document::seal(task, keys)?)
    .bind(task.taskprov_config())
    .execute(&mut *conn)
    .await?;
    if inserted == 1 {
        return Ok(());
    }
    match get_task(tx, task.task_id()).await? {
        Some(existing) if existing == *task => Ok(()),
        _ => Err(DatastoreError::AlreadyExists {
            what: format!("a different task with ID {}", task.task_id()),
        }),
    }
}

pub(crate) async fn get_task<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
) -> Result<Option<Task>> {
    let Open { conn, keys, .. } = tx.read();
    sql::<DB>("SELECT task_id, task_document FROM tasks WHERE task_id = $1")
        .bind(task_id.as_bytes().as_slice())
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(|row| columns::rows::task(row, keys))
        .transpose()
}

pub(crate) async fn get_tasks<DB: Backend>(tx: &mut Tx<'_, DB>) -> Result<Vec<Task>> {
    let Open { conn, keys, .. } = tx.read();
    sql::<DB>("SELECT task_id, task_document FROM tasks ORDER BY task_id")
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| columns::rows::task(row, keys))
        .collect()
}

pub(crate) async fn get_task_ids<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    after: Option<TaskId>,
    limit: u64,
) -> Result<Vec<TaskId>> {
    let Open { conn, .. } = tx.read();
    // Both backends order BLOB/BYTEA bytewise, so "greater than" is the
    // order of the raw ID bytes.
    let limit = columns::int(limit, "limit")?;
    let rows = match after {
        Some(after) => {
            sql::<DB>("SELECT task_id FROM tasks WHERE task_id > $1 ORDER BY task_id LIMIT $2")
                .bind(after.as_bytes().as_slice())
                .bind(limit)
                .fetch_all(&mut *conn)
                .await?
        }
        None => {
            sql::<DB>("SELECT task_id FROM tasks ORDER BY task_id LIMIT $1")
                .bind(limit)
                .fetch_all(&mut *conn)
                .await?
        }
    };
    rows.iter()
        .map(|row| columns::RowReader::new(row, "tasks").id("task_id"))
        .collect()
}

/// Deletes the task's rows table by table (children first, see
/// [`TASK_TABLES`]), counting each, then the task itself; `None` if there
/// is no such task (then nothing was deleted: every table references it).
pub(crate) async fn delete_task<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
) -> Result<Option<TaskRowCounts>> {
    let Open { conn, .. } = tx.write("delete_task")?;
    let mut counts = [0; TASK_TABLES.len()];
    for (table, count) in TASK_TABLES.iter().zip(&mut counts) {
        *count = sql::<DB>(&format!("DELETE FROM {table} WHERE task_id = $1"))
            .bind(task_id.as_bytes().as_slice())
            .execute(&mut *conn)
            .await?;
    }
    let deleted = sql::<DB>("DELETE FROM tasks WHERE task_id = $1")
        .bind(task_id.as_bytes().as_slice())
        .execute(&mut *conn)
        .await?;
    Ok((deleted > 0).then(|| TaskRowCounts::from_table_counts(counts)))
}

/// Deletes up to `limit` of the task's rows, table by table (children
/// first, see [`TASK_TABLES`]), counting each; once no row is left, the
/// task itself. Returns the counts and whether the task row went (false
/// too if there is no such task). Repeated until it says so, it removes
/// what [`delete_task`] removes, a bounded number of rows per transaction.
pub(crate) async fn delete_task_rows<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
    limit: u64,
) -> Result<(TaskRowCounts, bool)> {
    let Open { conn, .. } = tx.write("delete_task_rows")?;
    let mut counts = [0; TASK_TABLES.len()];
    let mut left = limit;
    for ((table, keys), count) in TASK_TABLES.iter().zip(TASK_TABLE_KEYS).zip(&mut counts) {
        // The queue of reports no job took holds keys of client reports,
        // no more of them than there are client reports: up to `limit` of
        // its rows go at each call, outside the budget, so that it is empty
        // by the time the client reports are.
        let queue = *table == UNAGGREGATED_REPORTS;
        if left == 0 && !queue {
            return Ok((TaskRowCounts::from_table_counts(counts), false));
        }
        *count = sql::<DB>(&format!(
            "DELETE FROM {table} WHERE ({keys}) IN (
                 SELECT {keys} FROM {table} WHERE task_id = $1 LIMIT $2)"
        ))
        .bind(task_id.as_bytes().as_slice())
        .bind(columns::int(if queue { limit } else { left }, "limit")?)
        .execute(&mut *conn)
        .await?;
        // A table with rows left used up the whole budget.
        if !queue {
            left -= (*count).min(left);
        }
    }
    if left == 0 {
        return Ok((TaskRowCounts::from_table_counts(counts), false));
    }
    let deleted = sql::<DB>("DELETE FROM tasks WHERE task_id = $1")
        .bind(task_id.as_bytes().as_slice())
        .execute(&mut *conn)
        .await?;
    Ok((TaskRowCounts::from_table_counts(counts), deleted > 0))
}

/// Checks, inside a write, that the task of rows about to be inserted
/// into a table written once per report is stored, and keeps it so until
/// the transaction ends: what the table's foreign key to `tasks` checks
/// for each row, done once for all of them where the table has no such
/// key ([`Backend::REFERENCED_TASK_LOCK`]; where it has one, this does
/// nothing). [`DatastoreError::NotFound`] if there is no such task; the
/// inserts' own key failure must be passed through [`missing_task`] for
/// the same answer.
pub(crate) async fn hold_task<DB: Backend>(
    conn: &mut DB::Connection,
    task_id: &TaskId,
) -> Result<()> {
    let Some(lock) = DB::REFERENCED_TASK_LOCK else {
        return Ok(());
    };
    let held = sql::<DB>(&format!(
        "SELECT 1 AS held FROM tasks WHERE task_id = $1{lock}"
    ))
    .bind(task_id.as_bytes().as_slice())
    .fetch_optional(&mut *conn)
    .await?;
    match held {
        Some(_) => Ok(()),
        None => Err(task_not_found(task_id)),
    }
}

/// An insert's foreign key failure, where the tables written once per
/// report keep their key to `tasks`, as the [`DatastoreError::NotFound`]
/// of their task that [`hold_task`] gives elsewhere; any other error as
/// it is.
pub(crate) fn missing_task(error: DatastoreError, task_id: &TaskId) -> DatastoreError {
    match &error {
        DatastoreError::Database(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
            task_not_found(task_id)
        }
        _ => error,
    }
}

fn task_not_found(task_id: &TaskId) -> DatastoreError {
    DatastoreError::NotFound {
        what: format!("task {task_id}"),
    }
}

/// Whether a task with this ID is stored.
pub(crate) async fn task_exists<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
) -> Result<bool> {
    let Open { conn, .. } = tx.read();
    Ok(sql::<DB>("SELECT 1 FROM tasks WHERE task_id = $1")
        .bind(task_id.as_bytes().as_slice())
        .fetch_optional(&mut *conn)
        .await?
        .is_some())
}

/// Counts the task's rows in every table of [`TASK_TABLES`]; `None` if
/// there is no such task.
pub(crate) async fn count_task_rows<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
) -> Result<Option<TaskRowCounts>> {
    if !task_exists(tx, task_id).await? {
        return Ok(None);
    }
    let Open { conn, .. } = tx.read();
    let mut counts = [0; TASK_TABLES.len()];
    for (table, count) in TASK_TABLES.iter().zip(&mut counts) {
        let counted = sql::<DB>(&format!(
            "SELECT COUNT(*) AS count FROM {table} WHERE task_id = $1"
        ))
        .bind(task_id.as_bytes().as_slice())
        .fetch_one(&mut *conn)
        .await?;
        *count = columns::count_of(&counted, table)?;
    }
    Ok(Some(TaskRowCounts::from_table_counts(counts)))
}

/// Sets the task's expiration in both places it is stored: the
/// `task_expiration` column (for queries) and the sealed task document
/// (resealed under the first datastore key).
pub(crate) async fn update_task_expiration<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
    task_expiration: Option<Time>,
) -> Result<Task> {
    let task = get_task(tx, task_id)
        .await?
        .ok_or_else(|| DatastoreError::NotFound {
            what: format!("task {task_id}"),
        })?;
    let task = task
        .to_builder()
        .task_expiration(task_expiration)
        .build()
        .map_err(|e| DatastoreError::invalid("task_expiration", e))?;
    let expiration = task_expiration
        .map(|t| columns::time(t, "task_expiration"))
        .transpose()?;
    let Open { conn, now, keys } = tx.write("update_task_expiration")?;
    sql::<DB>(
        "UPDATE tasks SET task_expiration = $1, task_document = $2, updated_at = $3
         WHERE task_id = $4",
    )
    .bind(expiration)
    .bind(task_document::seal(&task, keys)?)
    .bind(columns::time(now, "updated_at")?)
    .bind(task_id.as_bytes().as_slice())
    .execute(&mut *conn)
    .await?;
    Ok(task)
}

pub(crate) async fn count_sealed_values<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    column: SealedColumn,
) -> Result<u64> {
    match column {
        SealedColumn::GlobalHpkePrivateKey => {
            return super::global_hpke_keys::count_sealed_private_keys(tx).await
        }
        SealedColumn::TaskprovPeerDocument => {
            return super::taskprov_peer_aggregators::count_sealed_peer_documents(tx).await
        }
        _ => {}
    }
    let Open { conn, .. } = tx.read();
    let counted = sql::<DB>("SELECT COUNT(*) AS count FROM tasks")
        .fetch_one(&mut *conn)
        .await?;
    columns::count_of(&counted, "tasks")
}

/// Re-seals under the first key the values of `column`: the task
/// documents of up to `limit` tasks after
/// `after` in task ID order, or the global HPKE private keys (see
/// `crate::tables::global_hpke_keys`; `crate::reseal`). Each rewrite names the
/// document it replaces, so a row changed since it was read is left alone.
pub(crate) async fn reseal_sealed_values<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    column: SealedColumn,
    after: Option<&[u8]>,
    limit: u64,
) -> Result<ResealBatch> {
    match column {
        SealedColumn::GlobalHpkePrivateKey => {
            return super::global_hpke_keys::reseal_private_keys(tx, after, limit).await
        }
        SealedColumn::TaskprovPeerDocument => {
            return super::taskprov_peer_aggregators::reseal_peer_documents(tx, after, limit).await
        }
        _ => {}
    }
    let Open { conn, keys, .. } = tx.write("reseal_sealed_values")?;
    let rows = sql::<DB>(
        "SELECT task_id, task_document FROM tasks WHERE task_id > $1 ORDER BY task_id LIMIT $2",
    )
    .bind(after.unwrap_or_default())
    .bind(columns::int(limit, "limit")?)
    .fetch_all(&mut *conn)
    .await?;
    let mut batch = ResealBatch::default();
    for stored in &rows {
        let (task_id, sealed) = columns::rows::sealed_task_document(stored)?;
        batch.last_row = Some(task_id.as_bytes().to_vec());
        let Some(resealed) = task_document::reseal(&sealed, &task_id, keys)? else {
            batch.current += 1;
            continue;
        };
        let updated = sql::<DB>(
            "UPDATE tasks SET task_document = $1 WHERE task_id = $2 AND task_document = $3",
        )
        .bind(resealed)
        .bind(task_id.as_bytes().as_slice())
        .bind(sealed)
        .execute(&mut *conn)
        .await?;
        if updated == 1 {
            batch.resealed += 1;
        }
    }
    Ok(batch)
}
