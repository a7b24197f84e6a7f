//! The Leader's client reports (DAP-09 section 4.4.2): batched inserts
//! where the first copy of a report ID wins, and the queries of the
//! aggregation job creator. The reports no job has taken are the keys of
//! `unaggregated_reports` (time first, so a job takes the oldest): inserted
//! with each report, deleted when a job takes it (`mark_started`), put
//! back when its preparation must be tried again. They are read skipping
//! rows other transactions hold ([`Backend::SKIP_ROWS_LOCKED_FOR_UPDATE`]),
//! so two job creators take disjoint reports without waiting for each
//! other.

use crate::backend::{self, sql, Backend, Column, Rows, Sql};
use crate::backend_transaction::{BackendTransaction as Tx, Open};
use crate::columns::{self, Result};
use crate::models::{
    encode_extensions, AggregationJobState, LeaderStoredReport, ReportWriteOutcome,
    UNAGGREGATED_REPORTS,
};
use crate::tables::{expiry, insert_new};
use crate::DatastoreError;
use dyad_messages::draft09::{Interval, ReportId, ReportMetadata, TaskId, Time};
use sqlx::QueryBuilder;
use std::collections::{HashMap, HashSet};

const TABLE: &str = "client_reports";
const COLUMNS: &str = "task_id, report_id, client_time, public_share, leader_extensions, \
                       leader_input_share, helper_encrypted_input_share";
/// Reports written by one statement at most.
const CHUNK: usize = 1000;

/// The columns of a chunk of reports, in the order of `COLUMNS` then
/// `created_at`.
fn rows(chunk: &[&LeaderStoredReport], created_at: i64) -> Result<Rows> {
    let (mut task_ids, mut report_ids, mut times) = (Vec::new(), Vec::new(), Vec::new());
    let (mut public_shares, mut extensions) = (Vec::new(), Vec::new());
    let (mut leader_shares, mut helper_shares) = (Vec::new(), Vec::new());
    for report in chunk {
        times.push(columns::time(report.time(), "report time")?);
        extensions.push(
            encode_extensions(&report.leader_extensions)
                .map_err(|e| DatastoreError::invalid("leader_extensions", e))?,
        );
        helper_shares.push(columns::encode(
            &report.helper_encrypted_input_share,
            "helper share",
        )?);
        task_ids.push(report.task_id.as_bytes().to_vec());
        report_ids.push(report.report_id().as_bytes().to_vec());
        public_shares.push(report.public_share.clone());
        leader_shares.push(report.leader_input_share.clone());
    }
    Ok(Rows(vec![
        Column::Bytes(task_ids),
        Column::Bytes(report_ids),
        Column::BigInt(times),
        Column::Bytes(public_shares),
        Column::Bytes(extensions),
        Column::Bytes(leader_shares),
        Column::Bytes(helper_shares),
        Column::BigInt(vec![created_at; chunk.len()]),
    ]))
}

/// The `unaggregated_reports` rows of a chunk of reports.
fn queue_rows(chunk: &[&LeaderStoredReport]) -> Result<Rows> {
    let times = chunk
        .iter()
        .map(|report| columns::time(report.time(), "report time"))
        .collect::<Result<Vec<_>>>()?;
    Ok(Rows(vec![
        Column::Bytes(
            chunk
                .iter()
                .map(|r| r.task_id.as_bytes().to_vec())
                .collect(),
        ),
        Column::BigInt(times),
        Column::Bytes(
            chunk
                .iter()
                .map(|r| r.report_id().as_bytes().to_vec())
                .collect(),
        ),
    ]))
}

