//! Lease columns shared by the two leased tables (`aggregation_jobs`,
//! `collection_jobs`) in PostgreSQL: `lease_token`, `lease_expiry` (the
//! lease is held while `lease_expiry > now`; 0 when released),
//! `lease_attempts`, `retry_after`.
//!
//! Acquiring is one statement: the candidates are chosen with
//! `FOR NO KEY UPDATE SKIP LOCKED`, so concurrent acquirers (other
//! transactions, other replicas) never wait for each other: each takes the
//! due jobs no one else is taking at that moment. Every other lease write
//! first locks the job's row (`FOR NO KEY UPDATE`) while checking the token,
//! so an acquirer skips a job whose holder is writing, and a holder whose
//! job was taken meanwhile fails (serialization failure, then `LeaseLost`
//! on the retry).

use super::row::{self, Result, RowReader};
use crate::lease::LeaseToken;
use crate::DatastoreError;
use dyad_messages::draft09::{Duration, TaskId, Time};
use sqlx::postgres::PgRow;
use sqlx::PgConnection;

/// Jobs leased by one acquisition at most (more is asked for in vain).
const MAX_ACQUIRE: u64 = 10_000;

/// A table whose rows are leased.
#[derive(Clone, Copy, Debug)]
pub(super) enum LeasedTable {
    AggregationJobs,
    CollectionJobs,
}

impl LeasedTable {
    fn table(self) -> &'static str {
        match self {
            LeasedTable::AggregationJobs => "aggregation_jobs",
            LeasedTable::CollectionJobs => "collection_jobs",
        }
    }

    fn id_column(self) -> &'static str {
        match self {
            LeasedTable::AggregationJobs => "aggregation_job_id",
            LeasedTable::CollectionJobs => "collection_job_id",
        }
    }

    fn describe(self, job_id: &[u8]) -> String {
        let kind = match self {
            LeasedTable::AggregationJobs => "aggregation job",
            LeasedTable::CollectionJobs => "collection job",
        };
        let short: String = job_id.iter().take(4).map(|b| format!("{b:02x}")).collect();
        format!("{kind} {short}..")
    }
}

fn positive(duration: Duration) -> Result<()> {
    if duration.as_seconds() == 0 {
        return Err(DatastoreError::invalid(
            "lease duration",
            "must be positive",
        ));
    }
    Ok(())
}

