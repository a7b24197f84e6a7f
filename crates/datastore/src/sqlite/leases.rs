//! Lease columns shared by the two leased tables (`aggregation_jobs`,
//! `collection_jobs`): `lease_token`, `lease_expiry` (the lease is held while
//! `lease_expiry > now`; 0 when released), `lease_attempts`, `retry_after`.
//!
//! Taking a lease is a conditional update (`... WHERE lease_expiry <= now`),
//! so of two acquirers only one can win a job even without the write lock
//! that `BEGIN IMMEDIATE` already holds.

use super::row::{self, Result, RowReader};
use crate::lease::{Lease, LeaseToken};
use crate::DatastoreError;
use dyad_messages::draft09::{Duration, TaskId, Time};
use sqlx::SqliteConnection;

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

/// Fails unless `token` holds the job's lease at `now`: `NotFound` if there
/// is no such job, `LeaseLost` if the lease expired or changed hands.
pub(super) async fn check(
    conn: &mut SqliteConnection,
    table: LeasedTable,
    task_id: &TaskId,
    job_id: &[u8],
    token: &LeaseToken,
    now: Time,
) -> Result<()> {
    let found = sqlx::query(&format!(
        "SELECT lease_token, lease_expiry FROM {} WHERE task_id = ? AND {} = ?",
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

/// Takes the lease of each candidate job that is still free, in order, and
/// returns the leases won; `key` gives a job's task ID and job ID.
pub(super) async fn take_each<T>(
    conn: &mut SqliteConnection,
    table: LeasedTable,
    candidates: Vec<T>,
    key: impl Fn(&T) -> (TaskId, Vec<u8>),
    now: Time,
    duration: Duration,
) -> Result<Vec<Lease<T>>> {
    let mut acquired = Vec::with_capacity(candidates.len());
    for job in candidates {
        let (task_id, job_id) = key(&job);
        if let Some((token, expiry, attempts)) =
            take(conn, table, &task_id, &job_id, now, duration).await?
        {
            acquired.push(Lease {
                leased: job,
                token,
                expiry,
                attempts,
            });
        }
    }
    Ok(acquired)
}

/// Takes the job's lease if it is free or expired: the new token, expiry
/// and attempt count, or `None` if someone holds it.
pub(super) async fn take(
    conn: &mut SqliteConnection,
    table: LeasedTable,
    task_id: &TaskId,
    job_id: &[u8],
    now: Time,
    duration: Duration,
) -> Result<Option<(LeaseToken, Time, u32)>> {
    if duration.as_seconds() == 0 {
        return Err(DatastoreError::invalid(
            "lease duration",
            "must be positive",
        ));
    }
    let token = LeaseToken::random();
    let expiry = now
        .checked_add(duration)
        .ok_or_else(|| DatastoreError::invalid("lease duration", "time overflows"))?;
    let taken = sqlx::query(&format!(
        "UPDATE {} SET lease_token = ?, lease_expiry = ?, lease_attempts = lease_attempts + 1
         WHERE task_id = ? AND {} = ? AND lease_expiry <= ?
         RETURNING lease_attempts",
        table.table(),
        table.id_column()
    ))
    .bind(token.as_bytes().as_slice())
    .bind(row::time(expiry, "lease expiry")?)
    .bind(task_id.as_bytes().as_slice())
    .bind(job_id)
    .bind(row::time(now, "now")?)
    .fetch_optional(&mut *conn)
    .await?;
    match taken {
        None => Ok(None),
        Some(taken) => {
            let r = RowReader::new(&taken, table.table());
            let attempts = u32::try_from(r.u64("lease_attempts")?)
                .map_err(|_| r.corrupt("lease_attempts", "too large"))?;
            Ok(Some((token, expiry, attempts)))
        }
    }
}

/// Releases a held lease; the job may be acquired again `retry_after` from now.
#[allow(clippy::too_many_arguments)]
pub(super) async fn release(
    conn: &mut SqliteConnection,
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
        "UPDATE {} SET lease_token = NULL, lease_expiry = 0, retry_after = ?,
             lease_attempts = CASE WHEN ? THEN 0 ELSE lease_attempts END
         WHERE task_id = ? AND {} = ?",
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
    conn: &mut SqliteConnection,
    table: LeasedTable,
    task_id: &TaskId,
    job_id: &[u8],
    token: &LeaseToken,
    now: Time,
    duration: Duration,
) -> Result<Time> {
    if duration.as_seconds() == 0 {
        return Err(DatastoreError::invalid(
            "lease duration",
            "must be positive",
        ));
    }
    check(conn, table, task_id, job_id, token, now).await?;
    let expiry = now
        .checked_add(duration)
        .ok_or_else(|| DatastoreError::invalid("lease duration", "time overflows"))?;
    sqlx::query(&format!(
        "UPDATE {} SET lease_expiry = ? WHERE task_id = ? AND {} = ? AND lease_token = ?",
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
