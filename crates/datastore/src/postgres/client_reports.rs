//! The Leader's client reports in PostgreSQL (DAP-09 section 4.4.2):
//! batched inserts (one statement per chunk, over `UNNEST`ed arrays) where
//! the first copy of a report ID wins, and the queries of the aggregation
//! job creator. Unaggregated reports are read `FOR NO KEY UPDATE SKIP
//! LOCKED`, so two job creators take disjoint reports without waiting for
//! each other.

use super::row::{self, Result, RowReader};
use crate::columns;
use crate::models::{encode_extensions, LeaderStoredReport, ReportWriteOutcome};
use crate::DatastoreError;
use dyad_messages::draft09::{Interval, ReportId, ReportMetadata, TaskId, Time};
use sqlx::PgConnection;
use std::collections::{HashMap, HashSet};

const TABLE: &str = "client_reports";
const COLUMNS: &str = "task_id, report_id, client_time, public_share, leader_extensions, \
                       leader_input_share, helper_encrypted_input_share";
/// Reports written by one statement at most.
const CHUNK: usize = 1000;

/// The columns of a chunk of reports, as arrays.
#[derive(Default)]
struct Columns {
    task_ids: Vec<Vec<u8>>,
    report_ids: Vec<Vec<u8>>,
    times: Vec<i64>,
    public_shares: Vec<Vec<u8>>,
    extensions: Vec<Vec<u8>>,
    leader_shares: Vec<Vec<u8>>,
    helper_shares: Vec<Vec<u8>>,
}

impl Columns {
    fn push(&mut self, report: &LeaderStoredReport) -> Result<()> {
        self.times.push(row::time(report.time(), "report time")?);
        self.extensions.push(
            encode_extensions(&report.leader_extensions)
                .map_err(|e| DatastoreError::invalid("leader_extensions", e))?,
        );
        self.helper_shares.push(row::encode(
            &report.helper_encrypted_input_share,
            "helper share",
        )?);
        self.task_ids.push(report.task_id.as_bytes().to_vec());
        self.report_ids.push(report.report_id().as_bytes().to_vec());
        self.public_shares.push(report.public_share.clone());
        self.leader_shares.push(report.leader_input_share.clone());
        Ok(())
    }
}

pub(super) async fn put(
    conn: &mut PgConnection,
    now: Time,
    reports: &[LeaderStoredReport],
) -> Result<Vec<ReportWriteOutcome>> {
    let created_at = row::time(now, "created_at")?;
    // Later copies of a report in the same call are duplicates of the first.
    let firsts = row::first_of_each(reports, |r| (r.task_id, *r.report_id()));
    let mut inserted: HashSet<(TaskId, ReportId)> = HashSet::new();
    for chunk in firsts.chunks(CHUNK) {
        let mut columns = Columns::default();
        for report in chunk {
            columns.push(report)?;
        }
        let returned = sqlx::query(
            "INSERT INTO client_reports (task_id, report_id, client_time, public_share,
                 leader_extensions, leader_input_share, helper_encrypted_input_share, created_at)
             SELECT u.*, $8 FROM UNNEST($1::BYTEA[], $2::BYTEA[], $3::BIGINT[], $4::BYTEA[],
                 $5::BYTEA[], $6::BYTEA[], $7::BYTEA[]) AS u
             ON CONFLICT (task_id, report_id) DO NOTHING
             RETURNING task_id, report_id",
        )
        .bind(columns.task_ids)
        .bind(columns.report_ids)
        .bind(columns.times)
        .bind(columns.public_shares)
        .bind(columns.extensions)
        .bind(columns.leader_shares)
        .bind(columns.helper_shares)
        .bind(created_at)
        .fetch_all(&mut *conn)
        .await?;
        for returned in returned {
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
    conn: &mut PgConnection,
    task_id: &TaskId,
    report_id: &ReportId,
) -> Result<Option<LeaderStoredReport>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM client_reports WHERE task_id = $1 AND report_id = $2"
    ))
    .bind(task_id.as_bytes().as_slice())
    .bind(report_id.as_bytes().as_slice())
    .fetch_optional(&mut *conn)
    .await?
    .as_ref()
    .map(columns::rows::client_report)
    .transpose()
}