pub(crate) async fn put_client_reports<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    reports: &[LeaderStoredReport],
) -> Result<Vec<ReportWriteOutcome>> {
    let Open { conn, now, .. } = tx.write("put_client_reports")?;
    let created_at = columns::time(now, "created_at")?;
    // Later copies of a report in the same call are duplicates of the first.
    let firsts = backend::first_of_each(reports, |r| (r.task_id, *r.report_id()));
    let mut by_task: Vec<(TaskId, Vec<&LeaderStoredReport>)> = Vec::new();
    for report in firsts {
        match by_task
            .iter_mut()
            .find(|(task_id, _)| *task_id == report.task_id)
        {
            Some((_, task_reports)) => task_reports.push(report),
            None => by_task.push((report.task_id, vec![report])),
        }
    }
    let mut inserted: HashSet<(TaskId, ReportId)> = HashSet::new();
    for (task_id, task_reports) in &by_task {
        // Its task is stored, and stays so (in place of a foreign key).
        super::tasks::hold_task::<DB>(&mut *conn, task_id).await?;
        let new = put_task_reports::<DB>(&mut *conn, task_id, task_reports, created_at)
            .await
            .map_err(|error| super::tasks::missing_task(error, task_id))?;
        inserted.extend(new.into_iter().map(|id| (*task_id, id)));
    }
    // A report was stored only if it was inserted, and only its first copy.
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

/// Inserts one task's reports (first copies only) that are not stored
/// yet, each with its key in the queue of unaggregated reports; returns
/// the IDs inserted.
async fn put_task_reports<DB: Backend>(
    conn: &mut DB::Connection,
    task_id: &TaskId,
    task_reports: &[&LeaderStoredReport],
    created_at: i64,
) -> Result<Vec<ReportId>> {
    let mut inserted = Vec::new();
    for chunk in DB::statement_chunks(task_reports, 8, CHUNK) {
        // A report stored before is a duplicate (usually none).
        let new = insert_new(
            &mut *conn,
            TABLE,
            chunk,
            8,
            |r: &LeaderStoredReport| *r.report_id(),
            |chunk| {
                let mut query = QueryBuilder::<DB>::new(
                    "SELECT client_reports.report_id FROM client_reports WHERE ",
                );
                let ids: Vec<ReportId> = chunk.iter().map(|r| *r.report_id()).collect();
                push_reports_of::<DB>(&mut query, task_id, &ids);
                query
            },
            |part| {
                let mut query = QueryBuilder::<DB>::new(format!(
                    "INSERT INTO client_reports ({COLUMNS}, created_at) "
                ));
                DB::push_rows(&mut query, rows(part, created_at)?);
                query.push(" ON CONFLICT (task_id, report_id) DO NOTHING");
                Ok(query)
            },
        )
        .await?;
        // And each stored report waits for a job.
        for part in DB::statement_chunks(&new, 3, CHUNK) {
            let mut query = QueryBuilder::<DB>::new(
                "INSERT INTO unaggregated_reports (task_id, client_time, report_id) ",
            );
            DB::push_rows(&mut query, queue_rows(part)?);
            query.push(" ON CONFLICT (task_id, client_time, report_id) DO NOTHING");
            Sql::built(&mut query).execute(&mut *conn).await?;
        }
        inserted.extend(new.iter().map(|r| *r.report_id()));
    }
    Ok(inserted)
}

pub(crate) async fn get_client_report<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
    report_id: &ReportId,
) -> Result<Option<LeaderStoredReport>> {
    let Open { conn, .. } = tx.read();
    sql::<DB>(&format!(
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

fn id_list(report_ids: &[ReportId]) -> Vec<Vec<u8>> {
    report_ids.iter().map(|id| id.as_bytes().to_vec()).collect()
}

/// The condition "a report of `task_id` among `report_ids`" on this table.
fn push_reports_of<'a, DB: Backend>(
    query: &mut QueryBuilder<'a, DB>,
    task_id: &TaskId,
    report_ids: &[ReportId],
) {
    DB::push_task_reports(
        query,
        TABLE,
        TABLE,
        task_id.as_bytes().to_vec(),
        id_list(report_ids),
    );
}

pub(crate) async fn get_client_reports<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
    report_ids: &[ReportId],
) -> Result<Vec<LeaderStoredReport>> {
    let Open { conn, .. } = tx.read();
    let mut found: HashMap<ReportId, LeaderStoredReport> = HashMap::new();
    for chunk in DB::statement_chunks(report_ids, 1, CHUNK) {
        let mut query =
            QueryBuilder::<DB>::new(format!("SELECT {COLUMNS} FROM client_reports WHERE "));
        push_reports_of::<DB>(&mut query, task_id, chunk);
        for r in Sql::built(&mut query).fetch_all(&mut *conn).await? {
            let report = columns::rows::client_report(&r)?;
            found.insert(*report.report_id(), report);
        }
    }
    Ok(report_ids
        .iter()
        .filter_map(|id| found.remove(id))
        .collect())
}

/// Up to `limit` unaggregated reports, oldest first; in a read-write
/// transaction (locking rows is a write), rows other transactions hold are
/// skipped and the ones returned are held until the transaction ends.
pub(crate) async fn get_unaggregated_client_reports<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
    limit: u64,
) -> Result<Vec<ReportMetadata>> {
    let lock = tx.mode.writes();
    let Open { conn, .. } = tx.read();
    let locking = if lock {
        DB::SKIP_ROWS_LOCKED_FOR_UPDATE
    } else {
        ""
    };
    sql::<DB>(&format!(
        "SELECT report_id, client_time FROM unaggregated_reports
         WHERE task_id = $1 ORDER BY client_time, report_id LIMIT $2{locking}"
    ))
    .bind(task_id.as_bytes().as_slice())
    .bind(columns::int(limit, "limit")?)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(columns::rows::report_metadata)
    .collect()
}

