//! Every row of every table of a datastore, as text, on both backends: the
//! before-and-after picture that shows a refused request changed nothing.
//!
//! The dump reads the database over a connection of its own (not through
//! the datastore API), so it sees every table, including any added later,
//! and every column. One query per dump: a `UNION ALL` of one `SELECT` per
//! table, built once from the catalogue.
//!
//! Tables in [`NOT_STATE`] are left out: they count requests, refused ones
//! included, so a refused request changes them by design.

use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{PgPool, Row, SqlitePool};
use std::collections::BTreeMap;
use std::str::FromStr;

/// Tables that are statistics rather than state: `task_counters` counts
/// refused uploads too (`dyad task stats`).
pub const NOT_STATE: &[&str] = &["task_counters"];

/// Rows by table, each row rendered as text, sorted.
pub type Dump = BTreeMap<String, Vec<String>>;

/// A reader of every table of one database.
pub enum TableDumper {
    Sqlite { pool: SqlitePool, query: String },
    Postgres { pool: PgPool, query: String },
}

impl TableDumper {
    /// Connects to the database at `url` (`sqlite://...` or
    /// `postgres://...`) and reads its catalogue.
    pub async fn connect(url: &str) -> Self {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .expect("SQLite URL")
                .read_only(true);
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await
                .expect("open the SQLite database for dumps");
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT name FROM sqlite_master WHERE type = 'table' \
                 AND name NOT LIKE 'sqlite_%' ORDER BY name",
            )
            .fetch_all(&pool)
            .await
            .expect("list SQLite tables");
            let tables = tables
                .into_iter()
                .filter(|t| !NOT_STATE.contains(&t.as_str()));
            let mut selects = Vec::new();
            for table in tables {
                let columns: Vec<String> =
                    sqlx::query_scalar("SELECT name FROM pragma_table_info(?1) ORDER BY cid")
                        .bind(&table)
                        .fetch_all(&pool)
                        .await
                        .expect("list SQLite columns");
                let row = columns
                    .iter()
                    .map(|c| format!("'{c}=' || quote(\"{c}\")"))
                    .collect::<Vec<_>>()
                    .join(" || ', ' || ");
                selects.push(format!(
                    "SELECT '{table}' AS t, {row} AS r FROM \"{table}\""
                ));
            }
            let query = selects.join(" UNION ALL ");
            TableDumper::Sqlite { pool, query }
        } else {
            let pool = PgPoolOptions::new()
                .max_connections(1)
                .connect(url)
                .await
                .expect("connect to PostgreSQL for dumps");
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT table_name::text FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
                 ORDER BY table_name",
            )
            .fetch_all(&pool)
            .await
            .expect("list PostgreSQL tables");
            let query = tables
                .iter()
                .filter(|t| !NOT_STATE.contains(&t.as_str()))
                .map(|t| format!("SELECT '{t}' AS t, row_to_json(x)::text AS r FROM \"{t}\" x"))
                .collect::<Vec<_>>()
                .join(" UNION ALL ");
            TableDumper::Postgres { pool, query }
        }
    }

    /// Every row now.
    pub async fn dump(&self) -> Dump {
        let rows: Vec<(String, String)> = match self {
            TableDumper::Sqlite { pool, query } => sqlx::query(query)
                .fetch_all(pool)
                .await
                .expect("dump SQLite tables")
                .iter()
                .map(|row| (row.get::<String, _>(0), row.get::<String, _>(1)))
                .collect(),
            TableDumper::Postgres { pool, query } => sqlx::query(query)
                .fetch_all(pool)
                .await
                .expect("dump PostgreSQL tables")
                .iter()
                .map(|row| (row.get::<String, _>(0), row.get::<String, _>(1)))
                .collect(),
        };
        let mut dump = Dump::new();
        for (table, row) in rows {
            dump.entry(table).or_default().push(row);
        }
        for rows in dump.values_mut() {
            rows.sort();
        }
        dump
    }

    pub async fn close(&self) {
        match self {
            TableDumper::Sqlite { pool, .. } => pool.close().await,
            TableDumper::Postgres { pool, .. } => pool.close().await,
        }
    }
}

/// The rows that differ between two dumps, one line each (`+` added, `-`
/// removed), at most `limit` lines; empty if the dumps are equal.
pub fn diff(before: &Dump, after: &Dump, limit: usize) -> Vec<String> {
    let empty = Vec::new();
    let mut lines = Vec::new();
    let tables: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    for table in tables {
        let old = before.get(table).unwrap_or(&empty);
        let new = after.get(table).unwrap_or(&empty);
        for row in old.iter().filter(|r| !new.contains(r)) {
            lines.push(format!("- {table}: {}", shorten(row)));
        }
        for row in new.iter().filter(|r| !old.contains(r)) {
            lines.push(format!("+ {table}: {}", shorten(row)));
        }
    }
    let more = lines.len().saturating_sub(limit);
    lines.truncate(limit);
    if more > 0 {
        lines.push(format!("... and {more} more rows"));
    }
    lines
}

fn shorten(row: &str) -> String {
    const MAX: usize = 160;
    if row.len() <= MAX {
        row.to_owned()
    } else {
        let cut = (0..=MAX)
            .rev()
            .find(|i| row.is_char_boundary(*i))
            .unwrap_or(0);
        format!("{}...", &row[..cut])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::fixtures::TaskPair;
    use crate::test_util::served::{Backend, ServedApi};
    use dyad_core::clock::MockClock;
    use dyad_core::vdaf::VdafInstance;
    use dyad_datastore::DatastoreExt;

    async fn a_stored_task_shows_in_the_dump_and_its_diff(backend: Backend) {
        let Some(served) = ServedApi::start(backend, MockClock::default(), &[]).await else {
            return;
        };
        let before = served.dumper.dump().await;
        assert!(diff(&before, &served.dumper.dump().await, 10).is_empty());
        let task = TaskPair::time_interval(VdafInstance::Prio3Count).leader;
        served
            .datastore
            .run_tx("test_put_task", move |tx| {
                let task = task.clone();
                Box::pin(async move { Ok(tx.put_task(&task).await?) })
            })
            .await
            .unwrap();
        let changes = diff(&before, &served.dumper.dump().await, 10);
        assert!(
            changes.iter().any(|line| line.starts_with("+ tasks: ")),
            "{changes:?}"
        );
        served.stop().await;
    }

    #[tokio::test]
    async fn a_stored_task_shows_in_the_dump_and_its_diff_on_sqlite() {
        a_stored_task_shows_in_the_dump_and_its_diff(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn a_stored_task_shows_in_the_dump_and_its_diff_on_postgres() {
        a_stored_task_shows_in_the_dump_and_its_diff(Backend::Postgres).await;
    }

    #[test]
    fn diffs_name_added_and_removed_rows_and_stop_at_the_limit() {
        let dump = |rows: &[&str]| -> Dump {
            [("t".to_owned(), rows.iter().map(|r| r.to_string()).collect())].into()
        };
        let lines = diff(&dump(&["a", "b"]), &dump(&["b", "c", "d"]), 2);
        assert_eq!(lines, ["- t: a", "+ t: c", "... and 1 more rows"]);
    }
}
