//! Collected batches (DAP-09 sections 4.5.1.4 and 4.6.5): one row per
//! queried batch and distinct aggregation parameter.

use crate::backend::{push_bind, sql, Backend, Sql};
use crate::backend_transaction::{BackendTransaction as Tx, Open};
use crate::columns::{self, Result};
use crate::models::{BatchIdentifier, CollectedBatch};
use crate::tables::expiry;
use dyad_messages::draft09::{TaskId, Time};
use sqlx::QueryBuilder;

pub(crate) async fn put_collected_batch<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
    batch: &BatchIdentifier,
    aggregation_parameter: &[u8],
) -> Result<bool> {
    let Open { conn, now, .. } = tx.write("put_collected_batch")?;
    let columns = columns::batch_columns(batch)?;
    let inserted = sql::<DB>(
        "INSERT INTO collected_batches (task_id, batch_identifier, batch_interval_start,
             batch_interval_end, aggregation_parameter, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (task_id, batch_identifier, aggregation_parameter) DO NOTHING",
    )
    .bind(task_id.as_bytes().as_slice())
    .bind(columns.encoded)
    .bind(columns.start)
    .bind(columns.end)
    .bind(aggregation_parameter)
    .bind(columns::time(now, "now")?)
    .execute(conn)
    .await?;
    Ok(inserted == 1)
}

/// Appends the condition selecting the rows touching `batch`: overlapping
/// intervals, or the same batch ID.
fn push_touching<DB: Backend>(
    query: &mut QueryBuilder<'_, DB>,
    task_id: &TaskId,
    batch: &BatchIdentifier,
) -> Result<()> {
    query.push(" WHERE task_id = ");
    push_bind(query, task_id.as_bytes().to_vec());
    match batch {
        BatchIdentifier::TimeInterval(interval) => {
            let (start, end) = columns::interval(interval, "batch interval")?;
            query.push(" AND batch_interval_start < ");
            push_bind(query, end);
            query.push(" AND batch_interval_end > ");
            push_bind(query, start);
        }
        BatchIdentifier::FixedSize(_) => {
            query.push(" AND batch_identifier = ");
            push_bind(query, batch.to_bytes());
        }
    }
    Ok(())
}

pub(crate) async fn get_collected_batches<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
    batch: &BatchIdentifier,
) -> Result<Vec<CollectedBatch>> {
    let Open { conn, .. } = tx.read();
    let mut query = QueryBuilder::<DB>::new(
        "SELECT task_id, batch_identifier, aggregation_parameter, created_at FROM collected_batches",
    );
    push_touching(&mut query, task_id, batch)?;
    // Fixed-size batches (no interval) first on both backends.
    query.push(
        " ORDER BY batch_interval_start NULLS FIRST, batch_identifier, aggregation_parameter",
    );
    Sql::built(&mut query)
        .fetch_all(conn)
        .await?
        .iter()
        .map(columns::rows::collected_batch)
        .collect()
}

pub(crate) async fn is_batch_collected<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
    batch: &BatchIdentifier,
    aggregation_parameter: Option<&[u8]>,
) -> Result<bool> {
    let Open { conn, .. } = tx.read();
    let mut query = QueryBuilder::<DB>::new("SELECT 1 FROM collected_batches");
    push_touching(&mut query, task_id, batch)?;
    if let Some(parameter) = aggregation_parameter {
        query.push(" AND aggregation_parameter = ");
        push_bind(&mut query, parameter.to_vec());
    }
    query.push(" LIMIT 1");
    Ok(Sql::built(&mut query).fetch_optional(conn).await?.is_some())
}

/// Deletes up to `limit` records of collected batches that no report can
/// join any more: a time interval ending at or before `before` (a report
/// in it is refused as too old, DAP-09 sections 4.4.2 and 4.5.1.4); a batch
/// ID recorded before `before` whose batch aggregations are all gone.
pub(crate) async fn delete_expired_collected_batches<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
    before: Time,
    limit: u64,
) -> Result<u64> {
    let statement = format!(
        "DELETE FROM collected_batches
         WHERE (task_id, batch_identifier, aggregation_parameter) IN (
             SELECT c.task_id, c.batch_identifier, c.aggregation_parameter
             FROM collected_batches c
             WHERE c.task_id = $1 AND (
                 (c.batch_interval_end IS NOT NULL AND c.batch_interval_end <= $2)
                 OR (c.batch_interval_end IS NULL AND c.created_at < $2
                     AND NOT EXISTS (
                         SELECT 1 FROM batch_aggregations b
                         WHERE b.task_id = c.task_id AND b.batch_identifier = c.batch_identifier)))
             LIMIT $3{})",
        DB::SKIP_ROWS_LOCKED_FOR_DELETE
    );
    expiry::delete_expired(
        tx,
        "delete_expired_collected_batches",
        &statement,
        task_id,
        before,
        limit,
        None,
    )
    .await
}