pub(crate) async fn mark_client_reports_aggregation_started<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
    report_ids: &[ReportId],
) -> Result<u64> {
    let Open { conn, .. } = tx.write("mark_client_reports_aggregation_started")?;
    mark_started::<DB>(conn, task_id, report_ids, true).await
}

pub(crate) async fn unmark_client_reports_aggregation_started<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
    report_ids: &[ReportId],
) -> Result<u64> {
    let Open { conn, .. } = tx.write("unmark_client_reports_aggregation_started")?;
    mark_started::<DB>(conn, task_id, report_ids, false).await
}

/// Takes the reports out of `unaggregated_reports` (`started`) or puts
/// those still stored back in; how many went out or came in. The keys
/// are found through `client_reports`' primary key (the queue's own key
/// starts with the report's time).
async fn mark_started<DB: Backend>(
    conn: &mut DB::Connection,
    task_id: &TaskId,
    report_ids: &[ReportId],
    started: bool,
) -> Result<u64> {
    let mut marked = 0;
    for chunk in DB::statement_chunks(report_ids, 1, CHUNK) {
        let mut query = QueryBuilder::<DB>::new(if started {
            "DELETE FROM unaggregated_reports WHERE (task_id, client_time, report_id) IN (
                 SELECT task_id, client_time, report_id FROM client_reports WHERE "
        } else {
            "INSERT INTO unaggregated_reports (task_id, client_time, report_id)
                 SELECT task_id, client_time, report_id FROM client_reports WHERE "
        });
        push_reports_of::<DB>(&mut query, task_id, chunk);
        query.push(if started {
            ")"
        } else {
            " ON CONFLICT (task_id, client_time, report_id) DO NOTHING"
        });
        marked += Sql::built(&mut query).execute(&mut *conn).await?;
    }
    Ok(marked)
}

pub(crate) async fn count_unaggregated_client_reports<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
    interval: Option<Interval>,
) -> Result<u64> {
    let Open { conn, .. } = tx.read();
    let (start, end) = match interval {
        Some(i) => columns::interval(&i, "interval")?,
        None => (0, i64::MAX),
    };
    let counted = sql::<DB>(
        "SELECT COUNT(*) AS count FROM unaggregated_reports
         WHERE task_id = $1 AND client_time >= $2 AND client_time < $3",
    )
    .bind(task_id.as_bytes().as_slice())
    .bind(start)
    .bind(end)
    .fetch_one(&mut *conn)
    .await?;
    columns::count_of(&counted, TABLE)
}

/// The `WHERE` of reports in `[$2, $3)` of task `$1` that no aggregation
/// job with aggregation parameter `$4` holds (VDAFs whose parameter is
/// chosen at collection: a report is aggregated once per parameter). The
/// subquery does not depend on the outer row, so both backends compute the
/// set of IDs once (SQLite as a temporary index, PostgreSQL as a hashed
/// subplan) rather than once per report.
const NOT_AGGREGATED_WITH: &str = "r.task_id = $1 AND r.client_time >= $2 AND r.client_time < $3
       AND r.report_id NOT IN (
           SELECT ra.report_id FROM aggregation_jobs j
           JOIN report_aggregations ra
             ON ra.task_id = j.task_id AND ra.aggregation_job_id = j.aggregation_job_id
           WHERE j.task_id = $1 AND j.client_interval_start < $3
             AND j.aggregation_parameter = $4)";

