//! Report aggregations in SQLite (DAP-09 sections 4.5.1 and 4.5.2): one row
//! per (task, job, ord), written in batches.

use super::row::{self, Result};
use crate::columns;
use crate::lease::LeaseToken;
use crate::models::ReportAggregation;
use crate::tables::leases::{self, LeasedTable};
use crate::DatastoreError;
use dyad_messages::draft09::{AggregationJobId, TaskId, Time};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use std::collections::BTreeSet;

/// Checks the lease of every job the rows belong to.
async fn check_leases(
    conn: &mut SqliteConnection,
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
        leases::check::<sqlx::Sqlite>(
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

/// The stored columns of a row that may fail to convert.
struct Encoded<'a> {
    ra: &'a ReportAggregation,
    ord: i64,
    time: i64,
    last_prep_resp: Option<Vec<u8>>,
}

fn encode_all(rows: &[ReportAggregation]) -> Result<Vec<Encoded<'_>>> {
    rows.iter()
        .map(|ra| {
            Ok(Encoded {
                ra,
                ord: row::int(ra.ord, "ord")?,
                time: row::time(ra.time, "report time")?,
                last_prep_resp: ra
                    .last_prep_resp
                    .as_ref()
                    .map(|resp| row::encode(resp, "last_prep_resp"))
                    .transpose()?,
            })
        })
        .collect()
}

pub(super) async fn put(
    conn: &mut SqliteConnection,
    now: Time,
    rows: &[ReportAggregation],
    lease: Option<&LeaseToken>,
) -> Result<()> {
    check_leases(conn, now, rows, lease).await?;
    for chunk in rows.chunks(row::chunk_len(9)) {
        let encoded = encode_all(chunk)?;
        let mut query = QueryBuilder::<Sqlite>::new(
            "INSERT INTO report_aggregations (task_id, aggregation_job_id, ord, report_id,
                 client_time, state, state_payload, prepare_error, last_prep_resp) ",
        );
        query.push_values(encoded, |mut b, e| {
            b.push_bind(e.ra.task_id.as_bytes().as_slice())
                .push_bind(e.ra.aggregation_job_id.as_bytes().as_slice())
                .push_bind(e.ord)
                .push_bind(e.ra.report_id.as_bytes().as_slice())
                .push_bind(e.time)
                .push_bind(e.ra.state.code())
                .push_bind(e.ra.state.payload())
                .push_bind(e.ra.state.error().map(|error| i64::from(error.as_u8())))
                .push_bind(e.last_prep_resp);
        });
        match query.build().execute(&mut *conn).await {
            Ok(_) => {}
            Err(e) if row::is_unique_violation(&e) => {
                return Err(DatastoreError::AlreadyExists {
                    what: "report aggregation at the same (task, job, ord)".into(),
                })
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

pub(super) async fn get_for_job(
    conn: &mut SqliteConnection,
    task_id: &TaskId,
    job_id: &AggregationJobId,
) -> Result<Vec<ReportAggregation>> {
    sqlx::query(
        "SELECT task_id, aggregation_job_id, ord, report_id, client_time, state, state_payload,
             prepare_error, last_prep_resp
         FROM report_aggregations WHERE task_id = ? AND aggregation_job_id = ? ORDER BY ord",
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
    conn: &mut SqliteConnection,
    now: Time,
    rows: &[ReportAggregation],
    lease: Option<&LeaseToken>,
) -> Result<()> {
    check_leases(conn, now, rows, lease).await?;
    for e in encode_all(rows)? {
        let updated = sqlx::query(
            "UPDATE report_aggregations
             SET state = ?, state_payload = ?, prepare_error = ?, last_prep_resp = ?
             WHERE task_id = ? AND aggregation_job_id = ? AND ord = ? AND report_id = ?",
        )
        .bind(e.ra.state.code())
        .bind(e.ra.state.payload())
        .bind(e.ra.state.error().map(|error| i64::from(error.as_u8())))
        .bind(e.last_prep_resp)
        .bind(e.ra.task_id.as_bytes().as_slice())
        .bind(e.ra.aggregation_job_id.as_bytes().as_slice())
        .bind(e.ord)
        .bind(e.ra.report_id.as_bytes().as_slice())
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if updated == 0 {
            return Err(DatastoreError::NotFound {
                what: format!(
                    "report aggregation {} of aggregation job {}",
                    e.ra.ord, e.ra.aggregation_job_id
                ),
            });
        }
    }
    Ok(())
}