/// Locks the job's row and fails unless `token` holds its lease at `now`:
/// `NotFound` if there is no such job, `LeaseLost` if the lease expired or
/// changed hands.
pub(super) async fn check(
    conn: &mut PgConnection,
    table: LeasedTable,
    task_id: &TaskId,
    job_id: &[u8],
    token: &LeaseToken,
    now: Time,
) -> Result<()> {
    let found = sqlx::query(&format!(
        "SELECT lease_token, lease_expiry FROM {} WHERE task_id = $1 AND {} = $2
         FOR NO KEY UPDATE",
        table.table(),
        table.id_column()
    ))
    .bind(task_id.as_bytes().as_slice())
    .bind(job_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(found) = found else {
        return Err(DatastoreError::NotFound {
            what: table.describe(job_id),
        });
    };
    let r = RowReader::new(&found, table.table());
    let held = r.opt_blob("lease_token")?.as_deref() == Some(token.as_bytes().as_slice())
        && r.i64("lease_expiry")? > row::time(now, "now")?;
    if held {
        Ok(())
    } else {
        Err(DatastoreError::LeaseLost {
            what: table.describe(job_id),
        })
    }
}

/// What [`acquire`] took: the job's row (with the table's columns, read
/// through the alias `j`), its new token, expiry and attempt count.
pub(super) struct Acquired {
    pub(super) row: PgRow,
    pub(super) token: LeaseToken,
    pub(super) expiry: Time,
    pub(super) attempts: u32,
}

/// Leases up to `max` jobs of `table` in state `state_code` whose lease is
/// free or expired and whose retry time has come, oldest retry time first,
/// skipping jobs other transactions have locked. `columns` are the columns
/// to return, qualified with the alias `j`; `join` and `filter` (SQL with
/// no parameters) narrow the candidates.
#[allow(clippy::too_many_arguments)]
pub(super) async fn acquire(
    conn: &mut PgConnection,
    table: LeasedTable,
    columns: &str,
    state_code: i64,
    join: &str,
    filter: &str,
    now: Time,
    duration: Duration,
    max: u64,
) -> Result<Vec<Acquired>> {
    positive(duration)?;
    let wanted = max.min(MAX_ACQUIRE);
    if wanted == 0 {
        return Ok(Vec::new());
    }
    let expiry = now
        .checked_add(duration)
        .ok_or_else(|| DatastoreError::invalid("lease duration", "time overflows"))?;
    let tokens: Vec<LeaseToken> = (0..wanted).map(|_| LeaseToken::random()).collect();
    let token_bytes: Vec<Vec<u8>> = tokens.iter().map(|t| t.as_bytes().to_vec()).collect();
    let (name, id) = (table.table(), table.id_column());
    // The state is written into the statement, not bound, so that even a
    // generic plan can use the partial index `... WHERE state = 0`.
    let state = row::code(state_code, "state")?;
    let rows = sqlx::query(&format!(
        "WITH candidates AS (
             SELECT j.task_id, j.{id}, j.retry_after, j.created_at FROM {name} j {join}
             WHERE j.state = {state} AND j.lease_expiry <= $1 AND j.retry_after <= $1 {filter}
             ORDER BY j.retry_after, j.created_at, j.{id}
             LIMIT $2
             FOR NO KEY UPDATE OF j SKIP LOCKED
         ), numbered AS (
             SELECT task_id, {id},
                 row_number() OVER (ORDER BY retry_after, created_at, {id}) AS lease_ord
             FROM candidates
         )
         UPDATE {name} j
         SET lease_token = ($3::BYTEA[])[numbered.lease_ord], lease_expiry = $4,
             lease_attempts = j.lease_attempts + 1
         FROM numbered
         WHERE j.task_id = numbered.task_id AND j.{id} = numbered.{id}
         RETURNING numbered.lease_ord, j.lease_attempts, {columns}"
    ))
    .bind(row::time(now, "now")?)
    .bind(row::int(wanted, "max")?)
    .bind(token_bytes)
    .bind(row::time(expiry, "lease expiry")?)
    .fetch_all(&mut *conn)
    .await?;
    let mut acquired = Vec::with_capacity(rows.len());
    for taken in rows {
        let r = RowReader::new(&taken, name);
        let ord = r.i64("lease_ord")?;
        let token = usize::try_from(ord - 1)
            .ok()
            .and_then(|i| tokens.get(i).copied())
            .ok_or(DatastoreError::Internal("lease number out of range"))?;
        let attempts = u32::try_from(r.u64("lease_attempts")?)
            .map_err(|_| r.corrupt("lease_attempts", "too large"))?;
        acquired.push((ord, token, attempts, taken));
    }
    acquired.sort_by_key(|(ord, ..)| *ord);
    Ok(acquired
        .into_iter()
        .map(|(_, token, attempts, row)| Acquired {
            row,
            token,
            expiry,
            attempts,
        })
        .collect())
}

/// Releases a held lease; the job may be acquired again `retry_after` from now.
#[allow(clippy::too_many_arguments)]
pub(super) async fn release(
    conn: &mut PgConnection,
    table: LeasedTable,
    task_id: &TaskId,
    job_id: &[u8],
    token: &LeaseToken,
    now: Time,
    retry_after: Duration,
    reset_attempts: bool,
) -> Result<()> {
    check(conn, table, task_id, job_id, token, now).await?;
    sqlx::query(&format!(
        "UPDATE {} SET lease_token = NULL, lease_expiry = 0, retry_after = $1,
             lease_attempts = CASE WHEN $2 THEN 0 ELSE lease_attempts END
         WHERE task_id = $3 AND {} = $4",
        table.table(),
        table.id_column()
    ))
    .bind(row::time_after(now, retry_after, "retry_after")?)
    .bind(reset_attempts)
    .bind(task_id.as_bytes().as_slice())
    .bind(job_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Extends a held lease to `duration` from `now`; the new expiry.
/// `LeaseLost` (nothing changed) if the lease expired or changed hands.
pub(super) async fn renew(
    conn: &mut PgConnection,
    table: LeasedTable,
    task_id: &TaskId,
    job_id: &[u8],
    token: &LeaseToken,
    now: Time,
    duration: Duration,
) -> Result<Time> {
    positive(duration)?;
    check(conn, table, task_id, job_id, token, now).await?;
    let expiry = now
        .checked_add(duration)
        .ok_or_else(|| DatastoreError::invalid("lease duration", "time overflows"))?;
    sqlx::query(&format!(
        "UPDATE {} SET lease_expiry = $1 WHERE task_id = $2 AND {} = $3 AND lease_token = $4",
        table.table(),
        table.id_column()
    ))
    .bind(row::time(expiry, "lease expiry")?)
    .bind(task_id.as_bytes().as_slice())
    .bind(job_id)
    .bind(token.as_bytes().as_slice())
    .execute(&mut *conn)
    .await?;
    Ok(expiry)
}
