//! Collected batches in SQLite (DAP-09 sections 4.5.1.4 and 4.6.6): one row
//! per queried batch and distinct aggregation parameter.

use super::row::{self, Result};
use crate::columns;
use crate::models::{BatchIdentifier, CollectedBatch};
use dyad_messages::draft09::{TaskId, Time};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

pub(super) async fn put(
    conn: &mut SqliteConnection,
    now: Time,
    task_id: &TaskId,
    batch: &BatchIdentifier,
    aggregation_parameter: &[u8],
) -> Result<bool> {
    let columns = row::batch_columns(batch)?;
    let inserted = sqlx::query(
        "INSERT INTO collected_batches (task_id, batch_identifier, batch_interval_start,
             batch_interval_end, aggregation_parameter, created_at)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (task_id, batch_identifier, aggregation_parameter) DO NOTHING",
    )
    .bind(task_id.as_bytes().as_slice())
    .bind(columns.encoded)
    .bind(columns.start)
    .bind(columns.end)
    .bind(aggregation_parameter)
    .bind(row::time(now, "now")?)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Appends the condition selecting the rows touching `batch`: overlapping
/// intervals, or the same batch ID.
fn push_touching(
    query: &mut QueryBuilder<'_, Sqlite>,
    task_id: &TaskId,
    batch: &BatchIdentifier,
) -> Result<()> {
    query.push(" WHERE task_id = ");
    query.push_bind(task_id.as_bytes().to_vec());
    match batch {
        BatchIdentifier::TimeInterval(interval) => {
            let (start, end) = row::interval(interval, "batch interval")?;
            query.push(" AND batch_interval_start < ");
            query.push_bind(end);
            query.push(" AND batch_interval_end > ");
            query.push_bind(start);
        }
        BatchIdentifier::FixedSize(_) => {
            query.push(" AND batch_identifier = ");
            query.push_bind(batch.to_bytes());
        }
    }
    Ok(())
}

pub(super) async fn get_touching(
    conn: &mut SqliteConnection,
    task_id: &TaskId,
    batch: &BatchIdentifier,
) -> Result<Vec<CollectedBatch>> {
    let mut query = QueryBuilder::<Sqlite>::new(
        "SELECT task_id, batch_identifier, aggregation_parameter, created_at FROM collected_batches",
    );
    push_touching(&mut query, task_id, batch)?;
    query.push(" ORDER BY batch_interval_start, batch_identifier, aggregation_parameter");
    query
        .build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(columns::rows::collected_batch)
        .collect()
}

pub(super) async fn is_collected(
    conn: &mut SqliteConnection,
    task_id: &TaskId,
    batch: &BatchIdentifier,
    aggregation_parameter: Option<&[u8]>,
) -> Result<bool> {
    let mut query = QueryBuilder::<Sqlite>::new("SELECT 1 FROM collected_batches");
    push_touching(&mut query, task_id, batch)?;
    if let Some(parameter) = aggregation_parameter {
        query.push(" AND aggregation_parameter = ");
        query.push_bind(parameter.to_vec());
    }
    query.push(" LIMIT 1");
    Ok(query.build().fetch_optional(&mut *conn).await?.is_some())
}
