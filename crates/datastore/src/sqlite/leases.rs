//! How SQLite leases jobs ([`Backend::acquire_leases`], the rest of leasing
//! is shared: `crate::tables::leases`). Taking a lease is a conditional
//! update per candidate (`... WHERE lease_expiry <= now`), so of two
//! acquirers only one can win a job even without the write lock that
//! `BEGIN IMMEDIATE` already holds.
//!
//! [`Backend::acquire_leases`]: crate::backend::Backend::acquire_leases

use crate::backend::{Acquired, LeaseRequest};
use crate::columns::{self, Result, RowReader};
use crate::lease::LeaseToken;
use crate::tables::leases;
use sqlx::sqlite::SqliteRow;
use sqlx::SqliteConnection;

/// Leases the jobs `request` asks for: reads the candidates, then takes the
/// lease of each that is still free, in order.
pub(super) async fn acquire(
    conn: &mut SqliteConnection,
    request: LeaseRequest<'_>,
) -> Result<Vec<Acquired<SqliteRow>>> {
    let LeaseRequest {
        table,
        columns,
        state_code,
        join,
        filter,
        now,
        duration,
        max,
    } = request;
    let (name, id) = (table.table(), table.id_column());
    let now_db = columns::time(now, "now")?;
    let candidates = sqlx::query(&format!(
        "SELECT {columns}, j.lease_expiry AS previous_lease_expiry FROM {name} j {join}
         WHERE j.state = {state_code} AND j.lease_expiry <= ?1 AND j.retry_after <= ?1 {filter}
         ORDER BY j.retry_after, j.created_at, j.{id} LIMIT ?2"
    ))
    .bind(now_db)
    .bind(columns::int(max, "max")?)
    .fetch_all(&mut *conn)
    .await?;
    let expiry = leases::expiry(now, duration)?;
    let mut acquired = Vec::with_capacity(candidates.len());
    for candidate in candidates {
        let r = RowReader::new(&candidate, name);
        let (task_id, job_id) = (r.blob("task_id")?, r.blob(id)?);
        // A released lease has expiry 0; a held one that ran out, its time.
        let previous_lease_expired = r.i64("previous_lease_expiry")? > 0;
        let token = LeaseToken::random();
        let taken = sqlx::query(&format!(
            "UPDATE {name} SET lease_token = ?, lease_expiry = ?,
                 lease_attempts = lease_attempts + 1
             WHERE task_id = ? AND {id} = ? AND lease_expiry <= ?
             RETURNING lease_attempts"
        ))
        .bind(token.as_bytes().as_slice())
        .bind(columns::time(expiry, "lease expiry")?)
        .bind(task_id)
        .bind(job_id)
        .bind(now_db)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(taken) = taken {
            let attempts = leases::attempts(&RowReader::new(&taken, name))?;
            acquired.push(Acquired {
                row: candidate,
                token,
                expiry,
                attempts,
                previous_lease_expired,
            });
        }
    }
    Ok(acquired)
}
