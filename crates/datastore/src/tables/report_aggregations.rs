//! Report aggregations (DAP-09 sections 4.5.1 and 4.5.2): one row per
//! (task, job, ord), inserted and updated in batches (one statement per
//! chunk of rows).

use crate::backend::{self, sql, Backend, Column, Rows, Sql};
use crate::backend_transaction::{BackendTransaction as Tx, Open};
use crate::columns::{self, Result};
use crate::lease::LeaseToken;
use crate::models::ReportAggregation;
use crate::tables::{expiry, leases};
use crate::DatastoreError;
use dyad_messages::draft09::{AggregationJobId, TaskId, Time};
use sqlx::QueryBuilder;

/// Rows written by one statement at most.
const CHUNK: usize = 1000;

/// Checks (and, where the backend locks rows, locks) the lease of every
/// job the rows belong to.
async fn check_leases<DB: Backend>(
    conn: &mut DB::Connection,
    now: Time,
    rows: &[ReportAggregation],
    lease: Option<&LeaseToken>,
) -> Result<()> {
    let Some(token) = lease else { return Ok(()) };
    let jobs = rows.iter().map(|ra| (ra.task_id, ra.aggregation_job_id));
    leases::check_aggregation_jobs::<DB>(conn, jobs, token, now).await
}

/// The columns of a chunk of rows: the key (task, job, ord, report ID),
/// then, with `time`, the client time, then the state columns.
fn rows(chunk: &[&ReportAggregation], time: bool) -> Result<Rows> {
    let (mut task_ids, mut job_ids, mut ords) = (Vec::new(), Vec::new(), Vec::new());
    let (mut report_ids, mut times, mut states) = (Vec::new(), Vec::new(), Vec::new());
    let (mut payloads, mut errors, mut responses) = (Vec::new(), Vec::new(), Vec::new());
    for ra in chunk {
        ords.push(columns::int(ra.ord, "ord")?);
        times.push(columns::time(ra.time, "report time")?);
        states.push(columns::code(ra.state.code(), "state")?);
        responses.push(
            ra.last_prep_resp
                .as_ref()
                .map(|resp| columns::encode(resp, "last_prep_resp"))
                .transpose()?,
        );
        task_ids.push(ra.task_id.as_bytes().to_vec());
        job_ids.push(ra.aggregation_job_id.as_bytes().to_vec());
        report_ids.push(ra.report_id.as_bytes().to_vec());
        payloads.push(ra.state.payload().map(<[u8]>::to_vec));
        errors.push(ra.state.error().map(|error| i16::from(error.as_u8())));
    }
    let mut columns = vec![
        Column::Bytes(task_ids),
        Column::Bytes(job_ids),
        Column::BigInt(ords),
        Column::Bytes(report_ids),
    ];
    if time {
        columns.push(Column::BigInt(times));
    }
    columns.extend([
        Column::SmallInt(states),
        Column::OptBytes(payloads),
        Column::OptSmallInt(errors),
        Column::OptBytes(responses),
    ]);
    Ok(Rows(columns))
}

pub(crate) async fn put_report_aggregations<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    rows_to_write: &[ReportAggregation],
    lease: Option<&LeaseToken>,
) -> Result<()> {
    let Open { conn, now, .. } = tx.write("put_report_aggregations")?;
    check_leases::<DB>(conn, now, rows_to_write, lease).await?;
    let firsts = backend::first_of_each(rows_to_write, |ra| {
        (ra.task_id, ra.aggregation_job_id, ra.ord)
    });
    if firsts.len() < rows_to_write.len() {
        return Err(DatastoreError::AlreadyExists {
            what: "report aggregation at the same (task, job, ord)".into(),
        });
    }
    for chunk in DB::statement_chunks(&firsts, 9, CHUNK) {
        let mut query = QueryBuilder::<DB>::new(
            "INSERT INTO report_aggregations (task_id, aggregation_job_id, ord, report_id,
                 client_time, state, state_payload, prepare_error, last_prep_resp) ",
        );
        DB::push_rows(&mut query, rows(chunk, true)?);
        // ON CONFLICT keeps a PostgreSQL transaction usable after a duplicate.
        query.push(" ON CONFLICT (task_id, aggregation_job_id, ord) DO NOTHING");
        let inserted = Sql::built(&mut query).execute(&mut *conn).await?;
        if inserted < chunk.len() as u64 {
            return Err(DatastoreError::AlreadyExists {
                what: "report aggregation at the same (task, job, ord)".into(),
            });
        }
    }
    Ok(())
}

