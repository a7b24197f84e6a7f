//! Tasks (DAP-09 section 4.2) in SQLite: the task's sealed document in one
//! column (`task_document`, which holds every task secret, encrypted: see
//! `crate::task_document`), plus the columns queries need.

use super::row::{self, Result};
use crate::columns;
use crate::reseal::ResealBatch;
use crate::{task_document, DatastoreError, DatastoreKeys};
use dyad_core::task::Task;
use dyad_messages::draft09::{TaskId, Time};
use sqlx::SqliteConnection;

pub(super) async fn put(
    conn: &mut SqliteConnection,
    now: Time,
    task: &Task,
    keys: &DatastoreKeys,
) -> Result<()> {
    let expiration = task
        .task_expiration()
        .map(|t| row::time(t, "task_expiration"))
        .transpose()?;
    let inserted = sqlx::query(
        "INSERT INTO tasks (task_id, role, query_type, task_expiration, created_at, task_document)
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (task_id) DO NOTHING",
    )
    .bind(task.task_id().as_bytes().as_slice())
    .bind(i64::from(task.role().as_u8()))
    .bind(i64::from(task.batch_mode().query_type_code()))
    .bind(expiration)
    .bind(row::time(now, "created_at")?)
    .bind(task_document::seal(task, keys)?)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(());
    }
    match get(conn, task.task_id(), keys).await? {
        Some(existing) if existing == *task => Ok(()),
        _ => Err(DatastoreError::AlreadyExists {
            what: format!("a different task with ID {}", task.task_id()),
        }),
    }
}

pub(super) async fn get(
    conn: &mut SqliteConnection,
    task_id: &TaskId,
    keys: &DatastoreKeys,
) -> Result<Option<Task>> {
    sqlx::query("SELECT task_id, task_document FROM tasks WHERE task_id = ?")
        .bind(task_id.as_bytes().as_slice())
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(|row| columns::rows::task(row, keys))
        .transpose()
}

pub(super) async fn get_all(
    conn: &mut SqliteConnection,
    keys: &DatastoreKeys,
) -> Result<Vec<Task>> {
    sqlx::query("SELECT task_id, task_document FROM tasks ORDER BY task_id")
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| columns::rows::task(row, keys))
        .collect()
}

pub(super) async fn delete(conn: &mut SqliteConnection, task_id: &TaskId) -> Result<bool> {
    let deleted = sqlx::query("DELETE FROM tasks WHERE task_id = ?")
        .bind(task_id.as_bytes().as_slice())
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok(deleted > 0)
}

/// How many tasks are stored.
pub(super) async fn count(conn: &mut SqliteConnection) -> Result<u64> {
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tasks")
        .fetch_one(&mut *conn)
        .await?;
    row::count(count, "tasks")
}

/// Re-seals under the first key the documents of up to `limit` tasks after
/// `after` in task ID order (see `crate::reseal`). Each rewrite names the
/// document it replaces, so a row changed since it was read is left alone.
pub(super) async fn reseal(
    conn: &mut SqliteConnection,
    after: Option<&[u8]>,
    limit: u64,
    keys: &DatastoreKeys,
) -> Result<ResealBatch> {
    let rows = sqlx::query(
        "SELECT task_id, task_document FROM tasks WHERE task_id > ? ORDER BY task_id LIMIT ?",
    )
    .bind(after.unwrap_or_default())
    .bind(row::int(limit, "limit")?)
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
        let updated = sqlx::query(
            "UPDATE tasks SET task_document = ? WHERE task_id = ? AND task_document = ?",
        )
        .bind(resealed)
        .bind(task_id.as_bytes().as_slice())
        .bind(sealed)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if updated == 1 {
            batch.resealed += 1;
        }
    }
    Ok(batch)
}
