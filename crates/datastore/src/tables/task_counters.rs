//! Per-task statistics ([`TaskCounters`]), kept without a hot row: a
//! task's counts are spread over [`SHARDS`] rows, each write adds to one
//! shard picked at random with a single upsert (`+= n` per counter), and a
//! read sums the shards. Concurrent writers (upload batches, job steps,
//! replicas) thus seldom touch the same row, so on PostgreSQL they seldom
//! wait for each other or fail serialization.

use crate::backend::{push_bind, sql, Backend, Sql};
use crate::backend_transaction::{BackendTransaction as Tx, Open};
use crate::columns::{self, Result, RowReader};
use crate::models::TaskCounters;
use dyad_messages::draft09::TaskId;
use rand::Rng;
use sqlx::QueryBuilder;

const TABLE: &str = "task_counters";

/// How many rows a task's counts are spread over.
pub(crate) const SHARDS: i64 = 32;

pub(crate) async fn add_task_counters<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
    counters: &TaskCounters,
) -> Result<()> {
    let Open { conn, .. } = tx.write("add_task_counters")?;
    if counters.is_zero() {
        return Ok(());
    }
    let values = counters
        .counters()
        .iter()
        .map(|counter| columns::int(counter.value, counter.name))
        .collect::<Result<Vec<_>>>()?;
    let shard = rand::thread_rng().gen_range(0..SHARDS);
    let mut query = QueryBuilder::<DB>::new("INSERT INTO task_counters (task_id, shard");
    for column in TaskCounters::COLUMNS {
        query.push(", ").push(column);
    }
    query.push(") SELECT ");
    push_bind(&mut query, task_id.as_bytes().to_vec());
    query.push(", ");
    push_bind(&mut query, shard);
    for value in values {
        query.push(", ");
        push_bind(&mut query, value);
    }
    // A task deleted meanwhile gets no counters (and no foreign key
    // error): the counts of a deleted task are not wanted.
    query.push(" WHERE EXISTS (SELECT 1 FROM tasks WHERE task_id = ");
    push_bind(&mut query, task_id.as_bytes().to_vec());
    query.push(") ON CONFLICT (task_id, shard) DO UPDATE SET ");
    for (index, column) in TaskCounters::COLUMNS.iter().enumerate() {
        if index > 0 {
            query.push(", ");
        }
        query.push(format!(
            "{column} = task_counters.{column} + excluded.{column}"
        ));
    }
    Sql::built(&mut query).execute(&mut *conn).await?;
    Ok(())
}

pub(crate) async fn get_task_counters<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
) -> Result<Option<TaskCounters>> {
    if !super::tasks::task_exists(tx, task_id).await? {
        return Ok(None);
    }
    let Open { conn, .. } = tx.read();
    // PostgreSQL sums BIGINT as NUMERIC: cast back.
    let sums = TaskCounters::COLUMNS
        .iter()
        .map(|column| format!("CAST(COALESCE(SUM({column}), 0) AS BIGINT) AS {column}"))
        .collect::<Vec<_>>()
        .join(", ");
    let row = sql::<DB>(&format!(
        "SELECT {sums} FROM task_counters WHERE task_id = $1"
    ))
    .bind(task_id.as_bytes().as_slice())
    .fetch_one(&mut *conn)
    .await?;
    let reader = RowReader::new(&row, TABLE);
    let values = TaskCounters::COLUMNS
        .iter()
        .map(|column| reader.u64(column))
        .collect::<Result<Vec<_>>>()?;
    Ok(Some(TaskCounters::from_values(&values)))
}
