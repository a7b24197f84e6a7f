//! Tasks (DAP-09 section 4.2) in SQLite: the task's serde form in one
//! column (`task_document`, which holds every task secret), plus the columns
//! queries need.

use super::row::{self, Result, RowReader};
use crate::DatastoreError;
use dyad_core::task::Task;
use dyad_messages::draft09::{TaskId, Time};
use sqlx::SqliteConnection;

const TABLE: &str = "tasks";

fn document(task: &Task) -> Result<Vec<u8>> {
    serde_json::to_vec(task).map_err(|e| DatastoreError::invalid("task", e))
}

fn from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Task> {
    let reader = RowReader::new(row, TABLE);
    let bytes = reader.blob("task_document")?;
    // serde_json errors name a position, never the secret values.
    serde_json::from_slice(&bytes).map_err(|e| reader.corrupt_error("task_document", e))
}

pub(super) async fn put(conn: &mut SqliteConnection, now: Time, task: &Task) -> Result<()> {
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
    .bind(document(task)?)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(());
    }
    match get(conn, task.task_id()).await? {
        Some(existing) if existing == *task => Ok(()),
        _ => Err(DatastoreError::AlreadyExists {
            what: format!("a different task with ID {}", task.task_id()),
        }),
    }
}

pub(super) async fn get(conn: &mut SqliteConnection, task_id: &TaskId) -> Result<Option<Task>> {
    sqlx::query("SELECT task_document FROM tasks WHERE task_id = ?")
        .bind(task_id.as_bytes().as_slice())
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

pub(super) async fn get_all(conn: &mut SqliteConnection) -> Result<Vec<Task>> {
    sqlx::query("SELECT task_document FROM tasks ORDER BY task_id")
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(from_row)
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