pub(crate) async fn get_client_reports_not_aggregated_with<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
    interval: Interval,
    aggregation_parameter: &[u8],
    limit: u64,
) -> Result<Vec<ReportMetadata>> {
    let Open { conn, .. } = tx.read();
    let (start, end) = columns::interval(&interval, "interval")?;
    sql::<DB>(&format!(
        "SELECT r.report_id, r.client_time FROM client_reports r
         WHERE {NOT_AGGREGATED_WITH}
         ORDER BY r.client_time, r.report_id LIMIT $5"
    ))
    .bind(task_id.as_bytes().as_slice())
    .bind(start)
    .bind(end)
    .bind(aggregation_parameter)
    .bind(columns::int(limit, "limit")?)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(columns::rows::report_metadata)
    .collect()
}

pub(crate) async fn count_client_reports_not_aggregated_with<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
    interval: Interval,
    aggregation_parameter: &[u8],
) -> Result<u64> {
    let Open { conn, .. } = tx.read();
    let (start, end) = columns::interval(&interval, "interval")?;
    let counted = sql::<DB>(&format!(
        "SELECT COUNT(*) AS count FROM client_reports r WHERE {NOT_AGGREGATED_WITH}"
    ))
    .bind(task_id.as_bytes().as_slice())
    .bind(start)
    .bind(end)
    .bind(aggregation_parameter)
    .fetch_one(&mut *conn)
    .await?;
    columns::count_of(&counted, TABLE)
}

/// The earliest client interval start of task `$1`'s in-progress jobs that
/// list their reports on their row, or `$2` if there is none. The state
/// (`AggregationJobState::InProgress`, 0) is a literal, as in the partial
/// index `aggregation_jobs_listed_in_progress` (migration 0014): a
/// parameter would not let either planner use the index, and the read would
/// go through every job of the task.
pub(crate) const EARLIEST_LISTED_JOB_IN_PROGRESS: &str =
    "SELECT COALESCE(MIN(j.client_interval_start), $2) FROM aggregation_jobs j
     WHERE j.task_id = $1 AND j.state = 0 AND j.report_list IS NOT NULL";

/// Deletes up to `limit` reports older than `before` that no in-progress
/// aggregation job still needs (the driver reads a report's shares until
/// the job's first step is done), skipping rows other transactions hold (a
/// job creator taking them). A job holding its reports as report
/// aggregations keeps exactly those; a job listing them on its row
/// (`report_list`) keeps every report from the start of its client
/// interval on, the one test that needs no look into the lists (the
/// oldest such job is computed once, and is seldom older than a few
/// seconds). A deleted report can no longer be uploaded
/// again: its time is before `before`, so the upload is refused as too old
/// (DAP-09 section 4.4.2).
pub(crate) async fn delete_client_reports_before<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
    before: Time,
    limit: u64,
) -> Result<u64> {
    let statement = format!(
        "DELETE FROM client_reports WHERE task_id = $1 AND report_id IN (
             SELECT c.report_id FROM client_reports c
             WHERE c.task_id = $1 AND c.client_time < $2
               AND NOT EXISTS (
                   SELECT 1 FROM report_aggregations r
                   WHERE r.task_id = c.task_id AND r.report_id = c.report_id
                     AND EXISTS (
                         SELECT 1 FROM aggregation_jobs j
                         WHERE j.task_id = r.task_id
                           AND j.aggregation_job_id = r.aggregation_job_id AND j.state = $4))
               AND c.client_time < ({EARLIEST_LISTED_JOB_IN_PROGRESS})
             LIMIT $3{})",
        DB::SKIP_ROWS_LOCKED_FOR_DELETE
    );
    // Expired reports no job took leave the queue first (the reports
    // deleted below are all older than `before`, and no job takes a report
    // that old any more).
    expiry::delete_rows_before(
        tx,
        "delete_unaggregated_reports_before",
        UNAGGREGATED_REPORTS,
        "task_id, client_time, report_id",
        task_id,
        before,
        limit,
    )
    .await?;
    expiry::delete_expired(
        tx,
        "delete_client_reports_before",
        &statement,
        task_id,
        before,
        limit,
        Some(AggregationJobState::InProgress.code()),
    )
    .await
}
