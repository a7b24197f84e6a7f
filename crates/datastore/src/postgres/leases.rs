//! How PostgreSQL leases jobs ([`Backend::acquire_leases`], the rest of
//! leasing is shared: `crate::tables::leases`). Acquiring is one statement:
//! the candidates are chosen with `FOR NO KEY UPDATE SKIP LOCKED`, so
//! concurrent acquirers (other transactions, other replicas) never wait for
//! each other: each takes the due jobs no one else is taking at that
//! moment.
//!
//! [`Backend::acquire_leases`]: crate::backend::Backend::acquire_leases

use crate::backend::{Acquired, LeaseRequest};
use crate::columns::{self, Result, RowReader};
use crate::lease::LeaseToken;
use crate::tables::leases;
use crate::DatastoreError;
use sqlx::postgres::PgRow;
use sqlx::PgConnection;

/// Jobs leased by one acquisition at most (more is asked for in vain).
const MAX_ACQUIRE: u64 = 10_000;

/// Leases the jobs `request` asks for, skipping jobs other transactions
/// have locked.
pub(super) async fn acquire(
    conn: &mut PgConnection,
    request: LeaseRequest<'_>,
) -> Result<Vec<Acquired<PgRow>>> {
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
    let wanted = max.min(MAX_ACQUIRE);
    let expiry = leases::expiry(now, duration)?;
    let tokens: Vec<LeaseToken> = (0..wanted).map(|_| LeaseToken::random()).collect();
    let token_bytes: Vec<Vec<u8>> = tokens.iter().map(|t| t.as_bytes().to_vec()).collect();
    let (name, id) = (table.table(), table.id_column());
    // The state is written into the statement, not bound, so that even a
    // generic plan can use the partial index `... WHERE state = 0`.
    let state = columns::code(state_code, "state")?;
    let rows = sqlx::query(&format!(
        "WITH candidates AS (
             SELECT j.task_id, j.{id}, j.retry_after, j.created_at, j.lease_expiry
             FROM {name} j {join}
             WHERE j.state = {state} AND j.lease_expiry <= $1 AND j.retry_after <= $1 {filter}
             ORDER BY j.retry_after, j.created_at, j.{id}
             LIMIT $2
             FOR NO KEY UPDATE OF j SKIP LOCKED
         ), numbered AS (
             SELECT task_id, {id}, lease_expiry AS previous_lease_expiry,
                 row_number() OVER (ORDER BY retry_after, created_at, {id}) AS lease_ord
             FROM candidates
         )
         UPDATE {name} j
         SET lease_token = ($3::BYTEA[])[numbered.lease_ord], lease_expiry = $4,
             lease_attempts = j.lease_attempts + 1
         FROM numbered
         WHERE j.task_id = numbered.task_id AND j.{id} = numbered.{id}
         RETURNING numbered.lease_ord, numbered.previous_lease_expiry, j.lease_attempts,
             {columns}"
    ))
    .bind(columns::time(now, "now")?)
    .bind(columns::int(wanted, "max")?)
    .bind(token_bytes)
    .bind(columns::time(expiry, "lease expiry")?)
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
        let attempts = leases::attempts(&r)?;
        // A released lease has expiry 0; a held one that ran out, its time.
        let expired = r.i64("previous_lease_expiry")? > 0;
        acquired.push((ord, token, attempts, expired, taken));
    }
    acquired.sort_by_key(|(ord, ..)| *ord);
    Ok(acquired
        .into_iter()
        .map(
            |(_, token, attempts, previous_lease_expired, row)| Acquired {
                row,
                token,
                expiry,
                attempts,
                previous_lease_expired,
            },
        )
        .collect())
}
