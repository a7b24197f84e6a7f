//! The Helper's anti-replay set (DAP-09 section 4.5.1.4): batched inserts
//! that report which entries were already there.

use crate::backend::{self, push_bind, Backend, Column, Rows, Sql};
use crate::backend_transaction::{BackendTransaction as Tx, Open};
use crate::columns::{self, Result};
use crate::models::SeenReport;
use crate::tables::{expiry, insert_new};
use dyad_messages::draft09::{ReportId, TaskId, Time};
use sqlx::QueryBuilder;
use std::collections::HashSet;

const TABLE: &str = "helper_seen_reports";
/// Entries written by one statement at most.
const CHUNK: usize = 5000;

pub(crate) async fn put_helper_seen_reports<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
    aggregation_parameter: &[u8],
    reports: &[SeenReport],
) -> Result<Vec<bool>> {
    let Open { conn, .. } = tx.write("put_helper_seen_reports")?;
    // Its task is stored, and stays so (in place of a foreign key).
    super::tasks::hold_task::<DB>(&mut *conn, task_id).await?;
    let firsts = backend::first_of_each(reports, |seen| seen.report_id);
    let mut inserted = insert_seen::<DB>(&mut *conn, task_id, aggregation_parameter, &firsts)
        .await
        .map_err(|error| super::tasks::missing_task(error, task_id))?;
    // Only the first copy of a newly inserted ID is new.
    Ok(reports
        .iter()
        .map(|seen| !inserted.remove(&seen.report_id))
        .collect())
}

/// Inserts the entries not there yet; returns their report IDs.
async fn insert_seen<DB: Backend>(
    conn: &mut DB::Connection,
    task_id: &TaskId,
    aggregation_parameter: &[u8],
    firsts: &[&SeenReport],
) -> Result<HashSet<ReportId>> {
    let mut inserted: HashSet<ReportId> = HashSet::new();
    for chunk in DB::statement_chunks(firsts, 4, CHUNK) {
        // An entry already there (usually none) is left as it is.
        let new = insert_new(
            &mut *conn,
            TABLE,
            chunk,
            4,
            |seen: &SeenReport| seen.report_id,
            |chunk| {
                let mut query =
                    QueryBuilder::<DB>::new("SELECT s.report_id FROM helper_seen_reports s WHERE ");
                DB::push_task_reports(
                    &mut query,
                    TABLE,
                    "s",
                    task_id.as_bytes().to_vec(),
                    chunk
                        .iter()
                        .map(|seen| seen.report_id.as_bytes().to_vec())
                        .collect(),
                );
                query.push(" AND s.aggregation_parameter = ");
                push_bind(&mut query, aggregation_parameter.to_vec());
                query
            },
            |part| {
                let times = part
                    .iter()
                    .map(|seen| columns::time(seen.time, "report time"))
                    .collect::<Result<Vec<_>>>()?;
                let rows = Rows(vec![
                    Column::Bytes(vec![task_id.as_bytes().to_vec(); part.len()]),
                    Column::Bytes(
                        part.iter()
                            .map(|seen| seen.report_id.as_bytes().to_vec())
                            .collect(),
                    ),
                    Column::Bytes(vec![aggregation_parameter.to_vec(); part.len()]),
                    Column::BigInt(times),
                ]);
                let mut query = QueryBuilder::<DB>::new(
                    "INSERT INTO helper_seen_reports (task_id, report_id, aggregation_parameter,
                         client_time) ",
                );
                DB::push_rows(&mut query, rows);
                query.push(" ON CONFLICT (task_id, report_id, aggregation_parameter) DO NOTHING");
                Ok(query)
            },
        )
        .await?;
        inserted.extend(new.iter().map(|seen| seen.report_id));
    }
    Ok(inserted)
}

/// With a non-empty `clash_prefix`, a report seen at many levels gives
/// the few rows that matter instead of one per level: those whose
/// parameter starts with the prefix, and its first parameter in byte
/// order (the first entry of the primary key's index for the report), so
/// that a report seen before always has one. Both are found in the index,
/// which holds the parameter.
pub(crate) async fn get_helper_seen_aggregation_parameters<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
    report_ids: &[ReportId],
    clash_prefix: &[u8],
) -> Result<Vec<(ReportId, Vec<u8>)>> {
    let Open { conn, .. } = tx.read();
    let mut found = Vec::new();
    for chunk in DB::statement_chunks(report_ids, 1, CHUNK) {
        let mut query = QueryBuilder::<DB>::new(
            "SELECT s.report_id, s.aggregation_parameter FROM helper_seen_reports s WHERE ",
        );
        DB::push_task_reports(
            &mut query,
            TABLE,
            "s",
            task_id.as_bytes().to_vec(),
            chunk.iter().map(|id| id.as_bytes().to_vec()).collect(),
        );
        if !clash_prefix.is_empty() {
            // The length is ours, written in the text: PostgreSQL's
            // `substr` takes an `integer`, which a bound 64-bit value is not.
            query.push(format!(
                " AND (substr(s.aggregation_parameter, 1, {}) = ",
                clash_prefix.len()
            ));
            push_bind(&mut query, clash_prefix.to_vec());
            query.push(
                " OR s.aggregation_parameter = (
                     SELECT f.aggregation_parameter FROM helper_seen_reports f
                     WHERE f.task_id = s.task_id AND f.report_id = s.report_id
                     ORDER BY f.aggregation_parameter LIMIT 1))",
            );
        }
        query.push(" ORDER BY s.report_id, s.aggregation_parameter");
        for row in Sql::built(&mut query).fetch_all(&mut *conn).await? {
            found.push(columns::rows::seen_report(&row)?);
        }
    }
    Ok(found)
}

/// Deletes up to `limit` entries older than `before`, skipping rows other
/// transactions hold. A report older than the task's expiry age is refused
/// as `report_dropped` before its replay is looked up (DAP-09 section
/// 4.5.1.4), so forgetting it cannot let a replay in.
pub(crate) async fn delete_helper_seen_reports_before<DB: Backend>(
    tx: &mut Tx<'_, DB>,
    task_id: &TaskId,
    before: Time,
    limit: u64,
) -> Result<u64> {
    expiry::delete_rows_before(
        tx,
        "delete_helper_seen_reports_before",
        TABLE,
        "task_id, report_id, aggregation_parameter",
        task_id,
        before,
        limit,
    )
    .await
}
