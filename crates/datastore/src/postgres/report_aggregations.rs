//! Report aggregations in PostgreSQL (DAP-09 sections 4.5.1 and 4.5.2): one
//! row per (task, job, ord), inserted and updated in batches (one statement
//! per chunk, over `UNNEST`ed arrays).

use super::row::{self, Result, RowReader};
use crate::columns;
use crate::lease::LeaseToken;
use crate::models::ReportAggregation;
use crate::tables::leases::{self, LeasedTable};
use crate::DatastoreError;
use dyad_messages::draft09::{AggregationJobId, TaskId, Time};
use sqlx::PgConnection;
use std::collections::{BTreeSet, HashSet};

const TABLE: &str = "report_aggregations";
/// Rows written by one statement at most.
const CHUNK: usize = 1000;

/// Checks (and locks) the lease of every job the rows belong to.
async fn check_leases(
    conn: &mut PgConnection,
    now: Time,
    rows: &[ReportAggregation],
    lease: Option<&LeaseToken>,
) -> Result<()> {
    let Some(token) = lease else { return Ok(()) };
    let jobs: BTreeSet<(TaskId, AggregationJobId)> = rows
        .iter()
        .map(|ra| (ra.task_id, ra.aggregation_job_id))
        .collect();
    for (task_id, job_id) in jobs {
        leases::check::<sqlx::Postgres>(
            conn,
            LeasedTable::AggregationJobs,
            &task_id,
            job_id.as_bytes().as_slice(),
            token,
            now,
        )
        .await?;
    }
    Ok(())
}

/// The columns of a chunk of rows, as arrays.
#[derive(Default)]
struct Columns {
    task_ids: Vec<Vec<u8>>,
    job_ids: Vec<Vec<u8>>,
    ords: Vec<i64>,
    report_ids: Vec<Vec<u8>>,
    times: Vec<i64>,
    states: Vec<i16>,
    payloads: Vec<Option<Vec<u8>>>,
    errors: Vec<Option<i16>>,
    responses: Vec<Option<Vec<u8>>>,
}

impl Columns {
    fn of(rows: &[&ReportAggregation]) -> Result<Self> {
        let mut columns = Columns::default();
        for ra in rows {
            columns.ords.push(row::int(ra.ord, "ord")?);
            columns.times.push(row::time(ra.time, "report time")?);
            columns.states.push(row::code(ra.state.code(), "state")?);
            columns.responses.push(
                ra.last_prep_resp
                    .as_ref()
                    .map(|resp| row::encode(resp, "last_prep_resp"))
                    .transpose()?,
            );
            columns.task_ids.push(ra.task_id.as_bytes().to_vec());
            columns
                .job_ids
                .push(ra.aggregation_job_id.as_bytes().to_vec());
            columns.report_ids.push(ra.report_id.as_bytes().to_vec());
            columns
                .payloads
                .push(ra.state.payload().map(<[u8]>::to_vec));
            columns
                .errors
                .push(ra.state.error().map(|error| i16::from(error.as_u8())));
        }
        Ok(columns)
    }
}

pub(super) async fn put(
    conn: &mut PgConnection,
    now: Time,
    rows: &[ReportAggregation],
    lease: Option<&LeaseToken>,
) -> Result<()> {
    check_leases(conn, now, rows, lease).await?;
    let firsts = row::first_of_each(rows, |ra| (ra.task_id, ra.aggregation_job_id, ra.ord));
    if firsts.len() < rows.len() {
        return Err(DatastoreError::AlreadyExists {
            what: "report aggregation at the same (task, job, ord)".into(),
        });
    }
    for chunk in firsts.chunks(CHUNK) {
        let c = Columns::of(chunk)?;
        // ON CONFLICT keeps the transaction usable after a duplicate.
        let inserted = sqlx::query(
            "INSERT INTO report_aggregations (task_id, aggregation_job_id, ord, report_id,
                 client_time, state, state_payload, prepare_error, last_prep_resp)
             SELECT * FROM UNNEST($1::BYTEA[], $2::BYTEA[], $3::BIGINT[], $4::BYTEA[],
                 $5::BIGINT[], $6::SMALLINT[], $7::BYTEA[], $8::SMALLINT[], $9::BYTEA[])
             ON CONFLICT (task_id, aggregation_job_id, ord) DO NOTHING",
        )
        .bind(c.task_ids)
        .bind(c.job_ids)
        .bind(c.ords)
        .bind(c.report_ids)
        .bind(c.times)
        .bind(c.states)
        .bind(c.payloads)
        .bind(c.errors)
        .bind(c.responses)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if inserted < chunk.len() as u64 {
            return Err(DatastoreError::AlreadyExists {
                what: "report aggregation at the same (task, job, ord)".into(),
            });
        }
    }
    Ok(())
}

pub(super) async fn get_for_job(
    conn: &mut PgConnection,
    task_id: &TaskId,
    job_id: &AggregationJobId,
) -> Result<Vec<ReportAggregation>> {
    sqlx::query(
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

pub(super) async fn update(
    conn: &mut PgConnection,
    now: Time,
    rows: &[ReportAggregation],
    lease: Option<&LeaseToken>,
) -> Result<()> {
    check_leases(conn, now, rows, lease).await?;
    // Of several updates of one row, the last one counts.
    let lasts = row::last_of_each(rows, |ra| (ra.task_id, ra.aggregation_job_id, ra.ord));
    for chunk in lasts.chunks(CHUNK) {
        let c = Columns::of(chunk)?;
        let updated = sqlx::query(
            "UPDATE report_aggregations ra
             SET state = u.state, state_payload = u.state_payload,
                 prepare_error = u.prepare_error, last_prep_resp = u.last_prep_resp
             FROM UNNEST($1::BYTEA[], $2::BYTEA[], $3::BIGINT[], $4::BYTEA[], $5::SMALLINT[],
                     $6::BYTEA[], $7::SMALLINT[], $8::BYTEA[])
                 AS u (task_id, aggregation_job_id, ord, report_id, state, state_payload,
                     prepare_error, last_prep_resp)
             WHERE ra.task_id = u.task_id AND ra.aggregation_job_id = u.aggregation_job_id
               AND ra.ord = u.ord AND ra.report_id = u.report_id
             RETURNING ra.task_id, ra.aggregation_job_id, ra.ord",
        )
        .bind(c.task_ids)
        .bind(c.job_ids)
        .bind(c.ords)
        .bind(c.report_ids)
        .bind(c.states)
        .bind(c.payloads)
        .bind(c.errors)
        .bind(c.responses)
        .fetch_all(&mut *conn)
        .await?;
        if updated.len() == chunk.len() {
            continue;
        }
        let mut found = HashSet::new();
        for returned in &updated {
            let r = RowReader::new(returned, TABLE);
            found.insert((
                r.id::<TaskId>("task_id")?,
                r.id::<AggregationJobId>("aggregation_job_id")?,
                r.u64("ord")?,
            ));
        }
        let missing = chunk
            .iter()
            .find(|ra| !found.contains(&(ra.task_id, ra.aggregation_job_id, ra.ord)))
            .ok_or(DatastoreError::Internal(
                "report aggregation update miscounted",
            ))?;
        return Err(DatastoreError::NotFound {
            what: format!(
                "report aggregation {} of aggregation job {}",
                missing.ord, missing.aggregation_job_id
            ),
        });
    }
    Ok(())
}
