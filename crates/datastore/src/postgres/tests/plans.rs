//! Plans that must not depend on the planner's statistics: a lookup of
//! reports by ID (`Backend::push_task_reports`) probes the primary key
//! once per ID even as the generic plan of a prepared statement made while
//! the table was young, which is what a pooled connection runs.

use super::{upload, with_database};
use crate::backend::Backend;
use crate::testing::fixtures::{self, leader_task, report};
use sqlx::{Postgres, QueryBuilder, Row as _};

#[test]
fn report_lookups_probe_the_primary_key_whatever_the_statistics() {
    with_database(|f| async move {
        let datastore = f.open(f.options()).await;
        let task = leader_task();
        fixtures::put_tasks(&datastore, &[&task]).await;
        let task_id = *task.task_id();
        let reports: Vec<_> = (0..3000).map(|i| report(&task_id, 3600 + i, 1)).collect();
        let wanted: Vec<Vec<u8>> = reports
            .iter()
            .take(500)
            .map(|r| r.report_id().as_bytes().to_vec())
            .collect();
        upload(&datastore, reports).await;

        let mut query = QueryBuilder::<Postgres>::new(
            "SELECT client_reports.report_id FROM client_reports WHERE ",
        );
        Postgres::push_task_reports(
            &mut query,
            "client_reports",
            "client_reports",
            task_id.as_bytes().to_vec(),
            wanted.clone(),
        );
        // No ANALYZE has run: the statistics are those of a new table.
        let mut conn = prepared_generic(&f, "lookup(BYTEA[], BYTEA)", query.sql()).await;
        let ids = wanted
            .iter()
            .map(|id| format!("'\\x{}'::BYTEA", hex(id)))
            .collect::<Vec<_>>()
            .join(", ");
        let execute = format!(
            "EXECUTE lookup(ARRAY[{ids}], '\\x{}'::BYTEA)",
            hex(task_id.as_bytes())
        );
        let found = sqlx::raw_sql(&execute).fetch_all(&mut conn).await.unwrap();
        assert_eq!(found.len(), 500, "every wanted report, once");
        let plan = plan_of(&mut conn, &execute).await;
        assert!(plan.contains("Tid Scan"), "{plan}");
        assert!(plan.contains("client_reports_pkey"), "{plan}");
        for scan in ["Seq Scan", "Bitmap Heap Scan"] {
            assert!(!plan.contains(scan), "a scan of the task's rows: {plan}");
        }
    });
}

/// The garbage collector's read of the earliest in-progress job that lists
/// its reports goes through the partial index of just those jobs
/// (migration 0014), even as a generic plan, not through every job of the
/// task.
#[test]
fn the_earliest_listed_job_in_progress_is_read_from_its_own_index() {
    with_database(|f| async move {
        let _datastore = f.open(f.options()).await;
        let mut conn = prepared_generic(
            &f,
            "earliest(BYTEA, BIGINT)",
            crate::tables::client_reports::EARLIEST_LISTED_JOB_IN_PROGRESS,
        )
        .await;
        let execute = format!("EXECUTE earliest('\\x{}'::BYTEA, 0)", hex(&[7; 32]));
        let plan = plan_of(&mut conn, &execute).await;
        assert!(
            plan.contains("aggregation_jobs_listed_in_progress"),
            "{plan}"
        );
    });
}

/// A connection on which `sql` is prepared as `signature` (a name and its
/// parameter types) and always runs as a generic plan, the plan a pooled
/// connection's prepared statement comes to.
async fn prepared_generic(f: &super::Fixture, signature: &str, sql: &str) -> sqlx::PgConnection {
    let mut conn = f.connect().await;
    sqlx::raw_sql("SET plan_cache_mode = force_generic_plan")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::raw_sql(&format!("PREPARE {signature} AS {sql}"))
        .execute(&mut conn)
        .await
        .unwrap();
    conn
}

/// The plan of `execute` (an `EXECUTE` of a prepared statement), one line
/// per node.
async fn plan_of(conn: &mut sqlx::PgConnection, execute: &str) -> String {
    sqlx::raw_sql(&format!("EXPLAIN {execute}"))
        .fetch_all(conn)
        .await
        .unwrap()
        .iter()
        .map(|row| row.get::<String, _>(0))
        .collect::<Vec<_>>()
        .join("\n")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
