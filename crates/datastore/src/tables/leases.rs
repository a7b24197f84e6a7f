//! Lease columns shared by the two leased tables (`aggregation_jobs`,
//! `collection_jobs`): `lease_token`, `lease_expiry` (the lease is held while
//! `lease_expiry > now`; 0 when released), `lease_attempts`, `retry_after`.
//!
//! Where is what:
//! - acquiring: [`acquire`], which hands the choice of jobs to the backend
//!   ([`Backend::acquire_leases`]: a conditional update per candidate on
//!   SQLite, whose `BEGIN IMMEDIATE` already excludes other writers; one
//!   `FOR NO KEY UPDATE SKIP LOCKED` statement on PostgreSQL, so replicas
//!   never wait for each other nor take the same job);
//! - checking a token before a write under a lease: [`check`], which locks
//!   the job's row where the backend can ([`Backend::LOCK_LEASED_ROW`]), so
//!   an acquirer skips a job whose holder is writing ([`check_job`]: the
//!   lease, if any, a leased job's update presents);
//! - renewing: [`renew`]; releasing with a backoff: [`release`];
//! - a process older than the database's schema takes no job: [`acquire`]
//!   checks the newest migration applied first ([`newer_schema`]).

use crate::backend::{sql, Backend, LeaseRequest};
use crate::columns::{self, Result, RowReader};
use crate::lease::{Lease, LeaseToken, LeasedTable};
use crate::models::{AggregationJob, CollectionJob};
use crate::DatastoreError;
use dyad_messages::draft09::{AggregationJobId, Duration, TaskId, Time};
use std::collections::BTreeSet;

/// Leases the jobs `request` asks for (see [`LeaseRequest`]), in order,
/// each job read from its row with `job`.
pub(crate) async fn acquire<DB: Backend, T>(
    conn: &mut DB::Connection,
    request: LeaseRequest<'_>,
    job: impl Fn(&DB::Row) -> Result<T>,
) -> Result<Vec<Lease<T>>> {
    positive(request.duration)?;
    if request.max == 0 {
        return Ok(Vec::new());
    }
    if let Some(newer) = newer_schema::<DB>(conn).await? {
        if !WARNED_NEWER_SCHEMA.swap(true, std::sync::atomic::Ordering::Relaxed) {
            tracing::warn!(
                database_schema = newer,
                process_schema = crate::schema_version(),
                "the database was migrated by a newer release: this process takes no more jobs; \
                 replace it with the new release"
            );
        }
        return Ok(Vec::new());
    }
    DB::acquire_leases(conn, request)
        .await?
        .into_iter()
        .map(|taken| {
            Ok(Lease {
                leased: job(&taken.row)?,
                token: taken.token,
                expiry: taken.expiry,
                attempts: taken.attempts,
                previous_lease_expired: taken.previous_lease_expired,
            })
        })
        .collect()
}

/// Whether [`acquire`] said once that the schema is newer than the process.
static WARNED_NEWER_SCHEMA: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// The newest migration applied to the database, if newer than this
/// build's schema. A process of an older release can still be running
/// after a newer release migrated the database (a rolling upgrade on
/// PostgreSQL); a newer release may store jobs this one would misread, so
/// such a process takes none and leaves them to the new one.
async fn newer_schema<DB: Backend>(conn: &mut DB::Connection) -> Result<Option<i64>> {
    let row = sql::<DB>(
        "SELECT COALESCE(MAX(version), 0) AS version FROM _sqlx_migrations WHERE success",
    )
    .fetch_one(&mut *conn)
    .await?;
    let newest = RowReader::new(&row, "_sqlx_migrations").i64("version")?;
    Ok(Some(newest).filter(|version| *version > crate::schema_version()))
}

/// The expiry of a lease taken at `now` for `duration`.
pub(crate) fn expiry(now: Time, duration: Duration) -> Result<Time> {
    now.checked_add(duration)
        .ok_or_else(|| DatastoreError::invalid("lease duration", "time overflows"))
}

