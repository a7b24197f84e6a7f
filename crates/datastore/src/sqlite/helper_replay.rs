//! The Helper's anti-replay set in SQLite (DAP-09 section 4.5.1.4): batched
//! inserts that report which entries were already there.

use super::row::{self, Result, RowReader};
use crate::columns;
use crate::models::SeenReport;
use dyad_messages::draft09::{ReportId, TaskId, Time};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use std::collections::HashSet;

const TABLE: &str = "helper_seen_reports";

pub(super) async fn put(
    conn: &mut SqliteConnection,
    task_id: &TaskId,
    aggregation_parameter: &[u8],
    reports: &[SeenReport],
) -> Result<Vec<bool>> {
    let mut inserted: HashSet<ReportId> = HashSet::new();
    for chunk in reports.chunks(row::chunk_len(4)) {
        let times = chunk
            .iter()
            .map(|seen| Ok((seen, row::time(seen.time, "report time")?)))
            .collect::<Result<Vec<_>>>()?;
        let mut query = QueryBuilder::<Sqlite>::new(
            "INSERT INTO helper_seen_reports (task_id, report_id, aggregation_parameter, client_time) ",
        );
        query.push_values(times, |mut b, (seen, time)| {
            b.push_bind(task_id.as_bytes().as_slice())
                .push_bind(seen.report_id.as_bytes().as_slice())
                .push_bind(aggregation_parameter)
                .push_bind(time);
        });
        query.push(
            " ON CONFLICT (task_id, report_id, aggregation_parameter) DO NOTHING RETURNING report_id",
        );
        for returned in query.build().fetch_all(&mut *conn).await? {
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
    conn: &mut SqliteConnection,
    task_id: &TaskId,
    report_ids: &[ReportId],
) -> Result<Vec<(ReportId, Vec<u8>)>> {
    let mut found = Vec::new();
    for chunk in report_ids.chunks(row::chunk_len(1)) {
        let mut query = QueryBuilder::<Sqlite>::new(
            "SELECT report_id, aggregation_parameter FROM helper_seen_reports WHERE task_id = ",
        );
        query.push_bind(task_id.as_bytes().as_slice());
        query.push(" AND report_id IN (");
        let mut ids = query.separated(", ");
        for id in chunk {
            ids.push_bind(id.as_bytes().as_slice());
        }
        query.push(") ORDER BY report_id, aggregation_parameter");
        for row in query.build().fetch_all(&mut *conn).await? {
            found.push(columns::rows::seen_report(&row)?);
        }
    }
    Ok(found)
}

pub(super) async fn delete_before(
    conn: &mut SqliteConnection,
    task_id: &TaskId,
    before: Time,
    limit: u64,
) -> Result<u64> {
    Ok(sqlx::query(
        "DELETE FROM helper_seen_reports WHERE rowid IN (
             SELECT rowid FROM helper_seen_reports WHERE task_id = ? AND client_time < ? LIMIT ?)",
    )
    .bind(task_id.as_bytes().as_slice())
    .bind(row::time(before, "before")?)
    .bind(row::int(limit, "limit")?)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}