pub(crate) async fn get_report_aggregations<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
    job_id: &AggregationJobId,
) -> Result<Vec<ReportAggregation>> {
    let Open { conn, .. } = tx.read();
    sql::<DB>(
        "SELECT task_id, aggregation_job_id, ord, report_id, client_time, state, state_payload,
             prepare_error, last_prep_resp
         FROM report_aggregations WHERE task_id = $1 AND aggregation_job_id = $2 ORDER BY ord",
    )
    .bind(task_id.as_bytes().as_slice())
    .bind(job_id.as_bytes().as_slice())
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(columns::rows::report_aggregation)
    .collect()
}

pub(crate) async fn update_report_aggregations<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    rows_to_write: &[ReportAggregation],
    lease: Option<&LeaseToken>,
) -> Result<()> {
    let Open { conn, now, .. } = tx.write("update_report_aggregations")?;
    check_leases::<DB>(conn, now, rows_to_write, lease).await?;
    // Of several updates of one row, the last one counts.
    let lasts = backend::last_of_each(rows_to_write, |ra| {
        (ra.task_id, ra.aggregation_job_id, ra.ord)
    });
    for chunk in DB::statement_chunks(&lasts, 8, CHUNK) {
        // The new values as a table `u` joined to the rows they update; its
        // columns are named apart from the table's. No `RETURNING`: the
        // count of updated rows says whether every row was there, and
        // only when one was not are the rows looked up, one by one, to
        // name it (streaming back a key per row cost more than the
        // update's own work on SQLite).
        let mut query = QueryBuilder::<DB>::new(
            "WITH u (u_task_id, u_job_id, u_ord, u_report_id, u_state, u_state_payload,
                 u_prepare_error, u_last_prep_resp) AS (",
        );
        DB::push_rows(&mut query, rows(chunk, false)?);
        query.push(
            ") UPDATE report_aggregations
             SET state = u_state, state_payload = u_state_payload,
                 prepare_error = u_prepare_error, last_prep_resp = u_last_prep_resp
             FROM u
             WHERE task_id = u_task_id AND aggregation_job_id = u_job_id AND ord = u_ord
               AND report_id = u_report_id",
        );
        let updated = Sql::built(&mut query).execute(&mut *conn).await?;
        if updated == chunk.len() as u64 {
            continue;
        }
        for ra in chunk.iter() {
            let found = sql::<DB>(
                "SELECT 1 AS found FROM report_aggregations
                 WHERE task_id = $1 AND aggregation_job_id = $2 AND ord = $3 AND report_id = $4",
            )
            .bind(ra.task_id.as_bytes().as_slice())
            .bind(ra.aggregation_job_id.as_bytes().as_slice())
            .bind(columns::int(ra.ord, "ord")?)
            .bind(ra.report_id.as_bytes().as_slice())
            .fetch_optional(&mut *conn)
            .await?;
            if found.is_none() {
                return Err(DatastoreError::NotFound {
                    what: format!(
                        "report aggregation {} of aggregation job {}",
                        ra.ord, ra.aggregation_job_id
                    ),
                });
            }
        }
        return Err(DatastoreError::Internal(
            "report aggregation update miscounted",
        ));
    }
    Ok(())
}

/// Deletes up to `limit` report aggregations of jobs that are over (not in
/// progress; with `abandoned_in_progress`, any state), whose reports are all
/// older than `before`, that were last changed before `before`, and whose
/// contributions to batches were already deleted (see
/// `delete_expired_batch_aggregations` and
/// `aggregation_jobs::delete_expired_aggregation_jobs`).
pub(crate) async fn delete_expired_report_aggregations<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
    before: Time,
    limit: u64,
    abandoned_in_progress: bool,
) -> Result<u64> {
    let (over, state) = super::aggregation_jobs::over_condition(abandoned_in_progress);
    // Driven by the jobs (few) rather than by every report aggregation of
    // the task: their rows are found by the primary key's prefix.
    let statement = format!(
        "DELETE FROM report_aggregations WHERE (task_id, aggregation_job_id, ord) IN (
             SELECT r.task_id, r.aggregation_job_id, r.ord FROM report_aggregations r
             WHERE (r.task_id, r.aggregation_job_id) IN (
                 SELECT j.task_id, j.aggregation_job_id FROM aggregation_jobs j
                 WHERE j.task_id = $1{over} AND j.client_interval_end <= $2
                   AND j.updated_at < $2
                   AND NOT EXISTS (
                       SELECT 1 FROM batch_aggregations b
                       WHERE b.task_id = j.task_id AND b.aggregation_job_id = j.aggregation_job_id))
             LIMIT $3{})",
        DB::SKIP_ROWS_LOCKED_FOR_DELETE
    );
    expiry::delete_expired(
        tx,
        "delete_expired_report_aggregations",
        &statement,
        task_id,
        before,
        limit,
        state,
    )
    .await
}