fn id_array(report_ids: &[ReportId]) -> Vec<Vec<u8>> {
    report_ids.iter().map(|id| id.as_bytes().to_vec()).collect()
}

pub(super) async fn get_many(
    conn: &mut PgConnection,
    task_id: &TaskId,
    report_ids: &[ReportId],
) -> Result<Vec<LeaderStoredReport>> {
    let mut found: HashMap<ReportId, LeaderStoredReport> = HashMap::new();
    for chunk in report_ids.chunks(CHUNK) {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM client_reports WHERE task_id = $1 AND report_id = ANY($2)"
        ))
        .bind(task_id.as_bytes().as_slice())
        .bind(id_array(chunk))
        .fetch_all(&mut *conn)
        .await?;
        for r in rows {
            let report = columns::rows::client_report(&r)?;
            found.insert(*report.report_id(), report);
        }
    }
    Ok(report_ids
        .iter()
        .filter_map(|id| found.remove(id))
        .collect())
}

/// Up to `limit` unaggregated reports, oldest first; with `lock` (in a
/// read-write transaction), rows other transactions have locked are
/// skipped and the ones returned are locked until the transaction ends.
pub(super) async fn get_unaggregated(
    conn: &mut PgConnection,
    task_id: &TaskId,
    limit: u64,
    lock: bool,
) -> Result<Vec<ReportMetadata>> {
    let locking = if lock {
        " FOR NO KEY UPDATE SKIP LOCKED"
    } else {
        ""
    };
    sqlx::query(&format!(
        "SELECT report_id, client_time FROM client_reports
         WHERE task_id = $1 AND NOT aggregation_started
         ORDER BY client_time, report_id LIMIT $2{locking}"
    ))
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
    conn: &mut PgConnection,
    task_id: &TaskId,
    report_ids: &[ReportId],
    started: bool,
) -> Result<u64> {
    let mut marked = 0;
    for chunk in report_ids.chunks(CHUNK) {
        marked += sqlx::query(
            "UPDATE client_reports SET aggregation_started = $3
             WHERE task_id = $1 AND report_id = ANY($2) AND aggregation_started <> $3",
        )
        .bind(task_id.as_bytes().as_slice())
        .bind(id_array(chunk))
        .bind(started)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    Ok(marked)
}

pub(super) async fn count_unaggregated(
    conn: &mut PgConnection,
    task_id: &TaskId,
    interval: Option<Interval>,
) -> Result<u64> {
    let (start, end) = match interval {
        Some(i) => row::interval(&i, "interval")?,
        None => (0, i64::MAX),
    };
    let count: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM client_reports
         WHERE task_id = $1 AND NOT aggregation_started AND client_time >= $2
           AND client_time < $3",
    )
    .bind(task_id.as_bytes().as_slice())
    .bind(start)
    .bind(end)
    .fetch_one(&mut *conn)
    .await?;
    row::count(count, TABLE)
}

/// Deletes up to `limit` reports older than `before`, skipping rows other
/// transactions have locked (a job creator taking them).
pub(super) async fn delete_before(
    conn: &mut PgConnection,
    task_id: &TaskId,
    before: Time,
    limit: u64,
) -> Result<u64> {
    Ok(sqlx::query(
        "DELETE FROM client_reports WHERE task_id = $1 AND report_id IN (
             SELECT report_id FROM client_reports WHERE task_id = $1 AND client_time < $2
             LIMIT $3 FOR UPDATE SKIP LOCKED)",
    )
    .bind(task_id.as_bytes().as_slice())
    .bind(row::time(before, "before")?)
    .bind(row::int(limit, "limit")?)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}
