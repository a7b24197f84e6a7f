//! The Leader's fixed-size batches in SQLite (DAP-09 sections 4.1.2 and
//! 4.6.1): reserving room for new aggregation jobs, and choosing the batch
//! of a `current_batch` query.

use super::row::{self, Result, RowReader};
use crate::columns;
use crate::models::{BatchReservation, OutstandingBatch};
use crate::DatastoreError;
use dyad_messages::draft09::{BatchId, TaskId, Time};
use sqlx::SqliteConnection;

const TABLE: &str = "outstanding_batches";

pub(super) async fn reserve(
    conn: &mut SqliteConnection,
    now: Time,
    task_id: &TaskId,
    wanted: u64,
    target_size: u64,
) -> Result<BatchReservation> {
    if wanted == 0 || target_size == 0 {
        return Err(DatastoreError::invalid(
            "batch reservation",
            "wanted and target size must be positive",
        ));
    }
    let open = sqlx::query(
        "SELECT batch_id, size FROM outstanding_batches
         WHERE task_id = ? AND filled = 0 AND collected = 0 AND size < ?
         ORDER BY created_at, batch_id LIMIT 1",
    )
    .bind(task_id.as_bytes().as_slice())
    .bind(row::int(target_size, "target size")?)
    .fetch_optional(&mut *conn)
    .await?;
    let (batch_id, size, created) = match open {
        Some(found) => {
            let r = RowReader::new(&found, TABLE);
            (r.id::<BatchId>("batch_id")?, r.u64("size")?, false)
        }
        None => (BatchId::random(), 0, true),
    };
    let reserved = wanted.min(target_size - size);
    let new_size = row::int(size + reserved, "batch size")?;
    let filled = size + reserved >= target_size;
    if created {
        sqlx::query(
            "INSERT INTO outstanding_batches (task_id, batch_id, created_at, size, filled)
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(task_id.as_bytes().as_slice())
        .bind(batch_id.as_bytes().as_slice())
        .bind(row::time(now, "now")?)
        .bind(new_size)
        .bind(filled)
        .execute(&mut *conn)
        .await?;
    } else {
        sqlx::query(
            "UPDATE outstanding_batches SET size = ?, filled = ? WHERE task_id = ? AND batch_id = ?",
        )
        .bind(new_size)
        .bind(filled)
        .bind(task_id.as_bytes().as_slice())
        .bind(batch_id.as_bytes().as_slice())
        .execute(&mut *conn)
        .await?;
    }
    Ok(BatchReservation {
        batch_id,
        reserved,
        created,
    })
}

pub(super) async fn release(
    conn: &mut SqliteConnection,
    task_id: &TaskId,
    batch_id: &BatchId,
    count: u64,
) -> Result<()> {
    let updated = sqlx::query(
        "UPDATE outstanding_batches
         SET size = MAX(size - ?, 0), filled = CASE WHEN collected = 1 THEN filled ELSE 0 END
         WHERE task_id = ? AND batch_id = ?",
    )
    .bind(row::int(count, "count")?)
    .bind(task_id.as_bytes().as_slice())
    .bind(batch_id.as_bytes().as_slice())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if updated == 0 {
        return Err(DatastoreError::NotFound {
            what: format!("outstanding batch {batch_id}"),
        });
    }
    Ok(())
}

pub(super) async fn get_open(
    conn: &mut SqliteConnection,
    task_id: &TaskId,
) -> Result<Vec<OutstandingBatch>> {
    sqlx::query(
        "SELECT task_id, batch_id, created_at, size, filled, collected FROM outstanding_batches
         WHERE task_id = ? AND collected = 0 ORDER BY created_at, batch_id",
    )
    .bind(task_id.as_bytes().as_slice())
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(columns::rows::outstanding_batch)
    .collect()
}

pub(super) async fn take_current(
    conn: &mut SqliteConnection,
    task_id: &TaskId,
    aggregation_parameter: &[u8],
    min_batch_size: u64,
) -> Result<Option<BatchId>> {
    let found = sqlx::query(
        "SELECT ob.batch_id FROM outstanding_batches ob
         WHERE ob.task_id = ? AND ob.collected = 0
           AND (SELECT COALESCE(SUM(ba.report_count), 0) FROM batch_aggregations ba
                WHERE ba.task_id = ob.task_id AND ba.batch_id = ob.batch_id
                  AND ba.aggregation_parameter = ?) >= ?
         ORDER BY ob.created_at, ob.batch_id LIMIT 1",
    )
    .bind(task_id.as_bytes().as_slice())
    .bind(aggregation_parameter)
    .bind(row::int(min_batch_size, "min_batch_size")?)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(found) = found else { return Ok(None) };
    let batch_id: BatchId = RowReader::new(&found, TABLE).id("batch_id")?;
    sqlx::query("UPDATE outstanding_batches SET collected = 1 WHERE task_id = ? AND batch_id = ?")
        .bind(task_id.as_bytes().as_slice())
        .bind(batch_id.as_bytes().as_slice())
        .execute(&mut *conn)
        .await?;
    Ok(Some(batch_id))
}
