//! The Leader's client reports in SQLite (DAP-09 section 4.4.2): batched
//! inserts where the first copy of a report ID wins, and the queries of the
//! aggregation job creator.

use super::row::{self, Result, RowReader};
use crate::columns;
use crate::models::{encode_extensions, LeaderStoredReport, ReportWriteOutcome};
use crate::DatastoreError;
use dyad_messages::draft09::{Interval, ReportId, ReportMetadata, TaskId, Time};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use std::collections::{HashMap, HashSet};

const TABLE: &str = "client_reports";
const COLUMNS: &str = "task_id, report_id, client_time, public_share, leader_extensions, \
                       leader_input_share, helper_encrypted_input_share";

pub(super) async fn put(
    conn: &mut SqliteConnection,
    now: Time,
    reports: &[LeaderStoredReport],
) -> Result<Vec<ReportWriteOutcome>> {
    let created_at = row::time(now, "created_at")?;
    let mut inserted: HashSet<(TaskId, ReportId)> = HashSet::new();
    for chunk in reports.chunks(row::chunk_len(8)) {
        let mut encoded = Vec::with_capacity(chunk.len());
        for report in chunk {
            encoded.push((
                report,
                row::time(report.time(), "report time")?,
                encode_extensions(&report.leader_extensions)
                    .map_err(|e| DatastoreError::invalid("leader_extensions", e))?,
                row::encode(&report.helper_encrypted_input_share, "helper share")?,
            ));
        }
        let mut query = QueryBuilder::<Sqlite>::new(format!(
            "INSERT INTO client_reports ({COLUMNS}, created_at) "
        ));
        query.push_values(encoded, |mut b, (report, time, extensions, helper)| {
            b.push_bind(report.task_id.as_bytes().as_slice())
                .push_bind(report.report_id().as_bytes().as_slice())
                .push_bind(time)
                .push_bind(report.public_share.as_slice())
                .push_bind(extensions)
                .push_bind(report.leader_input_share.as_slice())
                .push_bind(helper)
                .push_bind(created_at);
        });
        query.push(" ON CONFLICT (task_id, report_id) DO NOTHING RETURNING task_id, report_id");
        for returned in query.build().fetch_all(&mut *conn).await? {
            let r = RowReader::new(&returned, TABLE);
            inserted.insert((r.id("task_id")?, r.id("report_id")?));
        }
    }
    // A report was stored only if its key came back, and only its first copy.
    Ok(reports
        .iter()
        .map(|report| {
            if inserted.remove(&(report.task_id, *report.report_id())) {
                ReportWriteOutcome::Stored
            } else {
                ReportWriteOutcome::Duplicate
            }
        })
        .collect())
}

pub(super) async fn get(
    conn: &mut SqliteConnection,
    task_id: &TaskId,
    report_id: &ReportId,
) -> Result<Option<LeaderStoredReport>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM client_reports WHERE task_id = ? AND report_id = ?"
    ))
    .bind(task_id.as_bytes().as_slice())
    .bind(report_id.as_bytes().as_slice())
    .fetch_optional(&mut *conn)
    .await?
    .as_ref()
    .map(columns::rows::client_report)
    .transpose()
}

pub(super) async fn get_many(
    conn: &mut SqliteConnection,
    task_id: &TaskId,
    report_ids: &[ReportId],
) -> Result<Vec<LeaderStoredReport>> {
    let mut found: HashMap<ReportId, LeaderStoredReport> = HashMap::new();
    for chunk in report_ids.chunks(row::chunk_len(1)) {
        let mut query = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {COLUMNS} FROM client_reports WHERE task_id = "
        ));
        query.push_bind(task_id.as_bytes().as_slice());
        query.push(" AND report_id IN (");
        let mut ids = query.separated(", ");
        for id in chunk {
            ids.push_bind(id.as_bytes().as_slice());
        }
        query.push(")");
        for r in query.build().fetch_all(&mut *conn).await? {
            let report = columns::rows::client_report(&r)?;
            found.insert(*report.report_id(), report);
        }
    }
    Ok(report_ids
        .iter()
        .filter_map(|id| found.remove(id))
        .collect())
}

pub(super) async fn get_unaggregated(
    conn: &mut SqliteConnection,
    task_id: &TaskId,
    limit: u64,
) -> Result<Vec<ReportMetadata>> {
    sqlx::query(
        "SELECT report_id, client_time FROM client_reports
         WHERE task_id = ? AND aggregation_started = 0
         ORDER BY client_time, report_id LIMIT ?",
    )
    .bind(task_id.as_bytes().as_slice())
    .bind(row::int(limit, "limit")?)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(columns::rows::report_metadata)
    .collect()
}

/// Sets `aggregation_started` to `started` on the reports where it is not
/// already; how many changed.
pub(super) async fn mark_started(
    conn: &mut SqliteConnection,
    task_id: &TaskId,
    report_ids: &[ReportId],
    started: bool,
) -> Result<u64> {
    let (to, from) = if started { (1, 0) } else { (0, 1) };
    let mut marked = 0;
    for chunk in report_ids.chunks(row::chunk_len(1)) {
        let mut query = QueryBuilder::<Sqlite>::new(format!(
            "UPDATE client_reports SET aggregation_started = {to} \
             WHERE aggregation_started = {from} AND task_id = "
        ));
        query.push_bind(task_id.as_bytes().as_slice());
        query.push(" AND report_id IN (");
        let mut ids = query.separated(", ");
        for id in chunk {
            ids.push_bind(id.as_bytes().as_slice());
        }
        query.push(")");
        marked += query.build().execute(&mut *conn).await?.rows_affected();
    }
    Ok(marked)
}

pub(super) async fn count_unaggregated(
    conn: &mut SqliteConnection,
    task_id: &TaskId,
    interval: Option<Interval>,
) -> Result<u64> {
    let (start, end) = match interval {
        Some(i) => row::interval(&i, "interval")?,
        None => (0, i64::MAX),
    };
    let count: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM client_reports
         WHERE task_id = ? AND aggregation_started = 0 AND client_time >= ? AND client_time < ?",
    )
    .bind(task_id.as_bytes().as_slice())
    .bind(start)
    .bind(end)
    .fetch_one(&mut *conn)
    .await?;
    row::count(count, TABLE)
}

pub(super) async fn delete_before(
    conn: &mut SqliteConnection,
    task_id: &TaskId,
    before: Time,
    limit: u64,
) -> Result<u64> {
    Ok(sqlx::query(
        "DELETE FROM client_reports WHERE rowid IN (
             SELECT rowid FROM client_reports WHERE task_id = ? AND client_time < ? LIMIT ?)",
    )
    .bind(task_id.as_bytes().as_slice())
    .bind(row::time(before, "before")?)
    .bind(row::int(limit, "limit")?)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}
