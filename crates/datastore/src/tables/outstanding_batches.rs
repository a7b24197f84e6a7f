//! The Leader's fixed-size batches (DAP-09 sections 4.1.2 and
//! 4.6.1): reserving room for new aggregation jobs, and choosing the batch
//! of a `current_batch` query. Two transactions reserving room in (or
//! taking) the same batch conflict on its row, so one of them is retried.

use crate::backend::{sql, Backend};
use crate::backend_transaction::{BackendTransaction as Tx, Open};
use crate::columns::{self, Result, RowReader};
use crate::models::{BatchReservation, OutstandingBatch};
use crate::tables::expiry;
use crate::DatastoreError;
use dyad_messages::draft09::{BatchId, TaskId, Time};

const TABLE: &str = "outstanding_batches";

pub(crate) async fn reserve_outstanding_batch<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
    wanted: u64,
    target_size: u64,
) -> Result<BatchReservation> {
    let Open { conn, now, .. } = tx.write("reserve_outstanding_batch")?;
    if wanted == 0 || target_size == 0 {
        return Err(DatastoreError::invalid(
            "batch reservation",
            "wanted and target size must be positive",
        ));
    }
    let open = sql::<DB>(&format!(
        "SELECT batch_id, size FROM outstanding_batches
         WHERE task_id = $1 AND filled = {no} AND collected = {no} AND size < $2
         ORDER BY created_at, batch_id LIMIT 1",
        no = DB::FALSE
    ))
    .bind(task_id.as_bytes().as_slice())
    .bind(columns::int(target_size, "target size")?)
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
    let new_size = columns::int(size + reserved, "batch size")?;
    let filled = size + reserved >= target_size;
    if created {
        sql::<DB>(
            "INSERT INTO outstanding_batches (task_id, batch_id, created_at, size, filled)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(task_id.as_bytes().as_slice())
        .bind(batch_id.as_bytes().as_slice())
        .bind(columns::time(now, "now")?)
        .bind(new_size)
        .bind(filled)
        .execute(&mut *conn)
        .await?;
    } else {
        sql::<DB>(
            "UPDATE outstanding_batches SET size = $1, filled = $2
             WHERE task_id = $3 AND batch_id = $4",
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

pub(crate) async fn release_outstanding_batch_reservation<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
    batch_id: &BatchId,
    count: u64,
) -> Result<()> {
    let Open { conn, .. } = tx.write("release_outstanding_batch_reservation")?;
    let updated = sql::<DB>(
        "UPDATE outstanding_batches
         SET size = CASE WHEN size > $1 THEN size - $1 ELSE 0 END,
             filled = CASE WHEN collected THEN filled ELSE FALSE END
         WHERE task_id = $2 AND batch_id = $3",
    )
    .bind(columns::int(count, "count")?)
    .bind(task_id.as_bytes().as_slice())
    .bind(batch_id.as_bytes().as_slice())
    .execute(&mut *conn)
    .await?;
    if updated == 0 {
        return Err(DatastoreError::NotFound {
            what: format!("outstanding batch {batch_id}"),
        });
    }
    Ok(())
}

pub(crate) async fn get_outstanding_batches<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
) -> Result<Vec<OutstandingBatch>> {
    let Open { conn, .. } = tx.read();
    sql::<DB>(&format!(
        "SELECT task_id, batch_id, created_at, size, filled, collected FROM outstanding_batches
         WHERE task_id = $1 AND collected = {} ORDER BY created_at, batch_id",
        DB::FALSE
    ))
    .bind(task_id.as_bytes().as_slice())
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(columns::rows::outstanding_batch)
    .collect()
}

pub(crate) async fn take_current_batch<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
    aggregation_parameter: &[u8],
    min_batch_size: u64,
) -> Result<Option<BatchId>> {
    let Open { conn, .. } = tx.write("take_current_batch")?;
    let taken = sql::<DB>(&format!(
        "UPDATE outstanding_batches SET collected = TRUE
         WHERE task_id = $1 AND batch_id = (
             SELECT ob.batch_id FROM outstanding_batches ob
             WHERE ob.task_id = $1 AND ob.collected = {}
               AND (SELECT COALESCE(SUM(ba.report_count), 0) FROM batch_aggregations ba
                    WHERE ba.task_id = ob.task_id AND ba.batch_id = ob.batch_id
                      AND ba.aggregation_parameter = $2) >= $3
             ORDER BY ob.created_at, ob.batch_id LIMIT 1)
         RETURNING batch_id",
        DB::FALSE
    ))
    .bind(task_id.as_bytes().as_slice())
    .bind(aggregation_parameter)
    .bind(columns::int(min_batch_size, "min_batch_size")?)
    .fetch_optional(&mut *conn)
    .await?;
    taken
        .map(|found| RowReader::new(&found, TABLE).id("batch_id"))
        .transpose()
}

/// Deletes up to `limit` fixed-size batches created before `before` that no
/// aggregation job and no batch aggregation refers to any more (theirs were
/// deleted as expired): nothing of them is left to collect.
pub(crate) async fn delete_expired_outstanding_batches<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
    before: Time,
    limit: u64,
) -> Result<u64> {
    let statement = format!(
        "DELETE FROM outstanding_batches WHERE (task_id, batch_id) IN (
             SELECT o.task_id, o.batch_id FROM outstanding_batches o
             WHERE o.task_id = $1 AND o.created_at < $2
               AND NOT EXISTS (
                   SELECT 1 FROM aggregation_jobs j
                   WHERE j.task_id = o.task_id AND j.batch_id = o.batch_id)
               AND NOT EXISTS (
                   SELECT 1 FROM batch_aggregations b
                   WHERE b.task_id = o.task_id AND b.batch_id = o.batch_id)
             LIMIT $3{})",
        DB::SKIP_ROWS_LOCKED_FOR_DELETE
    );
    expiry::delete_expired(
        tx,
        "delete_expired_outstanding_batches",
        &statement,
        task_id,
        before,
        limit,
        None,
    )
    .await
}
