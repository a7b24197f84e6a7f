//! The Helper's anti-replay set in PostgreSQL (DAP-09 section 4.5.1.4):
//! batched inserts (over `UNNEST`ed arrays) that report which entries were
//! already there.

use super::row::{self, Result, RowReader};
use crate::columns;
use crate::models::SeenReport;
use dyad_messages::draft09::{ReportId, TaskId, Time};
use sqlx::PgConnection;
use std::collections::HashSet;

const TABLE: &str = "helper_seen_reports";
/// Entries written by one statement at most.
const CHUNK: usize = 5000;

pub(super) async fn put(
    conn: &mut PgConnection,
    task_id: &TaskId,
    aggregation_parameter: &[u8],
    reports: &[SeenReport],
) -> Result<Vec<bool>> {
    let firsts = row::first_of_each(reports, |seen| seen.report_id);
    let mut inserted: HashSet<ReportId> = HashSet::new();
    for chunk in firsts.chunks(CHUNK) {
        let ids: Vec<Vec<u8>> = chunk
            .iter()
            .map(|seen| seen.report_id.as_bytes().to_vec())
            .collect();
        let times = chunk
            .iter()
            .map(|seen| row::time(seen.time, "report time"))
            .collect::<Result<Vec<_>>>()?;
        let returned = sqlx::query(
            "INSERT INTO helper_seen_reports (task_id, report_id, aggregation_parameter,
                 client_time)
             SELECT $1, u.report_id, $2, u.client_time
             FROM UNNEST($3::BYTEA[], $4::BIGINT[]) AS u (report_id, client_time)
             ON CONFLICT (task_id, report_id, aggregation_parameter) DO NOTHING
             RETURNING report_id",
        )
        .bind(task_id.as_bytes().as_slice())
        .bind(aggregation_parameter)
        .bind(ids)
        .bind(times)
        .fetch_all(&mut *conn)
        .await?;
        for returned in returned {
            inserted.insert(RowReader::new(&returned, TABLE).id("report_id")?);
        }
    }
    // Only the first copy of a newly inserted ID is new.
    Ok(reports
        .iter()
        .map(|seen| !inserted.remove(&seen.report_id))
        .collect())
}

pub(super) async fn get_parameters(
    conn: &mut PgConnection,
    task_id: &TaskId,
    report_ids: &[ReportId],
) -> Result<Vec<(ReportId, Vec<u8>)>> {
    let mut found = Vec::new();
    for chunk in report_ids.chunks(CHUNK) {
        let ids: Vec<Vec<u8>> = chunk.iter().map(|id| id.as_bytes().to_vec()).collect();
        let rows = sqlx::query(
            "SELECT report_id, aggregation_parameter FROM helper_seen_reports
             WHERE task_id = $1 AND report_id = ANY($2)
             ORDER BY report_id, aggregation_parameter",
        )
        .bind(task_id.as_bytes().as_slice())
        .bind(ids)
        .fetch_all(&mut *conn)
        .await?;
        for row in rows {
            found.push(columns::rows::seen_report(&row)?);
        }
    }
    Ok(found)
}

pub(super) async fn delete_before(
    conn: &mut PgConnection,
    task_id: &TaskId,
    before: Time,
    limit: u64,
) -> Result<u64> {
    Ok(sqlx::query(
        "DELETE FROM helper_seen_reports WHERE (task_id, report_id, aggregation_parameter) IN (
             SELECT task_id, report_id, aggregation_parameter FROM helper_seen_reports
             WHERE task_id = $1 AND client_time < $2 LIMIT $3 FOR UPDATE SKIP LOCKED)",
    )
    .bind(task_id.as_bytes().as_slice())
    .bind(row::time(before, "before")?)
    .bind(row::int(limit, "limit")?)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}