/// An attempt count as read from `lease_attempts`.
pub(crate) fn attempts<R: crate::columns::StoredRow>(r: &RowReader<'_, R>) -> Result<u32> {
    u32::try_from(r.u64("lease_attempts")?).map_err(|_| r.corrupt("lease_attempts", "too large"))
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

/// Fails unless `token` holds the job's lease at `now`: `NotFound` if there
/// is no such job, `LeaseLost` if the lease expired or changed hands. The
/// row stays locked until the transaction ends where the backend locks rows
/// ([`Backend::LOCK_LEASED_ROW`]), so a holder whose job was taken meanwhile
/// fails (a serialization failure, then `LeaseLost` on the retry).
pub(crate) async fn check<DB: Backend>(
    conn: &mut DB::Connection,
    table: LeasedTable,
    task_id: &TaskId,
    job_id: &[u8],
    token: &LeaseToken,
    now: Time,
) -> Result<()> {
    let found = sql::<DB>(&format!(
        "SELECT lease_token, lease_expiry FROM {} WHERE task_id = $1 AND {} = $2{}",
        table.table(),
        table.id_column(),
        DB::LOCK_LEASED_ROW,
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
        && r.i64("lease_expiry")? > columns::time(now, "now")?;
    if held {
        Ok(())
    } else {
        Err(DatastoreError::LeaseLost {
            what: table.describe(job_id),
        })
    }
}

/// Checks `lease`, if there is one, on `job`'s row (see [`check`]).
pub(crate) async fn check_job<DB: Backend, J: LeasedJob>(
    conn: &mut DB::Connection,
    job: &J,
    lease: Option<&LeaseToken>,
    now: Time,
) -> Result<()> {
    let Some(token) = lease else { return Ok(()) };
    let (task_id, job_id) = job.key();
    check::<DB>(conn, J::TABLE, task_id, job_id, token, now).await
}

/// Checks (and, where the backend locks rows, locks) the lease of every
/// aggregation job of `jobs` (see [`check`]), each once.
pub(crate) async fn check_aggregation_jobs<DB: Backend>(
    conn: &mut DB::Connection,
    jobs: impl Iterator<Item = (TaskId, AggregationJobId)>,
    token: &LeaseToken,
    now: Time,
) -> Result<()> {
    let jobs: BTreeSet<(TaskId, AggregationJobId)> = jobs.collect();
    for (task_id, job_id) in jobs {
        let job_id = job_id.as_bytes().as_slice();
        check::<DB>(
            conn,
            LeasedTable::AggregationJobs,
            &task_id,
            job_id,
            token,
            now,
        )
        .await?;
    }
    Ok(())
}

/// A job whose row is leased: its table and key.
pub(crate) trait LeasedJob {
    const TABLE: LeasedTable;
    fn key(&self) -> (&TaskId, &[u8]);
}

impl LeasedJob for AggregationJob {
    const TABLE: LeasedTable = LeasedTable::AggregationJobs;
    fn key(&self) -> (&TaskId, &[u8]) {
        (&self.task_id, self.aggregation_job_id.as_bytes())
    }
}

impl LeasedJob for CollectionJob {
    const TABLE: LeasedTable = LeasedTable::CollectionJobs;
    fn key(&self) -> (&TaskId, &[u8]) {
        (&self.task_id, self.collection_job_id.as_bytes())
    }
}

/// Releases a held lease; the job may be acquired again `retry_after` from now.
pub(crate) async fn release<DB: Backend, J: LeasedJob>(
    conn: &mut DB::Connection,
    lease: &Lease<J>,
    now: Time,
    retry_after: Duration,
    reset_attempts: bool,
) -> Result<()> {
    check_job::<DB, J>(conn, &lease.leased, Some(&lease.token), now).await?;
    let (table, (task_id, job_id)) = (J::TABLE, lease.leased.key());
    sql::<DB>(&format!(
        "UPDATE {} SET lease_token = NULL, lease_expiry = 0, retry_after = $1,
             lease_attempts = CASE WHEN $2 THEN 0 ELSE lease_attempts END
         WHERE task_id = $3 AND {} = $4",
        table.table(),
        table.id_column()
    ))
    .bind(columns::time_after(now, retry_after, "retry_after")?)
    .bind(reset_attempts)
    .bind(task_id.as_bytes().as_slice())
    .bind(job_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Extends a held lease to `duration` from `now`; the new expiry.
/// `LeaseLost` (nothing changed) if the lease expired or changed hands.
pub(crate) async fn renew<DB: Backend>(
    conn: &mut DB::Connection,
    table: LeasedTable,
    task_id: &TaskId,
    job_id: &[u8],
    token: &LeaseToken,
    now: Time,
    duration: Duration,
) -> Result<Time> {
    positive(duration)?;
    check::<DB>(conn, table, task_id, job_id, token, now).await?;
    let expiry = expiry(now, duration)?;
    sql::<DB>(&format!(
        "UPDATE {} SET lease_expiry = $1 WHERE task_id = $2 AND {} = $3 AND lease_token = $4",
        table.table(),
        table.id_column()
    ))
    .bind(columns::time(expiry, "lease expiry")?)
    .bind(task_id.as_bytes().as_slice())
    .bind(job_id)
    .bind(token.as_bytes().as_slice())
    .execute(&mut *conn)
    .await?;
    Ok(expiry)
}
